// The WebSocket side shared by rtpush-json, rtpush-msgpack and
// rtpush-protobuf: each plugin is this callback with its encoding.
#pragma once
#include <libwebsockets.h>

#include <cstddef>

#include "frame_writer.h"  // kTxPacketSize
#include "wire.h"
#include "ws_session_data.h"  // its size, for lws

namespace rtpush_lws {

int ws_callback(rtpush::Encoding encoding, struct lws* wsi, enum lws_callback_reasons reason,
                void* user, void* in, size_t len);

// lws's receive buffer per connection. Small on purpose: larger messages
// arrive in pieces and the core reassembles them, so idle connections stay
// cheap. tx_packet_size must be set too, or sends are cut to this size:
// kTxPacketSize, the write path's (frame_writer.h).
inline constexpr size_t kRxBufferSize = 256;

}  // namespace rtpush_lws

// One protocol definition for an encoding's plugin file.
#define RTPUSH_WS_PROTOCOL(NAME, CALLBACK)                                          \
  {                                                                                  \
    NAME, CALLBACK, sizeof(rtpush_lws::WsSessionData), rtpush_lws::kRxBufferSize, 0, \
        nullptr, rtpush_lws::kTxPacketSize                                           \
  }
