// LoopWatchdog (core/loop_watchdog.h): its thread tells systemd the loop is
// alive only while the loop beats, and forces the exit a bounded time after
// a stop signal whatever the loop does. Timing bounds have slack: the suite
// runs again under ASan on two busy cores.
#include <atomic>
#include <chrono>
#include <thread>

#include "cmocka_cpp.h"
#include "loop_watchdog.h"

using namespace rtpush;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

// Waits until `cond` holds or `limit` passes; true when it held.
template <typename F>
bool wait_until(F cond, Clock::duration limit) {
  const auto end = Clock::now() + limit;
  while (!cond()) {
    if (Clock::now() > end) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

}  // namespace

static void alive_only_while_the_loop_beats(void**) {
  std::atomic<int> alive{0};
  LoopWatchdog dog(50ms, 1h, {[&] { ++alive; }, nullptr});
  // A loop that turns: notifications keep coming.
  const auto until = Clock::now() + 600ms;
  while (Clock::now() < until) {
    dog.beat();
    std::this_thread::sleep_for(10ms);
  }
  assert_true(alive.load() >= 2);
  // A loop that is stuck: at most the one notification its last beats earned.
  std::this_thread::sleep_for(200ms);  // that one goes out
  const int stuck_at = alive.load();
  std::this_thread::sleep_for(500ms);  // ten periods without a beat
  assert_int_equal(alive.load(), stuck_at);
  dog.beat();
  assert_true(wait_until([&] { return alive.load() > stuck_at; }, 5s));
}

static void no_alive_hook_without_a_systemd_watchdog(void**) {
  std::atomic<int> alive{0};
  {
    LoopWatchdog dog(0ms, 1h, {[&] { ++alive; }, nullptr});
    for (int i = 0; i < 30; ++i) {
      dog.beat();
      std::this_thread::sleep_for(10ms);
    }
  }
  assert_int_equal(alive.load(), 0);
}

static void a_stuck_stop_is_forced_after_its_bound(void**) {
  std::atomic<bool> forced{false};
  LoopWatchdog dog(0ms, 400ms, {nullptr, [&] { forced = true; }});
  std::this_thread::sleep_for(300ms);
  assert_false(forced.load());  // no signal, no exit
  const auto signal_at = Clock::now();
  dog.stop_requested();
  assert_true(wait_until([&] { return forced.load(); }, 10s));
  const auto took = Clock::now() - signal_at;
  assert_true(took >= 400ms);  // never before the bound
}

static void only_the_first_signal_counts_and_the_bound_can_grow(void**) {
  std::atomic<bool> forced{false};
  LoopWatchdog dog(0ms, 300ms, {nullptr, [&] { forced = true; }});
  const auto signal_at = Clock::now();
  dog.stop_requested();
  std::this_thread::sleep_for(100ms);
  dog.stop_requested();  // a second SIGTERM does not restart the clock
  dog.set_exit_after(700ms);  // a second vhost's longer stop-timeout-secs
  assert_true(wait_until([&] { return forced.load(); }, 10s));
  const auto took = Clock::now() - signal_at;
  assert_true(took >= 700ms);
  assert_true(took < 700ms + 5s);
}

static void destroying_it_stops_the_thread_before_any_exit(void**) {
  std::atomic<bool> forced{false};
  {
    LoopWatchdog dog(0ms, 300ms, {nullptr, [&] { forced = true; }});
    dog.stop_requested();
  }  // the process exited its usual way first
  std::this_thread::sleep_for(500ms);
  assert_false(forced.load());
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(alive_only_while_the_loop_beats),
      cmocka_unit_test(no_alive_hook_without_a_systemd_watchdog),
      cmocka_unit_test(a_stuck_stop_is_forced_after_its_bound),
      cmocka_unit_test(only_the_first_signal_counts_and_the_bound_can_grow),
      cmocka_unit_test(destroying_it_stops_the_thread_before_any_exit),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
