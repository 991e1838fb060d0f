#include "request_builder.h"

#include <utility>

namespace rtpush {

namespace {
constexpr const char* kBadSince = "since must be a message id string \"<ms>-<seq>\"";
}  // namespace

DecodeResult build_request(RawRequest& raw) {
  DecodeResult d;
  ClientRequest& req = d.request;
  if (!raw.type_is_string || !parse_request_type(raw.type, &req.type))
    return decode_error(ErrorCode::UnknownMessageType, kUnknownTypeMessage, std::move(raw.ref));
  req.channel = std::move(raw.channel);  // the core validates it
  switch (raw.since_state) {
    case RawRequest::Since::Absent: break;
    case RawRequest::Since::Bad: return decode_error(raw.bad_member, kBadSince, std::move(raw.ref));
    case RawRequest::Since::Given:
      req.since = std::move(raw.since);
      req.has_since = true;
      break;
  }
  // Only an auth request carries a token: one on another request is an
  // unknown member like any other, ignored.
  if (req.type == RequestType::Auth) req.token = std::move(raw.token);
  if (req.type == RequestType::Publish) {
    if (!raw.has_data) return decode_error(raw.bad_member, raw.missing_data, std::move(raw.ref));
    req.has_data = true;
    if (std::optional<MemberFailure> failed = raw.read_data(&req.data))
      return decode_error(failed->code, std::move(failed->message), std::move(raw.ref));
  }
  req.ref = raw.ref;
  d.ref = std::move(raw.ref);
  d.ok = true;
  return d;
}

}  // namespace rtpush
