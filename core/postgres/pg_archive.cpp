#include "pg_archive.h"

#include <cassert>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "json_text.h"
#include "logger.h"
#include "pg_link.h"

namespace rtpush {

namespace {

// The replay index (channel, id_ms, id_seq) answers this as one range scan
// of at most $6 rows. A page is also cut by bytes: the rows whose running
// total of sizes ($8 per row for what a Message adds to its payload) stays
// within $7, and always the first. The first row past the cut comes back
// without its payload, flagged (`inside` false): it tells a page cut short
// from the last one. Sizes: a value under 1 KB is stored as it is (never
// compressed), so pg_column_size() is its size without reading it; a larger
// json value is sized by reading it (json -> text is an I/O conversion), so
// the caller keeps $6 near what the byte cut lets through
// (Replay::archive_rows) rather than scan 1,000 rows of 200 KB for a page of
// five. The running sum streams under the LIMIT (ROWS mode, one subquery
// level): 99 pages of 1,000 small rows take 0.22 s against 0.15 s for the
// plain range scan (0.32 s with the window in a nested subquery).
#define RTPUSH_ROW_SIZE                                                                              \
  "(CASE WHEN pg_column_size(data) < 1024 THEN pg_column_size(data) WHEN data IS NOT NULL "          \
  "THEN octet_length(data::text) ELSE octet_length(data_bin) END + $8::int)"
const char* const kReadSql =
    "SELECT id_ms, id_seq, CASE WHEN inside THEN data END, CASE WHEN inside THEN data_bin END, ts, inside, publisher "
    "FROM (SELECT id_ms, id_seq, data, data_bin, ts, publisher, running <= $7::bigint OR running = size AS inside FROM ("
    "SELECT id_ms, id_seq, data, data_bin, extract(epoch FROM published_at) AS ts, publisher, " RTPUSH_ROW_SIZE
    " AS size, "
    "sum(" RTPUSH_ROW_SIZE ") OVER (ORDER BY id_ms, id_seq ROWS UNBOUNDED PRECEDING) AS running "
    "FROM rtpush_messages WHERE channel = $1 AND (id_ms, id_seq) > ($2::bigint, $3::bigint) "
    "AND (id_ms, id_seq) < ($4::bigint, $5::bigint) ORDER BY id_ms, id_seq LIMIT $6::bigint) w "
    "WHERE running - size <= $7::bigint) p ORDER BY id_ms, id_seq";
#undef RTPUSH_ROW_SIZE

constexpr const char* kUndefinedTable = "42P01";

// The range scan in index order is the right plan for every page, but a
// table that grew since its last ANALYZE makes the planner guess a few rows
// and pick a bitmap scan plus sort of the whole rest of the range (measured:
// 40 ms for the first 1,000 of 100,000 rows, against 0.4 ms). This
// connection runs only the replay query, so rule those out for it.
constexpr const char* kReaderSetup = "SET enable_sort = off; SET enable_bitmapscan = off";

MessagePtr row_message(const Logger& log, const PGresult* r, int row, const std::string& channel) {
  auto m = std::make_shared<Message>();
  m->channel = channel;
  m->id.ms = std::strtoull(PQgetvalue(r, row, 0), nullptr, 10);
  m->id.seq = std::strtoull(PQgetvalue(r, row, 1), nullptr, 10);
  m->id_text = m->id.str();
  if (!PQgetisnull(r, row, 2)) {
    m->payload.bytes.assign(PQgetvalue(r, row, 2), PQgetlength(r, row, 2));
    // A row whose text is not strict JSON (an older build's, or one written
    // by hand) goes out as the bytes it is (base64 to JSON clients), never as
    // broken JSON.
    m->payload.kind = json_valid(m->payload.bytes) ? PayloadKind::Json : PayloadKind::Binary;
    if (m->payload.kind == PayloadKind::Binary)
      log.event(LogLevel::Warn, "binary_fallback",
                {{"source", "postgres"}, {"id", m->id_text}, {"channel", channel}, {"cause", "not strict JSON"}});
  } else {
    m->payload.kind = PayloadKind::Binary;
    std::size_t n = 0;
    unsigned char* bytes = PQunescapeBytea(reinterpret_cast<const unsigned char*>(PQgetvalue(r, row, 3)), &n);
    if (!bytes) return nullptr;
    m->payload.bytes.assign(reinterpret_cast<const char*>(bytes), n);
    PQfreemem(bytes);
  }
  m->timestamp = std::strtod(PQgetvalue(r, row, 4), nullptr);
  if (!PQgetisnull(r, row, 6)) m->user.assign(PQgetvalue(r, row, 6), PQgetlength(r, row, 6));
  return m;
}

}  // namespace

PgArchive::PgArchive(std::string conninfo, IoThread* io, Logger log)
    : io_(io), conninfo_(std::move(conninfo)), log_(std::move(log)),
      health_(log_, "postgres_archive", "", "replays past the hot history fail until it answers") {}

void PgArchive::reading(bool ok, const std::string& why) {
  if (ok) health_.answered();
  else health_.failed(why);
}

PgArchive::~PgArchive() {
  io_->run_and_wait([this] { link_.reset(); });
}

void PgArchive::read(const std::string& channel, StreamId after, StreamId before, std::size_t limit,
                     std::size_t max_bytes, Done done) {
  const std::size_t row_overhead = sizeof(Message) + channel.size() + 24;  // + the id's text
  io_->post([this, channel, after, before, limit, max_bytes, row_overhead, done = std::move(done)] {
    assert(io_->on_io_thread());
    if (!link_) link_ = std::make_unique<PgLink>(io_->loop(), conninfo_, kReaderSetup);
    link_->query(
        kReadSql,
        {channel, std::to_string(after.ms), std::to_string(after.seq), std::to_string(before.ms),
         std::to_string(before.seq), std::to_string(limit), std::to_string(max_bytes), std::to_string(row_overhead)},
        [this, channel, limit, done](const PgReply& reply) {
          auto page = std::make_shared<std::vector<MessagePtr>>();
          bool ok = false, more = false;
          if (const PGresult* r = reply.result; reply.ok && PQresultStatus(r) == PGRES_TUPLES_OK) {
            ok = true;
            const int n = PQntuples(r);
            for (int i = 0; i < n && ok; ++i) {
              if (PQgetvalue(r, i, 5)[0] != 't') {  // the first row past the byte cut
                more = true;
                break;
              }
              MessagePtr m = row_message(log_, r, i, channel);
              ok = m != nullptr;
              if (ok) page->push_back(std::move(m));
            }
            if (!more) more = static_cast<std::size_t>(n) >= limit;
          } else {
            ok = reply.sqlstate == kUndefinedTable;  // nothing written yet
          }
          // PgReply::error is PostgreSQL's primary message (the detail may
          // quote a row's data) or the link's, on one line.
          reading(ok, ok ? std::string() : reply.ok ? "a row's data_bin could not be decoded" : reply.error);
          io_->deliver([done, ok, page, more] { done(ok, std::move(*page), more); });
        });
  });
}

}  // namespace rtpush
