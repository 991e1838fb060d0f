// GET sse/<channel> (SPEC section 9; docs/protocol.md "Server-Sent Events"):
// an HTTP request of the `rtpush` protocol that becomes a stream. Judged by
// the core (TransportPort::admit_sse) before any byte of the answer; once admitted
// it is a 200 `text/event-stream` with a close-delimited body (HTTP/1.1
// `Connection: close`, no chunking: the bytes of an event are the same for
// every listener) written by the shared write path (frame_writer.h) from
// the shared frames of Encoding::Sse. Service thread only.
#pragma once
#include <libwebsockets.h>

#include "frame_writer.h"
#include "http_api.h"
#include "transport_port.h"
#include "tcp_progress.h"

namespace rtpush_lws {

// The core's view of one listener. Owned by the HTTP connection's
// per-session data from the 200 until CLOSED_HTTP (end_sse).
class SseConnection final : public FlushedConnection {
 public:
  SseConnection(struct lws* wsi, rtpush::TransportPort* p) : FlushedConnection(wsi), port(p) {}
  // Closing (slow consumer, token expired, user disconnected): what is
  // queued goes first, then sse_writable() ends the stream (the socket is
  // closed); request_close() is FlushedConnection's.
  void flush() override;
  // Nothing left to write (the queue dropped: it stopped reading, or went
  // too slow): the stream ends now, not after lws's 5 s close timeout.
  void request_close() override;
  bool output_taken() override;
  rtpush::TransportPort* port;
  rtpush::Session* session = nullptr;
  TcpProgress progress;
};

// A GET for sse/<channel> at LWS_CALLBACK_HTTP. Admitted: the 200 and its
// headers are written, the listener subscribed, and *listener set (the
// caller owns it). Refused: *refusal is the answer to write as any other
// HTTP API answer (400, 401 with WWW-Authenticate, 403, or 421 on an
// HTTP/2 stream), *listener stays null. Returns -1 when the connection
// must be closed at once (the 200 could not be written).
int start_sse(struct lws* wsi, rtpush::TransportPort& port, const std::string& path, SseConnection** listener,
              rtpush::HttpResponse* refusal);

// LWS_CALLBACK_HTTP_WRITEABLE of a listener: writes what is queued; -1 when
// the stream has ended (closing and written, or a socket error).
int sse_writable(SseConnection* listener);

// The connection is gone: the session is closed and the listener freed.
void end_sse(SseConnection* listener);

}  // namespace rtpush_lws
