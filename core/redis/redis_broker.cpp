#include "redis_broker.h"

#include <hiredis/async.h>

#include <algorithm>
#include <atomic>
#include <cassert>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <map>
#include <set>
#include <unordered_map>
#include <utility>

#include "backend_health.h"
#include "json_text.h"
#include "logger.h"
#include "master_follower.h"
#include "redis_follow.h"
#include "redis_link.h"
#include "redis_live_format.h"
#include "redis_scripts.h"
#include "failover_epoch.h"
#include "replica_wait.h"

namespace rtpush {

namespace {

constexpr std::size_t kPage = 1000;           // XRANGE page (backfill after a reconnect)
constexpr double kHeartbeatEverySecs = 5;     // the settings (and the tenant's registry) into Redis

MessagePtr make_message(const Logger& log, const std::string& channel, std::string_view id_text, char kind,
                        std::string_view data, std::string_view user = {}) {
  auto id = StreamId::parse(id_text);
  if (!id) return nullptr;
  auto m = std::make_shared<Message>();
  m->channel = channel;
  m->id = *id;
  m->id_text = std::string(id_text);
  m->payload.kind = kind == 'b' ? PayloadKind::Binary : PayloadKind::Json;
  m->payload.bytes = std::string(data);
  m->user = std::string(user);
  // An entry written by an older build may be JSON-kind text that is not
  // strict JSON (trailing bytes, invalid UTF-8, raw controls): it goes out
  // as the bytes it is (base64 to JSON clients), never as broken JSON.
  if (m->payload.kind == PayloadKind::Json && !json_valid(data)) {
    m->payload.kind = PayloadKind::Binary;
    log.event(LogLevel::Warn, "binary_fallback",
              {{"source", "redis"}, {"id", id_text}, {"channel", channel}, {"cause", "not strict JSON"}});
  }
  m->timestamp = static_cast<double>(id->ms) / 1000.0;  // Redis's clock when it was added
  return m;
}

// An XRANGE entry: [id, [field, value, ...]] with fields k (kind), d (data)
// and, for a message an authenticated connection published, u (user).
MessagePtr entry_message(const Logger& log, const std::string& channel, const redisReply* e) {
  if (!e || e->type != REDIS_REPLY_ARRAY || e->elements != 2) return nullptr;
  const redisReply* fields = e->element[1];
  std::string kind = "j", data, user;
  for (std::size_t i = 0; fields && i + 1 < fields->elements; i += 2) {
    const std::string f = text(fields->element[i]);
    if (f == "k") kind = text(fields->element[i + 1]);
    if (f == "d") data = text(fields->element[i + 1]);
    if (f == "u") user = text(fields->element[i + 1]);
  }
  return make_message(log, channel, text(e->element[0]), kind.empty() ? 'j' : kind[0], data, user);
}

}  // namespace

// Everything here runs on the I/O thread.
struct RedisBroker::IoSide {
  struct Channel {
    bool confirmed = false;    // SUBSCRIBE acknowledged on the current link
    bool backfilling = false;  // catching up after a reconnect: live ones wait
    StreamId last;             // newest id delivered to this node
    std::string owner;         // cluster: the master whose sub link it is (S)SUBSCRIBEd on
    double subscribed_at = 0;  // cluster: when, for a subscription never confirmed
    std::uint64_t attempt = 0;  // cluster: the newest placement (subscribe_cluster)
    std::vector<MessagePtr> held;
    std::vector<std::function<void()>> after_confirm;  // history reads waiting for the SUBSCRIBE
  };

  IoSide(RedisBroker* o, IoThread* i, const RedisUrl& u, std::string n, std::size_t h, unsigned ttl, Logger lg,
         WaitReplicas w)
      : owner(o), io(i), log(std::move(lg)),
        health(log, "redis", redis_health_addr(u), "reconnecting with backoff"),
        node_id(std::move(n)), history(h), ttl_secs(ttl), ttl_ms(std::to_string(std::uint64_t{ttl} * 1000)),
        url(u), links(u.topology == RedisTopology::Single ? u.single() : RedisAddress{}),
        follower(log, &topology, w.replicas == 0),
        wait(w.replicas, w.timeout_ms, [this](const std::vector<std::string>& args, std::function<void(redisReply*)> cb) {
          links.command(std::move(cb), args);
        }),
        wait_replicas(w) {
    if (u.topology == RedisTopology::Cluster) links.keys = RedisKeys::cluster();
  }

