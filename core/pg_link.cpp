#include "pg_link.h"

#include <utility>

namespace rtpush {

PgLink::PgLink(struct ev_loop* loop, std::string conninfo, std::string setup)
    : loop_(loop), conninfo_(std::move(conninfo)), setup_(std::move(setup)) {
  ev_init(&watcher_, &PgLink::on_io);
  watcher_.data = this;
}

PgLink::~PgLink() {
  ev_io_stop(loop_, &watcher_);
  if (last_) PQclear(last_);
  if (conn_) PQfinish(conn_);
}

void PgLink::query(std::string sql, std::vector<std::string> params, Done done) {
  queue_.push_back(Query{std::move(sql), std::move(params), std::move(done)});
  if (phase_ == Phase::Down) return connect();
  if (phase_ == Phase::Ready) send_next();
}

void PgLink::connect() {
  conn_ = PQconnectStart(conninfo_.c_str());
  if (!conn_ || PQstatus(conn_) == CONNECTION_BAD || PQsetnonblocking(conn_, 1) != 0)
    return fail(conn_ ? PQerrorMessage(conn_) : "out of memory");
  phase_ = Phase::Connecting;
  poll_connect(PGRES_POLLING_WRITING);
}

void PgLink::watch(int events) {
  ev_io_stop(loop_, &watcher_);
  ev_io_set(&watcher_, PQsocket(conn_), events);
  ev_io_start(loop_, &watcher_);
}

void PgLink::poll_connect(PostgresPollingStatusType st) {
  switch (st) {
    case PGRES_POLLING_READING: return watch(EV_READ);
    case PGRES_POLLING_WRITING: return watch(EV_WRITE);
    case PGRES_POLLING_OK:
      phase_ = Phase::Ready;
      watch(EV_READ);  // notices, or the server closing an idle link
      if (!setup_.empty()) queue_.push_front(Query{setup_, {}, [](const PGresult*, const std::string&) {}, true});
      return send_next();
    default: return fail(PQerrorMessage(conn_));
  }
}

void PgLink::on_io(struct ev_loop*, ev_io* w, int revents) {
  auto* self = static_cast<PgLink*>(w->data);
  if (self->phase_ == Phase::Connecting) return self->poll_connect(PQconnectPoll(self->conn_));
  if (revents & EV_WRITE) self->send_flush();
  if ((revents & EV_READ) && self->conn_) self->consume();
}

void PgLink::send_next() {
  if (phase_ != Phase::Ready || queue_.empty()) return;
  const Query& q = queue_.front();
  std::vector<const char*> values;
  for (const std::string& p : q.params) values.push_back(p.c_str());
  const int sent = q.simple ? PQsendQuery(conn_, q.sql.c_str())
                            : PQsendQueryParams(conn_, q.sql.c_str(), static_cast<int>(values.size()), nullptr,
                                                values.data(), nullptr, nullptr, 0);
  if (!sent) return fail(PQerrorMessage(conn_));
  phase_ = Phase::Busy;
  send_flush();
}

void PgLink::send_flush() {
  const int r = PQflush(conn_);
  if (r < 0) return fail(PQerrorMessage(conn_));
  watch(r == 1 ? EV_READ | EV_WRITE : EV_READ);
}

void PgLink::consume() {
  if (!PQconsumeInput(conn_)) return fail(PQerrorMessage(conn_));
  while (!PQisBusy(conn_)) {
    PGresult* res = PQgetResult(conn_);
    if (res) {  // keep the last one: a query's answer (or its error)
      if (last_) PQclear(last_);
      last_ = res;
      continue;
    }
    if (phase_ != Phase::Busy) return;  // nothing was asked
    Query q = std::move(queue_.front());
    queue_.pop_front();
    phase_ = Phase::Ready;
    PGresult* r = std::exchange(last_, nullptr);
    q.done(r, r ? std::string() : std::string("no result"));
    if (r) PQclear(r);
    if (!conn_) return;  // `done` ended in a failure path
    send_next();
    if (phase_ != Phase::Busy) return;
  }
}

void PgLink::fail(const std::string& why) {
  ev_io_stop(loop_, &watcher_);
  if (conn_) PQfinish(conn_);
  conn_ = nullptr;
  phase_ = Phase::Down;
  std::deque<Query> failed;
  failed.swap(queue_);
  for (Query& q : failed) q.done(nullptr, why);
}

}  // namespace rtpush
