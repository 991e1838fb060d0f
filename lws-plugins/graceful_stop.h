// Graceful stop: what SIGTERM and SIGINT do to lwsws's serving process
// (docs/operations.md "Stopping a node").
//
// Stock lwsws 4.1.6 (lwsws/main.c) leaves SIGTERM at its default in the
// serving child (it dies at once: clients see a TCP reset, rows of the
// embedded broker not yet in PostgreSQL are lost), and answers SIGINT with
// lws_context_destroy() from its libuv signal watcher (connections are
// dropped without a close frame). So the rtpush protocol takes both signals
// over in the serving process, at its first vhost's init (lwsws has set up
// its own by then):
//
//   signal      the handler sets a flag and wakes lws (lws_cancel_service)
//   begin       the listen sockets close (lws_context_deprecate), every
//               WebSocket is closed with 1012 after its queued frames, SSE
//               streams end, PostgreSQL stops waiting for pg-flush-ms
//   flush       once the vhost's connections are gone: every accepted row
//               to PostgreSQL (Vhost::flush_persistence), non-blocking
//   exit        when every vhost is done, or stop-timeout-secs passed (what
//               is left is logged): lwsws's own SIGINT handler goes back and
//               SIGINT is raised, so lwsws destroys the context its usual way
//               (PROTOCOL_DESTROY: node, backends, I/O thread) and exits 0
//   last resort stop-timeout-secs + 2 s after the signal, a process still
//               here (its service loop stuck) exits 1 from the watchdog's
//               thread (systemd_watchdog.h)
//
// Service thread only, but the signal handler.
#pragma once
#include <libwebsockets.h>

#include "vhost_state.h"

namespace rtpush_lws {

// PROTOCOL_INIT, once the vhost's core is built: installs the handlers
// (once per process) and counts the vhost.
void graceful_stop_attach(VhostState* vs);
// LWS_CALLBACK_EVENT_WAIT_CANCELLED: begins the vhost's stop when a signal
// came. Cheap otherwise.
void graceful_stop_poll(VhostState* vs);
// True once a stop signal came (SIGTERM, SIGINT, or the reload drain's own
// SIGINT): the listen sockets this process closes from then on are the
// stop's, not a reload's (reload_drain.h).
bool graceful_stop_signalled();
// PROTOCOL_DESTROY, before the core is deleted.
void graceful_stop_detach(VhostState* vs);

}  // namespace rtpush_lws
