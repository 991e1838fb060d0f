#include "sse_request.h"

#include "wire.h"

namespace rtpush {

namespace {

std::string_view strip_slashes(std::string_view path) {
  while (!path.empty() && path.front() == '/') path.remove_prefix(1);
  return path;
}

}  // namespace

bool is_sse_path(std::string_view path) {
  path = strip_slashes(path);
  return path.substr(0, kSsePrefix.size()) == kSsePrefix;
}

SseTarget parse_sse_target(const SseRequest& request) {
  SseTarget t;
  const std::string_view path = strip_slashes(request.path);
  const std::string_view channel = path.substr(std::min(path.size(), kSsePrefix.size()));
  if (!is_sse_path(path) || !valid_channel(channel)) {
    t.http_status = 400;
    t.reason = kInvalidChannelMessage;
    return t;
  }
  t.channel.assign(channel);
  const std::optional<std::string>& resume = request.last_event_id ? request.last_event_id : request.since;
  if (resume) {
    t.since = StreamId::parse(*resume);
    if (!t.since) {
      t.http_status = 400;
      t.reason = request.last_event_id ? "Last-Event-ID must be a message id \"<ms>-<seq>\""
                                       : "since must be a message id \"<ms>-<seq>\"";
      t.channel.clear();
    }
  }
  return t;
}

}  // namespace rtpush