  RedisBroker* owner;  // only in tasks delivered to the service thread (its listener)
  IoThread* io;
  Logger log;
  BackendHealth health;  // of the pair of links; its state is the broker's (read by any thread)
  RedisTopologyState topology;  // its shards ("0": this one) and counters, read by any thread
  std::string node_id;
  std::size_t history;
  unsigned ttl_secs;   // history-ttl-secs: the channel's keys expire after it
  std::string ttl_ms;  // the same, as the scripts take it
  std::string channel_bytes;  // history-channel-bytes, as the publish script takes it
  // The publish script's "who publishes" (kPublishScript): "<rows> <bytes>"
  // with PostgreSQL (pg-backlog-rows, pg-backlog-bytes), "-" without.
  std::string persist_caps = "-", persist_rows, persist_bytes;
  // Either link failing drops the other, so that both start over together.
  // RedisPresence borrows them (links.tenant).
  RedisUrl url;
  RedisLinks links;
  std::shared_ptr<RedisLocator> locator;  // Sentinel: where both links connect
  MasterFollower follower;                // Sentinel: failovers noticed, the epoch moved
  ReplicaWait wait;                       // redis-wait-replicas
  // A Redis Cluster: one per master, its WAITs on that master's command
  // link, where the publishes it covers went.
  WaitReplicas wait_replicas;
  std::map<std::string, std::unique_ptr<ReplicaWait>> shard_waits;

  // The ReplicaWait that covers a publish to `channel` (just answered).
  ReplicaWait& wait_for(const std::string& channel) {
    if (!clustered() || !wait.enabled()) return wait;
    const std::string owner = links.shards->owner(cluster::key_slot(links.keys.stream(channel)));
    auto& w = shard_waits[owner];
    if (!w)
      w = std::make_unique<ReplicaWait>(
          wait_replicas.replicas, wait_replicas.timeout_ms,
          [this, owner](const std::vector<std::string>& args, std::function<void(redisReply*)> cb) {
            if (!links.shards) return cb(nullptr);
            links.shards->command_on(owner, args, std::move(cb));
          });
    return *w;
  }
  bool closing = false;
  ev_timer heartbeat_timer{};
  // Publishes that came before the links were up for the first time (a
  // node just started, or the new child of a reload already listening):
  // they wait for that first connection, at most kFirstUpWaitSecs, instead
  // of a 503 no client could have avoided. Later outages answer at once.
  static constexpr double kFirstUpWaitSecs = 5;
  static constexpr std::size_t kFirstUpMaxWaiting = 10000;
  bool first_up_over = false;  // up once, or the wait ran out
  std::vector<std::function<void()>> before_first_up;
  ev_timer first_up_timer{};

  // True when `retry` was kept to run once the first connection is up (or
  // the wait ran out); false when the caller must answer now.
  bool await_first_up(std::function<void()> retry) {
    if (first_up_over || before_first_up.size() >= kFirstUpMaxWaiting) return false;
    if (before_first_up.empty()) {
      ev_timer_set(&first_up_timer, kFirstUpWaitSecs, 0.);
      ev_timer_start(io->loop(), &first_up_timer);
    }
    before_first_up.push_back(std::move(retry));
    return true;
  }
  void end_first_up_wait() {
    first_up_over = true;
    ev_timer_stop(io->loop(), &first_up_timer);
    auto waiting = std::move(before_first_up);
    before_first_up.clear();
    for (auto& retry : waiting) retry();
  }
  static void on_first_up_timer(struct ev_loop*, ev_timer* w, int) {
    static_cast<IoSide*>(w->data)->end_first_up_wait();
  }
  std::unordered_map<std::string, Channel> channels;

  bool up() const { return links.up(); }
  bool clustered() const { return links.shards != nullptr; }
  // The channel's shard has a reachable master (one Redis: the links are up).
  bool up_for(const std::string& channel) const {
    return clustered() ? links.shards->slot_up(cluster::key_slot(links.keys.stream(channel))) : links.up();
  }

  // Written here, read by the service thread.

  // Hands `task` to the service thread.
  void deliver(std::function<void()> task) { io->deliver(std::move(task)); }

  // ---- connection lifecycle -------------------------------------------
  void connect() {
    assert(io->on_io_thread());
    if (url.topology == RedisTopology::Cluster) return connect_cluster();
    RedisLink::Events events{[this] {
                               if (up()) link_up();
                             },
                             [this](const std::string& why) { link_failed(why); }};
    locator = make_redis_locator(io->loop(), url, "rtpush:" + node_id, [this](const MasterSwitch& s) {
      follower.switched(s.from.host_port(), s.to.host_port());
      link_failed("the sentinels switched the master from " + s.from.host_port() + " to " + s.to.host_port());
      if (links.cmd) links.cmd->relocate();
      if (links.sub) links.sub->relocate();
    });
    links.cmd = make_redis_link(io->loop(), url, locator, "rtpush:" + node_id + ":cmd", events);
    links.sub = make_redis_link(io->loop(), url, locator, "rtpush:" + node_id + ":sub", events);
    links.sub->set_push_handler([this](redisReply* r) { on_live(r); });
    links.cmd->start();
    links.sub->start();
  }

