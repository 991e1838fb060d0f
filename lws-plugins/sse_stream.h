// GET sse/<channel> (SPEC section 9; docs/protocol.md "Server-Sent Events"):
// an HTTP request of the `rtpush` protocol that becomes a stream. Judged by
// the core (TransportPort::admit_sse) before any byte of the answer; once admitted
// it is a 200 `text/event-stream` with a close-delimited body (HTTP/1.1
// `Connection: close`, no chunking: the bytes of an event are the same for
// every listener) written by its FlushedConnection (sse_connection.h) from
// the shared frames of Encoding::Sse; LWS_CALLBACK_HTTP_WRITEABLE of a
// listener is its writable(). Service thread only.
#pragma once
#include <libwebsockets.h>

#include "http_api.h"
#include "transport_port.h"
#include "sse_connection.h"

namespace rtpush_lws {

// A GET for sse/<channel> at LWS_CALLBACK_HTTP. Admitted: the 200 and its
// headers are written, the listener subscribed, and *listener set (the
// caller owns it). Refused: *refusal is the answer to write as any other
// HTTP API answer (400, 401 with WWW-Authenticate, 403, or 421 on an
// HTTP/2 stream), *listener stays null. Returns -1 when the connection
// must be closed at once (the 200 could not be written).
int start_sse(struct lws* wsi, rtpush::TransportPort& port, const std::string& path, SseConnection** listener,
              rtpush::HttpResponse* refusal);

// The connection is gone: the session is closed and the listener freed.
void end_sse(SseConnection* listener);

}  // namespace rtpush_lws
