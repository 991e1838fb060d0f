// The JSON encoding (rtpush-json), with cJSON.
#pragma once
#include <string>
#include <string_view>

#include "codec.h"

namespace rtpush {

class JsonCodec final : public Codec {
 public:
  Encoding encoding() const override { return Encoding::Json; }
  const char* protocol_name() const override { return "rtpush-json"; }
  DecodeResult decode(std::string_view bytes, bool is_binary) const override;
  FrameRef encode(const ServerFrame& frame) const override;
};

// Parses `text` as one JSON value and returns it re-printed compactly in
// `compact`; false when it is not valid JSON. Used for HTTP publish bodies.
bool json_compact(std::string_view text, std::string* compact);

// Appends `s` as a JSON string literal (quoted, escaped) to `out`.
void json_append_string(std::string* out, std::string_view s);

}  // namespace rtpush
