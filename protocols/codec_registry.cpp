#include "codec.h"
#include "json_codec.h"
#include "msgpack_codec.h"
#include "protobuf_codec.h"
#include "sse_frame.h"

namespace rtpush {

const Codec* codec_for(Encoding encoding) {
  static const JsonCodec json;
  static const MsgPackCodec msgpack;
  static const ProtobufCodec protobuf;
  static const SseCodec sse;
  switch (encoding) {
    case Encoding::Json: return &json;
    case Encoding::MsgPack: return &msgpack;
    case Encoding::Protobuf: return &protobuf;
    case Encoding::Sse: return &sse;
  }
  return nullptr;
}

}  // namespace rtpush
