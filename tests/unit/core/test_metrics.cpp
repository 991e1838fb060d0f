// Metrics rendering (metrics.cpp): the whole GET /metrics text comes from
// here, the PostgreSQL block included, byte for byte as scrapers read it.
#include <cstring>
#include <string>

#include "cmocka_cpp.h"
#include "metrics.h"
#include "pg_store.h"

using namespace rtpush;

// With postgres, the rtpush_pg_* block follows the rest: names, help, types,
// integer histogram bounds and the lag's three decimals as they always were.
static void postgres_block_follows_the_rest(void**) {
  StoreStats st;
  for (std::size_t i = 0; i < st.batch_buckets.size(); ++i) st.batch_buckets[i] = i + 1;
  st.rows_written = 12345;
  st.batches = 55;
  st.write_errors = 2;
  st.backlog = 7;
  st.backlog_bytes = 700;
  st.dead_letters = 3;
  st.lag_seconds = 1.25;
  Metrics m;
  m.archive_rows = 99;
  Gauges g;
  g.pg = &st;
  g.pg_up = true;
  const std::string base = m.render("n", Gauges{});
  const std::string all = m.render("n", g);
  assert_true(all.size() > base.size());
  assert_true(all.compare(0, base.size(), base) == 0);
  const std::string want =
      "# HELP rtpush_pg_up PostgreSQL reachable (1) or not (0).\n"
      "# TYPE rtpush_pg_up gauge\n"
      "rtpush_pg_up 1\n"
      "# HELP rtpush_pg_rows_written_total Rows committed to rtpush_messages.\n"
      "# TYPE rtpush_pg_rows_written_total counter\n"
      "rtpush_pg_rows_written_total 12345\n"
      "# HELP rtpush_pg_batches_total Batches committed.\n"
      "# TYPE rtpush_pg_batches_total counter\n"
      "rtpush_pg_batches_total 55\n"
      "# HELP rtpush_pg_write_errors_total Batch writes that failed (and were retried).\n"
      "# TYPE rtpush_pg_write_errors_total counter\n"
      "rtpush_pg_write_errors_total 2\n"
      "# HELP rtpush_pg_backlog_rows Rows accepted, not yet committed.\n"
      "# TYPE rtpush_pg_backlog_rows gauge\n"
      "rtpush_pg_backlog_rows 7\n"
      "# HELP rtpush_pg_backlog_bytes Payload bytes of the rows accepted, not yet committed.\n"
      "# TYPE rtpush_pg_backlog_bytes gauge\n"
      "rtpush_pg_backlog_bytes 700\n"
      "# HELP rtpush_pg_lag_seconds Age of the oldest row not yet committed.\n"
      "# TYPE rtpush_pg_lag_seconds gauge\n"
      "rtpush_pg_lag_seconds 1.250\n"
      "# HELP rtpush_pg_dead_letters_total Rows PostgreSQL refused, written to rtpush_dead_letters.\n"
      "# TYPE rtpush_pg_dead_letters_total counter\n"
      "rtpush_pg_dead_letters_total 3\n"
      "# HELP rtpush_pg_batch_rows Rows per committed batch.\n"
      "# TYPE rtpush_pg_batch_rows histogram\n"
      "rtpush_pg_batch_rows_bucket{le=\"1\"} 1\n"
      "rtpush_pg_batch_rows_bucket{le=\"10\"} 3\n"
      "rtpush_pg_batch_rows_bucket{le=\"50\"} 6\n"
      "rtpush_pg_batch_rows_bucket{le=\"100\"} 10\n"
      "rtpush_pg_batch_rows_bucket{le=\"250\"} 15\n"
      "rtpush_pg_batch_rows_bucket{le=\"500\"} 21\n"
      "rtpush_pg_batch_rows_bucket{le=\"1000\"} 28\n"
      "rtpush_pg_batch_rows_bucket{le=\"2500\"} 36\n"
      "rtpush_pg_batch_rows_bucket{le=\"10000\"} 45\n"
      "rtpush_pg_batch_rows_bucket{le=\"+Inf\"} 55\n"
      "rtpush_pg_batch_rows_sum 12345\n"
      "rtpush_pg_batch_rows_count 55\n"
      "# HELP rtpush_pg_replay_rows_total Messages read back from PostgreSQL for replays past the hot history.\n"
      "# TYPE rtpush_pg_replay_rows_total counter\n"
      "rtpush_pg_replay_rows_total 99\n";
  assert_string_equal(all.substr(base.size()).c_str(), want.c_str());
}

// Without postgres no rtpush_pg_ line at all.
static void no_postgres_block_without_postgres(void**) {
  Metrics m;
  m.archive_rows = 5;
  assert_null(strstr(m.render("n", Gauges{}).c_str(), "rtpush_pg_"));
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(postgres_block_follows_the_rest),
      cmocka_unit_test(no_postgres_block_without_postgres),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
