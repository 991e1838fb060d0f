#include "graceful_stop.h"

#include <signal.h>

#include <atomic>
#include <exception>
#include <utility>

#include "lws_logger.h"
#include "systemd_watchdog.h"

namespace rtpush_lws {

namespace {

// Set by the signal handler, read on the service thread.
std::atomic<int> g_signal{0};
// The context the handler wakes; null once the process is exiting (the
// context is about to be destroyed under it).
std::atomic<struct lws_context*> g_context{nullptr};
// Service thread only.
bool g_installed = false;
bool g_deprecated = false;
int g_vhosts = 0;       // attached and not yet detached
int g_vhosts_done = 0;  // of those, ready for the destroy
struct sigaction g_lwsws_sigint, g_lwsws_sigterm;  // what lwsws had set up

constexpr lws_usec_t kStepUs = 20 * LWS_US_PER_MS;

// Async-signal context: an atomic store and lws_cancel_service(), which
// writes a byte to lws's event pipe (the call the I/O thread makes too; it
// logs only at lws's info level, which lwsws's default does not show). The
// I/O threads block these signals (io_thread.cpp), so this runs on the
// service thread, whatever it was doing, or on the watchdog's thread when
// the service thread takes no signal (systemd_watchdog.h).
extern "C" void on_stop_signal(int sig) {
  watchdog_stop_requested();  // the last resort counts from the first signal
  struct lws_context* cx = g_context.load();
  if (!cx) return;  // exiting already: a second SIGTERM changes nothing
  g_signal.store(sig);
  lws_cancel_service(cx);
}

// Everything is done or given up: hand the process back to lwsws's own
// SIGINT path, which destroys the context and returns 0 from main().
void exit_process() {
  g_context.store(nullptr);
  // lwsws's root answers SIGINT by SIGTERMing its children 2 s later, and
  // the plugin's code (this handler) is unloaded with the context: a SIGTERM
  // during the destroy must neither kill the exit under way nor jump into
  // unmapped code.
  signal(SIGTERM, SIG_IGN);
  sigaction(SIGINT, &g_lwsws_sigint, nullptr);
  raise(SIGINT);
}

void vhost_done(VhostState* vs) {
  if (vs->stop_done) return;
  vs->stop_done = true;
  if (++g_vhosts_done >= g_vhosts) exit_process();
}

void step(VhostState* vs);

void run_step(lws_sorted_usec_list_t* sul) {
  auto* vs = lws_container_of(sul, VhostState, stop_step);
  try {  // no exception crosses into lws
    step(vs);
  } catch (const std::exception& e) {
    log_event(rtpush::LogLevel::Err, "stop_error", {{"cause", e.what()}});
    vhost_done(vs);
  }
}

void schedule_step(VhostState* vs, lws_usec_t in_us) {
  lws_sul_schedule(vs->context, 0, &vs->stop_step, run_step, in_us);
}

// The stop's steps, every kStepUs from the first until the vhost is done.
void step(VhostState* vs) {
  rtpush::Vhost* node = vs->port ? vs->core : nullptr;
  if (!node) return vhost_done(vs);
  const lws_usec_t now = lws_now_usecs();
  if (!vs->stop_begun) {
    vs->stop_begun = true;
    vs->stop_deadline = now + static_cast<lws_usec_t>(node->options().stop_timeout_secs) * LWS_US_PER_SEC;
    if (!std::exchange(g_deprecated, true)) {
      // Closes every vhost's listen socket: a new client is refused (nginx
      // tries the next node) instead of accepted and closed.
      lws_context_deprecate(vs->context, nullptr);
    }
    log_event(rtpush::LogLevel::Notice, "stop_begin",
              {{"signal", g_signal.load()}, {"timeout_secs", node->options().stop_timeout_secs},
               {"connections", node->connection_count()}, {"rows_waiting", node->unwritten_rows()}},
              node->node_id());
    node->begin_stop();
  }
  const double left_secs = static_cast<double>(vs->stop_deadline - now) / LWS_US_PER_SEC;
  // Rows are written from the signal on (flush_now); the final settle waits
  // until no connection can publish any more.
  if (!vs->flush_begun && node->connection_count() == 0) {
    vs->flush_begun = true;
    node->flush_persistence(left_secs > 0 ? left_secs : 0, [vs](bool ok) {
      vs->flushed = true;
      vs->flush_ok = ok;
    });
  }
  if (vs->flushed && vs->flush_ok) {
    log_event(rtpush::LogLevel::Notice, "stop_done", {}, node->node_id());  // every accepted row is written
    return vhost_done(vs);
  }
  if (left_secs <= 0 || vs->flushed) {
    // Never silently: what the stop could not do in stop-timeout-secs.
    log_event(rtpush::LogLevel::Err, "stop_incomplete",
              {{"cause", "stop-timeout-secs"}, {"connections_dropped", node->connection_count()},
               {"rows_lost", node->unwritten_rows()}},
              node->node_id());
    return vhost_done(vs);
  }
  schedule_step(vs, kStepUs);
}

void install(struct lws_context* cx) {
  g_context.store(cx);
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  sigaction(SIGTERM, &sa, &g_lwsws_sigterm);
  sigaction(SIGINT, &sa, &g_lwsws_sigint);
  g_installed = true;
}

}  // namespace

void graceful_stop_attach(VhostState* vs) {
  if (!g_installed) install(vs->context);
  ++g_vhosts;
  // Its thread: WATCHDOG=1 to systemd, and the exit when this stop is stuck.
  watchdog_attach(vs->context, vs->core->options().stop_timeout_secs);
}

bool graceful_stop_signalled() { return g_signal.load() != 0; }

void graceful_stop_poll(VhostState* vs) {
  if (!g_signal.load() || !vs || !vs->port || vs->stop_begun || vs->stop_done) return;
  // From a timer, not from inside this callback: the steps close wsis
  // (the listen sockets) and that is safe at the top of the service loop.
  schedule_step(vs, 0);
}

void graceful_stop_detach(VhostState* vs) {
  lws_sul_cancel(&vs->stop_step);
  if (vs->stop_done) --g_vhosts_done;
  if (--g_vhosts > 0 || !g_installed) return;
  // The last vhost goes (the context is destroyed, perhaps not by us): the
  // plugin is unloaded after this, so its handler must not stay installed.
  g_installed = false;
  if (g_context.exchange(nullptr)) {
    sigaction(SIGTERM, &g_lwsws_sigterm, nullptr);
    sigaction(SIGINT, &g_lwsws_sigint, nullptr);
  }
  watchdog_detach();  // after the handlers: none can reach it any more
}

}  // namespace rtpush_lws
