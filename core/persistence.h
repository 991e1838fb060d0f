// Persistence: where a node's messages are kept beyond the broker's hot
// history (PostgreSQL), and read back for a replay that reaches past it. The
// Node sees only this seam; the PostgreSQL implementations (pg_persistence.h)
// bring libpq and libev with them, the Node does not.
//
//   accept()    a message this node published was accepted by the broker
//   settle()    every message accepted so far is readable from the archive
//   read_page() a page of the archive, for a replay
//   state(), stats(), local_backlog(): health, metrics, pg-backlog-rows
//
// Calls and callbacks happen on the service thread (see docs/architecture.md).
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "broker.h"
#include "message.h"

namespace rtpush {

// Bucket bounds of the batch-size histogram (rows per committed batch).
inline constexpr std::array<std::uint64_t, 9> kBatchBuckets = {1, 10, 50, 100, 250, 500, 1000, 2500, 10000};

struct StoreStats {
  std::array<std::uint64_t, kBatchBuckets.size() + 1> batch_buckets{};  // last: +Inf; not cumulative
  std::uint64_t rows_written = 0;
  std::uint64_t batches = 0;
  std::uint64_t write_errors = 0;
  std::uint64_t backlog = 0;       // rows accepted, not yet committed or dead-lettered
  std::uint64_t backlog_bytes = 0;  // their payloads' bytes (pg-backlog-bytes)
  std::uint64_t dead_letters = 0;  // rows PostgreSQL refused, now in rtpush_dead_letters
  double lag_seconds = 0;          // age of the oldest row not yet committed
};

class Persistence {
 public:
  using Settled = std::function<void(bool ok)>;
  // `more`: the range may hold more after the last of `page`.
  using PageDone = std::function<void(bool ok, std::vector<MessagePtr> page, bool more)>;

  virtual ~Persistence() = default;

  // The broker accepted `m`, published through this node. An implementation
  // fed from elsewhere (the Redis hand-off) ignores it.
  virtual void accept(const Message& m) = 0;

  // done(true) once every message accepted before the call (by any node,
  // for a shared feed) can be read back; done(false) after a few seconds
  // without (an outage).
  virtual void settle(Settled done) = 0;

  // Messages of `channel` with after < id < before, oldest first, at most
  // `limit` of them and about `max_bytes` (message_bytes(); at least one).
  // !ok when the backend cannot answer.
  virtual void read_page(const std::string& channel, StreamId after, StreamId before, std::size_t limit,
                         std::size_t max_bytes, PageDone done) = 0;

  // Graceful stop (Node::begin_stop): from now on rows are written as soon
  // as the writer is free, without waiting for pg-flush-ms.
  virtual void flush_now() {}
  // Graceful stop: as settle(), within `timeout_secs` instead of its own bound.
  virtual void flush(double timeout_secs, Settled done) {
    (void)timeout_secs;
    settle(std::move(done));
  }

  // What `health` reports as "postgres".
  virtual BackendState state() const = 0;
  virtual StoreStats stats() const = 0;

  // Rows accepted by this node that wait for the backend in this node's
  // memory: the node refuses a publish once pg-backlog-rows of them wait.
  // 0 when they wait elsewhere (the Redis hand-off bounds its own Stream).
  virtual std::uint64_t local_backlog() const = 0;
  // Their payloads' bytes, as stored: pg-backlog-bytes bounds them.
  virtual std::uint64_t local_backlog_bytes() const = 0;
};

}  // namespace rtpush
