// PgStore: writes every published message to PostgreSQL (rtpush_messages),
// in batches, from the core's I/O thread with libpq's asynchronous API (its
// socket watched by the libev loop). Nothing here blocks the service thread.
//
// A batch is written when it reaches pg-batch-size rows or its oldest row is
// pg-flush-ms old, as one INSERT of arrays; a batch that meets rows already
// written goes again with ON CONFLICT DO NOTHING: nothing is doubled. While
// PostgreSQL is down, rows wait in memory and the write is retried with
// backoff; publishing goes on. Rows waiting in memory are lost if the node
// crashes (the Redis hand-off, next, removes that window).
#pragma once
#include <array>
#include <atomic>
#include <functional>
#include <vector>
#include <memory>
#include <string>

#include "broker.h"
#include "io_thread.h"
#include "message.h"

namespace rtpush {

// Bucket bounds of the batch-size histogram (rows per committed batch).
inline constexpr std::array<std::uint64_t, 9> kBatchBuckets = {1, 10, 50, 100, 250, 500, 1000, 2500, 10000};

struct StoreStats {
  std::array<std::uint64_t, kBatchBuckets.size() + 1> batch_buckets{};  // last: +Inf; not cumulative
  std::uint64_t rows_written = 0;
  std::uint64_t batches = 0;
  std::uint64_t write_errors = 0;
  std::uint64_t backlog = 0;     // rows accepted, not yet committed
  double lag_seconds = 0;        // age of the oldest row not yet committed
};

// One message as a row of rtpush_messages, as text parameters.
struct PgRow {
  std::string channel, id, ms, seq, data, published_at;  // published_at: Unix seconds
  bool binary = false;                                    // data is bytes, not JSON text
  double queued_at = 0;                                   // steady clock, for the lag
};

class PgStore {
 public:
  PgStore(std::string conninfo, std::size_t batch_size, unsigned flush_ms, IoThread* io);
  ~PgStore();  // stops on the I/O thread, waits
  PgStore(const PgStore&) = delete;
  PgStore& operator=(const PgStore&) = delete;

  // Service thread: queue one message; batched by pg-batch-size/pg-flush-ms.
  void append(const Message& m);
  // I/O thread: write these rows (at most pg-batch-size) as one batch;
  // `committed` runs on the I/O thread once they are, after any retries.
  void submit(std::vector<PgRow> rows, std::function<void()> committed);
  // Service thread: runs `done(true)` on the service thread once every row
  // appended or submitted before the call is committed, or done(false) after
  // a few seconds without (an outage).
  void settle(std::function<void(bool)> done);
  BackendState state() const { return state_.load(); }
  StoreStats stats() const;
  struct Impl;

 private:
  IoThread* io_;
  std::atomic<BackendState> state_{BackendState::Down};
  std::unique_ptr<Impl> impl_;
};

// The table, created when missing (see docs/persistence.md).
extern const char* const kPgSchema;

}  // namespace rtpush
