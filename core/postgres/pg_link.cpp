#include "pg_link.h"

#include <utility>

#include "logger.h"

namespace rtpush {

PgLink::PgLink(struct ev_loop* loop, std::string conninfo, std::string setup, std::vector<PgPrepared> prepared)
    : loop_(loop), conninfo_(std::move(conninfo)), setup_(std::move(setup)), prepared_(std::move(prepared)) {
  ev_init(&watcher_, &PgLink::on_io);
  watcher_.data = this;
}

PgLink::~PgLink() {
  ev_io_stop(loop_, &watcher_);
  if (last_) PQclear(last_);
  if (conn_) PQfinish(conn_);
}

void PgLink::query(std::string sql, std::vector<std::string> params, Done done) {
  enqueue(Query{Kind::Params, std::move(sql), std::move(params), std::move(done)});
}

void PgLink::execute(std::string statement, std::vector<std::string> params, Done done) {
  enqueue(Query{Kind::Prepared, std::move(statement), std::move(params), std::move(done)});
}

void PgLink::enqueue(Query q) {
  queue_.push_back(std::move(q));
  if (phase_ == Phase::Down) return connect();
  if (phase_ == Phase::Ready) send_next();
}

void PgLink::connect() {
  conn_ = PQconnectStart(conninfo_.c_str());
  if (!conn_ || PQstatus(conn_) == CONNECTION_BAD || PQsetnonblocking(conn_, 1) != 0)
    return fail(conn_ ? one_line(PQerrorMessage(conn_)) : "out of memory");
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
    case PGRES_POLLING_OK: {
      phase_ = Phase::Ready;
      watch(EV_READ);  // notices, or the server closing an idle link
      auto ignore = [](const PgReply&) {};
      for (auto p = prepared_.rbegin(); p != prepared_.rend(); ++p) {
        Query q{Kind::Prepare, p->sql, {p->name}, ignore, p->params, true};
        queue_.push_front(std::move(q));
      }
      if (!setup_.empty()) queue_.push_front(Query{Kind::Simple, setup_, {}, ignore, 0, true});
      return send_next();
    }
    default: return fail(one_line(PQerrorMessage(conn_)));
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
  const int n = static_cast<int>(values.size());
  int sent = 0;
  switch (q.kind) {
    case Kind::Simple: sent = PQsendQuery(conn_, q.sql.c_str()); break;
    case Kind::Params: sent = PQsendQueryParams(conn_, q.sql.c_str(), n, nullptr, values.data(), nullptr, nullptr, 0); break;
    case Kind::Prepare: sent = PQsendPrepare(conn_, q.params[0].c_str(), q.sql.c_str(), q.nparams, nullptr); break;
    case Kind::Prepared: sent = PQsendQueryPrepared(conn_, q.sql.c_str(), n, values.data(), nullptr, nullptr, 0); break;
  }
  if (!sent) return fail(one_line(PQerrorMessage(conn_)));
  phase_ = Phase::Busy;
  send_flush();
}

void PgLink::send_flush() {
  const int r = PQflush(conn_);
  if (r < 0) return fail(one_line(PQerrorMessage(conn_)));
  watch(r == 1 ? EV_READ | EV_WRITE : EV_READ);
}

void PgLink::consume() {
  if (!PQconsumeInput(conn_)) return fail(one_line(PQerrorMessage(conn_)));
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
    PgReply reply;
    const ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    reply.ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    if (reply.ok) {
      reply.result = r;
    } else if (r) {
      const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
      // The primary message only: the detail may quote a row's data.
      const char* primary = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
      reply.sqlstate = state ? state : "";
      reply.error = one_line(primary ? primary : PQresultErrorMessage(r));
    } else {
      reply.error = "no result";
    }
    if (q.setup && !reply.ok) {
      if (r) PQclear(r);
      return fail(reply.error);  // the connection cannot serve its queries
    }
    q.done(reply);
    if (r) PQclear(r);
    if (!conn_) return;  // `done` reset the link
    send_next();
    if (phase_ != Phase::Busy) return;
  }
}

void PgLink::fail(const std::string& why, bool tell) {
  ev_io_stop(loop_, &watcher_);
  if (conn_) PQfinish(conn_);
  conn_ = nullptr;
  if (last_) PQclear(std::exchange(last_, nullptr));
  phase_ = Phase::Down;
  std::deque<Query> failed;
  failed.swap(queue_);
  PgReply reply;
  reply.link_failed = true;
  reply.error = why;
  bool told = false;
  for (Query& q : failed) {
    if (q.setup) continue;
    told = true;
    q.done(reply);
  }
  if (tell && !told && lost_) lost_(why);
}

}  // namespace rtpush
