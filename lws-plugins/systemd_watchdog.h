// The process's LoopWatchdog (core/loop_watchdog.h) in an lwsws serving
// process (docs/operations.md "Watchdog and last-resort exit"):
//
//  - systemd: the units set WatchdogSec and NotifyAccess=all (lwsws serves
//    from a forked child, not the unit's main process). systemd passes
//    WATCHDOG_USEC; a timer of the service loop beats, and the watchdog's
//    thread sends WATCHDOG=1 (sd_notify: a datagram, kept off the service
//    thread) every half of it while the beats come. Without NOTIFY_SOCKET
//    or WATCHDOG_USEC nothing is sent.
//  - last resort: stop-timeout-secs + kLastResortGraceSecs after a stop
//    signal the process exits with status 1 (event=stop_forced), stuck loop
//    or not.
//
// Service thread only, but watchdog_stop_requested (signal handler).
#pragma once
#include <libwebsockets.h>

namespace rtpush_lws {

// Beyond stop-timeout-secs: room for lwsws's own exit (the context's
// destroy) after a graceful stop that ended on its bound.
inline constexpr int kLastResortGraceSecs = 2;

// With the graceful stop's handlers (once per process); again for each
// vhost, so the longest stop-timeout-secs counts.
void watchdog_attach(struct lws_context* cx, int stop_timeout_secs);
// From the stop signal's handler: async-signal-safe.
void watchdog_stop_requested();
// With the graceful stop's handlers going away: the thread is joined.
void watchdog_detach();

}  // namespace rtpush_lws
