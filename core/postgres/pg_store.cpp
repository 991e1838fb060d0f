#include "pg_store.h"

#include <algorithm>
#include <cassert>
#include <chrono>
#include <cstring>
#include <deque>
#include <vector>

#include "backend_health.h"
#include "backoff.h"
#include "logger.h"
#include "pg_link.h"
#include "pg_schema.h"
#include "pg_sqlstate.h"
#include "waiters.h"

namespace rtpush {

// One statement for any batch size: the rows travel as eight arrays. The
// server parses and plans it once per connection (prepared at connect),
// where a multi-row VALUES list would be parsed again for every batch.
// Tried first without ON CONFLICT: a speculative insertion per row cost 37%
// more (100,000 rows: 543 ms against 345 ms). Rows already there are rare (a
// retry after a lost answer, a batch claimed from a dead node); then the
// batch fails whole with unique_violation and goes again with kInsertSql.
const std::string kInsertFastSql =
    "INSERT INTO rtpush_messages (channel, id, id_ms, id_seq, data, data_bin, published_at, publisher) "
    "SELECT c, i, m, s, d::json, b, to_timestamp(t), p "
    "FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::text[], $6::bytea[], "
    "$7::float8[], $8::text[]) AS u(c, i, m, s, d, b, t, p)";
const std::string kInsertSql = kInsertFastSql + " ON CONFLICT (channel, id) DO NOTHING";
constexpr const char* kUniqueViolation = "23505";
constexpr const char* kInsertStatement = "rtpush_insert";
constexpr const char* kInsertFastStatement = "rtpush_insert_fast";

// The rows PostgreSQL refused out of one submitted batch, with their
// messages, as one statement of arrays like the batch's own (one statement
// per refused row made a client that chose refused rows slow the writer
// down). kind: "json" (data is the text), "binary" (data is the bytes in
// bytea's hex form, `data::bytea` reads them back), "json-hex" (JSON text
// PostgreSQL would not store as text, in the hex form). A row refused again
// (a claimed entry) keeps one dead letter, with the latest error.
const char* const kDeadLetterSql =
    "INSERT INTO rtpush_dead_letters (channel, id, id_ms, id_seq, data, kind, published_at, error, sqlstate) "
    "SELECT c, i, m, s, d, k, to_timestamp(t), e, st "
    "FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::text[], $6::text[], $7::float8[], "
    "$8::text[], $9::text[]) AS u(c, i, m, s, d, k, t, e, st) "
    "ON CONFLICT (channel, id) DO UPDATE SET data = EXCLUDED.data, kind = EXCLUDED.kind, "
    "error = EXCLUDED.error, sqlstate = EXCLUDED.sqlstate, failed_at = now()";

namespace {

constexpr int kParamsPerRow = 8;
constexpr std::size_t kMaxBatch = 100000;  // one statement: bounded by memory, not parameters

double steady_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

using Row = PgRow;

// PostgreSQL's answer to a row it refused: its message and SQLSTATE.
struct Refusal {
  std::string error, sqlstate;
};

// Who to tell once every row of a batch (submitted, or gathered from
// append()) is written or dead-lettered: shared by the parts a refused row
// splits it into. The refused rows gather here and go to
// rtpush_dead_letters in one statement once every part is done.
struct Completion {
  std::size_t parts = 1;  // parts not yet done
  std::function<void()> committed;
  std::vector<Row> refused;
  std::vector<Refusal> refusals;  // one per refused row
};

// Rows to write as one batch (a submitted one, or a part of it), or the
// dead letters of one batch.
struct Job {
  std::vector<Row> rows;
  std::shared_ptr<Completion> completion;
  bool careful = false;  // some rows may be written already: kInsertSql
  // A dead-letter job: rows are what PostgreSQL refused, with its answers.
  std::vector<Refusal> refusals;
  bool dead() const { return !refusals.empty(); }
  bool as_hex = false;  // the dead letters' text was refused too: store it as hex
};

std::string to_hex(const std::string& bytes) {
  static const char kHex[] = "0123456789abcdef";
  std::string hex = "\\x";  // bytea's hex form
  for (unsigned char ch : bytes) {
    hex.push_back(kHex[ch >> 4]);
    hex.push_back(kHex[ch & 15]);
  }
  return hex;
}

}  // namespace

// The I/O side of the store: everything here runs on the I/O thread, but
// the counters (atomics), which stats() reads from the service thread.
struct PgStore::IoSide {
  IoSide(IoThread* i, std::unique_ptr<PgConnection> l, std::size_t b, unsigned f, Logger lg)
      : io(i), log(std::move(lg)), link(std::move(l)), batch(std::min(std::max<std::size_t>(b, 1), kMaxBatch)),
        flush_secs(f / 1000.0), health(log, "postgres", "", "retrying with backoff") {}

