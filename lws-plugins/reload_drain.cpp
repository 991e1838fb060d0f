#include "reload_drain.h"

#include "graceful_stop.h"
#include "lws_logger.h"

#include <signal.h>

namespace rtpush_lws {

namespace {

// Service thread only.
struct Watch {
  lws_sorted_usec_list_t sul{};
  struct lws_context* cx = nullptr;
  int vhosts = 0;
  lws_usec_t deprecated_at = 0;  // when first seen deprecated; 0: not yet
  bool raised = false;
} g_watch;

void check(lws_sorted_usec_list_t*) {
  if (g_watch.raised || !g_watch.cx) return;
  // A stop closes the listen sockets too (lws_context_deprecate): that is
  // not a reload, and the stop ends this process by itself.
  if (graceful_stop_signalled()) return;
  if (lws_context_is_deprecated(g_watch.cx)) {
    const lws_usec_t now = lws_now_usecs();
    if (!g_watch.deprecated_at) {
      g_watch.deprecated_at = now;
      log_event(rtpush::LogLevel::Notice, "reload_drain",
                {{"cause", "SIGHUP: listen sockets closed, a new child takes new connections"},
                 {"stop_in_secs", kReloadGraceSecs}});
    } else if (now - g_watch.deprecated_at >= static_cast<lws_usec_t>(kReloadGraceSecs) * LWS_US_PER_SEC) {
      g_watch.raised = true;
      raise(SIGINT);  // the graceful stop (graceful_stop.h); raise(): this, the service thread
      return;
    }
  }
  lws_sul_schedule(g_watch.cx, 0, &g_watch.sul, check, LWS_US_PER_SEC);
}

}  // namespace

void reload_drain_attach(struct lws_context* cx) {
  if (g_watch.vhosts++ > 0) return;
  g_watch.cx = cx;
  lws_sul_schedule(cx, 0, &g_watch.sul, check, LWS_US_PER_SEC);
}

void reload_drain_detach() {
  if (g_watch.vhosts == 0 || --g_watch.vhosts > 0) return;
  lws_sul_cancel(&g_watch.sul);
  g_watch = Watch{};
}

}  // namespace rtpush_lws
