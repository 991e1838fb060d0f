// PgStore: writes every published message to PostgreSQL (rtpush_messages),
// in batches, from the core's I/O thread with libpq's asynchronous API (its
// socket watched by the libev loop). Nothing here blocks the service thread.
//
// A batch is written when it reaches pg-batch-size rows or its oldest row is
// pg-flush-ms old, as one INSERT of arrays; a batch that meets rows already
// written goes again with ON CONFLICT DO NOTHING: nothing is doubled. A batch
// PostgreSQL refuses because of a row (pg_sqlstate.h) is bisected until the
// refused rows stand alone; those go to rtpush_dead_letters, every other row
// is written; the dead letters of one batch go in one statement. While
// PostgreSQL is down (or fails for no row's fault), rows wait in memory and
// the write is retried with backoff; publishing goes on, up to
// pg-backlog-rows and pg-backlog-bytes (the node checks backlog() and
// backlog_bytes()). Rows waiting in memory
// are lost if the node crashes (the Redis hand-off removes that window).
#pragma once
#include <array>
#include <atomic>
#include <functional>
#include <vector>
#include <memory>
#include <string>

#include "io_thread.h"
#include "logger.h"
#include "message.h"
#include "persistence.h"

namespace rtpush {

// One message as a row of rtpush_messages, as text parameters.
struct PgRow {
  std::string channel, id, ms, seq, data, published_at;  // published_at: Unix seconds
  std::string user;                                       // Message::user; empty: NULL publisher
  bool binary = false;                                    // data is bytes, not JSON text
  double queued_at = 0;                                   // steady clock, for the lag
};

class PgConnection;

class PgStore {
 public:
  // `log`: outages (once, with libpq's message), recoveries, dead letters.
  PgStore(std::string conninfo, std::size_t batch_size, unsigned flush_ms, IoThread* io,
          Logger log = Logger::to_stderr());
  // Over `link` (a fake in unit tests); used and destroyed on the I/O thread.
  PgStore(std::unique_ptr<PgConnection> link, std::size_t batch_size, unsigned flush_ms, IoThread* io,
          Logger log = Logger::to_stderr());
  // Stops on the I/O thread, waits; logs the rows it could not write (a
  // stop while PostgreSQL is down): they are lost, never silently.
  ~PgStore();
  PgStore(const PgStore&) = delete;
  PgStore& operator=(const PgStore&) = delete;

  // Service thread: queue one message; batched by pg-batch-size/pg-flush-ms.
  void append(const Message& m);
  // I/O thread: write these rows (at most pg-batch-size) as one batch;
  // `committed` runs on the I/O thread once every one of them is written or
  // dead-lettered, after any retries.
  void submit(std::vector<PgRow> rows, std::function<void()> committed);
  // Service thread: runs `done(true)` on the service thread once every row
  // appended or submitted before the call is committed (or dead-lettered),
  // or done(false) after a few seconds without (an outage).
  // `timeout_secs`: how long before done(false) (graceful stop: what is left
  // of stop-timeout-secs).
  void settle(std::function<void(bool)> done, double timeout_secs = 5);
  // Service thread, graceful stop: rows no longer wait for pg-flush-ms or a
  // full batch; each batch goes as soon as the one before it is written.
  void flush_now();
  // Any thread.
  BackendState state() const;
  // Any thread: rows accepted and not yet written or dead-lettered.
  std::uint64_t backlog() const;
  // Any thread: their payloads' bytes (pg-backlog-bytes).
  std::uint64_t backlog_bytes() const;
  StoreStats stats() const;
  struct IoSide;  // the I/O thread's side: the link, the rows, the timers

 private:
  // The store's PgLink: the schema and the prepared inserts on every connection.
  static std::unique_ptr<PgConnection> connect(struct ev_loop* loop, std::string conninfo);
  IoThread* io_;
  std::unique_ptr<IoSide> io_side_;  // used on the I/O thread only (but for its atomics)
};

}  // namespace rtpush
