#include "pg_store.h"

#include <libpq-fe.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <deque>
#include <future>
#include <random>
#include <vector>

#include "logger.h"
#include "pg_sqlstate.h"
#include "waiters.h"

namespace rtpush {

const char* const kPgSchema = R"sql(
CREATE TABLE IF NOT EXISTS rtpush_messages (
  channel      text        NOT NULL,
  id           text        NOT NULL,
  id_ms        bigint      NOT NULL,
  id_seq       bigint      NOT NULL,
  data         json,
  data_bin     bytea,
  published_at timestamptz NOT NULL,
  PRIMARY KEY (channel, id)
);
CREATE INDEX IF NOT EXISTS rtpush_messages_replay ON rtpush_messages (channel, id_ms, id_seq);
CREATE TABLE IF NOT EXISTS rtpush_dead_letters (
  channel      text        NOT NULL,
  id           text        NOT NULL,
  id_ms        bigint      NOT NULL,
  id_seq       bigint      NOT NULL,
  data         text        NOT NULL,
  kind         text        NOT NULL,
  published_at timestamptz NOT NULL,
  error        text        NOT NULL,
  sqlstate     text        NOT NULL,
  failed_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (channel, id)
);
)sql";

// One statement for any batch size: the rows travel as seven arrays. The
// server parses and plans it once per connection (prepared at connect),
// where a multi-row VALUES list would be parsed again for every batch.
// Tried first without ON CONFLICT: a speculative insertion per row cost 37%
// more (100,000 rows: 543 ms against 345 ms). Rows already there are rare (a
// retry after a lost answer, a batch claimed from a dead node); then the
// batch fails whole with unique_violation and goes again with kInsertSql.
const std::string kInsertFastSql =
    "INSERT INTO rtpush_messages (channel, id, id_ms, id_seq, data, data_bin, published_at) "
    "SELECT c, i, m, s, d::json, b, to_timestamp(t) "
    "FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::text[], $6::bytea[], "
    "$7::float8[]) AS u(c, i, m, s, d, b, t)";
const std::string kInsertSql = kInsertFastSql + " ON CONFLICT (channel, id) DO NOTHING";
constexpr const char* kUniqueViolation = "23505";

// A row PostgreSQL refused, with its message. kind: "json" (data is the
// text), "binary" (data is the bytes in bytea's hex form, `data::bytea`
// reads them back), "json-hex" (JSON text PostgreSQL would not store as
// text, in the hex form). A row refused again (a claimed entry) keeps one
// dead letter, with the latest error.
const char* const kDeadLetterSql =
    "INSERT INTO rtpush_dead_letters (channel, id, id_ms, id_seq, data, kind, published_at, error, sqlstate) "
    "VALUES ($1, $2, $3::bigint, $4::bigint, $5, $6, to_timestamp($7::float8), $8, $9) "
    "ON CONFLICT (channel, id) DO UPDATE SET data = EXCLUDED.data, kind = EXCLUDED.kind, "
    "error = EXCLUDED.error, sqlstate = EXCLUDED.sqlstate, failed_at = now()";

namespace {

constexpr int kParamsPerRow = 7;
constexpr std::size_t kMaxBatch = 100000;  // one statement: bounded by memory, not parameters
constexpr double kBackoffMinSecs = 0.1, kBackoffMaxSecs = 5;
constexpr double kSettleSecs = 5;  // settle(): how long to wait for the rows before giving up

double steady_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

using Row = PgRow;

// Who to tell once every row of a submitted batch is written or
// dead-lettered: shared by the parts a refused row splits it into.
struct Completion {
  std::size_t parts = 1;  // parts not yet done
  std::function<void()> committed;
};

// Rows to write as one batch (a submitted one, or a part of it).
struct Job {
  std::vector<Row> rows;
  std::shared_ptr<Completion> completion;
  bool careful = false;  // some rows may be written already: kInsertSql
  // Set once PostgreSQL refused this job's only row: it goes to
  // rtpush_dead_letters instead, with PostgreSQL's message.
  std::string refusal, refusal_state;
  bool as_hex = false;  // the dead letter's text was refused too: store it as hex
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

struct PgStore::Impl {
  enum class Phase { Down, Connecting, Schema, Prepare, PrepareFast, Ready, Writing, DeadLetter };

