// PersistFeed: the durable hand-off from Redis to PostgreSQL. Every node
// with PostgreSQL is one consumer of the group "writers" on the Stream
// rtpush:persist (filled by the publish script, see redis_scripts.h). It
// reads a batch, writes it through the PgStore, and only after the rows
// commit acknowledges and deletes the entries. Entries a node read but never
// acknowledged (it was killed mid-batch) are claimed by another node after
// kClaimIdleMs: nothing is lost, and ON CONFLICT DO NOTHING means nothing is
// doubled. N nodes share the writing. While PostgreSQL is down, entries wait
// in Redis, not in a node's memory, up to pg-backlog-rows and
// pg-backlog-bytes: the node writes those bounds into rtpush:config and the
// publish script refuses past them.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "io_thread.h"
#include "logger.h"
#include "pg_store.h"
#include "redis_address.h"

namespace rtpush {

class PersistFeed {
 public:
  static constexpr long kClaimIdleMs = 15000;
  PersistFeed(const RedisUrl& url, std::string consumer, std::size_t batch_size, unsigned flush_ms,
              std::size_t backlog_rows, std::size_t backlog_bytes, PgStore* store, IoThread* io,
              Logger log = Logger::to_stderr());
  ~PersistFeed();  // stops on the I/O thread, waits
  PersistFeed(const PersistFeed&) = delete;
  PersistFeed& operator=(const PersistFeed&) = delete;

  // Service thread: runs `done(true)` on the service thread once every
  // message published before the call is in PostgreSQL (whichever node wrote
  // it), or done(false) after a few seconds without (an outage).
  void settle(std::function<void(bool)> done);

  struct IoSide;  // the I/O thread's side: the Redis link, the reads in flight
  struct Shared;  // Redis Cluster: the links the buckets' sides share

 private:
  IoThread* io_;
  // Used and freed on the I/O thread; shared so that the store's commit
  // callbacks can hold a weak handle on it. One Redis: io_side_; a Redis
  // Cluster: one per bucket (its own stream, on its shard), sharing shared_.
  std::shared_ptr<IoSide> io_side_;
  std::vector<std::shared_ptr<IoSide>> buckets_;
  std::unique_ptr<Shared> shared_;
};

}  // namespace rtpush
