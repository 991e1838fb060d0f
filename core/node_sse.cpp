// Node: Server-Sent Events listeners (SPEC section 9, docs/protocol.md
// "Server-Sent Events"). A listener is a Session of Encoding::Sse: the hub,
// the replayer, the send-queue bound and the metrics treat it as any other
// subscriber; only its admission (an HTTP answer instead of error frames)
// and its opening (no connection_established) are its own.
#include "node.h"

namespace rtpush {

Node::SseAdmission Node::admit_sse(const SseRequest& request) {
  SseAdmission a;
  a.who = admit(request.origin ? &*request.origin : nullptr, request.token ? &*request.token : nullptr,
                "a Server-Sent Events request");
  if (a.who.http_status) {
    a.http_status = a.who.http_status;
    a.reason = a.who.reason;
    return a;
  }
  a.target = parse_sse_target(request);
  if (a.target.http_status) {
    a.http_status = a.target.http_status;
    a.reason = a.target.reason;
    return a;
  }
  // auth required: a WebSocket has 10 s to send an auth frame; a listener
  // can send nothing, so its token must come with the request.
  if (auth_.required && !a.who.authenticated) {
    metrics_.count_auth_failure(AuthFailure::Unauthenticated);
    a.http_status = 401;
    a.reason = "a token is required (query parameter token)";
    return a;
  }
  const auth::Identity who = a.who.authenticated ? identity_of(a.who.claims) : auth::Identity::anonymous();
  // The same check as a WebSocket subscribe (Node::permitted), answered
  // with 403 instead of error FORBIDDEN, counted the same way.
  // An anonymous request the rules would let a token through is told so
  // (401: a token is missing where needed), anything else refused is 403.
  const auth::Decision d = auth::check(auth_.rules, who, a.target.channel, auth::Action::subscribe);
  if (!auth::allowed(d)) {
    metrics_.count_refused(ErrorCode::Forbidden);
    a.http_status = d == auth::Decision::forbidden_anonymous ? 401 : 403;
    a.reason = "not allowed to subscribe to " + a.target.channel + ": " + auth::reason(d);
  }
  return a;
}

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