  Impl(PgStore* o, IoThread* i, std::string c, std::size_t b, unsigned f)
      : owner(o), io(i), conninfo(std::move(c)), batch(std::min(std::max<std::size_t>(b, 1), kMaxBatch)),
        flush_secs(f / 1000.0) {}

  PgStore* owner;
  IoThread* io;
  Logger log = Logger::none();
  std::string conninfo;
  std::size_t batch;
  double flush_secs;
  PGconn* conn = nullptr;
  Phase phase = Phase::Down;
  bool query_ok = true, closing = false;
  std::string error_state, error_message;  // the last query's error: SQLSTATE, primary message
  bool down_logged = false;                // the outage was logged; log the recovery once
  int attempts = 0;
  ev_io watcher{};
  ev_timer flush_timer{}, retry_timer{};
  std::mt19937 rng{std::random_device{}()};
  std::vector<Row> gathering;  // append(): rows waiting to fill a batch
  std::uint64_t accepted = 0;     // rows ever handed to this store (I/O thread)
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
  std::deque<Job> jobs;        // batches to write, in order; the front one is in flight when Writing
  std::atomic<std::uint64_t> rows_written{0}, batches{0}, errors{0}, backlog{0}, dead_letters{0};
  std::uint64_t resolved = 0;  // rows written or dead-lettered (I/O thread)
  std::atomic<double> oldest{0};  // queued_at of the oldest uncommitted row, 0 if none
  std::array<std::atomic<std::uint64_t>, kBatchBuckets.size() + 1> batch_buckets{};  // last: +Inf

  void set_up(bool up) { owner->state_.store(up ? BackendState::Up : BackendState::Down); }

  void update_oldest() {
    double o = 0;
    if (!jobs.empty() && !jobs.front().rows.empty()) o = jobs.front().rows.front().queued_at;
    else if (!gathering.empty()) o = gathering.front().queued_at;
    oldest.store(o);
  }

  // ---- connection ---------------------------------------------------------
  void connect() {
    conn = PQconnectStart(conninfo.c_str());
    if (!conn || PQstatus(conn) == CONNECTION_BAD || PQsetnonblocking(conn, 1) != 0) return fail();
    phase = Phase::Connecting;
    poll_connect(PGRES_POLLING_WRITING);
  }

  void watch(int events) {
    ev_io_stop(io->loop(), &watcher);
    ev_io_set(&watcher, PQsocket(conn), events);
    ev_io_start(io->loop(), &watcher);
  }

  void poll_connect(PostgresPollingStatusType st) {
    switch (st) {
      case PGRES_POLLING_READING: return watch(EV_READ);
      case PGRES_POLLING_WRITING: return watch(EV_WRITE);
      case PGRES_POLLING_OK:
        phase = Phase::Schema;  // the table, created when missing
        if (!PQsendQuery(conn, kPgSchema)) return fail();
        return send_flush();
      default: return fail();
    }
  }

  static void on_io(struct ev_loop*, ev_io* w, int revents) {
    auto* self = static_cast<Impl*>(w->data);
    if (self->phase == Phase::Connecting) return self->poll_connect(PQconnectPoll(self->conn));
    if (revents & EV_WRITE) self->send_flush();
    if ((revents & EV_READ) && self->conn) self->consume();
  }

  void send_flush() {
    const int r = PQflush(conn);
    if (r < 0) return fail();
    watch(r == 1 ? EV_READ | EV_WRITE : EV_READ);
  }

