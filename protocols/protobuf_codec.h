// The Protocol Buffers encoding (rtpush-protobuf), with protobuf-c: one
// binary frame carries one rtpush.v1.Frame (proto/rtpush.proto).
#pragma once
#include "codec.h"

namespace rtpush {

class ProtobufCodec final : public Codec {
 public:
  Encoding encoding() const override { return Encoding::Protobuf; }
  const char* protocol_name() const override { return "rtpush-protobuf"; }
  using Codec::decode;
  DecodeResult decode(std::string_view bytes, bool is_binary, std::size_t max_payload_bytes) const override;
  FrameRef encode(const ServerFrame& frame) const override;
};

}  // namespace rtpush