  void connect_cluster() {
    RedisShards::Events events;
    events.up = [this] { link_up(); };
    events.down = [this](const std::string& why) { link_failed(why); };
    events.map_changed = [this] { place_subscriptions(); };
    events.push = [this](const std::string& from, redisReply* r) { on_live(r, &from); };
    events.tick = [this] { resubscribe_stale(); };
    events.failover = [this](const std::set<std::string>& promoted) { follow_masters(&promoted); };
    links.shards = std::make_unique<RedisShards>(io->loop(), url, node_id, std::move(events), &topology);
    links.shards->start();
  }

  // One of the two connections failed: drop the other; each comes back
  // after its backoff. (Cluster: a master's links failed, or the map is not
  // whole; RedisShards dropped that master's pair.)
  void link_failed(const std::string& why) {
    if (closing) return;
    health.failed(why);
    if (clustered()) {
      // Channels on a master whose sub link is gone listen again (with a
      // backfill) once it is back, on whichever master serves them then.
      for (auto& [name, ch] : channels) {
        RedisLink* sub = links.shards->sub_link(ch.owner);
        if (!sub || !sub->up()) ch.confirmed = false, ch.owner.clear();
      }
      return;
    }
    topology.set_up("0", false);
    for (auto& [name, ch] : channels) ch.confirmed = false;
    if (links.cmd) links.cmd->drop();
    if (links.sub) links.sub->drop();
  }

  // Cluster: every watched channel on the sub link of the master that
  // serves it now. One that moved is SSUBSCRIBEd on its new master and
  // backfilled from the last id delivered (held live messages wait).
  void place_subscriptions() {
    if (!clustered()) return;
    for (auto& [name, ch] : channels) {
      const std::string now = links.shards->owner(cluster::key_slot(links.keys.stream(name)));
      if (now == ch.owner && !now.empty()) continue;
      if (!ch.owner.empty()) links.shards->unsubscribe_shard(ch.owner, links.keys.live(name), links.keys.stream(name));
      ch.owner.clear();
      ch.confirmed = false;
      ch.backfilling = ch.last != StreamId{};
      subscribe(name);
    }
  }

  // Cluster: the failover promise without WAIT (failover_epoch.h), per
  // bucket: each bucket's epoch-master names the master that served it.
  // After a failover (`promoted`: the masters that replaced dead ones) the
  // epochs of the buckets they serve now move to their TIME, unless
  // redis-wait-replicas makes every acknowledged message a replica's; with
  // no `promoted` (the links up) each bucket only records its master. A
  // reshard moves no epoch.
  void follow_masters(const std::set<std::string>* promoted) {
    const char* how = promoted && wait_replicas.replicas == 0 ? "move" : "keep";
    for (int b = 0; b < links.keys.buckets(); ++b) {
      const std::string epoch = links.keys.epoch(b);
      const std::string owner = links.shards->owner(cluster::key_slot(epoch));
      if (owner.empty() || (promoted && !promoted->count(owner))) continue;
      command([](redisReply*) {}, {"EVAL", redis::kFollowMasterScript, "2", epoch, epoch + "-master", owner, how});
    }
  }

  // Cluster, every second: a subscription not confirmed within a few
  // seconds (its SSUBSCRIBE met a MOVED, or its master went) is made again.
  void resubscribe_stale() {
    const double now = ev_now(io->loop());
    for (auto& [name, ch] : channels) {
      if (ch.confirmed || now - ch.subscribed_at < 2) continue;
      const std::string to = links.shards->owner(cluster::key_slot(links.keys.stream(name)));
      // (On the same master: SSUBSCRIBE again, no SUNSUBSCRIBE, whose reply
      // would read as the slot moving away.)
      if (!ch.owner.empty() && ch.owner != to) links.shards->unsubscribe_shard(ch.owner, links.keys.live(name), links.keys.stream(name));
      ch.owner.clear();
      ch.backfilling = ch.last != StreamId{};
      links.shards->refresh_soon();
      subscribe(name);
    }
  }

  void link_up() {
    // Both links located the same master? (A switch between their two
    // answers: start over, both locate again.)
    if (locator && links.cmd->address().host_port() != links.sub->address().host_port())
      return link_failed("the links reached two different masters");
    if (locator) follower.links_up(links, links.cmd->address().host_port());
    health.answered();
    if (!clustered()) topology.set_up("0", true);
    if (clustered()) follow_masters(nullptr);
    if (links.tenant) links.tenant->links_up();
    write_settings();
    // Listen again to every watched channel, then catch up from the last id
    // delivered (messages published while the link was down).
    for (auto& [name, ch] : channels) {
      ch.backfilling = ch.last != StreamId{};
      subscribe(name);
    }
    if (!first_up_over) end_first_up_wait();
  }

