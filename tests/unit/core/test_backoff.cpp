// The one backoff policy of every backend link: the cap doubles per failed
// attempt from min up to max, every delay is drawn between min/2 and the
// cap, and a reset starts again from min.
#include <vector>

#include "backoff.h"
#include "cmocka_cpp.h"

using namespace rtpush;

static void cap_doubles_up_to_max_and_resets(void**) {
  std::vector<double> his;
  Backoff b(0.1, 1.0, [&](double lo, double hi) {
    assert_true(lo == 0.05);
    his.push_back(hi);
    return hi;  // the longest the policy allows
  });
  for (int i = 0; i < 8; ++i) b.next();
  const std::vector<double> want = {0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0, 1.0};
  assert_int_equal(his.size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) assert_true(his[i] > want[i] - 1e-9 && his[i] < want[i] + 1e-9);
  assert_int_equal(b.attempts(), 8);
  b.reset();
  his.clear();
  b.next();
  assert_true(his[0] < 0.1 + 1e-9);
}

static void random_delays_stay_within_bounds(void**) {
  Backoff b(0.1, 5);
  for (int i = 0; i < 1000; ++i) {
    const double d = b.next();
    assert_true(d >= 0.05 && d <= 5);
  }
}

static void many_attempts_never_overflow(void**) {
  Backoff b(0.1, 5, [](double, double hi) { return hi; });
  double d = 0;
  for (int i = 0; i < 100; ++i) d = b.next();
  assert_true(d == 5);
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(cap_doubles_up_to_max_and_resets),
      cmocka_unit_test(random_delays_stay_within_bounds),
      cmocka_unit_test(many_attempts_never_overflow),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
