// The WebSocket side shared by rtpush-json, rtpush-msgpack and
// rtpush-protobuf: each plugin is this callback with its encoding.
#pragma once
#include <libwebsockets.h>

#include "node.h"
#include "wire.h"

namespace rtpush_lws {

int ws_callback(rtpush::Encoding encoding, struct lws* wsi, enum lws_callback_reasons reason,
                void* user, void* in, size_t len);

// Per-connection lws memory: two pointers, so idle connections stay small.
// Touched on the lws service thread only.
struct WsSessionData {
  class WsConnection* connection;  // from ESTABLISHED to CLOSED
  // What Node::admit() said of a handshake that carried a valid token: kept
  // from FILTER_PROTOCOL_CONNECTION (lws has allocated this memory by then)
  // until ESTABLISHED hands it to Node::open(), or CLOSED frees it when the
  // upgrade failed in between. Null for an anonymous handshake.
  rtpush::Node::Admission* admitted;
  // permessage-deflate was accepted at the handshake (ws_deflate.h); handed
  // to the Session at ESTABLISHED. Fits the allocation two pointers take.
  bool deflate;
};

// lws's receive buffer per connection. Small on purpose: larger messages
// arrive in pieces and the core reassembles them, so idle connections stay
// cheap. tx_packet_size must be set too, or sends are cut to this size.
inline constexpr size_t kRxBufferSize = 256;
inline constexpr size_t kTxPacketSize = 256 * 1024;

}  // namespace rtpush_lws

// One protocol definition for an encoding's plugin file.
#define RTPUSH_WS_PROTOCOL(NAME, CALLBACK)                                          \
  {                                                                                  \
    NAME, CALLBACK, sizeof(rtpush_lws::WsSessionData), rtpush_lws::kRxBufferSize, 0, \
        nullptr, rtpush_lws::kTxPacketSize                                           \
  }
