// The one "log the outage once, the recovery once" of every backend owner:
// backend_down with its first cause however many attempts fail, backend_up
// once when it answers again, the state following each attempt.
#include <string>
#include <utility>
#include <vector>

#include "backend_health.h"
#include "cmocka_cpp.h"

using namespace rtpush;

namespace {

struct Lines {
  std::vector<std::pair<LogLevel, std::string>> got;
  Logger logger() {
    return Logger(LogLevel::Info, [this](LogLevel l, std::string_view line) { got.emplace_back(l, std::string(line)); });
  }
};

}  // namespace

static void outage_logged_once_then_recovery_once(void**) {
  Lines lines;
  BackendHealth h(lines.logger(), "redis", "127.0.0.1:6379", "reconnecting with backoff");
  assert_true(h.state() == BackendState::Down);  // until the first answer
  assert_false(h.in_outage());

  h.answered();  // the first connection: no outage ended, no line
  assert_true(h.state() == BackendState::Up);
  assert_int_equal(lines.got.size(), 0);

  h.failed("Connection refused");
  h.failed("Connection reset by peer");  // the outage goes on: no line
  h.failed("Connection refused");
  assert_true(h.state() == BackendState::Down);
  assert_true(h.in_outage());
  assert_int_equal(lines.got.size(), 1);
  assert_true(lines.got[0].first == LogLevel::Err);
  assert_string_equal(lines.got[0].second.c_str(),
                      "event=backend_down backend=redis addr=127.0.0.1:6379 cause=\"Connection refused\" "
                      "action=\"reconnecting with backoff\"");

  h.answered();
  h.answered();  // up already: no line
  assert_true(h.state() == BackendState::Up);
  assert_false(h.in_outage());
  assert_int_equal(lines.got.size(), 2);
  assert_true(lines.got[1].first == LogLevel::Notice);
  assert_string_equal(lines.got[1].second.c_str(), "event=backend_up backend=redis addr=127.0.0.1:6379");

  h.failed("again");  // a new outage: a new line
  assert_int_equal(lines.got.size(), 3);
}

// A failure before any answer is an outage too (a backend down at start).
static void down_from_the_start_is_logged(void**) {
  Lines lines;
  BackendHealth h(lines.logger(), "postgres_archive", "", "replays past the hot history fail until it answers");
  h.failed("could not connect");
  assert_int_equal(lines.got.size(), 1);
  h.answered();
  assert_int_equal(lines.got.size(), 2);
  assert_string_equal(lines.got[1].second.c_str(), "event=backend_up backend=postgres_archive");  // no addr field
}

// An owner's extra field goes after the cause on the way down and last on
// the way up (PgStore's rows_waiting).
static void extra_field_in_both_lines(void**) {
  Lines lines;
  BackendHealth h(lines.logger().for_node("n1"), "postgres", "", "retrying with backoff");
  h.failed("server closed the connection\n\tunexpectedly", {"rows_waiting", 7});
  h.answered({"rows_waiting", 0});
  assert_int_equal(lines.got.size(), 2);
  assert_string_equal(lines.got[0].second.c_str(),
                      "node=n1 event=backend_down backend=postgres cause=\"server closed the connection unexpectedly\" "
                      "rows_waiting=7 action=\"retrying with backoff\"");
  assert_string_equal(lines.got[1].second.c_str(), "node=n1 event=backend_up backend=postgres rows_waiting=0");
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(outage_logged_once_then_recovery_once),
      cmocka_unit_test(down_from_the_start_is_logged),
      cmocka_unit_test(extra_field_in_both_lines),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