  // ---- live messages ----------------------------------------------------
  void subscribe(const std::string& channel) {
    if (clustered()) return subscribe_cluster(channel);
    const std::string topic = std::string(redis::kLivePrefix) + channel;
    links.sub->push_command({"SUBSCRIBE", topic});
  }

  // Cluster: SSUBSCRIBE on the master the map names, once a read of the
  // channel's stream there shows it serves the slot (an SSUBSCRIBE refused
  // would close the pub/sub link, RedisShards::subscribe_shard). A MOVED
  // updates the map (which places it again); an ASK (the slot is being
  // migrated) leaves it to resubscribe_stale(). The newest attempt wins.
  void subscribe_cluster(const std::string& channel) {
    auto it = channels.find(channel);
    if (it == channels.end()) return;
    Channel& ch = it->second;
    const std::string key = links.keys.stream(channel);
    const std::string owner = links.shards->owner(cluster::key_slot(key));
    ch.subscribed_at = ev_now(io->loop());
    ch.owner.clear();      // (its live messages until then: read by the backfill the caller asked for)
    ch.confirmed = false;  // made again by resubscribe_stale() until confirmed
    const std::uint64_t attempt = ++ch.attempt;
    if (owner.empty()) return;
    links.shards->command_on(owner, {"EXISTS", key}, [this, channel, owner, attempt](redisReply* r) {
      if (!r || closing) return;  // the link is down: placed again when it is back
      auto it = channels.find(channel);
      if (it == channels.end() || it->second.attempt != attempt) return;
      if (r->type == REDIS_REPLY_ERROR) {
        auto redirect = cluster::parse_redirect(std::string_view(r->str, r->len));
        if (redirect && redirect->kind == cluster::Redirect::Kind::Moved) {
          if (redirect->to.host_unknown()) redirect->to.host = owner.substr(0, owner.rfind(':'));
          topology.count_redirect(false);
          links.shards->moved(redirect->slot, redirect->to);  // map_changed: placed again
        }
        return;
      }
      if (links.shards->subscribe_shard(owner, links.keys.live(channel))) it->second.owner = owner;
    });
  }

  // A cluster live topic "rtpush:{TAG}:live:CHANNEL": the channel, or
  // nullopt for any other topic.
  static std::optional<std::string> cluster_channel(const std::string& topic) {
    static constexpr std::string_view kHead = "rtpush:{", kMark = "}:live:";
    if (topic.compare(0, kHead.size(), kHead) != 0) return std::nullopt;
    const std::size_t mark = topic.find(kMark, kHead.size());
    if (mark == std::string::npos) return std::nullopt;
    return topic.substr(mark + kMark.size());
  }

  // A pub/sub reply; `from`: the master whose sub link it came on (cluster).
  void on_live(redisReply* reply, const std::string* from = nullptr) {
    IoSide* self = this;
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != 3) return;
    std::string kind = text(reply->element[0]);
    std::string topic = text(reply->element[1]);
    std::string channel;
    if (clustered()) {
      auto c = cluster_channel(topic);
      if (!c) {
        if (links.tenant && kind != "subscribe") links.tenant->on_push(kind, topic, reply->element[2]);
        return;
      }
      auto it = channels.find(*c);
      // Only the link it is placed on speaks for it; the regular
      // (un)subscribe under the same name is hiredis's, not ours.
      if (it == channels.end() || !from || *from != it->second.owner) return;
      if (kind == "subscribe" || kind == "unsubscribe") return;
      if (kind == "sunsubscribe") {  // its slot moved away: to the new master, with a backfill
        // (The regular subscription under its name stays: removing it could
        // race a new SUBSCRIBE on the same link in hiredis's table.)
        it->second.owner.clear();
        it->second.confirmed = false;
        it->second.backfilling = it->second.last != StreamId{};
        links.shards->refresh_soon();
        return subscribe(*c);
      }
      if (kind == "ssubscribe") kind = "subscribe";
      if (kind == "smessage") kind = "message";
      channel = std::move(*c);
    } else {
      const std::size_t prefix = std::strlen(redis::kLivePrefix);
      if (topic.compare(0, prefix, redis::kLivePrefix) != 0) {  // not a channel's: the tenant's (rtpush:control)
        if (links.tenant) links.tenant->on_push(kind, topic, reply->element[2]);
        return;
      }
      if (topic.size() <= prefix) return;
      channel = topic.substr(prefix);
    }
    auto it = self->channels.find(channel);
    if (it == self->channels.end()) return;  // unwatched meanwhile
    Channel& ch = it->second;
    if (kind == "subscribe") {
      ch.confirmed = true;
      auto waiting = std::move(ch.after_confirm);
      for (auto& f : waiting) f();
      if (ch.backfilling) self->backfill(channel, ch.last);
      return;
    }
    if (kind != "message") return;
    const redisReply* p = reply->element[2];
    std::string_view payload(p->str, p->len);
    const auto space = payload.find(' ');
    if (space == std::string_view::npos || space + 1 >= payload.size()) return;
    std::string_view rest = payload.substr(space + 1), user;
    if (!redis::split_live_user(&rest, &user) || rest.empty()) return;
    MessagePtr m = make_message(log, channel, payload.substr(0, space), rest[0], rest.substr(1), user);
    if (!m) return;
    if (ch.backfilling) {
      ch.held.push_back(std::move(m));
      return;
    }
    self->deliver_live(ch, std::move(m));
  }

