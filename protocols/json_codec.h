// The JSON encoding (rtpush-json).
#pragma once
#include <string>
#include <string_view>

#include "codec.h"
#include "json_text.h"  // json_append_string, json_compact: for those that used them from here

namespace rtpush {

class JsonCodec final : public Codec {
 public:
  Encoding encoding() const override { return Encoding::Json; }
  const char* protocol_name() const override { return "rtpush-json"; }
  using Codec::decode;
  DecodeResult decode(std::string_view bytes, bool is_binary, std::size_t max_payload_bytes) const override;
  FrameRef encode(const ServerFrame& frame) const override;
};

}  // namespace rtpush
