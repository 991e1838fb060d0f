// permessage-deflate at the handshake: whether a WebSocket connection gets
// the extension lwsws offers on every vhost (the `compression` option).
#pragma once
#include <libwebsockets.h>

namespace rtpush_lws {

// LWS_CALLBACK_CONFIRM_EXTENSION_OKAY for extension `name`: 0 accepts it
// (and sets *deflate, the connection's WsSessionData::deflate; null when
// lws gave no per-session memory), nonzero refuses it and the connection
// goes on without it. Only permessage-deflate, only with `compression` on, and only
// an offer deflate_offers_acceptable() likes: the fast write path frames
// messages itself, so no other extension could ever see them. Over TLS as
// over plain TCP: what a client sends compressed is inflated by lws, which
// needs tools/patches/0006 (lws 4.1.6 inflated from a buffer it had
// already read the next bytes into; docs/protocol.md "Compression").
int confirm_extension(struct lws* wsi, const char* name, bool* deflate);

}  // namespace rtpush_lws
