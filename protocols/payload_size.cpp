#include "payload_size.h"

#include "json_msgpack.h"

namespace rtpush {

namespace {

std::size_t bin_header(std::size_t n) { return n < 256 ? 2 : n < 65536 ? 3 : 5; }

}  // namespace

const char* payload_oversize(const Payload& p, std::size_t limit) {
  const std::size_t n = p.bytes.size();
  if (p.kind == PayloadKind::Binary) {
    // JSON: base64 (4 per 3 bytes); MessagePack: bin; Protocol Buffers: as is.
    if (4 * ((n + 2) / 3) > limit) return "JSON";
    if (n + bin_header(n) > limit) return "MessagePack";
    return nullptr;
  }
  // JSON text: JSON and Protocol Buffers carry it as it is.
  if (n > limit) return "JSON";
  // MessagePack is at most three times the JSON text: the worst is a
  // three-character float ("1.5", "1e9") that becomes a 9-byte float64;
  // strings, integers, literals and container headers never grow more.
  // Only past that bound is the exact size counted.
  if (n <= limit / 3) return nullptr;
  if (msgpack_size_of_json(p.bytes) > limit) return "MessagePack";
  return nullptr;
}

std::string oversize_reason(const char* encoding, std::size_t limit) {
  return std::string("data would be larger than max-message-bytes (") + std::to_string(limit) + ") as " + encoding;
}

}  // namespace rtpush
