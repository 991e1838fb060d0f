// permessage-deflate at the handshake: whether a WebSocket connection gets
// the extension lwsws offers on every vhost (the `compression` option).
#pragma once
#include <libwebsockets.h>

#include "ws_protocol.h"

namespace rtpush_lws {

// LWS_CALLBACK_CONFIRM_EXTENSION_OKAY for extension `name`: 0 accepts it
// (and marks pss->deflate), nonzero refuses it and the connection goes on
// without it. Only permessage-deflate, only with `compression` on, and only
// an offer deflate_offers_acceptable() likes: the fast write path frames
// messages itself, so no other extension could ever see them. Over TLS as
// over plain TCP: what a client sends compressed is inflated by lws, which
// needs tools/patches/0006 (lws 4.1.6 inflated from a buffer it had
// already read the next bytes into; docs/protocol.md "Compression").
int confirm_extension(struct lws* wsi, const char* name, WsSessionData* pss);

// After a piece of a message that is not its last, on a connection with
// permessage-deflate: makes sure lws comes back to inflate the rest.
// lws 4.1.6 inflates a compressed message in pieces of the rx buffer
// (1 KiB here) and, on its libuv loop, gives a connection one more piece
// per event, then stops its idle handler although the inflater still holds
// output (lib/event-libs/libuv/libuv.c lws_uv_idle: 3.x kept it running
// while forced service was pending). Without a further event from that
// client, a message inflating past about 2 KiB would wait, and be refused
// by receive-timeout-secs. Waking the loop (the one thread-safe lws call,
// cheap and harmless when nothing is left) gives it that event.
void keep_inflating(struct lws* wsi);

}  // namespace rtpush_lws