  IoThread* io;
  Logger log;
  std::unique_ptr<PgConnection> link;  // created anywhere, used and destroyed on the I/O thread
  std::size_t batch;
  double flush_secs;
  bool in_flight = false;  // a write, dead letter or probe awaits its answer
  bool closing = false;
  bool draining = false;  // flush_now(): a graceful stop writes without waiting
  Backoff backoff;
  BackendHealth health;  // its state is the store's (read by any thread)
  ev_timer flush_timer{}, retry_timer{};
  std::vector<Row> gathering;       // append(): rows waiting to fill a batch
  std::uint64_t accepted = 0;       // rows ever handed to this store (I/O thread)
  Waiters<std::uint64_t> settling;  // settle(): the rows_written each waits for
  ev_timer settle_timer{};

  // Resolves the settle() calls whose rows are all written, or that waited
  // too long; polls again while some wait.
  void check_settled() {
    settling.resolve([this](std::uint64_t target) { return resolved >= target; }, steady_seconds());
    ev_timer_stop(io->loop(), &settle_timer);
    if (!settling.empty()) {
      ev_timer_set(&settle_timer, 0.01, 0);
      ev_timer_start(io->loop(), &settle_timer);
    }
  }
  std::deque<Job> jobs;        // batches to write, in order; the front one is in flight when in_flight
  std::atomic<std::uint64_t> rows_written{0}, batches{0}, errors{0}, backlog{0}, dead_letters{0};
  std::atomic<std::uint64_t> backlog_bytes{0};  // the payload bytes of `backlog` (pg-backlog-bytes)
  std::uint64_t resolved = 0;  // rows written or dead-lettered (I/O thread)
  std::atomic<double> oldest{0};  // queued_at of the oldest uncommitted row, 0 if none
  std::array<std::atomic<std::uint64_t>, kBatchBuckets.size() + 1> batch_buckets{};  // last: +Inf

  void update_oldest() {
    double o = 0;
    if (!jobs.empty() && !jobs.front().rows.empty()) o = jobs.front().rows.front().queued_at;
    else if (!gathering.empty()) o = gathering.front().queued_at;
    oldest.store(o);
  }

  // ---- the link -------------------------------------------------------------
  void start() {
    link->set_lost_handler([this](const std::string& why) {
      if (!in_flight) fail(why, false);  // an idle connection broke: down now, not at the next write
    });
    probe();
  }

  // Connects (the link runs the schema and prepares the inserts on every new
  // connection) with nothing to write: up once it answers.
  void probe() {
    in_flight = true;
    link->query("SELECT 1", {}, [this](const PgReply& r) {
      in_flight = false;
      if (!r.ok) return fail(r.error, false);
      answered();
      pump();
    });
  }

  // PostgreSQL answers: the backoff starts over only once rows move (or there
  // are none), not on a connect that then fails to write.
  void answered() {
    health.answered({"rows_waiting", backlog.load()});
    backoff.reset();
  }

  // The link failed, or PostgreSQL failed for no row's fault: drop the
  // connection, keep every row, retry after the backoff. `writing`: the
  // batch in flight may have committed before the link broke, so it goes
  // again with ON CONFLICT: harmless.
  void fail(const std::string& why, bool writing) {
    if (writing && !jobs.empty()) jobs.front().careful = true;
    link->reset();
    health.failed(why, {"rows_waiting", backlog.load()});
    if (closing || ev_is_active(&retry_timer)) return;
    ev_timer_set(&retry_timer, backoff.next(), 0);
    ev_timer_start(io->loop(), &retry_timer);
  }

  static void on_retry(struct ev_loop*, ev_timer* w, int) {
    auto* self = static_cast<IoSide*>(w->data);
    if (self->closing || self->in_flight) return;
    if (self->jobs.empty() && self->gathering.empty()) return self->probe();
    self->pump();
  }

