// A GET sse/<channel> request as the core judges it (SPEC section 9,
// docs/protocol.md "Server-Sent Events"), before any byte of the answer:
// what it asks for (channel, resume point) and whether it may have it
// (Access::admit_sse: origin, token, namespace rules). Pure parsing here; no
// lws types, so it is unit-tested and fuzzed without a server.
#pragma once
#include <optional>
#include <string>
#include <string_view>

#include "stream_id.h"

namespace rtpush {

// What the transport read from the request. Absent headers and query
// parameters are nothing (lws cannot tell an empty header from none).
struct SseRequest {
  std::string path;                          // relative to the mount: "sse/<channel>"
  std::optional<std::string> origin;         // Origin header
  std::optional<std::string> token;          // `token` query parameter
  std::optional<std::string> since;          // `since` query parameter
  std::optional<std::string> last_event_id;  // Last-Event-ID header
};

inline constexpr std::string_view kSsePrefix = "sse/";

// True when `path` (leading slashes allowed) names the SSE endpoint.
bool is_sse_path(std::string_view path);

// The channel and resume point of a request, or a 400 and why.
struct SseTarget {
  int http_status = 0;  // 0: fine; 400: `reason` says what is wrong
  std::string reason;
  std::string channel;
  std::optional<StreamId> since;  // nothing: live only
};
// The resume point is the Last-Event-ID header when one came (EventSource
// sends it on reconnect, with the URL's own `since` still there: the header
// is newer), else the `since` parameter. Either must be a message id
// "<ms>-<seq>"; the channel must be valid (wire.h valid_channel).
SseTarget parse_sse_target(const SseRequest& request);

}  // namespace rtpush
