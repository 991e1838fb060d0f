// A vhost whose `rtpush` options are refused (README.md "Options"): the
// `rtpush` protocol stays attached without a core, so that every request
// on its mount is answered 503 naming the refused option, and every
// WebSocket upgrade to rtpush-json, -msgpack or -protobuf is refused with
// 503 too. Without it lws would close them without a word, and a client
// could not tell a misconfigured node from one that is down.
// Service thread only (lws callbacks), like VhostState.
#pragma once
#include <libwebsockets.h>

#include <string>

#include "config_refusal.h"
#include "vhost_state.h"

namespace rtpush_lws {

// Keeps the answer in `vs` (freed by forget_refusal()). `about.option` may
// be empty when the refusal names no option the vhost gave; `cause` is the
// refusal's text, for the log only: it may name a file or a backend's
// address, which the answer does not give away.
void refuse_vhost(VhostState* vs, const rtpush::ConfigRefusal& about);
void forget_refusal(VhostState* vs);

// The vhost's refusal (the text of the 503's `error`), or null when the
// vhost is configured (or has no `rtpush` protocol).
const std::string* refusal_of(struct lws* wsi);

}  // namespace rtpush_lws
