// PgFedPersistence: PostgreSQL behind the Node's seam (persistence.h) when
// the broker is Redis: rows come through the shared hand-off Stream
// (PersistFeed), so that what any node (or rtpush-publish) published is
// written once by some node; they wait in Redis, not here. Replays read back
// with the PgArchive of PgPersistence.
//
// Threads: as PgPersistence (service thread; the I/O on the IoThread).
#pragma once
#include <string>

#include "io_thread.h"
#include "logger.h"
#include "persist_feed.h"
#include "pg_persistence.h"
#include "redis_address.h"

namespace rtpush {

class PgFedPersistence final : public PgPersistence {
 public:
  PgFedPersistence(const std::string& conninfo, const RedisUrl& redis, const std::string& consumer,
                   std::size_t batch_size, unsigned flush_ms, std::size_t backlog_rows, std::size_t backlog_bytes,
                   IoThread* io, const Logger& log = Logger::to_stderr())
      : PgPersistence(conninfo, batch_size, flush_ms, io, log),
        feed_(redis, consumer, batch_size, flush_ms, backlog_rows, backlog_bytes, &store_, io, log) {}
  void accept(const Message&) override {}  // the publish script put it in the hand-off Stream
  // Graceful stop: the rows wait in the Redis hand-off, not here; settling
  // lets the batches this node took from it commit and be acknowledged
  // (unacknowledged ones another node claims).
  void settle(Settled done) override { feed_.settle(std::move(done)); }
  std::uint64_t local_backlog() const override { return 0; }
  std::uint64_t local_backlog_bytes() const override { return 0; }

 private:
  PersistFeed feed_;  // after the store: stops before it
};

}  // namespace rtpush
