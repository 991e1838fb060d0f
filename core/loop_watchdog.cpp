#include "loop_watchdog.h"

#include <pthread.h>
#include <signal.h>

namespace rtpush {

LoopWatchdog::LoopWatchdog(Clock::duration alive_every, Clock::duration exit_after, Hooks hooks)
    : alive_every_(alive_every), hooks_(std::move(hooks)), exit_after_ns_(exit_after.count()) {
  // The stop signals may land on this thread, and must be able to: when the
  // service thread is stuck in a way that takes no signal (stopped by a
  // debugger), this is the one left to note the stop (stop_requested() runs
  // from the handler, on whichever thread). Every other signal stays with
  // the threads lwsws expects. The new thread inherits the mask in force.
  sigset_t others, before;
  sigfillset(&others);
  sigdelset(&others, SIGTERM);
  sigdelset(&others, SIGINT);
  pthread_sigmask(SIG_BLOCK, &others, &before);
  thread_ = std::thread([this] { run(); });
  pthread_sigmask(SIG_SETMASK, &before, nullptr);
}

LoopWatchdog::~LoopWatchdog() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    quit_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void LoopWatchdog::stop_requested() {
  Clock::rep none = 0;
  const Clock::rep now = Clock::now().time_since_epoch().count();
  stop_at_.compare_exchange_strong(none, now ? now : 1);
}

void LoopWatchdog::run() {
  std::uint64_t seen = beats_.load(std::memory_order_relaxed);
  Clock::time_point last_alive = Clock::now();
  std::unique_lock<std::mutex> lock(mu_);
  while (!wake_.wait_for(lock, kLook, [this] { return quit_; })) {
    const Clock::time_point now = Clock::now();
    const Clock::rep stop_at = stop_at_.load();
    if (stop_at && now - Clock::time_point(Clock::duration(stop_at)) >= Clock::duration(exit_after_ns_.load())) {
      if (hooks_.force_exit) hooks_.force_exit();
      return;  // a hook that returns (a test's) ends the watch
    }
    // Beats since the last notification: the loop turned. None: stay
    // silent, and systemd's WatchdogSec runs out.
    if (alive_every_.count() > 0 && now - last_alive >= alive_every_) {
      const std::uint64_t beats = beats_.load(std::memory_order_relaxed);
      if (beats != seen) {
        seen = beats;
        last_alive = now;
        if (hooks_.alive) hooks_.alive();
      }
    }
  }
}

}  // namespace rtpush