  void consume() {
    if (!PQconsumeInput(conn)) return fail();
    while (!PQisBusy(conn)) {
      PGresult* res = PQgetResult(conn);
      if (!res) return query_done(std::exchange(query_ok, true));
      const ExecStatusType s = PQresultStatus(res);
      if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK && query_ok) {
        query_ok = false;
        const char* state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        // The primary message only: the detail may quote the row's data.
        const char* primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
        error_state = state ? state : "";
        error_message = one_line(primary ? primary : PQresultErrorMessage(res));
      }
      PQclear(res);
    }
  }

  void query_done(bool ok) {
    if (phase == Phase::Writing && !ok) return write_failed();
    if (phase == Phase::DeadLetter && !ok) return dead_letter_failed();
    if (!ok) return fail(error_message);
    if (phase == Phase::Schema) {  // then prepare the inserts on this connection
      phase = Phase::Prepare;
      if (!PQsendPrepare(conn, "rtpush_insert", kInsertSql.c_str(), kParamsPerRow, nullptr)) return fail();
      return send_flush();
    }
    if (phase == Phase::Prepare) {
      phase = Phase::PrepareFast;
      if (!PQsendPrepare(conn, "rtpush_insert_fast", kInsertFastSql.c_str(), kParamsPerRow, nullptr)) return fail();
      return send_flush();
    }
    const Phase was = phase;
    phase = Phase::Ready;
    set_up(true);
    if (was == Phase::Writing || was == Phase::DeadLetter) {
      attempts = 0;  // backoff resets only once rows move, not on a connect that then fails to write
      recovered();
      Job done = std::move(jobs.front());
      jobs.pop_front();
      if (was == Phase::Writing) {
        rows_written += done.rows.size();
        ++batches;
        std::size_t b = 0;
        while (b < kBatchBuckets.size() && done.rows.size() > kBatchBuckets[b]) ++b;
        ++batch_buckets[b];
      } else {
        ++dead_letters;
        const Row& r = done.rows.front();
        log.warn("postgres refused message %s of channel %s (SQLSTATE %s: %s); it is in rtpush_dead_letters",
            r.id.c_str(), r.channel.c_str(), done.refusal_state.c_str(), done.refusal.c_str());
      }
      backlog -= done.rows.size();
      resolved += done.rows.size();
      update_oldest();
      if (done.completion && --done.completion->parts == 0 && done.completion->committed)
        done.completion->committed();
      if (!settling.empty()) check_settled();
    } else if (jobs.empty()) {
      attempts = 0;
      recovered();
    }
    pump();
  }

