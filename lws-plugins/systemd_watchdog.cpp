#include "systemd_watchdog.h"

#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>

#include "loop_watchdog.h"

namespace rtpush_lws {

namespace {

using std::chrono::microseconds;
using std::chrono::seconds;

// Service thread only, but g_dog's pointer: read by the signal handler.
std::unique_ptr<rtpush::LoopWatchdog> g_owner;
std::atomic<rtpush::LoopWatchdog*> g_dog{nullptr};
lws_sorted_usec_list_t g_beat{};
struct lws_context* g_cx = nullptr;
microseconds g_beat_every{0};
int g_longest_stop_secs = 0;

// systemd's WatchdogSec, as it passes it. Not sd_watchdog_enabled(): that
// also wants WATCHDOG_PID to be this process, and systemd names lwsws's
// first process, whose forked child serves (hence NotifyAccess=all).
microseconds systemd_watchdog() {
  const char* usec = getenv("WATCHDOG_USEC");
  if (!usec || !getenv("NOTIFY_SOCKET")) return microseconds(0);
  char* end = nullptr;
  const unsigned long long v = strtoull(usec, &end, 10);
  return (end && !*end) ? microseconds(v) : microseconds(0);
}

void beat(lws_sorted_usec_list_t*) {
  if (rtpush::LoopWatchdog* dog = g_dog.load()) dog->beat();
  lws_sul_schedule(g_cx, 0, &g_beat, beat, static_cast<lws_usec_t>(g_beat_every.count()));
}

// The watchdog's thread, the service loop possibly stuck: one write(2) of a
// line made in advance (no lws log, no allocation), then _exit (no
// destructors: the loop may be inside any of them).
[[noreturn]] void force_exit() {
  static const char kLine[] =
      "E: rtpush: event=stop_forced cause=\"stop-timeout-secs passed and the process had not exited\"\n";
  ssize_t ignored = write(STDERR_FILENO, kLine, sizeof kLine - 1);
  (void)ignored;
  _exit(1);
}

}  // namespace

void watchdog_attach(struct lws_context* cx, int stop_timeout_secs) {
  g_longest_stop_secs = std::max(g_longest_stop_secs, stop_timeout_secs);
  const seconds exit_after(g_longest_stop_secs + kLastResortGraceSecs);
  if (g_owner) return g_owner->set_exit_after(exit_after);
  const microseconds watchdog = systemd_watchdog();
  g_owner = std::make_unique<rtpush::LoopWatchdog>(
      watchdog / 2, exit_after,
      rtpush::LoopWatchdog::Hooks{[] { sd_notify(0, "WATCHDOG=1"); }, force_exit});
  g_dog.store(g_owner.get());
  if (watchdog.count() > 0) {
    // Beats well within each notification period.
    g_cx = cx;
    g_beat_every = std::min<microseconds>(watchdog / 4, seconds(1));
    lws_sul_schedule(cx, 0, &g_beat, beat, static_cast<lws_usec_t>(g_beat_every.count()));
  }
}

void watchdog_stop_requested() {
  if (rtpush::LoopWatchdog* dog = g_dog.load()) dog->stop_requested();
}

void watchdog_detach() {
  lws_sul_cancel(&g_beat);
  g_dog.store(nullptr);
  g_owner.reset();
  g_cx = nullptr;
  g_longest_stop_secs = 0;
}

}  // namespace rtpush_lws
