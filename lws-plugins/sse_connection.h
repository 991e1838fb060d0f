// The core's view of one Server-Sent Events listener: a FlushedConnection
// with SSE framing (its events' bytes as they are, in a close-delimited
// body). Owned by the HTTP connection's per-session data from the 200
// until CLOSED_HTTP (end_sse, sse_stream.h). Service thread only.
#pragma once
#include <libwebsockets.h>

#include "flushed_connection.h"
#include "transport_port.h"
#include "tcp_progress.h"

namespace rtpush_lws {

class SseConnection final : public FlushedConnection {
 public:
  SseConnection(struct lws* wsi, rtpush::TransportPort* p) : FlushedConnection(wsi, p, Framing::Sse) {}
  // Closing (slow consumer, token expired, user disconnected): what is
  // queued goes first, then writable() ends the stream (the socket is
  // closed); that request_close() is FlushedConnection's. With nothing
  // left to write (the queue dropped: it stopped reading, or went too
  // slow) the stream ends now, not after lws's 5 s close timeout.
  void request_close() override;
  bool output_taken() override;
  TcpProgress progress;
};

}  // namespace rtpush_lws
