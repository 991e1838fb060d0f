// The MessagePack encoding (rtpush-msgpack), with msgpack-c: one binary
// frame carries one map with the keys and meanings of the JSON frame.
#pragma once
#include "codec.h"

namespace rtpush {

class MsgPackCodec final : public Codec {
 public:
  Encoding encoding() const override { return Encoding::MsgPack; }
  const char* protocol_name() const override { return "rtpush-msgpack"; }
  using Codec::decode;
  DecodeResult decode(std::string_view bytes, bool is_binary, std::size_t max_payload_bytes) const override;
  FrameRef encode(const ServerFrame& frame) const override;
};

}  // namespace rtpush
