// The wire-level model shared by every encoding: what a client can ask
// (ClientRequest) and what the server says (ServerFrame). Codecs translate
// between these and bytes; the core never sees an encoding's syntax.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "payload.h"

namespace rtpush {

// Sse: a Server-Sent Events listener (GET sse/<channel>, docs/protocol.md
// "Server-Sent Events"): receive-only, its frames are the JSON frames
// wrapped as events (sse_frame.h). An encoding like the others so that a
// message's SSE bytes are built once and shared like every other frame.
enum class Encoding : std::uint8_t { Json = 0, MsgPack = 1, Protobuf = 2, Sse = 3 };
inline constexpr std::size_t kEncodingCount = 4;

enum class ErrorCode : std::uint8_t {
  InvalidJson,
  UnknownMessageType,
  InvalidChannel,
  InvalidFrame,
  MessageTooLarge,
  Unavailable,
  Forbidden,
  RateLimited,
  LimitExceeded,
  Unauthorized,
  kCount
};
// As docs/protocol.md "Errors" spells them: "INVALID_JSON", "UNKNOWN_MESSAGE_TYPE", ...
const char* error_code_name(ErrorCode code);

enum class RequestType : std::uint8_t { Subscribe, Unsubscribe, Publish, Heartbeat, Auth };
inline constexpr std::size_t kRequestTypeCount = 5;
const char* request_type_name(RequestType type);  // "subscribe", ...
// The request type spelt `name` ("subscribe", ...); false for anything else.
bool parse_request_type(std::string_view name, RequestType* out);

struct ClientRequest {
  RequestType type = RequestType::Heartbeat;
  std::string channel;       // as sent; empty when missing or not a string (core validates)
  bool has_since = false;
  std::string since;         // as sent; the core parses it as a stream id
  bool has_data = false;
  Payload data;              // publish only
  std::string ref;           // JSON text of `ref`; empty when absent
  std::string token;         // auth only: the JWT as sent; empty when missing or not a string
};

struct DecodeResult {
  bool ok = false;
  ClientRequest request;     // when ok
  ErrorCode error = ErrorCode::InvalidJson;  // when !ok
  std::string message;       // human-readable reason when !ok
  std::string ref;           // JSON text of the request's ref, if it could be read
};

// A failed decode, for the codecs.
DecodeResult decode_error(ErrorCode code, std::string message, std::string ref = {});

// The answer to an unknown or missing `type`.
inline constexpr const char* kUnknownTypeMessage = "type must be one of subscribe, unsubscribe, publish, heartbeat, auth";

enum class ServerFrameType : std::uint8_t {
  ConnectionEstablished,  // connection_established
  Subscribed,             // subscribed
  Message,                // message
  Unsubscribed,           // unsubscribed
  Published,              // published
  HeartbeatAck,           // heartbeat_ack
  Error,                  // error
  Authenticated,          // authenticated
};
const char* server_frame_type_name(ServerFrameType type);

// Views only: a ServerFrame lives for the duration of one encode() call.
// Which fields a type carries: docs/protocol.md "Server to client" (frame_fields.h).
struct ServerFrame {
  ServerFrameType type = ServerFrameType::Error;
  std::string_view channel;
  std::string_view id;
  std::string_view connection_id;
  std::string_view node;
  std::string_view ref;        // JSON text; empty = absent
  std::string_view code;       // error_code_name()
  std::string_view message;
  bool has_position = false;   // subscribed: position is ID when set, else null
  std::string_view position;
  std::optional<bool> recovered;  // subscribed, only when `since` was given
  const Payload* data = nullptr;  // message
  double timestamp = 0;
  std::uint32_t heartbeat_interval = 0;
  std::string_view user;             // authenticated: the token's `sub`; message: the publisher's, or empty
  std::string_view reason;           // unsubscribed: "FORBIDDEN" when the server ended it, else empty
  std::optional<double> expires;     // authenticated: the token's `exp`; null when it has none
};

// Channel names: non-empty, at most 200 bytes, valid UTF-8, no NUL,
// whitespace or control characters (ASCII or Unicode).
inline constexpr std::size_t kMaxChannelBytes = 200;
bool valid_channel(std::string_view channel);
// What INVALID_CHANNEL (and HTTP 400) say.
inline constexpr const char* kInvalidChannelMessage =
    "channel must be 1-200 bytes of valid UTF-8 without NUL, whitespace or control characters";

}  // namespace rtpush
