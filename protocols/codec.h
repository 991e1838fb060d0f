// Codec: one encoding of the wire protocol (JSON, MessagePack, Protocol
// Buffers). Pure functions of their input; no I/O, no lws.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "frame.h"
#include "wire.h"

namespace rtpush {

class Codec {
 public:
  virtual ~Codec() = default;
  virtual Encoding encoding() const = 0;
  // The subprotocol name: "rtpush-json", ...
  virtual const char* protocol_name() const = 0;
  // Decodes one complete client message (already reassembled from fragments).
  // A payload whose JSON text would pass `max_payload_bytes` (MessagePack
  // strings of control bytes grow six times as \u00XX) is refused with
  // MESSAGE_TOO_LARGE as soon as the conversion passes it, not built whole.
  virtual DecodeResult decode(std::string_view bytes, bool is_binary, std::size_t max_payload_bytes) const = 0;
  DecodeResult decode(std::string_view bytes, bool is_binary) const { return decode(bytes, is_binary, SIZE_MAX); }
  // Encodes one server frame into a shareable Frame. Never fails for frames
  // built by the core.
  virtual FrameRef encode(const ServerFrame& frame) const = 0;
};

// The codec of an encoding, or nullptr when this build has none for it.
const Codec* codec_for(Encoding encoding);

}  // namespace rtpush
