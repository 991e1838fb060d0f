// Node: Server-Sent Events listeners (SPEC section 9, docs/protocol.md
// "Server-Sent Events"). A listener is a Session of Encoding::Sse: the hub,
// the replayer, the send-queue bound and the metrics treat it as any other
// subscriber; only its admission (Access::admit_sse: an HTTP answer instead
// of error frames) and its opening (no connection_established) are its own.
#include "node.h"

namespace rtpush {

Session* Node::open_sse(Connection* connection, SseAdmission admitted) {
  Session* s = add_session(connection, Encoding::Sse, &admitted.who);
  // The one subscribe path: replay (Redis Streams, then PostgreSQL), the
  // seam to live, `recovered` in the subscribed event.
  ClientRequest req;
  req.type = RequestType::Subscribe;
  req.channel = std::move(admitted.target.channel);
  if (admitted.target.since) {
    req.has_since = true;
    req.since = admitted.target.since->str();
  }
  metrics_.count_received(req.type);
  subscribe(s, req);
  if (stopping_) s->close(kCloseServiceRestart, "service restart", false);  // as open() does
  return s;
}

}  // namespace rtpush
