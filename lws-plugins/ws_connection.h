// The core's view of one lws WebSocket connection: a FlushedConnection
// with WebSocket framing. Lives inside the connection's lws per-session
// memory (WsSessionData, ws_session_data.h): one allocation per
// connection, not two. Service thread only.
#pragma once
#include <libwebsockets.h>

#include "flushed_connection.h"
#include "transport_port.h"

namespace rtpush_lws {

class WsConnection final : public FlushedConnection {
 public:
  WsConnection(struct lws* wsi, rtpush::TransportPort* p) : FlushedConnection(wsi, p, Framing::WebSocket) {}
};

}  // namespace rtpush_lws
