// Waiters (settle()'s callbacks with deadlines): each is answered once,
// true when its mark is met, false past its deadline; a callback that adds
// a waiter while they are being resolved (a caller settling again at once)
// keeps it waiting instead of losing it, which left a settle unanswered.
#include <vector>

#include "cmocka_cpp.h"
#include "waiters.h"

using namespace rtpush;

static void met_or_past_deadline_or_still_waiting(void**) {
  Waiters<int> w;
  std::vector<int> answers;
  w.add(1, 10.0, [&](bool ok) { answers.push_back(ok ? 1 : 0); });
  w.add(5, 10.0, [&](bool ok) { answers.push_back(ok ? 5 : -5); });
  w.add(9, 20.0, [&](bool ok) { answers.push_back(ok ? 9 : -9); });
  w.resolve([](int mark) { return mark <= 1; }, 10.0);
  assert_true((answers == std::vector<int>{1, -5}));
  assert_false(w.empty());
  w.resolve([](int mark) { return mark <= 9; }, 11.0);
  assert_true((answers == std::vector<int>{1, -5, 9}));
  assert_true(w.empty());
}

static void a_waiter_added_while_resolving_is_kept(void**) {
  Waiters<int> w;
  int again = 0;
  // Enough waiters that an add() during the loop would reallocate the list.
  for (int i = 0; i < 8; ++i)
    w.add(i, 10.0, [&](bool) {
      if (again++ == 0) w.add(100, 50.0, [&](bool ok) { again = ok ? 1000 : -1000; });
    });
  w.resolve([](int mark) { return mark < 100; }, 1.0);
  assert_int_equal(again, 8);
  assert_false(w.empty());  // the one added meanwhile still waits
  w.resolve([](int) { return false; }, 60.0);
  assert_int_equal(again, -1000);  // and is answered at its deadline
  assert_true(w.empty());
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(met_or_past_deadline_or_still_waiting),
      cmocka_unit_test(a_waiter_added_while_resolving_is_kept),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
