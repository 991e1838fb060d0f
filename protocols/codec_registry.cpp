#include "codec.h"
#include "json_codec.h"

namespace rtpush {

const Codec* codec_for(Encoding encoding) {
  static const JsonCodec json;
  switch (encoding) {
    case Encoding::Json: return &json;
    case Encoding::MsgPack: return nullptr;   // issue: MessagePack
    case Encoding::Protobuf: return nullptr;  // issue: Protocol Buffers
  }
  return nullptr;
}

}  // namespace rtpush