  // ---- batching -------------------------------------------------------------
  // append()'s rows become a job at pg-batch-size rows or pg-flush-ms age.
  void gather() {
    if (gathering.empty()) return;
    const double age = steady_seconds() - gathering.front().queued_at;
    // Draining, a batch goes when the writer is free: rows arriving while
    // one is in flight gather into the next, not one statement each.
    const bool now = draining && jobs.empty();
    if (!now && gathering.size() < batch && age < flush_secs) {
      if (!ev_is_active(&flush_timer)) {
        ev_timer_set(&flush_timer, flush_secs - age, 0);
        ev_timer_start(io->loop(), &flush_timer);
      }
      return;
    }
    ev_timer_stop(io->loop(), &flush_timer);
    Job j;
    j.rows.swap(gathering);
    j.completion = std::make_shared<Completion>();
    jobs.push_back(std::move(j));
  }

  // Writes the next job unless one is in flight or a retry is pending.
  void pump() {
    assert(io->on_io_thread());
    gather();
    if (closing || in_flight || ev_is_active(&retry_timer) || jobs.empty()) return;
    write_batch(jobs.front());
  }

  static void on_flush(struct ev_loop*, ev_timer* w, int) { static_cast<IoSide*>(w->data)->pump(); }

  // Appends `v` as one element of a PostgreSQL array literal.
  static void array_elem(std::string* a, const std::string& v) {
    a->push_back(a->empty() ? '{' : ',');
    a->push_back('"');
    for (char c : v) {
      if (c == '"' || c == '\\') a->push_back('\\');
      a->push_back(c);
    }
    a->push_back('"');
  }
  static void array_null(std::string* a) { a->append(a->empty() ? "{NULL" : ",NULL"); }

  void write_batch(const Job& job) {
    if (job.dead()) return write_dead_letters(job);
    std::vector<std::string> cols(kParamsPerRow);
    for (const Row& r : job.rows) {
      array_elem(&cols[0], r.channel);
      array_elem(&cols[1], r.id);
      array_elem(&cols[2], r.ms);
      array_elem(&cols[3], r.seq);
      if (r.binary) {
        array_null(&cols[4]);
        array_elem(&cols[5], to_hex(r.data));
      } else {
        array_elem(&cols[4], r.data);
        array_null(&cols[5]);
      }
      array_elem(&cols[6], r.published_at);
      if (r.user.empty()) array_null(&cols[7]); else array_elem(&cols[7], r.user);
    }
    close_arrays(&cols);
    in_flight = true;
    link->execute(job.careful ? kInsertStatement : kInsertFastStatement, std::move(cols),
                  [this](const PgReply& r) { written(r); });
  }

  static void close_arrays(std::vector<std::string>* cols) {
    for (std::string& c : *cols) {
      if (c.empty()) c = "{";
      c.push_back('}');
    }
  }

  // Every dead letter of one batch: one statement.
  void write_dead_letters(const Job& job) {
    std::vector<std::string> cols(9);
    for (std::size_t i = 0; i < job.rows.size(); ++i) {
      const Row& r = job.rows[i];
      // A NUL cannot travel in a text array: such text goes as hex at once.
      const bool hex = r.binary || job.as_hex || r.data.find('\0') != std::string::npos;
      const std::string* fields[] = {&r.channel, &r.id, &r.ms, &r.seq};
      for (int f = 0; f < 4; ++f) array_elem(&cols[f], *fields[f]);
      array_elem(&cols[4], hex ? to_hex(r.data) : r.data);
      array_elem(&cols[5], r.binary ? "binary" : hex ? "json-hex" : "json");
      array_elem(&cols[6], r.published_at);
      array_elem(&cols[7], job.refusals[i].error);
      array_elem(&cols[8], job.refusals[i].sqlstate);
    }
    close_arrays(&cols);
    in_flight = true;
    link->query(kDeadLetterSql, std::move(cols), [this](const PgReply& reply) { written(reply); });
  }