  void deliver_live(Channel& ch, MessagePtr m) {
    if (m->id <= ch.last) return;  // already delivered (backfill overlap)
    ch.last = m->id;
    RedisBroker* o = owner;
    deliver([o, m] {
      if (o->listener_) o->listener_->on_message(m);
    });
  }

  // After a reconnect: the channel's messages after `from`, then what
  // arrived live meanwhile, in id order, each once.
  void backfill(const std::string& channel, StreamId from) {
    read_range(channel, from, {}, [this, channel](bool ok, std::vector<MessagePtr> msgs) {
      auto it = channels.find(channel);
      if (it == channels.end()) return;
      Channel& ch = it->second;
      if (!ok) return;  // the link failed again; link_up() will retry
      for (MessagePtr& m : msgs) deliver_live(ch, std::move(m));
      for (MessagePtr& m : ch.held) deliver_live(ch, std::move(m));
      ch.held.clear();
      ch.backfilling = false;
    });
  }

  // ---- reads ------------------------------------------------------------
  using RangeDone = std::function<void(bool ok, std::vector<MessagePtr>)>;

  // XRANGE (after, +] in pages, appended to `acc`.
  void read_range(const std::string& channel, StreamId after, std::vector<MessagePtr> acc, RangeDone done) {
    if (!up_for(channel)) return done(false, {});
    const std::string key = clustered() ? links.keys.stream(channel) : std::string(redis::kStreamPrefix) + channel;
    const std::string start = "(" + after.str();
    command(
        [this, channel, acc = std::move(acc), done = std::move(done)](redisReply* r) mutable {
          if (!r || r->type != REDIS_REPLY_ARRAY) return done(false, {});
          for (std::size_t i = 0; i < r->elements; ++i)
            if (MessagePtr m = entry_message(log, channel, r->element[i])) acc.push_back(std::move(m));
          if (r->elements < kPage || acc.empty()) return done(true, std::move(acc));
          const StreamId next = acc.back()->id;
          read_range(channel, next, std::move(acc), std::move(done));
        },
        {"XRANGE", key, start, "+", "COUNT", std::to_string(kPage)});
  }

  // ---- replay pages ---------------------------------------------------------
  // A page of the hot history for a replay: entries after `from`, at most
  // kPageCount of them and `cap` bytes (at least one). Read with the history
  // script, which gives the entries and the newest trimmed id in one atomic
  // step (so a page knows whether the stream was trimmed past its start), in
  // calls sized by the entries seen so far: one reply is about what the page
  // keeps, never a whole long tail (that was N replays x the tail in memory).
  static constexpr std::size_t kPageCount = 1000;
  static constexpr std::size_t kFirstCount = 4;
  struct PageRead {
    PageRead(StreamId f, std::size_t c) : cursor(f), cap(c) {}
    StreamId cursor;  // the newest id taken: the next call starts after it
    std::size_t cap;
    std::size_t bytes = 0;
    HistoryPage page;
  };

  // How many entries to ask for next.
  static std::size_t next_count(const PageRead& p) {
    const std::size_t n = p.page.messages.size();
    if (n == 0) return kFirstCount;
    const std::size_t average = std::max<std::size_t>(1, p.bytes / n);
    const std::size_t room = p.cap > p.bytes ? p.cap - p.bytes : 0;
    return std::clamp<std::size_t>(room / average + 1, 1, kPageCount - n);
  }

  // Takes the entries of one XRANGE reply (asked: `asked` of them) into the
  // page. True when the page is complete.
  bool take(const std::string& channel, PageRead* p, const redisReply* entries, std::size_t asked) {
    HistoryPage& page = p->page;
    for (std::size_t i = 0; i < entries->elements; ++i) {
      MessagePtr m = entry_message(log, channel, entries->element[i]);
      if (!m) continue;
      const std::size_t size = message_bytes(*m);
      if (!page.messages.empty() && p->bytes + size > p->cap) {  // read again by the next page
        page.more = true;
        return true;
      }
      p->bytes += size;
      p->cursor = m->id;
      page.messages.push_back(std::move(m));
    }
    page.more = entries->elements >= asked;
    return !page.more || page.messages.size() >= kPageCount || p->bytes >= p->cap;
  }

