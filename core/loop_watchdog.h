// LoopWatchdog: a thread of its own that watches the lws service loop
// (docs/operations.md "Watchdog and last-resort exit"), for what the loop
// cannot do for itself once it is stuck:
//
//  - alive: the loop calls beat() from a timer; while beats come, the
//    `alive` hook runs every `alive_every` (the plugin sends systemd
//    WATCHDOG=1). A loop that stops turning stops the notifications, and
//    systemd (WatchdogSec) restarts the node.
//  - last-resort exit: a stop signal (stop_requested(), from the signal
//    handler) that has not ended the process `exit_after` later runs the
//    `force_exit` hook (logs and _exit()s), whatever the loop is doing. The
//    graceful stop (lws-plugins/graceful_stop.h) is bounded by
//    stop-timeout-secs only while the loop turns.
//
// Threads: beat() on the service thread, stop_requested() in a signal
// handler (async-signal-safe: lock-free atomics only), the hooks on the
// watchdog's own thread. No lws types.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>

namespace rtpush {

class LoopWatchdog {
 public:
  using Clock = std::chrono::steady_clock;
  struct Hooks {
    std::function<void()> alive;       // the loop turned within the last alive_every
    std::function<void()> force_exit;  // the stop overran exit_after; need not return
  };

  // `alive_every` zero: no alive hook (no systemd watchdog). `exit_after`:
  // from the stop signal to the forced exit.
  LoopWatchdog(Clock::duration alive_every, Clock::duration exit_after, Hooks hooks);
  // Stops and joins the thread (the hooks do not run after it returns).
  ~LoopWatchdog();
  LoopWatchdog(const LoopWatchdog&) = delete;
  LoopWatchdog& operator=(const LoopWatchdog&) = delete;

  // Service thread: the loop turned.
  void beat() { beats_.fetch_add(1, std::memory_order_relaxed); }
  // Signal handler: a stop began now. Only the first call counts.
  void stop_requested();
  // The bound the last resort uses from now on (another vhost's longer
  // stop-timeout-secs); service thread.
  void set_exit_after(Clock::duration exit_after) { exit_after_ns_.store(exit_after.count()); }

  // How often the thread looks (the forced exit is at most this late).
  static constexpr std::chrono::milliseconds kLook{100};

 private:
  void run();

  const Clock::duration alive_every_;
  Hooks hooks_;
  std::atomic<std::uint64_t> beats_{0};
  std::atomic<Clock::rep> exit_after_ns_;
  std::atomic<Clock::rep> stop_at_{0};  // Clock ticks since its epoch; 0: no stop yet
  std::mutex mu_;
  std::condition_variable wake_;
  bool quit_ = false;  // under mu_
  std::thread thread_;
  static_assert(std::atomic<Clock::rep>::is_always_lock_free, "stop_requested() runs in a signal handler");
  static_assert(std::is_same_v<Clock::duration, std::chrono::nanoseconds>, "exit_after_ns_ holds nanoseconds");
};

}  // namespace rtpush