  // The answer to the front job (a batch, or a dead letter).
  void written(const PgReply& r) {
    in_flight = false;
    if (closing) return;
    const bool dead_letter = jobs.front().dead();
    if (r.link_failed) return fail(r.error, true);
    if (!r.ok) return dead_letter ? dead_letter_failed(r) : write_failed(r);
    answered();
    Job done = std::move(jobs.front());
    jobs.pop_front();
    if (!dead_letter) {
      rows_written += done.rows.size();
      ++batches;
      std::size_t b = 0;
      while (b < kBatchBuckets.size() && done.rows.size() > kBatchBuckets[b]) ++b;
      ++batch_buckets[b];
    } else {
      dead_letters += done.rows.size();
      for (std::size_t i = 0; i < done.rows.size(); ++i)
        log.event(LogLevel::Warn, "dead_letter",
                  {{"id", done.rows[i].id}, {"channel", done.rows[i].channel}, {"table", "rtpush_dead_letters"},
                   {"sqlstate", done.refusals[i].sqlstate}, {"cause", done.refusals[i].error}});
    }
    resolve(done, !dead_letter);
  }

  // `done`'s rows are written or dead-lettered: off the backlog. A part of a
  // batch (`part`): once every part is done, its dead letters go first, in
  // one job, and the batch is complete once they are written.
  void resolve(Job& done, bool part) {
    backlog -= done.rows.size();
    for (const Row& r : done.rows) backlog_bytes -= r.data.size();
    resolved += done.rows.size();
    Completion* c = done.completion.get();
    if (part && c && --c->parts == 0 && !c->refused.empty()) {
      Job dead;
      dead.rows = std::move(c->refused);
      dead.refusals = std::move(c->refusals);
      dead.completion = std::move(done.completion);
      jobs.push_front(std::move(dead));
    } else if (c && c->parts == 0 && c->committed) {
      c->committed();
    }
    update_oldest();
    if (!settling.empty()) check_settled();
    pump();
  }

  // The batch in flight failed. A conflict on the key: again, skipping rows
  // already there. A row's fault: bisect until the refused rows stand alone,
  // each then a dead letter; the connection stays. Anything else: keep every
  // row, reconnect with backoff.
  void write_failed(const PgReply& r) {
    ++errors;
    Job& job = jobs.front();
    const bool conflict = r.sqlstate == kUniqueViolation && !job.careful;
    if (!conflict && classify_sqlstate(r.sqlstate.c_str()) != PgFault::Row) return fail(r.error, true);
    if (conflict) {
      job.careful = true;
    } else if (job.rows.size() == 1) {  // refused: a dead letter once its batch is done
      Job refused = std::move(job);
      jobs.pop_front();
      refused.completion->refused.push_back(std::move(refused.rows.front()));
      refused.completion->refusals.push_back({r.error, r.sqlstate});
      refused.rows.clear();  // off the backlog once its dead letter is written
      return resolve(refused, true);
    } else {  // halves, in order, in place of the batch: O(refused rows x log(batch)) statements
      Job second;
      second.rows.assign(std::make_move_iterator(job.rows.begin() + job.rows.size() / 2),
                         std::make_move_iterator(job.rows.end()));
      job.rows.resize(job.rows.size() / 2);
      second.completion = job.completion;
      second.careful = job.careful;
      if (second.completion) ++second.completion->parts;
      jobs.insert(jobs.begin() + 1, std::move(second));
    }
    pump();
  }

