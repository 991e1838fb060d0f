// PgArchive: reads a channel's messages back from rtpush_messages, for a
// replay that reaches past the hot history (Redis Stream or memory). Pages
// are read on the core's I/O thread over a connection of their own (the
// batch writer's stays free); results come back on the service thread.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "backend_health.h"
#include "io_thread.h"
#include "logger.h"
#include "message.h"

namespace rtpush {

class PgLink;

class PgArchive {
 public:
  // `more`: the range may hold more after the last of `page`.
  using Done = std::function<void(bool ok, std::vector<MessagePtr> page, bool more)>;

  // `log`: outages (once, with libpq's message) and recoveries.
  PgArchive(std::string conninfo, IoThread* io, Logger log = Logger::to_stderr());
  ~PgArchive();  // closes on the I/O thread, waits
  PgArchive(const PgArchive&) = delete;
  PgArchive& operator=(const PgArchive&) = delete;

  // Service thread: messages of `channel` with after < id < before, oldest
  // first, at most `limit` of them and about `max_bytes` (message_bytes();
  // at least one message). `done` runs on the service thread; !ok when
  // PostgreSQL cannot answer. A missing table reads as empty.
  void read(const std::string& channel, StreamId after, StreamId before, std::size_t limit, std::size_t max_bytes,
            Done done);

 private:
  IoThread* io_;
  std::string conninfo_;
  std::unique_ptr<PgLink> link_;  // lives and dies on the I/O thread
  Logger log_;
  BackendHealth health_;  // I/O thread: the reads' outages and recoveries
  // I/O thread: a read failed (`why`) or succeeded, for health_.
  void reading(bool ok, const std::string& why);
};

}  // namespace rtpush
