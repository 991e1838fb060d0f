// The WebSocket handshake of rtpush-json, -msgpack and -protobuf: the
// request's Origin header and `token` query parameter go to TransportPort::admit()
// (README "Security"); a refusal is answered with its HTTP status (401 for a
// token, 403 for an origin) instead of the 101, so a client can tell "not
// allowed" from "server gone". Runs on the lws service thread, at
// LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: the same callback whether the
// client asked for a subprotocol or got the vhost's default one.
#pragma once
#include <libwebsockets.h>

#include <string>

#include "transport_port.h"

namespace rtpush_lws {

// 0: go on with the upgrade; *admitted is then a new Admission (the caller
// owns it) when a valid token came, else null. Nonzero: refused, the HTTP
// answer is written; return it to lws, which closes the connection.
int admit_upgrade(struct lws* wsi, rtpush::TransportPort& port, rtpush::Admission** admitted);

// An upgrade on a vhost whose `rtpush` options were refused
// (refused_vhost.h): answered 503 with `refusal` as its error. Returns
// nonzero (give it to lws, which closes the connection).
int refuse_upgrade(struct lws* wsi, const std::string& refusal);

}  // namespace rtpush_lws
