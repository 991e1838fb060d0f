#include "persist_feed.h"

#include <hiredis/async.h>

#include <cassert>
#include <chrono>
#include <algorithm>
#include <cstring>
#include <limits>
#include <optional>
#include <string_view>
#include <vector>

#include "backend_health.h"
#include "redis_follow.h"
#include "logger.h"
#include "redis_link.h"
#include "redis_keys.h"
#include "redis_scripts.h"
#include "redis_shards.h"
#include "stream_id.h"
#include "waiters.h"

namespace rtpush {

namespace {

double steady_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// A persist entry: [stream id, [c, channel, i, message id, k, kind, d, data]
// and u, user, when an authenticated connection published it].
bool to_row(const redisReply* e, PgRow* row, std::string* entry_id) {
  if (!e || e->type != REDIS_REPLY_ARRAY || e->elements != 2 || !e->element[1]) return false;
  *entry_id = text(e->element[0]);
  const redisReply* f = e->element[1];
  std::string kind;
  for (std::size_t i = 0; i + 1 < f->elements; i += 2) {
    const std::string k = text(f->element[i]);
    if (k == "c") row->channel = text(f->element[i + 1]);
    if (k == "i") row->id = text(f->element[i + 1]);
    if (k == "k") kind = text(f->element[i + 1]);
    if (k == "d") row->data = text(f->element[i + 1]);
    if (k == "u") row->user = text(f->element[i + 1]);
  }
  auto id = StreamId::parse(row->id);
  if (!id || row->channel.empty()) return false;
  row->ms = std::to_string(id->ms);
  row->seq = std::to_string(id->seq);
  row->binary = kind == "b";
  char ts[32];
  std::snprintf(ts, sizeof ts, "%.3f", static_cast<double>(id->ms) / 1000.0);  // Redis's clock at publish
  row->published_at = ts;
  row->queued_at = steady_seconds();
  return true;
}

}  // namespace

struct PersistFeed::IoSide : std::enable_shared_from_this<PersistFeed::IoSide> {
  IoSide(IoThread* i, const RedisUrl& u, std::string c, std::size_t b, unsigned f, std::size_t backlog,
         std::size_t backlog_b, PgStore* s, Logger lg)
      : io(i), log(std::move(lg)), health(log, "redis_handoff", redis_health_addr(u), "rows wait in redis, reconnecting"),
        url(u), consumer(std::move(c)), batch(b), flush_ms(f), backlog_rows(backlog),
        backlog_bytes(backlog_b), store(s) {
    idle_secs = idle_max_secs = f / 1000.0;
  }

  // Redis Cluster: one of the buckets' streams (redis_keys.h), on the
  // feed's shared RedisShards instead of a link of its own.
  std::string persist_key = redis::kPersistKey, config_key = redis::kConfigKey;
  RedisShards* shards = nullptr;
  int slot = 0;  // of persist_key

  IoThread* io;
  Logger log;
  BackendHealth health;  // of the hand-off link
  // XREADGROUP / XAUTOCLAIM were refused (an error reply): logged until one succeeds.
  bool read_refused = false, claim_refused = false;
  RedisUrl url;  // a Sentinel's: the link follows the master (failovers are counted by the broker)
  std::shared_ptr<RedisLocator> locator;
  std::string consumer;
  std::size_t batch;
  unsigned flush_ms;
  // The wait before reading an empty stream again: pg-flush-ms; in a Redis
  // Cluster (64 streams) it doubles while the stream stays empty, up to
  // kIdleMaxSecs, so that idle buckets cost a few reads a second.
  double idle_secs = 0, idle_max_secs = 0;
  static constexpr double kIdleMaxSecs = 1;
  std::size_t backlog_rows;  // pg-backlog-rows: written to rtpush:config for the publish script
  std::size_t backlog_bytes;  // pg-backlog-bytes: the same; and what this node reads ahead, at most
  PgStore* store;
  std::unique_ptr<RedisLink> link;  // null once shut down
  bool closing = false;
  double next_claim = 0;
  int in_flight = 0;         // batches handed to the store, not yet committed
  bool reading = false;      // an XREADGROUP / XAUTOCLAIM is outstanding
  static constexpr int kMaxInFlight = 3;  // read ahead while the store writes
  ev_timer idle_timer{}, settle_timer{};
  static constexpr double kSettleSecs = 5, kSettlePollSecs = 0.01;

  using Reply = RedisLink::Reply;

