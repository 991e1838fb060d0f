// The JSON encoding (rtpush-json).
#pragma once
#include <string>
#include <string_view>

#include "codec.h"

namespace rtpush {

class JsonCodec final : public Codec {
 public:
  Encoding encoding() const override { return Encoding::Json; }
  const char* protocol_name() const override { return "rtpush-json"; }
  using Codec::decode;
  DecodeResult decode(std::string_view bytes, bool is_binary, std::size_t max_payload_bytes) const override;
  FrameRef encode(const ServerFrame& frame) const override;
};

// True when `text` is strict JSON (json_text.h: exactly one value, UTF-8, no
// raw controls); `compact` gets it minified, the sender's own text.
bool json_compact(std::string_view text, std::string* compact);

// Appends `s` as a JSON string literal (quoted, escaped) to `out`.
void json_append_string(std::string* out, std::string_view s);

}  // namespace rtpush
