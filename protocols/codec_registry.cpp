#include "codec.h"
#include "json_codec.h"
#include "msgpack_codec.h"

namespace rtpush {

const Codec* codec_for(Encoding encoding) {
  static const JsonCodec json;
  static const MsgPackCodec msgpack;
  switch (encoding) {
    case Encoding::Json: return &json;
    case Encoding::MsgPack: return &msgpack;
    case Encoding::Protobuf: return nullptr;  // issue: Protocol Buffers
  }
  return nullptr;
}

}  // namespace rtpush
