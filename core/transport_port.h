// TransportPort: all the transport (the lws plugins) asks of the core for a
// connection, and nothing more: admit a handshake, open, receive, pong,
// written, close; admit and open an SSE listener. The plugins include this
// header, never node.h; the Node implements it.
//
// One virtual call per event (a handshake, a frame, a write), never per
// subscriber: the fan-out path (Hub::fan_out, hub.h) writes to the
// sessions' queues directly and the transport is only told a queue has
// something (Connection::request_write).
//
// Called on the lws service thread only.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

#include "access.h"
#include "connection.h"
#include "options.h"
#include "session.h"
#include "sse_request.h"
#include "wire.h"

namespace rtpush {

class TransportPort {
 public:
  // The WebSocket handshake, before open() (SPEC section 8): the request's
  // Origin header (`origin` null when it carries none: not a browser)
  // against allowed-origins, then the URL's `token` query parameter (null
  // when absent) against the vhost's keys. Refused: 403 (origin) or 401
  // (token), counted and logged (never the token's text).
  virtual Admission admit(const std::string* origin, const std::string* token) = 0;
  // A WebSocket connection was established; sends connection_established.
  // `admitted`: what admit() said of its handshake (null: anonymous).
  virtual Session* open(Connection* connection, Encoding encoding, const Admission* admitted) = 0;
  // One fragment of a client message, in order. A message is handled when
  // its final fragment arrives; past max-message-bytes it is refused with
  // MESSAGE_TOO_LARGE, and closed with 1009 once that message has ended.
  // Every byte (pongs too) counts against receive-bytes-per-sec as it
  // arrives, however the message is fragmented or compressed: false once
  // the session is over it (closing, 1008), and the transport must then
  // stop reading from it at once.
  virtual bool receive(Session* session, std::string_view fragment, bool first, bool final, bool binary) = 0;
  virtual bool pong(Session* session, std::size_t bytes) = 0;
  // The transport wrote some of the session's queue: a replay waiting for
  // room (Session::awaiting_drain()) resumes once it is down to a quarter.
  virtual void written(Session* session) = 0;
  // The connection is gone (whoever closed it). Frees the session.
  virtual void close(Session* session) = 0;

  // An HTTP request reached the core's mount (rtpush_http_requests_total);
  // the HTTP API counts its own, the SSE endpoint calls this.
  virtual void count_http_request() = 0;
  // Server-Sent Events (SPEC section 9): a GET sse/<channel> judged before
  // any byte of the answer (access.h SseAdmission).
  virtual SseAdmission admit_sse(const SseRequest& request) = 0;
  // An admitted listener whose 200 has gone out: a receive-only session
  // (Encoding::Sse, no connection_established, no heartbeat timeout)
  // subscribed exactly as a WebSocket subscribe with `since` would be.
  virtual Session* open_sse(Connection* connection, SseAdmission admitted) = 0;

  // The vhost's options (compression, max-message-bytes, timeouts).
  virtual const Options& options() const = 0;

 protected:
  ~TransportPort() = default;
};

}  // namespace rtpush
