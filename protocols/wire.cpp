#include "wire.h"

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
  }
  return "unknown";
}

bool parse_request_type(std::string_view name, RequestType* out) {
  for (RequestType t : {RequestType::Subscribe, RequestType::Unsubscribe, RequestType::Publish, RequestType::Heartbeat})
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
  }
  return "error";
}

bool valid_channel(std::string_view channel) {
  if (channel.empty() || channel.size() > kMaxChannelBytes) return false;
  for (unsigned char c : channel) {
    // ASCII whitespace and control bytes (C0 and DEL) are never part of a name.
    if (c <= 0x20 || c == 0x7f) return false;
  }
  return true;
}

}  // namespace rtpush
