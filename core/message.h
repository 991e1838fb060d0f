// Message: one published message as the core holds it, shared (read-only)
// between history, the hub and every send queue it reaches.
#pragma once
#include <array>
#include <memory>
#include <string>

#include "frame.h"
#include "payload.h"
#include "stream_id.h"
#include "wire.h"

namespace rtpush {

struct Message {
  std::string channel;
  StreamId id;
  std::string id_text;  // id.str(), kept so encoders never format it again
  Payload payload;
  double timestamp = 0;  // Unix seconds, when the broker accepted it
  // The `sub` of the authenticated WebSocket connection that published it;
  // empty for anonymous, HTTP API and CLI publishes (the frame then has no
  // `user`). Set by the server, never read from the client's frame.
  std::string user;

  // The `message` frame in each encoding, built on first use and then shared
  // by every subscriber (and every replay) of that encoding.
  mutable std::array<FrameRef, kEncodingCount> frames;
  // What goes to a connection that negotiated permessage-deflate, made on
  // first use: the compressed twin of frames[e] (frame_deflate.h), or
  // frames[e] itself when compressing does not pay. Shared the same way.
  mutable std::array<FrameRef, kEncodingCount> deflated;
};

using MessagePtr = std::shared_ptr<const Message>;

// What a message read from a backend weighs in memory (before any frame is
// encoded): what replay-memory-bytes counts.
inline std::size_t message_bytes(const Message& m) {
  return sizeof(Message) + m.channel.size() + m.id_text.size() + m.payload.bytes.size() + m.user.size();
}

}  // namespace rtpush
