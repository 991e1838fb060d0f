#include "wire.h"

#include "utf8.h"

namespace rtpush {

const char* error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::InvalidJson: return "INVALID_JSON";
    case ErrorCode::UnknownMessageType: return "UNKNOWN_MESSAGE_TYPE";
    case ErrorCode::InvalidChannel: return "INVALID_CHANNEL";
    case ErrorCode::InvalidFrame: return "INVALID_FRAME";
    case ErrorCode::MessageTooLarge: return "MESSAGE_TOO_LARGE";
    case ErrorCode::Unavailable: return "UNAVAILABLE";
    case ErrorCode::Forbidden: return "FORBIDDEN";
    case ErrorCode::RateLimited: return "RATE_LIMITED";
    case ErrorCode::LimitExceeded: return "LIMIT_EXCEEDED";
    case ErrorCode::Unauthorized: return "UNAUTHORIZED";
    case ErrorCode::kCount: break;
  }
  return "INTERNAL";
}

const char* request_type_name(RequestType type) {
  switch (type) {
    case RequestType::Subscribe: return "subscribe";
    case RequestType::Unsubscribe: return "unsubscribe";
    case RequestType::Publish: return "publish";
    case RequestType::Heartbeat: return "heartbeat";
    case RequestType::Auth: return "auth";
  }
  return "unknown";
}

bool parse_request_type(std::string_view name, RequestType* out) {
  for (RequestType t : {RequestType::Subscribe, RequestType::Unsubscribe, RequestType::Publish, RequestType::Heartbeat,
                        RequestType::Auth})
    if (name == request_type_name(t)) {
      *out = t;
      return true;
    }
  return false;
}

DecodeResult decode_error(ErrorCode code, std::string message, std::string ref) {
  DecodeResult r;
  r.error = code;
  r.message = std::move(message);
  r.ref = std::move(ref);
  return r;
}

const char* server_frame_type_name(ServerFrameType type) {
  switch (type) {
    case ServerFrameType::ConnectionEstablished: return "connection_established";
    case ServerFrameType::Subscribed: return "subscribed";
    case ServerFrameType::Message: return "message";
    case ServerFrameType::Unsubscribed: return "unsubscribed";
    case ServerFrameType::Published: return "published";
    case ServerFrameType::HeartbeatAck: return "heartbeat_ack";
    case ServerFrameType::Error: return "error";
    case ServerFrameType::Authenticated: return "authenticated";
  }
  return "error";
}

namespace {

// Unicode whitespace and C1 controls past ASCII (U+0080-U+00A0, U+1680,
// U+2000-U+200A, U+2028, U+2029, U+202F, U+205F, U+3000), given the
// well-formed sequence at p of `len` bytes.
bool non_ascii_space_or_control(const unsigned char* p, std::size_t len) {
  if (len == 2) return p[0] == 0xC2 && p[1] <= 0xA0;
  if (len != 3) return false;
  const unsigned cp = ((p[0] & 0x0Fu) << 12) | ((p[1] & 0x3Fu) << 6) | (p[2] & 0x3Fu);
  return cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
         cp == 0x205F || cp == 0x3000;
}

}  // namespace

bool valid_channel(std::string_view channel) {
  if (channel.empty() || channel.size() > kMaxChannelBytes) return false;
  const auto* p = reinterpret_cast<const unsigned char*>(channel.data());
  for (std::size_t i = 0; i < channel.size();) {
    // ASCII whitespace and control bytes (NUL, C0 and DEL) are never part of
    // a name; the rest must be well-formed UTF-8 (a name is text every
    // encoding can carry) without Unicode whitespace or C1 controls.
    if (p[i] < 0x80) {
      if (p[i] <= 0x20 || p[i] == 0x7f) return false;
      ++i;
      continue;
    }
    const std::size_t len = utf8_sequence(p + i, channel.size() - i);
    if (len == 0 || non_ascii_space_or_control(p + i, len)) return false;
    i += len;
  }
  return true;
}

}  // namespace rtpush