  // The batch in flight failed. A conflict on the key: again, skipping rows
  // already there. A row's fault: bisect until the refused rows stand alone,
  // each then a dead letter; the connection stays. Anything else: keep every
  // row, reconnect with backoff.
  void write_failed() {
    ++errors;
    Job& job = jobs.front();
    const bool conflict = error_state == kUniqueViolation && !job.careful;
    if (!conflict && classify_sqlstate(error_state.c_str()) != PgFault::Row) return fail(error_message);
    phase = Phase::Ready;
    if (conflict) {
      job.careful = true;
    } else if (job.rows.size() == 1) {
      job.refusal = error_message;
      job.refusal_state = error_state;
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

  // The dead letter itself was refused: once more with its data as hex
  // (text PostgreSQL would not store); after that, or for any other error,
  // it is the server's problem: back off, never loop hot.
  void dead_letter_failed() {
    Job& job = jobs.front();
    if (!job.as_hex && !job.rows.front().binary && classify_sqlstate(error_state.c_str()) == PgFault::Row) {
      job.as_hex = true;
      phase = Phase::Ready;
      return pump();
    }
    fail("rtpush_dead_letters refused a row (SQLSTATE " + error_state + "): " + error_message);
  }

  void recovered() {
    if (!std::exchange(down_logged, false)) return;
    log.notice("postgres: writing again (%llu rows waiting)",
        static_cast<unsigned long long>(backlog.load()));
  }

  // Anything failed: drop the connection, keep every row, retry later.
  void fail(std::string why = {}) {
    if (why.empty()) why = conn ? one_line(PQerrorMessage(conn)) : "cannot connect";
    if (conn) {
      ev_io_stop(io->loop(), &watcher);
      PQfinish(conn);
      conn = nullptr;
    }
    // The batch in flight stays first in line; it may have committed before
    // the link broke, so it goes again with ON CONFLICT: harmless.
    if (phase == Phase::Writing && !jobs.empty()) jobs.front().careful = true;
    phase = Phase::Down;
    set_up(false);
    query_ok = true;
    if (!std::exchange(down_logged, true))
      log.err("postgres unavailable: %s; %llu rows wait in memory, retrying with backoff", why.c_str(),
          static_cast<unsigned long long>(backlog.load()));
    if (closing || ev_is_active(&retry_timer)) return;
    const double cap = std::min(kBackoffMaxSecs, kBackoffMinSecs * (1 << std::min(attempts, 10)));
    ++attempts;
    ev_timer_set(&retry_timer, std::uniform_real_distribution<double>(kBackoffMinSecs / 2, cap)(rng), 0);
    ev_timer_start(io->loop(), &retry_timer);
  }

  static void on_retry(struct ev_loop*, ev_timer* w, int) {
    auto* self = static_cast<Impl*>(w->data);
    if (!self->closing && !self->conn) self->connect();
  }

  // ---- batching -------------------------------------------------------------
  // append()'s rows become a job at pg-batch-size rows or pg-flush-ms age.
  void gather() {
    if (gathering.empty()) return;
    const double age = steady_seconds() - gathering.front().queued_at;
    if (gathering.size() < batch && age < flush_secs) {
      if (!ev_is_active(&flush_timer)) {
        ev_timer_set(&flush_timer, flush_secs - age, 0);
        ev_timer_start(io->loop(), &flush_timer);
      }
      return;
    }
    ev_timer_stop(io->loop(), &flush_timer);
    Job j;
    j.rows.swap(gathering);
    jobs.push_back(std::move(j));
  }

  void pump() {
    gather();
    if (phase == Phase::Ready && !jobs.empty()) write_batch(jobs.front());
  }

  static void on_flush(struct ev_loop*, ev_timer* w, int) { static_cast<Impl*>(w->data)->pump(); }

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
    if (!job.refusal.empty()) return write_dead_letter(job);
    const std::vector<Row>& rows = job.rows;
    std::string cols[kParamsPerRow];
    for (const Row& r : rows) {
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
    }
    const char* values[kParamsPerRow];
    for (int k = 0; k < kParamsPerRow; ++k) {
      if (cols[k].empty()) cols[k] = "{";
      cols[k].push_back('}');
      values[k] = cols[k].c_str();
    }
    phase = Phase::Writing;
    const char* statement = job.careful ? "rtpush_insert" : "rtpush_insert_fast";
    if (!PQsendQueryPrepared(conn, statement, kParamsPerRow, values, nullptr, nullptr, 0)) return fail();
    send_flush();
  }

  void write_dead_letter(const Job& job) {
    const Row& r = job.rows.front();
    // A NUL cannot travel as a text parameter: such text goes as hex at once.
    const bool hex = r.binary || job.as_hex || r.data.find('\0') != std::string::npos;
    const std::string data = hex ? to_hex(r.data) : r.data;
    const char* kind = r.binary ? "binary" : hex ? "json-hex" : "json";
    const char* values[] = {r.channel.c_str(), r.id.c_str(), r.ms.c_str(), r.seq.c_str(), data.c_str(), kind,
                            r.published_at.c_str(), job.refusal.c_str(), job.refusal_state.c_str()};
    phase = Phase::DeadLetter;
    if (!PQsendQueryParams(conn, kDeadLetterSql, 9, nullptr, values, nullptr, nullptr, 0)) return fail();
    send_flush();
  }
};

PgStore::PgStore(std::string conninfo, std::size_t batch_size, unsigned flush_ms, IoThread* io, Logger log)
    : io_(io), impl_(new Impl(this, io, std::move(conninfo), batch_size, flush_ms)) {
  Impl* impl = impl_.get();
  impl->log = std::move(log);
  ev_init(&impl->watcher, &Impl::on_io);
  impl->watcher.data = impl;
  ev_timer_init(&impl->flush_timer, &Impl::on_flush, 0, 0);
  impl->flush_timer.data = impl;
  ev_timer_init(&impl->retry_timer, &Impl::on_retry, 0, 0);
  impl->retry_timer.data = impl;
  ev_timer_init(&impl->settle_timer, [](struct ev_loop*, ev_timer* w, int) {
    static_cast<Impl*>(w->data)->check_settled();
  }, 0, 0);
  impl->settle_timer.data = impl;
  io_->post([impl] { impl->connect(); });
}

PgStore::~PgStore() {
  std::promise<void> done;
  Impl* impl = impl_.get();
  io_->post([impl, &done] {
    impl->closing = true;
    ev_timer_stop(impl->io->loop(), &impl->flush_timer);
    ev_timer_stop(impl->io->loop(), &impl->retry_timer);
    ev_timer_stop(impl->io->loop(), &impl->settle_timer);
    if (impl->conn) {
      ev_io_stop(impl->io->loop(), &impl->watcher);
      PQfinish(impl->conn);
      impl->conn = nullptr;
    }
    done.set_value();
  });
  done.get_future().wait();
}

void PgStore::append(const Message& m) {
  Row r;
  r.channel = m.channel;
  r.id = m.id_text;
  r.ms = std::to_string(m.id.ms);
  r.seq = std::to_string(m.id.seq);
  r.binary = m.payload.kind == PayloadKind::Binary;
  r.data = m.payload.bytes;
  char ts[32];
  std::snprintf(ts, sizeof ts, "%.3f", m.timestamp);
  r.published_at = ts;
  r.queued_at = steady_seconds();
  Impl* impl = impl_.get();
  ++impl->backlog;
  io_->post([impl, r = std::move(r)]() mutable {
    ++impl->accepted;
    impl->gathering.push_back(std::move(r));
    impl->update_oldest();
    impl->pump();
  });
}

void PgStore::submit(std::vector<PgRow> rows, std::function<void()> committed) {
  Impl* impl = impl_.get();
  if (rows.empty()) {
    if (committed) committed();
    return;
  }
  impl->backlog += rows.size();
  impl->accepted += rows.size();
  Job job;
  job.rows = std::move(rows);
  job.completion = std::make_shared<Completion>();
  job.completion->committed = std::move(committed);
  impl->jobs.push_back(std::move(job));
  impl->update_oldest();
  impl->pump();
}

void PgStore::settle(std::function<void(bool)> done) {
  Impl* impl = impl_.get();
  io_->post([impl, done = std::move(done)] {
    auto back = [io = impl->io, done](bool ok) { io->deliver([done, ok] { done(ok); }); };
    impl->settling.add(impl->accepted, steady_seconds() + kSettleSecs, std::move(back));
    impl->check_settled();
  });
}

std::uint64_t PgStore::backlog() const { return impl_->backlog.load(); }

StoreStats PgStore::stats() const {
  StoreStats s;
  s.rows_written = impl_->rows_written.load();
  s.batches = impl_->batches.load();
  s.write_errors = impl_->errors.load();
  s.backlog = impl_->backlog.load();
  s.dead_letters = impl_->dead_letters.load();
  for (std::size_t i = 0; i < s.batch_buckets.size(); ++i) s.batch_buckets[i] = impl_->batch_buckets[i].load();
  const double oldest = impl_->oldest.load();
  s.lag_seconds = oldest > 0 ? std::max(0.0, steady_seconds() - oldest) : 0;
  return s;
}

}  // namespace rtpush