  bool connected() const { return shards ? !closing && shards->slot_up(slot) : link && link->up(); }

  void command(const std::vector<std::string>& args, Reply cb) {
    assert(io->on_io_thread());
    if (shards) return closing ? cb(nullptr) : shards->command(slot, args, std::move(cb));
    if (!link) return cb(nullptr);
    link->command(args, std::move(cb));
  }

  void connect() {
    RedisLink::Events events;
    events.up = [this] {
      health.answered();
      start();
    };
    events.down = [this](const std::string& why) { health.failed(why); };
    const std::string name = "rtpush:" + consumer + ":persist";
    locator = make_redis_locator(io->loop(), url, name, [this](const MasterSwitch&) {
      if (link) link->relocate();
    });
    link = make_redis_link(io->loop(), url, locator, name, std::move(events));
    link->start();
  }

  // Logs the first of a run of refused reads with Redis's answer, and the
  // first read that succeeds after. True when `r` is an error reply.
  bool refused(const redisReply* r, const char* what, bool* logged) {
    const bool error = r->type == REDIS_REPLY_ERROR;
    if (error && !std::exchange(*logged, true))
      log.event(LogLevel::Err, "backend_refused",
                {{"backend", "redis_handoff"}, {"command", what}, {"cause", std::string_view(r->str, r->len)},
                 {"action", "rows wait in redis"}});
    if (!error && std::exchange(*logged, false))
      log.event(LogLevel::Notice, "backend_up", {{"backend", "redis_handoff"}, {"command", what}});
    return error;
  }

  void start() {
    // From now on the publish script fills rtpush:persist.
    enable();
    make_group();
    read(/*own_pending=*/true);
  }

  // The consumer group, made when missing (BUSYGROUP when it exists: fine).
  // Also after a read finds it gone (NOGROUP: a FLUSHALL, or the Stream
  // deleted by hand): without it every read fails and nothing more would
  // ever be written.
  void make_group() {
    command({"XGROUP", "CREATE", persist_key, redis::kPersistGroup, "0", "MKSTREAM"}, [](redisReply*) {});
  }
  static bool no_group(const redisReply* r) {
    return r->type == REDIS_REPLY_ERROR && r->len >= 7 && std::string_view(r->str, 7) == "NOGROUP";
  }

  // Reads a batch: first this consumer's own unacknowledged entries (after a
  // restart with the same node-id), then new ones; every so often claims
  // what a dead consumer left. Up to kMaxInFlight batches are being written
  // while the next is read.
  void read(bool own_pending) {
    if (!connected() || closing || reading || in_flight >= kMaxInFlight) return;
    // Large payloads: no reading ahead past pg-backlog-bytes in memory (one
    // batch is always read, so the writing goes on).
    if (in_flight > 0 && store->backlog_bytes() >= backlog_bytes) return;
    if (!own_pending && steady_seconds() >= next_claim) return claim("0-0");
    std::vector<std::string> args = {"XREADGROUP", "GROUP", redis::kPersistGroup, consumer,
                                     "COUNT", std::to_string(batch)};
    // No BLOCK: settle() shares this connection and must not wait behind it.
    args.insert(args.end(), {"STREAMS", persist_key, own_pending ? "0" : ">"});
    reading = true;
    command(args, [this, own_pending](redisReply* r) {
      reading = false;
      if (!r) return;  // disconnected: start() runs again after the reconnect
      refused(r, "XREADGROUP", &read_refused);
      if (no_group(r)) make_group();
      if (r->type != REDIS_REPLY_ARRAY || r->elements == 0) {  // nothing new, or nothing pending
        if (own_pending) return read(false);
        return idle();
      }
      const redisReply* entries = r->element[0]->element[1];
      if (own_pending && entries->elements == 0) return read(false);
      idle_secs = flush_ms / 1000.0;
      // Own pending entries are re-read from "0" only once they are acknowledged.
      write(entries, [this, own_pending] { read(own_pending); });
      if (!own_pending) read(false);
    });
  }

  // Nothing to read: look again after pg-flush-ms.
  void idle() {
    if (closing || ev_is_active(&idle_timer)) return;
    ev_timer_set(&idle_timer, idle_secs, 0);
    ev_timer_start(io->loop(), &idle_timer);
    idle_secs = std::min(idle_secs * 2, std::max(idle_max_secs, flush_ms / 1000.0));
  }

