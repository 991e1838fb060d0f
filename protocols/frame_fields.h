// Which fields each server frame type carries, and in what order: the table
// of docs/protocol.md ("Server to client").
// The three encoders follow it (JSON keys, MessagePack map keys and the map's
// size, Protocol Buffers fields), so a field is added to a frame type here
// and nowhere else.
#pragma once
#include <cstddef>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string_view>

#include "wire.h"

namespace rtpush {

// Every field a server frame may carry besides `type` (which all carry,
// first). The JSON and MessagePack key is frame_field_name().
enum class FrameField : std::uint8_t {
  ConnectionId,       // string
  Node,               // string
  HeartbeatInterval,  // unsigned integer
  Timestamp,          // seconds, with a fraction
  Channel,            // string
  Id,                 // string
  Position,           // string, or null when the channel has no message
  Recovered,          // boolean; only when the subscribe gave `since`
  Data,               // the payload
  Code,               // string: error_code_name()
  Message,            // string
  Ref,                // the request's ref (JSON text); only when it had one
  User,               // string: the token's `sub` (authenticated), the publisher's (message)
  Expires,            // seconds, with a fraction, or null: frame_expires()
  // string: why the server ended a subscription ("FORBIDDEN"). Protocol
  // Buffers has no `reason` field: it goes in `code` (docs/protocol.md).
  Reason,
};

// The fields of one frame type, in the order they are written.
struct FrameFieldList {
  const FrameField* first;
  std::uint8_t count;
  const FrameField* begin() const { return first; }
  const FrameField* end() const { return first + count; }
};

namespace frame_fields_detail {
using F = FrameField;
inline constexpr F kConnectionEstablished[] = {F::ConnectionId, F::Node, F::HeartbeatInterval, F::Timestamp};
inline constexpr F kSubscribed[] = {F::Channel, F::Position, F::Recovered};
inline constexpr F kMessage[] = {F::Channel, F::Id, F::Data, F::Timestamp, F::User};
inline constexpr F kUnsubscribed[] = {F::Channel, F::Reason};
inline constexpr F kPublished[] = {F::Channel, F::Id, F::Ref};
inline constexpr F kHeartbeatAck[] = {F::Timestamp};
inline constexpr F kError[] = {F::Code, F::Message, F::Ref};
inline constexpr F kAuthenticated[] = {F::User, F::Expires};

template <std::size_t N>
constexpr FrameFieldList list(const F (&fields)[N]) { return {fields, static_cast<std::uint8_t>(N)}; }
}  // namespace frame_fields_detail

// The table: what a frame of `type` carries after `type`.
constexpr FrameFieldList frame_fields(ServerFrameType type) {
  using namespace frame_fields_detail;
  switch (type) {
    case ServerFrameType::ConnectionEstablished: return list(kConnectionEstablished);
    case ServerFrameType::Subscribed: return list(kSubscribed);
    case ServerFrameType::Message: return list(kMessage);
    case ServerFrameType::Unsubscribed: return list(kUnsubscribed);
    case ServerFrameType::Published: return list(kPublished);
    case ServerFrameType::HeartbeatAck: return list(kHeartbeatAck);
    case ServerFrameType::Error: return list(kError);
    case ServerFrameType::Authenticated: return list(kAuthenticated);
  }
  return {nullptr, 0};
}

// The field's key in JSON and MessagePack frames: "connection_id", ...
std::string_view frame_field_name(FrameField field);

// Whether `frame` carries `field` at all: `recovered` only when set, `ref`
// only when the request had one, a message's `user` only when an
// authenticated connection published it, `reason` only when the server
// ended the subscription; every other field of the type always (a null
// position or expires is written as null).
inline bool frame_field_present(const ServerFrame& frame, FrameField field) {
  switch (field) {
    case FrameField::Recovered: return frame.recovered.has_value();
    case FrameField::Ref: return !frame.ref.empty();
    case FrameField::User: return frame.type == ServerFrameType::Authenticated || !frame.user.empty();
    case FrameField::Reason: return !frame.reason.empty();
    default: return true;
  }
}

// The time `expires` says, or nullopt for null: a token without `exp`, or
// one whose `exp` is no finite number (1E400 reads as infinity, which JSON
// cannot write and which is no time anyway). One rule for every encoding.
inline std::optional<double> frame_expires(const ServerFrame& frame) {
  if (frame.expires && std::isfinite(*frame.expires)) return frame.expires;
  return std::nullopt;
}

// How many keys the frame's JSON object or MessagePack map has, `type`
// included (a binary payload's JSON "encoding" key aside).
inline std::uint32_t frame_key_count(const ServerFrame& frame) {
  std::uint32_t n = 1;
  for (FrameField field : frame_fields(frame.type)) n += frame_field_present(frame, field) ? 1 : 0;
  return n;
}

}  // namespace rtpush
