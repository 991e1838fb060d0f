// BackendHealth: whether a backend (Redis, PostgreSQL, as one owner reaches
// it) answers, and the two lines an operator sees of an outage:
// backend_down once when it starts, with its cause, however many attempts
// fail after; backend_up once when it ends. The one copy of that pattern,
// held beside a Backoff by whatever owns a backend's link (RedisBroker's
// pair of RedisLinks, PersistFeed's RedisLink, PgStore's and PgArchive's
// PgLink).
//
// The lines: "event=backend_down backend=B addr=A cause=C [extra] action=X"
// and "event=backend_up backend=B addr=A [extra]"; an empty addr, action or
// extra is left out (format_event).
//
// Threads: failed() and answered() on the owner's thread (the I/O thread);
// state() from any thread.
#pragma once
#include <atomic>
#include <string>
#include <string_view>
#include <utility>

#include "broker.h"
#include "logger.h"

namespace rtpush {

class BackendHealth {
 public:
  // `backend`: its name in the lines ("redis", "postgres", ...); `addr`
  // (may be empty) where it is; `action`: what the owner does meanwhile.
  BackendHealth(Logger log, std::string backend, std::string addr, std::string action)
      : log_(std::move(log)), backend_(std::move(backend)), addr_(std::move(addr)), action_(std::move(action)) {}
  BackendHealth(const BackendHealth&) = delete;
  BackendHealth& operator=(const BackendHealth&) = delete;

  // No field: what failed() and answered() take when there is no extra one.
  static LogField none() { return LogField("", ""); }

  // An attempt failed: logs backend_down (with `extra` after the cause) if
  // this starts an outage; the state is Down.
  void failed(std::string_view cause, LogField extra = none()) {
    if (!std::exchange(outage_, true))
      log_.event(LogLevel::Err, "backend_down",
                 {{"backend", backend_}, {"addr", addr_}, {"cause", cause}, std::move(extra), {"action", action_}});
    state_.store(BackendState::Down);
  }
  // The backend answered: logs backend_up (with `extra`) if this ends an
  // outage; the state is Up. The line goes before the state changes, so
  // whoever sees Up finds the line written.
  void answered(LogField extra = none()) {
    if (std::exchange(outage_, false))
      log_.event(LogLevel::Notice, "backend_up", {{"backend", backend_}, {"addr", addr_}, std::move(extra)});
    state_.store(BackendState::Up);
  }

  // Down until the first answer.
  BackendState state() const { return state_.load(); }
  // An outage was logged and has not ended.
  bool in_outage() const { return outage_; }

 private:
  Logger log_;
  std::string backend_, addr_, action_;
  bool outage_ = false;  // the owner's thread
  std::atomic<BackendState> state_{BackendState::Down};
};

}  // namespace rtpush
