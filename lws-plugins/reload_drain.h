// Reload (SIGHUP): how the old serving process ends (docs/operations.md
// "Reloading a node (SIGHUP)").
//
// Stock lwsws 4.1.6 answers SIGHUP in the serving child with
// lws_context_deprecate(): the listen sockets close, the watcher forks a new
// child about a second later, and the old one is meant to end once its
// connection count reaches zero. It never does: lws counts its own event
// pipe as a connection (core-net/vhost.c, lws_create_event_pipes), so the
// old child, its clients, its Redis subscriptions and its PostgreSQL writer
// would stay forever, and its embedded broker would never see what is
// published through the new child.
//
// So the plugin watches for the deprecation (once a second) and, a grace
// period later (the new child is listening by then), stops the old child the
// graceful way: SIGINT to itself, which graceful_stop.h answers (every
// WebSocket closed with 1012, SSE streams end, every accepted row written to
// PostgreSQL, exit within stop-timeout-secs). Clients reconnect with `since`
// and land on the new child.
#pragma once
#include <libwebsockets.h>

namespace rtpush_lws {

// Seconds from the deprecation to the 1012 closes: the watcher sleeps 1 s
// before it forks the new child, which then needs a moment to listen.
inline constexpr int kReloadGraceSecs = 3;

// PROTOCOL_INIT of each vhost / its PROTOCOL_DESTROY (the watch is one per
// process; it stops with the last vhost).
void reload_drain_attach(struct lws_context* cx);
void reload_drain_detach();

}  // namespace rtpush_lws
