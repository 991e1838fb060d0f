// SessionTable (session_table.h) on its own: sessions by serial, what send,
// send_error and refuse count, the slow-consumer and too-large closes, and
// the heartbeat sweep.
#include <string>

#include "cmocka_cpp.h"
#include "node_fixture.h"
#include "session_table.h"

using namespace rtpush;

namespace {

struct Table {
  FakeClocks fake;
  Clocks clocks = fake.clocks();
  Options options;
  Metrics metrics;
  Logger log = Logger::none();
  SessionTable sessions{options, metrics, log, clocks};
  Table() {
    options.heartbeat_secs = 10;
    options.heartbeat_timeout_secs = 30;
    options.receive_timeout_secs = 5;
  }
};

std::size_t closed(const Metrics& m, CloseReason r) { return m.closed[static_cast<std::size_t>(r)]; }

}  // namespace

static void add_find_erase(void**) {
  Table t;
  FakeConnection a, b;
  Session* s1 = t.sessions.add(&a, Encoding::Json);
  Session* s2 = t.sessions.add(&b, Encoding::Sse);
  assert_int_not_equal(s1->serial(), s2->serial());
  assert_string_not_equal(s1->id().c_str(), s2->id().c_str());
  assert_int_equal(t.sessions.size(), 2);
  assert_int_equal(t.metrics.connections_total, 2);
  assert_ptr_equal(t.sessions.find(s2->serial()), s2);
  const std::uint64_t gone = s1->serial();
  t.sessions.erase(s1);
  assert_null(t.sessions.find(gone));
  assert_int_equal(t.sessions.size(), 1);
  assert_int_equal(t.metrics.connections_total, 2);  // a total, not a gauge
}

static void errors_and_refusals_are_counted(void**) {
  Table t;
  FakeConnection c;
  Session* s = t.sessions.add(&c, Encoding::Json);
  // A ref goes back as the client's JSON text.
  t.sessions.send_error(s, ErrorCode::InvalidChannel, "bad", "\"r1\"");
  t.sessions.refuse(s, ErrorCode::RateLimited, "slow down", "2");
  Sent out;
  drain(s, &out);
  assert_int_equal(out.size(), 2);
  assert_string_equal(out.str(0, "code"), "INVALID_CHANNEL");
  assert_string_equal(out.str(0, "ref"), "r1");
  assert_string_equal(out.str(1, "code"), "RATE_LIMITED");
  assert_string_equal(out.str(1, "message"), "slow down");
  assert_int_equal(out.get(1, "ref")->valueint, 2);
  assert_int_equal(t.metrics.errors[static_cast<std::size_t>(ErrorCode::InvalidChannel)], 1);
  assert_int_equal(t.metrics.errors[static_cast<std::size_t>(ErrorCode::RateLimited)], 1);
  // Only the refusal counts as refused (rtpush_requests_refused_total).
  std::uint64_t refused = 0;
  for (std::uint64_t n : t.metrics.refused) refused += n;
  assert_int_equal(refused, 1);
  assert_non_null(strstr(t.metrics.render("n", Gauges{}).c_str(), "rtpush_requests_refused_total{code=\"RATE_LIMITED\"} 1\n"));
}

static void slow_and_too_large_close(void**) {
  Table t;
  FakeConnection a, b;
  Session* slow = t.sessions.add(&a, Encoding::Json);
  Session* big = t.sessions.add(&b, Encoding::Json);
  t.sessions.drop_slow(slow);
  t.sessions.close_too_big(big);
  assert_true(slow->closing());
  assert_int_equal(slow->close_code(), kClosePolicy);
  assert_true(big->closing());
  assert_int_equal(big->close_code(), kCloseTooBig);
  assert_int_equal(t.metrics.slow_consumers, 1);
  assert_int_equal(closed(t.metrics, CloseReason::SlowConsumer), 1);
  assert_int_equal(closed(t.metrics, CloseReason::MessageTooLarge), 1);
}

static void heartbeat_sweep(void**) {
  Table t;
  FakeConnection a, b;
  Session* quiet = t.sessions.add(&a, Encoding::Json);
  Session* alive = t.sessions.add(&b, Encoding::Json);
  const std::int64_t start = t.fake.steady;
  t.sessions.tick(start + 9'999);
  assert_false(quiet->ping_due());  // the first ping comes heartbeat-secs after opening
  t.sessions.tick(start + 10'000);
  assert_true(quiet->ping_due());
  alive->touch(start + 29'000);
  t.sessions.tick(start + 30'000);  // heartbeat-timeout-secs of silence
  assert_true(quiet->closing());
  assert_int_equal(quiet->close_code(), kCloseGoingAway);
  assert_false(alive->closing());
  assert_int_equal(closed(t.metrics, CloseReason::HeartbeatTimeout), 1);
  // A message begun and not ended within receive-timeout-secs: 1008.
  alive->rx_begin(start + 29'000);
  t.sessions.tick(start + 33'999);
  assert_false(alive->closing());
  t.sessions.tick(start + 34'000);
  assert_true(alive->closing());
  assert_int_equal(alive->close_code(), kClosePolicy);
  assert_int_equal(closed(t.metrics, CloseReason::ReceiveTimeout), 1);
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(add_find_erase),
      cmocka_unit_test(errors_and_refusals_are_counted),
      cmocka_unit_test(slow_and_too_large_close),
      cmocka_unit_test(heartbeat_sweep),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
