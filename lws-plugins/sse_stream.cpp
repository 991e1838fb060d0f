#include "sse_stream.h"

#include <cstring>
#include <string>

#include "lws_headers.h"
#include "lws_logger.h"
#include "sse_frame.h"

namespace rtpush_lws {

namespace {

// A heartbeat due goes into the queue as the shared `: ping` event, behind
// what is already queued (a listener cannot answer it: it only keeps
// proxies and EventSource from calling the stream idle).
void queue_ping(rtpush::Session* s) {
  if (!s->ping_due() || s->closing()) return;
  s->queue().push(rtpush::sse_ping_frame());  // Dropped only past the bound: the next frame closes it
  s->ping_sent();
}

bool add_header(struct lws* wsi, const char* name, const char* value, unsigned char** p, unsigned char* end) {
  return lws_add_http_header_by_name(wsi, reinterpret_cast<const unsigned char*>(name),
                                     reinterpret_cast<const unsigned char*>(value),
                                     static_cast<int>(std::strlen(value)), p, end) == 0;
}

// The 200 of a stream: `Connection: close` (lws adds it for a response of
// no length on HTTP/1.1), so the body is close-delimited and every event's
// bytes are the shared frame's bytes, unframed.
bool write_stream_headers(struct lws* wsi) {
  unsigned char buf[LWS_PRE + 512];
  unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + sizeof buf;
  return lws_add_http_common_headers(wsi, HTTP_STATUS_OK, "text/event-stream", LWS_ILLEGAL_HTTP_CONTENT_LEN, &p,
                                     end) == 0 &&
         add_header(wsi, "cache-control:", "no-cache", &p, end) &&
         // nginx would otherwise buffer the stream (docs/protocol.md "Server-Sent Events").
         add_header(wsi, "x-accel-buffering:", "no", &p, end) &&
         lws_finalize_write_http_header(wsi, start, &p, end) == 0;
}

}  // namespace

void SseConnection::flush() {
  rtpush::Session* s = session;
  if (!s) return;
  bool full = lws_partial_buffered(wsi_);  // lws still holds bytes: they go first
  if (!full && !s->closing()) {
    queue_ping(s);
    if (!write_frames(wsi_, s->queue(), Framing::Raw, &full)) {
      lws_set_timeout(wsi_, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);  // socket error: a dead peer
      return;
    }
  }
  port->written(s);  // a replay waiting for room may go on
  if (!s->queue().empty() || s->ping_due() || s->closing()) lws_callback_on_writable(wsi_);
}

void SseConnection::request_close() {
  if (session && session->queue().empty() && !lws_partial_buffered(wsi_)) {
    lws_set_timeout(wsi_, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    return;
  }
  FlushedConnection::request_close();
}

bool SseConnection::output_taken() { return progress.taken(lws_get_socket_fd(wsi_)); }

int start_sse(struct lws* wsi, rtpush::TransportPort& port, const std::string& path, SseConnection** listener,
              rtpush::HttpResponse* refusal) {
  *listener = nullptr;
  port.count_http_request();
  if (lws_get_network_wsi(wsi) != wsi) {
    // An HTTP/2 stream: its body would have to go in h2 DATA frames under
    // h2 flow control, and the write path writes whole frames to the
    // socket (docs/transport.md). Refused as a WebSocket over h2 is: 421
    // lets a client retry on a connection of its own.
    rtpush_lws::log_event(rtpush::LogLevel::Warn, "http2_refused",
                          {{"what", "sse"},
                           {"cause", "refusing Server-Sent Events over HTTP/2; set the vhost's alpn to http/1.1"}});
    *refusal = rtpush::http_error(421, "Server-Sent Events are served over HTTP/1.1 only (the vhost's alpn)");
    return 0;
  }
  rtpush::SseRequest req;
  req.path = path;
  req.origin = header_of(wsi, WSI_TOKEN_ORIGIN);
  req.token = query_arg(wsi, "token=");
  req.since = query_arg(wsi, "since=");
  req.last_event_id = custom_header_of(wsi, "last-event-id:");
  rtpush::SseAdmission admitted = port.admit_sse(req);
  if (admitted.http_status) {
    *refusal = rtpush::http_error(admitted.http_status, admitted.reason);
    return 0;
  }
  if (!write_stream_headers(wsi)) return -1;
  // Frees the request's header table (the pool is small; a stream holds its
  // connection for hours) and lifts lws's timeouts from the stream. (Not
  // lws_http_mark_sse(): on HTTP/1.1 it does the same and logs an error.)
  lws_http_headers_detach(wsi);
  lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
  auto* c = new SseConnection(wsi, &port);
  *listener = c;
  c->session = port.open_sse(c, std::move(admitted));
  return 0;
}

int sse_writable(SseConnection* c) {
  rtpush::Session* s = c->session;
  if (!s) return -1;
  queue_ping(s);
  rtpush::SendQueue& q = s->queue();
  bool full = false;
  if (!write_frames(c->wsi(), q, Framing::Raw, &full)) return -1;
  c->port->written(s);
  if (s->closing() && q.empty()) return -1;  // the stream ends: close-delimited
  if (!q.empty() || s->ping_due()) lws_callback_on_writable(c->wsi());
  return 0;
}

void end_sse(SseConnection* c) {
  if (!c) return;
  if (c->session) c->port->close(c->session);
  delete c;
}

}  // namespace rtpush_lws
