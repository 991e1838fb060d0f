// A message payload as it travels through the core: JSON text or raw bytes.
#pragma once
#include <cstdint>
#include <string>

namespace rtpush {

enum class PayloadKind : std::uint8_t {
  Json,    // bytes hold compact JSON text (already validated)
  Binary,  // bytes are opaque (MessagePack bin, non-JSON protobuf data)
};

struct Payload {
  PayloadKind kind = PayloadKind::Json;
  std::string bytes;
};

}  // namespace rtpush
