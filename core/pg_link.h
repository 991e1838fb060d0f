// PgLink: one asynchronous libpq connection driven by a libev loop (its
// socket watched by the loop, never waited on), running queued queries one
// at a time. Connects on the first query; when the connection fails, every
// queued query fails with it and the next query connects again. For the
// replay reads; the batch writer (pg_store.cpp) keeps its own connection
// because it must also retry with backoff and hold rows across outages.
#pragma once
#include <ev.h>
#include <libpq-fe.h>

#include <deque>
#include <functional>
#include <string>
#include <vector>

namespace rtpush {

class PgLink {
 public:
  // `result` is the query's last result (owned by the link, valid during the
  // call), or null when the connection failed; `error` then says why.
  using Done = std::function<void(const PGresult* result, const std::string& error)>;

  // `setup` (may be empty) runs first on every new connection: SET commands.
  PgLink(struct ev_loop* loop, std::string conninfo, std::string setup = {});
  ~PgLink();  // on the loop's thread; queued queries are dropped uncalled
  PgLink(const PgLink&) = delete;
  PgLink& operator=(const PgLink&) = delete;

  // Text parameters; results in text form.
  void query(std::string sql, std::vector<std::string> params, Done done);

 private:
  struct Query {
    std::string sql;
    std::vector<std::string> params;
    Done done;
    bool simple = false;  // the simple protocol: no parameters, several statements
  };
  enum class Phase { Down, Connecting, Ready, Busy };

  static void on_io(struct ev_loop* loop, ev_io* w, int revents);
  void connect();
  void poll_connect(PostgresPollingStatusType st);
  void watch(int events);
  void send_next();
  void send_flush();
  void consume();
  void fail(const std::string& why);

  struct ev_loop* loop_;
  std::string conninfo_, setup_;
  PGconn* conn_ = nullptr;
  Phase phase_ = Phase::Down;
  ev_io watcher_{};
  std::deque<Query> queue_;  // the front one is in flight when Busy
  PGresult* last_ = nullptr;
};

}  // namespace rtpush
