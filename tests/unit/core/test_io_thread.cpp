// The I/O thread hand-off: tasks run on the I/O thread in order; results
// come back to the caller's thread only when it drains, in order, with one
// wake-up per batch.
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "cmocka_cpp.h"
#include "ev_loop.h"  // a libev timer on the thread's loop
#include "io_thread.h"

using rtpush::IoThread;

static void round_trip_in_order(void**) {
  std::atomic<int> wakes{0};
  std::vector<int> ran_on_io, delivered;
  std::atomic<int> io_done{0};
  const auto caller = std::this_thread::get_id();
  {
    IoThread io([&] { ++wakes; });
    for (int i = 0; i < 1000; ++i)
      io.post([&, i] {
        assert_true(io.on_io_thread());
        ran_on_io.push_back(i);
        io.deliver([&, i] {
          assert_true(std::this_thread::get_id() == caller);
          delivered.push_back(i);
        });
        ++io_done;
      });
    while (io_done.load() < 1000) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    assert_true(delivered.empty());  // nothing runs on this thread until it drains
    // 1,000 results and no drain between them: one batch, one wake-up.
    assert_int_equal(wakes.load(), 1);
    assert_int_equal(io.drain(), 1000);
    assert_int_equal(io.drain(), 0);
    assert_int_equal(wakes.load(), 1);  // draining does not wake
    // The next result after a drain starts a new batch: one more wake-up.
    std::atomic<bool> posted{false};
    io.post([&] {
      io.deliver([] {});
      io.deliver([] {});
      posted = true;
    });
    while (!posted.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    assert_int_equal(wakes.load(), 2);
    assert_int_equal(io.drain(), 2);
  }
  for (int i = 0; i < 1000; ++i) {
    assert_int_equal(ran_on_io[i], i);
    assert_int_equal(delivered[i], i);
  }
}

static void libev_timers_run_on_the_io_thread(void**) {
  std::atomic<bool> fired{false};
  IoThread io(nullptr);
  static ev_timer timer;
  static std::atomic<bool>* flag;
  flag = &fired;
  io.post([&] {
    ev_timer_init(&timer, [](struct ev_loop*, ev_timer*, int) { flag->store(true); }, 0.01, 0);
    ev_timer_start(io.loop(), &timer);
  });
  for (int i = 0; i < 500 && !fired.load(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  assert_true(fired.load());
}

// How an owner shuts its I/O side down: the task has run on the I/O thread
// when the call returns; called on the I/O thread it runs at once (no
// deadlock waiting for itself).
static void run_and_wait_returns_after_the_task_ran(void**) {
  IoThread io([] {});
  bool ran = false, on_io = false, nested = false;
  io.run_and_wait([&] {
    on_io = io.on_io_thread();
    io.run_and_wait([&] { nested = true; });
    ran = true;
  });
  assert_true(ran);
  assert_true(on_io);
  assert_true(nested);
  assert_false(io.on_io_thread());
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(round_trip_in_order),
      cmocka_unit_test(libev_timers_run_on_the_io_thread),
      cmocka_unit_test(run_and_wait_returns_after_the_task_ran),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
