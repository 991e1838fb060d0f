// The two PostgreSQL persistences behind the Node's seam (persistence.h):
//
//   PgDirectPersistence  embedded broker: this node writes what it accepts
//                        (PgStore, rows wait in its memory while PostgreSQL
//                        is down, up to pg-backlog-rows)
//   PgFedPersistence     Redis broker: rows come through the shared hand-off
//                        Stream (handoff/pg_fed_persistence.h)
//
// Both read replays back with a PgArchive on a connection of its own.
#pragma once
#include <memory>
#include <string>

#include "io_thread.h"
#include "logger.h"
#include "persistence.h"
#include "pg_archive.h"
#include "pg_store.h"

namespace rtpush {

// What both share: the store (writer), the archive (reader), state and stats.
class PgPersistence : public Persistence {
 public:
  void read_page(const std::string& channel, StreamId after, StreamId before, std::size_t limit,
                 std::size_t max_bytes, PageDone done) override {
    archive_.read(channel, after, before, limit, max_bytes, std::move(done));
  }
  BackendState state() const override { return store_.state(); }
  StoreStats stats() const override { return store_.stats(); }

 protected:
  PgPersistence(const std::string& conninfo, std::size_t batch_size, unsigned flush_ms, IoThread* io,
                const Logger& log)
      : store_(conninfo, batch_size, flush_ms, io, log), archive_(conninfo, io, log) {}
  PgStore store_;
  PgArchive archive_;
};

class PgDirectPersistence final : public PgPersistence {
 public:
  // `log`: outages (once, with their cause), recoveries, dead letters.
  PgDirectPersistence(const std::string& conninfo, std::size_t batch_size, unsigned flush_ms, IoThread* io,
                      const Logger& log = Logger::to_stderr())
      : PgPersistence(conninfo, batch_size, flush_ms, io, log) {}
  void accept(const Message& m) override { store_.append(m); }
  void settle(Settled done) override { store_.settle(std::move(done)); }
  // Graceful stop: the pending batch and the backlog are written now; what
  // PostgreSQL has not taken by the deadline is logged as lost (~PgStore).
  void flush_now() override { store_.flush_now(); }
  void flush(double timeout_secs, Settled done) override { store_.settle(std::move(done), timeout_secs); }
  std::uint64_t local_backlog() const override { return store_.backlog(); }
  std::uint64_t local_backlog_bytes() const override { return store_.backlog_bytes(); }
};

}  // namespace rtpush