  // Switches persistence on (again: a FLUSHALL forgets it) and keeps the
  // time it first was, the floor of what PostgreSQL can replay.
  void enable() {
    command({"EVAL", redis::kEnablePersistScript, "1", config_key, std::to_string(backlog_rows),
             std::to_string(backlog_bytes)},
            [](redisReply*) {});
  }

  // ---- settle: has everything published so far been written? -------------
  // The Stream holds exactly what is not yet committed (entries are deleted
  // after the commit) and grows in publish order: once its oldest entry is
  // newer than its newest one at the start, or it is empty, every message
  // published before the start is in PostgreSQL.
  Waiters<StreamId> settling;  // each: the newest entry when it asked
  bool polling = false;        // a check's XRANGE is on its way: one at a time

  void settle(std::function<void(bool)> done) {
    if (!connected()) return done(false);
    command({"XREVRANGE", persist_key, "+", "-", "COUNT", "1"}, [this, done](redisReply* r) {
      if (!r || r->type != REDIS_REPLY_ARRAY) return done(false);
      if (r->elements == 0) return done(true);
      const auto mark = StreamId::parse(text(r->element[0]->element[0]));
      if (!mark) return done(false);
      settling.add(*mark, steady_seconds() + kSettleSecs, done);
      if (!ev_is_active(&settle_timer) && !polling) check_settled();
    });
  }

  void check_settled() {
    polling = true;
    command({"XRANGE", persist_key, "-", "+", "COUNT", "1"}, [this](redisReply* r) {
      polling = false;
      std::optional<StreamId> oldest;
      const bool answered = r && r->type == REDIS_REPLY_ARRAY;
      if (answered && r->elements > 0) oldest = StreamId::parse(text(r->element[0]->element[0]));
      // No answer (the link is down): every waiter fails now.
      const double now = answered ? steady_seconds() : std::numeric_limits<double>::infinity();
      settling.resolve([&](const StreamId& mark) { return answered && (!oldest || *oldest > mark); }, now);
      // Re-armed stopped: ev_timer_set() on an active watcher corrupts libev's heap.
      ev_timer_stop(io->loop(), &settle_timer);
      if (!settling.empty()) {
        ev_timer_set(&settle_timer, kSettlePollSecs, 0);
        ev_timer_start(io->loop(), &settle_timer);
      }
    });
  }

  void claim(const std::string& cursor) {
    if (cursor == "0-0") enable();
    reading = true;
    command({"XAUTOCLAIM", persist_key, redis::kPersistGroup, consumer, std::to_string(kClaimIdleMs),
             cursor, "COUNT", std::to_string(batch)},
            [this](redisReply* r) {
              reading = false;
              if (!r) return;
              refused(r, "XAUTOCLAIM", &claim_refused);
              if (no_group(r)) make_group();
              if (r->type != REDIS_REPLY_ARRAY || r->elements < 2) {
                next_claim = steady_seconds() + 5;
                return read(false);
              }
              const std::string next = text(r->element[0]);
              if (next == "0-0") next_claim = steady_seconds() + 5;
              write(r->element[1], [this, next] {
                if (next == "0-0") read(false);
                else claim(next);
              });
            });
  }

  // Rows to PostgreSQL; after the commit, XACK + XDEL (kAckPersistScript,
  // which also counts their bytes off); then `next`.
  void write(const redisReply* entries, std::function<void()> next) {
    std::vector<PgRow> rows;
    std::vector<std::string> ack = {"EVAL", redis::kAckPersistScript, "2", persist_key, config_key,
                                    redis::kPersistGroup};
    const std::size_t head = ack.size();
    for (std::size_t i = 0; entries && i < entries->elements; ++i) {
      PgRow row;
      std::string entry;
      const bool ok = to_row(entries->element[i], &row, &entry);
      if (entry.empty()) continue;
      ack.push_back(entry);  // malformed ones are dropped too: they never parse
      ack.push_back(std::to_string(ok ? row.data.size() : 0));
      if (ok) rows.push_back(std::move(row));
    }
    // The store outlives this feed (it is destroyed first): its callback
    // holds a weak handle, and does nothing once the feed is gone.
    std::weak_ptr<IoSide> weak = shared_from_this();
    ++in_flight;
    store->submit(std::move(rows), [weak, ack = std::move(ack), head, next] {
      auto self = weak.lock();
      if (!self || self->closing) return;
      --self->in_flight;
      if (ack.size() > head) self->command(ack, [](redisReply*) {});
      next();
    });
  }

