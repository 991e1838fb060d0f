// Per-connection lws memory of the WebSocket protocols, allocated (zeroed)
// by lws before the filter callback and freed after CLOSED. Touched on the
// lws service thread only.
#pragma once
#include "transport_port.h"
#include "ws_connection.h"

namespace rtpush_lws {

struct WsSessionData {
  // The WsConnection, constructed in place from ESTABLISHED to CLOSED
  // (`open` says when): its own allocation cost a 64-byte block and this
  // one a 32-byte block per connection, together 48 bytes more than one.
  alignas(WsConnection) unsigned char storage[sizeof(WsConnection)];
  // What Node::admit() said of a handshake that carried a valid token: kept
  // from FILTER_PROTOCOL_CONNECTION (lws has allocated this memory by then)
  // until ESTABLISHED hands it to Node::open(), or CLOSED frees it when the
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

}  // namespace rtpush_lws
