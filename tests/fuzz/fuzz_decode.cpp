// libFuzzer target: one client frame through a decoder (FUZZ_ENCODING picks
// which), and, when it is a publish, its payload out through every encoder
// (the transcoding a channel shared by three encodings does).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "codec.h"

using namespace rtpush;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const DecodeResult d = codec_for(FUZZ_ENCODING)->decode(bytes, true);
  if (!d.ok || d.request.type != RequestType::Publish) return 0;
  ServerFrame f;
  f.type = ServerFrameType::Message;
  f.channel = d.request.channel;
  f.id = "1-0";
  f.data = &d.request.data;
  f.timestamp = 1.5;
  for (Encoding e : {Encoding::Json, Encoding::MsgPack, Encoding::Protobuf}) {
    FrameRef out = codec_for(e)->encode(f);
    if (!out) __builtin_trap();
  }
  ServerFrame ack;  // the ref, echoed in every encoding
  ack.type = ServerFrameType::Published;
  ack.channel = d.request.channel;
  ack.id = "1-0";
  ack.ref = d.request.ref;
  for (Encoding e : {Encoding::Json, Encoding::MsgPack, Encoding::Protobuf}) codec_for(e)->encode(ack);
  return 0;
}