  void shutdown() {
    closing = true;
    ev_timer_stop(io->loop(), &idle_timer);
    ev_timer_stop(io->loop(), &settle_timer);
    link.reset();  // pending replies run with none
    locator.reset();
  }
};

// A Redis Cluster: the links every bucket's feed shares, and their health.
struct PersistFeed::Shared {
  Shared(Logger& log, const RedisUrl& url) : health(log, "redis_handoff", url.redacted(), "rows wait in redis, reconnecting") {}
  BackendHealth health;
  RedisTopologyState topology;  // RedisShards keeps it; the broker's is the one reported
  std::unique_ptr<RedisShards> shards;
};

namespace {

void init_timers(PersistFeed::IoSide* side);

}  // namespace

PersistFeed::PersistFeed(const RedisUrl& url, std::string consumer, std::size_t batch_size, unsigned flush_ms,
                         std::size_t backlog_rows, std::size_t backlog_bytes, PgStore* store, IoThread* io, Logger log)
    : io_(io) {
  if (url.topology != RedisTopology::Cluster) {
    io_side_ = std::make_shared<IoSide>(io, url, std::move(consumer), batch_size, flush_ms, backlog_rows,
                                        backlog_bytes, store, std::move(log));
    IoSide* side = io_side_.get();
    init_timers(side);
    io_->post([side] { side->connect(); });
    return;
  }
  // Every bucket's stream is read on its shard; each bucket a consumer of
  // its own stream's group, as one Redis's stream is.
  shared_ = std::make_unique<Shared>(log, url);
  const RedisKeys keys = RedisKeys::cluster();
  for (int b = 0; b < keys.buckets(); ++b) {
    auto side = std::make_shared<IoSide>(io, url, consumer, batch_size, flush_ms, backlog_rows,
                                         backlog_bytes, store, log);
    side->persist_key = keys.persist(b);
    side->config_key = keys.config(b);
    side->slot = cluster::key_slot(side->persist_key);
    side->idle_max_secs = IoSide::kIdleMaxSecs;
    init_timers(side.get());
    buckets_.push_back(std::move(side));
  }
  Shared* shared = shared_.get();
  auto* buckets = &buckets_;
  io_->post([shared, buckets, url, consumer, io] {
    RedisShards::Events events;
    events.up = [shared, buckets] {
      shared->health.answered();
      for (auto& b : *buckets) b->start();
    };
    events.down = [shared](const std::string& why) { shared->health.failed(why); };
    shared->shards = std::make_unique<RedisShards>(io->loop(), url, consumer + ":persist", std::move(events),
                                                   &shared->topology);
    for (auto& b : *buckets) b->shards = shared->shards.get();
    shared->shards->start();
  });
}

namespace {

void init_timers(PersistFeed::IoSide* side) {
  ev_timer_init(&side->idle_timer, [](struct ev_loop*, ev_timer* w, int) {
    static_cast<PersistFeed::IoSide*>(w->data)->read(false);
  }, 0, 0);
  side->idle_timer.data = side;
  ev_timer_init(&side->settle_timer, [](struct ev_loop*, ev_timer* w, int) {
    static_cast<PersistFeed::IoSide*>(w->data)->check_settled();
  }, 0, 0);
  side->settle_timer.data = side;
}

}  // namespace

void PersistFeed::settle(std::function<void(bool)> done) {
  io_->post([this, done = std::move(done)] {
    auto answer = [io = io_, done](bool ok) { io->deliver([done, ok] { done(ok); }); };
    if (io_side_) return io_side_->settle(answer);
    // Every bucket settled (or one failed).
    struct Count {
      std::size_t left;
      bool ok = true;
    };
    auto count = std::make_shared<Count>(Count{buckets_.size()});
    for (auto& b : buckets_)
      b->settle([count, answer](bool ok) {
        count->ok = count->ok && ok;
        if (--count->left == 0) answer(count->ok);
      });
  });
}

PersistFeed::~PersistFeed() {
  io_->run_and_wait([this] {
    if (io_side_) io_side_->shutdown();
    io_side_.reset();  // on the I/O thread: store callbacks hold only weak references
    for (auto& b : buckets_) b->shutdown();
    if (shared_) shared_->shards.reset();  // pending replies run with none
    buckets_.clear();
    shared_.reset();
  });
}

}  // namespace rtpush
