// How large a payload is in each form it is delivered in (docs/protocol.md "Size in every encoding"):
// JSON text (or base64 for bytes), MessagePack, Protocol Buffers. The
// max-message-bytes bound applies to every one of them, so a payload that
// would grow past it when converted is refused before it is published.
#pragma once
#include <cstddef>
#include <string>

#include "payload.h"

namespace rtpush {

// nullptr when the payload fits `limit` bytes in every encoding, else the
// name of an encoding it would not fit in ("JSON", "MessagePack", "Protocol
// Buffers"). Linear in the payload, builds no frame; for small payloads
// (a third of the limit or less) it reads nothing.
const char* payload_oversize(const Payload& payload, std::size_t limit);

// The reason told to the publisher: "data would be larger than
// max-message-bytes (N) as MessagePack".
std::string oversize_reason(const char* encoding, std::size_t limit);

}  // namespace rtpush