  void read_page(const std::string& channel, std::shared_ptr<PageRead> p, std::function<void(bool ok)> done) {
    const std::size_t count = next_count(*p);
    command(
        [this, channel, p, count, done](redisReply* r) {
          if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 5 || r->element[3]->type != REDIS_REPLY_ARRAY)
            return done(false);
          const StreamId trimmed = StreamId::parse(text(r->element[2])).value_or(StreamId{});
          if (trimmed > p->cursor) p->page.gap = true;
          const StreamId from = p->cursor;
          if (take(channel, p.get(), r->element[3], count)) return done(true);
          if (p->cursor == from) return done(false);  // entries none of which parsed: never loop on them
          read_page(channel, p, done);
        },
        history_args(channel, p->cursor.str(), std::to_string(count)));
  }

  // The history script's command (redis_scripts.h) for `channel`.
  std::vector<std::string> history_args(const std::string& channel, std::string since, std::string count) const {
    if (!clustered())
      return {"EVAL", redis::kHistoryScript, "4", redis::kStreamPrefix + channel, redis::kEpochKey,
              redis::kTrimmedPrefix + channel, redis::kConfigKey, std::move(since), std::move(count), ttl_ms};
    const RedisKeys& k = links.keys;
    const int b = k.bucket(channel);
    return {"EVAL", redis::kHistoryScript, "4", k.stream(channel), k.epoch(b), k.trimmed(channel), k.config(b),
            std::move(since), std::move(count), ttl_ms};
  }

  void command(std::function<void(redisReply*)> cb, const std::vector<std::string>& args) {
    assert(io->on_io_thread());
    links.command(std::move(cb), args);
  }

  // The publish script's command in a Redis Cluster: every key in the
  // channel's bucket (one slot), the live topic a shard channel, ARGV[10]
  // SPUBLISH (absent for one Redis: PUBLISH, as older nodes do).
  std::vector<std::string> cluster_publish_args(const std::string& channel, const std::string& kind,
                                                const std::string& data, const std::string& user) const {
    const RedisKeys& k = links.keys;
    const int b = k.bucket(channel);
    return {"EVAL", redis::kPublishScript, "6", k.stream(channel), k.epoch(b), k.trimmed(channel), k.persist(b),
            k.config(b), k.bytes(channel), std::to_string(history), kind, data, k.live(channel), channel, ttl_ms,
            persist_caps, channel_bytes, user, k.publish_command()};
  }

  // ---- settings -----------------------------------------------------------
  // What this node's publishes rely on, written at every heartbeat and
  // after a reconnect, so that a Redis that lost them (restart, FLUSHALL)
  // has them again.
  void write_settings() {
    // With PostgreSQL: persistence on again at once after Redis forgot it,
    // for rtpush-publish and nodes without PostgreSQL too; before the HSET,
    // so that rtpush:config never exists without it (rtpush-publish
    // publishes once it exists).
    // A Redis Cluster: each bucket has its own config (its publishes read
    // it in the same slot).
    for (int b = 0; b < links.keys.buckets(); ++b) {
      const std::string config = clustered() ? links.keys.config(b) : std::string(redis::kConfigKey);
      if (!persist_rows.empty())
        command([](redisReply*) {}, {"EVAL", redis::kEnablePersistScript, "1", config, persist_rows, persist_bytes});
      command([](redisReply*) {}, {"HSET", config, "history-size", std::to_string(history), "history-ttl-secs",
                                   std::to_string(ttl_secs), "history-channel-bytes", channel_bytes});
    }
  }

  // The heartbeat: the tenant's registry first (as before the split: the
  // node's entry leads), then the settings.
  void heartbeat() {
    if (!links.cmd_up() && !clustered()) return;  // (a cluster's commands to a shard that is down fail alone)
    if (links.tenant) links.tenant->heartbeat();
    write_settings();
  }

  static void on_heartbeat_timer(struct ev_loop*, ev_timer* w, int) { static_cast<IoSide*>(w->data)->heartbeat(); }

  void shutdown() {
    closing = true;
    ev_timer_stop(io->loop(), &heartbeat_timer);
    ev_timer_stop(io->loop(), &first_up_timer);
    before_first_up.clear();
    if (links.tenant) links.tenant->closing();  // its last words, while the links are up
    links.tenant = nullptr;
    links.cmd.reset();  // runs pending callbacks with no reply
    links.sub.reset();
    links.shards.reset();
    locator.reset();
  }
};

