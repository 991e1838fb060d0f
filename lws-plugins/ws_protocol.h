// The WebSocket side shared by rtpush-json, rtpush-msgpack and
// rtpush-protobuf: each plugin is this callback with its encoding.
#pragma once
#include <libwebsockets.h>

#include <cstdint>

#include "frame_writer.h"
#include "transport_port.h"
#include "wire.h"

namespace rtpush_lws {

int ws_callback(rtpush::Encoding encoding, struct lws* wsi, enum lws_callback_reasons reason,
                void* user, void* in, size_t len);

// The core's view of one lws WebSocket connection. Lives inside the
// connection's lws per-session memory (WsSessionData): one allocation per
// connection, not two.
class WsConnection final : public FlushedConnection {
 public:
  WsConnection(struct lws* wsi, rtpush::TransportPort* p) : FlushedConnection(wsi), port(p) {}
  void flush() override;
  rtpush::TransportPort* port;
  rtpush::Session* session = nullptr;
};

// Per-connection lws memory, allocated (zeroed) by lws before the filter
// callback and freed after CLOSED. Touched on the lws service thread only.
struct WsSessionData {
  // The WsConnection, constructed in place from ESTABLISHED to CLOSED
  // (`open` says when): its own allocation cost a 64-byte block and this
  // one a 32-byte block per connection, together 48 bytes more than one.
  alignas(WsConnection) unsigned char storage[sizeof(WsConnection)];
  // What TransportPort::admit() said of a handshake that carried a valid token: kept
  // from FILTER_PROTOCOL_CONNECTION (lws has allocated this memory by then)
  // until ESTABLISHED hands it to TransportPort::open(), or CLOSED frees it when the
  // upgrade failed in between. Null for an anonymous handshake.
  rtpush::Admission* admitted;
  // permessage-deflate was accepted at the handshake (ws_deflate.h); handed
  // to the Session at ESTABLISHED.
  bool deflate;
  bool open;  // `storage` holds a live WsConnection
  // TCP_CORK is on from an admitted handshake until ESTABLISHED has written
  // `connection_established` (ws_protocol.cpp, set_cork).
  bool corked;
  WsConnection* connection() { return open ? reinterpret_cast<WsConnection*>(storage) : nullptr; }
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
