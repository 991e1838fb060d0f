// PgLink: one asynchronous libpq connection driven by a libev loop (its
// socket watched by the loop, never waited on), running queued queries one
// at a time. Connects on the first query, runs the setup (SET commands, the
// schema, prepared statements) on every new connection; when the connection
// fails, every queued query fails with it and the next query connects again.
// The one PostgreSQL driver: the batch writer (PgStore) and the replay reads
// (PgArchive) each hold one. Callers own the retry policy (Backoff).
//
// I/O thread only (the loop's thread): every member is the I/O side's.
#pragma once
#include <libpq-fe.h>

#include <deque>
#include <functional>
#include <string>
#include <vector>

#include "ev_loop.h"

namespace rtpush {

// The answer to one query.
struct PgReply {
  bool ok = false;           // the query succeeded
  bool link_failed = false;  // no answer: the connection failed (error says why)
  std::string sqlstate;      // when PostgreSQL refused it: PG_DIAG_SQLSTATE
  std::string error;         // why not ok: PostgreSQL's primary message, or the link's, one line
  const PGresult* result = nullptr;  // when ok: the rows, valid during the callback
};

// What PgStore needs of a connection: PgLink, or a fake in unit tests.
class PgConnection {
 public:
  using Done = std::function<void(const PgReply& reply)>;
  virtual ~PgConnection() = default;
  // Text parameters; results in text form.
  virtual void query(std::string sql, std::vector<std::string> params, Done done) = 0;
  // A statement prepared by the setup, by name.
  virtual void execute(std::string statement, std::vector<std::string> params, Done done) = 0;
  // Drops the connection (the owner gave up on it); queued queries fail.
  virtual void reset() = 0;
  // `lost` runs when an idle connection fails (no query to tell).
  virtual void set_lost_handler(std::function<void(const std::string& why)> lost) = 0;
};

struct PgPrepared {
  std::string name, sql;
  int params = 0;
};

class PgLink final : public PgConnection {
 public:
  // `setup` (may be empty; several statements allowed) and then `prepared`
  // run first on every new connection; if one fails, the connection fails.
  PgLink(struct ev_loop* loop, std::string conninfo, std::string setup = {}, std::vector<PgPrepared> prepared = {});
  ~PgLink() override;  // on the loop's thread; queued queries are dropped uncalled
  PgLink(const PgLink&) = delete;
  PgLink& operator=(const PgLink&) = delete;

  void query(std::string sql, std::vector<std::string> params, Done done) override;
  void execute(std::string statement, std::vector<std::string> params, Done done) override;
  void reset() override { fail("reset", false); }
  void set_lost_handler(std::function<void(const std::string& why)> lost) override { lost_ = std::move(lost); }

 private:
  enum class Kind { Params, Simple, Prepare, Prepared };
  struct Query {
    Kind kind;
    std::string sql;  // or the statement's name
    std::vector<std::string> params;
    Done done;
    int nparams = 0;  // Prepare: how many the statement takes
    bool setup = false;  // a failure fails the connection
  };
  enum class Phase { Down, Connecting, Ready, Busy };

  static void on_io(struct ev_loop* loop, ev_io* w, int revents);
  void enqueue(Query q);
  void connect();
  void poll_connect(PostgresPollingStatusType st);
  void watch(int events);
  void send_next();
  void send_flush();
  void consume();
  void fail(const std::string& why, bool tell = true);

  struct ev_loop* loop_;
  std::string conninfo_, setup_;
  std::vector<PgPrepared> prepared_;
  std::function<void(const std::string&)> lost_;
  PGconn* conn_ = nullptr;
  Phase phase_ = Phase::Down;
  ev_io watcher_{};
  std::deque<Query> queue_;  // the front one is in flight when Busy
  PGresult* last_ = nullptr;
};

}  // namespace rtpush