RedisBroker::RedisBroker(const RedisUrl& url, std::string node_id, std::size_t history_size,
                         unsigned history_ttl_secs, IoThread* io, Logger log, std::optional<PersistCaps> persist,
                         std::size_t history_channel_bytes, WaitReplicas wait)
    : io_(io),
      io_side_(new IoSide(this, io, url, std::move(node_id), history_size, history_ttl_secs, std::move(log), wait)) {
  IoSide* side = io_side_.get();
  side->channel_bytes = std::to_string(history_channel_bytes);
  side->topology.set_shards({{url.topology == RedisTopology::Cluster ? "0-16383" : "0", false}});
  if (persist) {
    side->persist_rows = std::to_string(persist->rows);
    side->persist_bytes = std::to_string(persist->bytes);
    side->persist_caps = side->persist_rows + " " + side->persist_bytes;
  }
  ev_timer_init(&side->heartbeat_timer, &IoSide::on_heartbeat_timer, kHeartbeatEverySecs, kHeartbeatEverySecs);
  side->heartbeat_timer.data = side;
  ev_timer_init(&side->first_up_timer, &IoSide::on_first_up_timer, IoSide::kFirstUpWaitSecs, 0.);
  side->first_up_timer.data = side;
  io_->post([side] {
    ev_timer_start(side->io->loop(), &side->heartbeat_timer);
    side->connect();
  });
}

BackendState RedisBroker::state() const { return io_side_->health.state(); }
const RedisTopologyState* RedisBroker::redis_topology() const { return &io_side_->topology; }

RedisBroker::~RedisBroker() {
  IoSide* side = io_side_.get();
  io_->run_and_wait([side] { side->shutdown(); });
}

void RedisBroker::publish(const std::string& channel, Payload payload, std::string user, PublishDone done) {
  io_->post([this, channel, payload = std::move(payload), user = std::move(user), done = std::move(done)]() mutable {
    IoSide* side = io_side_.get();
    auto fail = [side, done](std::string why) {
      side->deliver([done, why = std::move(why)] {
        PublishResult r;
        r.reason = why;
        done(r);
      });
    };
    if (!side->up_for(channel)) {
      // Asked again once the first connection is up (io_->post keeps the order).
      if (side->await_first_up([this, channel, payload, user, done] { publish(channel, payload, user, done); }))
        return;
      return fail("redis is unavailable: nothing was published");
    }
    const std::string kind = payload.kind == PayloadKind::Binary ? "b" : "j";
    auto data = std::make_shared<Payload>(std::move(payload));
    // A link that breaks after the script went out leaves its fate unknown:
    // Redis may have run it. That answer must not claim "nothing was
    // published" (docs/protocol.md, UNAVAILABLE).
    auto sent = std::make_shared<bool>(false);
    side->command(
        [side, channel, data, user, done, fail, sent](redisReply* r) {
          if (!r && *sent)
            return fail("the link to redis was lost after the publish was sent: the message may have been "
                        "published; subscribe with since to find out before publishing it again");
          if (!r) return fail("redis is unavailable: nothing was published");
          if (r->type == REDIS_REPLY_ERROR) {  // the script refused (BACKLOG: before writing anything)
            const std::string why(r->str, r->len), code = std::string(redis::kBacklogFullError) + " ";
            // The master was demoted under us (a failover this node has
            // not heard of yet): locate the master again.
            if (why.rfind("READONLY", 0) == 0 && side->locator) {
              side->link_failed("redis " + side->links.server().host_port() + " is a replica now (READONLY)");
              return fail("redis is unavailable (a failover is under way): nothing was published");
            }
            return fail(why.rfind(code, 0) == 0 ? why.substr(code.size()) : "redis refused the message: " + why);
          }
          const std::string id = text(r);
          auto parsed = StreamId::parse(id);
          if (r->type != REDIS_REPLY_STRING || !parsed) return fail("redis did not accept the message");
          auto m = std::make_shared<Message>();
          m->channel = channel;
          m->id = *parsed;
          m->id_text = id;
          m->payload = std::move(*data);
          m->user = user;
          m->timestamp = static_cast<double>(parsed->ms) / 1000.0;
          // redis-wait-replicas: answered once replicas hold it (at once without).
          side->wait_for(channel).after_reply([side, done, fail, m = MessagePtr(m)](bool ok, long long confirmed) {
            if (!ok)
              return fail("redis confirmed the message on " + std::to_string(std::max(confirmed, 0LL)) +
                          " replicas, fewer than redis-wait-replicas: the message may have been published; "
                          "subscribe with since to find out before publishing it again");
            side->deliver([done, m] {
              PublishResult res;
              res.ok = true;
              res.message = m;
              done(res);
            });
          });
        },
        side->clustered() ? side->cluster_publish_args(channel, kind, data->bytes, user)
                          : std::vector<std::string>{"EVAL", redis::kPublishScript, "6", redis::kStreamPrefix + channel,
                                                     redis::kEpochKey, redis::kTrimmedPrefix + channel,
                                                     redis::kPersistKey, redis::kConfigKey,
                                                     redis::kBytesPrefix + channel, std::to_string(side->history),
                                                     kind, data->bytes, redis::kLivePrefix + channel, channel,
                                                     side->ttl_ms, side->persist_caps, side->channel_bytes, user});
    *sent = true;
  });
}