  // The dead letters themselves were refused: once more with their data as
  // hex (text PostgreSQL would not store); after that, or for any other
  // error, it is the server's problem: back off, never loop hot.
  void dead_letter_failed(const PgReply& r) {
    Job& job = jobs.front();
    if (!job.as_hex && classify_sqlstate(r.sqlstate.c_str()) == PgFault::Row) {
      job.as_hex = true;
      return pump();
    }
    fail("rtpush_dead_letters refused a row (SQLSTATE " + r.sqlstate + "): " + r.error, false);
  }
};

std::unique_ptr<PgConnection> PgStore::connect(struct ev_loop* loop, std::string conninfo) {
  return std::make_unique<PgLink>(loop, std::move(conninfo), kPgSchema,
                                  std::vector<PgPrepared>{{kInsertStatement, kInsertSql, kParamsPerRow},
                                                          {kInsertFastStatement, kInsertFastSql, kParamsPerRow}});
}

PgStore::PgStore(std::string conninfo, std::size_t batch_size, unsigned flush_ms, IoThread* io, Logger log)
    : PgStore(connect(io->loop(), std::move(conninfo)), batch_size, flush_ms, io, std::move(log)) {}

PgStore::PgStore(std::unique_ptr<PgConnection> link, std::size_t batch_size, unsigned flush_ms, IoThread* io,
                 Logger log)
    : io_(io), io_side_(new IoSide(io, std::move(link), batch_size, flush_ms, std::move(log))) {
  IoSide* side = io_side_.get();
  ev_timer_init(&side->flush_timer, &IoSide::on_flush, 0, 0);
  side->flush_timer.data = side;
  ev_timer_init(&side->retry_timer, &IoSide::on_retry, 0, 0);
  side->retry_timer.data = side;
  ev_timer_init(&side->settle_timer, [](struct ev_loop*, ev_timer* w, int) {
    static_cast<IoSide*>(w->data)->check_settled();
  }, 0, 0);
  side->settle_timer.data = side;
  io_->post([side] { side->start(); });
}

PgStore::~PgStore() {
  IoSide* side = io_side_.get();
  io_->run_and_wait([side] {
    side->closing = true;
    ev_timer_stop(side->io->loop(), &side->flush_timer);
    ev_timer_stop(side->io->loop(), &side->retry_timer);
    ev_timer_stop(side->io->loop(), &side->settle_timer);
    side->link.reset();  // closes the connection; a query in flight is dropped uncalled
  });
  // Here, on the service thread, so the line is written now (from the I/O
  // thread it would be delivered to a drain that no longer comes).
  if (const std::uint64_t lost = side->backlog.load())
    side->log.event(LogLevel::Err, "rows_lost",
                    {{"backend", "postgres"}, {"rows", lost},
                     {"cause", side->health.state() == BackendState::Up ? "too slow" : "down"},
                     {"action", "stopping"}});
}

void PgStore::flush_now() {
  IoSide* side = io_side_.get();
  io_->post([side] {
    side->draining = true;
    side->pump();
  });
}

void PgStore::append(const Message& m) {
  Row r;
  r.channel = m.channel;
  r.id = m.id_text;
  r.ms = std::to_string(m.id.ms);
  r.seq = std::to_string(m.id.seq);
  r.binary = m.payload.kind == PayloadKind::Binary;
  r.data = m.payload.bytes;
  r.user = m.user;
  char ts[32];
  std::snprintf(ts, sizeof ts, "%.3f", m.timestamp);
  r.published_at = ts;
  r.queued_at = steady_seconds();
  IoSide* side = io_side_.get();
  ++side->backlog;
  side->backlog_bytes += r.data.size();
  io_->post([side, r = std::move(r)]() mutable {
    ++side->accepted;
    side->gathering.push_back(std::move(r));
    side->update_oldest();
    side->pump();
  });
}

void PgStore::submit(std::vector<PgRow> rows, std::function<void()> committed) {
  assert(io_->on_io_thread());
  IoSide* side = io_side_.get();
  if (rows.empty()) {
    if (committed) committed();
    return;
  }
  side->backlog += rows.size();
  for (const PgRow& r : rows) side->backlog_bytes += r.data.size();
  side->accepted += rows.size();
  Job job;
  job.rows = std::move(rows);
  job.completion = std::make_shared<Completion>();
  job.completion->committed = std::move(committed);
  side->jobs.push_back(std::move(job));
  side->update_oldest();
  side->pump();
}

void PgStore::settle(std::function<void(bool)> done, double timeout_secs) {
  IoSide* side = io_side_.get();
  io_->post([side, timeout_secs, done = std::move(done)] {
    auto back = [io = side->io, done](bool ok) { io->deliver([done, ok] { done(ok); }); };
    side->settling.add(side->accepted, steady_seconds() + timeout_secs, std::move(back));
    side->check_settled();
  });
}

BackendState PgStore::state() const { return io_side_->health.state(); }

std::uint64_t PgStore::backlog() const { return io_side_->backlog.load(); }

std::uint64_t PgStore::backlog_bytes() const { return io_side_->backlog_bytes.load(); }

StoreStats PgStore::stats() const {
  StoreStats s;
  s.rows_written = io_side_->rows_written.load();
  s.batches = io_side_->batches.load();
  s.write_errors = io_side_->errors.load();
  s.backlog = io_side_->backlog.load();
  s.backlog_bytes = io_side_->backlog_bytes.load();
  s.dead_letters = io_side_->dead_letters.load();
  for (std::size_t i = 0; i < s.batch_buckets.size(); ++i) s.batch_buckets[i] = io_side_->batch_buckets[i].load();
  const double oldest = io_side_->oldest.load();
  s.lag_seconds = oldest > 0 ? std::max(0.0, steady_seconds() - oldest) : 0;
  return s;
}

}  // namespace rtpush
