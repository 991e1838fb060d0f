// Per-vhost state of the `rtpush` protocol, in lws's zeroed per-vhost memory.
// Service thread only (lws callbacks and timers).
// The WebSocket protocols of the same vhost find the core's TransportPort
// through it.
#pragma once
#include <libwebsockets.h>

#include <string>

#include "frame.h"
#include "vhost.h"

static_assert(LWS_PRE <= rtpush::kFrameHeadroom, "frames must have room for the lws header");

namespace rtpush_lws {

inline constexpr const char* kCoreProtocol = "rtpush";

struct VhostState {
  rtpush::Vhost* core;         // owned; deleted at PROTOCOL_DESTROY
  rtpush::TransportPort* port;  // core->transport(), or null before init completes
  rtpush::IoThread* io;        // core->io(): the core's I/O thread, or null
  // Set instead of core when the vhost's options were refused: the 503's
  // text (refused_vhost.h). Owned; deleted at PROTOCOL_DESTROY.
  std::string* refusal;
  struct lws_context* context;
  lws_sorted_usec_list_t tick;  // heartbeat sweep, once a second
  // Token expiry and the auth-required deadline (Vhost::expire_auth), every
  // kAuthSweepUs; scheduled only on a vhost that can accept tokens.
  lws_sorted_usec_list_t auth_sweep;
  // Graceful stop (graceful_stop.h): its steps, run by a timer.
  lws_sorted_usec_list_t stop_step;
  lws_usec_t stop_deadline;  // stop-timeout-secs after the signal
  bool stop_begun;           // the connections were told 1012
  bool flush_begun;          // Vhost::flush_persistence was asked
  bool flushed;              // ... and answered
  bool flush_ok;             // ... that every row is written
  bool stop_done;            // this vhost is ready for the context's destroy
};

// 200 ms: a connection whose token expires is closed well within a second
// of its exp (tick()'s once a second would leave up to a second more), and
// a sweep costs only what is due.
inline constexpr lws_usec_t kAuthSweepUs = 200 * LWS_US_PER_MS;

// The `rtpush` protocol's state on the wsi's vhost, or nullptr when the
// vhost lists no `rtpush` protocol.
inline VhostState* core_state_of(struct lws* wsi) {
  struct lws_vhost* vh = lws_get_vhost(wsi);
  const struct lws_protocols* core = lws_vhost_name_to_protocol(vh, kCoreProtocol);
  if (!core) return nullptr;
  return static_cast<VhostState*>(lws_protocol_vh_priv_get(vh, core));
}

// The vhost's TransportPort, or nullptr when the vhost lists no `rtpush`
// protocol (or its options were refused).
inline rtpush::TransportPort* port_of(struct lws* wsi) {
  VhostState* vs = core_state_of(wsi);
  return vs ? vs->port : nullptr;
}

}  // namespace rtpush_lws