void RedisBroker::history(const std::string& channel, std::optional<StreamId> since, std::size_t page_bytes,
                          HistoryDone done) {
  io_->post([this, channel, since, page_bytes, done = std::move(done)]() mutable {
    IoSide* side = io_side_.get();
    auto fail = [side, done] {
      side->deliver([done] {
        HistoryResult h;
        h.reason = "redis is unavailable";
        done(std::move(h));
      });
    };
    // Without room for a page, only the metadata: the replay reads its pages
    // once it is its turn (replay-memory-bytes).
    const bool entries_now = since && page_bytes > 0;
    auto read = [side, channel, since, page_bytes, entries_now, done, fail] {
      side->command(
          [side, channel, since, page_bytes, entries_now, done, fail](redisReply* r) {
            if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 5 || r->element[3]->type != REDIS_REPLY_ARRAY)
              return fail();
            auto h = std::make_shared<HistoryResult>();
            h->ok = true;
            h->copied = true;
            const std::string epoch = text(r->element[0]), last = text(r->element[1]);
            if (auto p = StreamId::parse(last); p && *p != StreamId{}) h->position = *p;
            const StreamId trimmed = StreamId::parse(text(r->element[2])).value_or(StreamId{});
            const StreamId floor{StreamId::parse(epoch).value_or(StreamId{}).ms, 0};
            if (!since) {
              side->deliver([done, h] { done(std::move(*h)); });
              return;
            }
            h->recovered = *since >= trimmed && *since >= floor;
            // Persisted from persist-from on: ids of a later millisecond.
            // Never below the epoch either: a failover that moved it may
            // have lost messages before they reached PostgreSQL
            // (failover_epoch.h).
            if (auto from = StreamId::parse(text(r->element[4])); from && from->seq == 0)
              h->archive_floor = std::max(StreamId{from->ms + 1, 0}, floor);
            if (!entries_now) {
              h->more = h->position && *h->position > *since;
              side->deliver([done, h] { done(std::move(*h)); });
              return;
            }
            auto page = std::make_shared<IoSide::PageRead>(*since, page_bytes);
            auto finish = [side, done, h, page](bool ok) {
              h->ok = ok;
              h->messages = std::move(page->page.messages);
              h->more = page->page.more;
              side->deliver([done, h] { done(std::move(*h)); });
            };
            if (side->take(channel, page.get(), r->element[3], IoSide::kFirstCount)) return finish(true);
            side->read_page(channel, page, finish);
          },
          side->history_args(channel, entries_now ? since->str() : std::string(), std::to_string(IoSide::kFirstCount)));
    };
    if (!side->up_for(channel)) return fail();
    // Read only once live messages flow, so none falls between the two.
    auto it = side->channels.find(channel);
    if (it != side->channels.end() && !it->second.confirmed)
      it->second.after_confirm.push_back(read);
    else
      read();
  });
}

void RedisBroker::read_history(const std::string& channel, StreamId after, std::size_t page_bytes, PageDone done) {
  io_->post([this, channel, after, page_bytes, done = std::move(done)] {
    IoSide* side = io_side_.get();
    auto page = std::make_shared<IoSide::PageRead>(after, page_bytes);
    side->read_page(channel, page, [side, page, done](bool ok) {
      page->page.ok = ok;
      side->deliver([done, page] { done(std::move(page->page)); });
    });
  });
}

void RedisBroker::watch(const std::string& channel, bool on) {
  io_->post([this, channel, on] {
    IoSide* side = io_side_.get();
    if (on) {
      auto [it, fresh] = side->channels.try_emplace(channel);
      if (fresh && side->clustered()) side->subscribe(channel);  // (stale ones are made again every second)
      if (fresh && side->links.sub && side->links.sub->up()) side->subscribe(channel);
      return;
    }
    auto it = side->channels.find(channel);
    if (it == side->channels.end()) return;
    if (side->clustered() && !it->second.owner.empty())
      side->links.shards->unsubscribe_shard(it->second.owner, side->links.keys.live(channel),
                                           side->links.keys.stream(channel));
    side->channels.erase(it);  // reads waiting for its SUBSCRIBE have no subscriber left
    if (side->links.sub && side->links.sub->up())
      side->links.sub->push_command({"UNSUBSCRIBE", std::string(redis::kLivePrefix) + channel});
  });
}

RedisLinks& RedisBroker::links() {
  assert(io_->on_io_thread());
  return io_side_->links;
}

}  // namespace rtpush
