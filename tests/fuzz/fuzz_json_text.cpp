// libFuzzer target: the strict JSON reader (json_text.h) on any bytes.
// Whatever it accepts: its minified text is accepted again and unchanged, it
// is valid UTF-8, it packs as MessagePack of exactly the counted size, and
// that MessagePack value converts back to strict JSON.
#include <msgpack.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "json_msgpack.h"
#include "json_text.h"

using namespace rtpush;

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

int append(void* out, const char* b, size_t n) {
  static_cast<std::string*>(out)->append(b, n);
  return 0;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::string min;
  std::vector<JsonMember> members;
  const char* why = json_strict(text, &min, kMaxJsonDepth, &members);
  check((why == nullptr) == json_valid(text));
  if (why) return 0;
  check(valid_utf8(min));
  std::string again;
  check(json_strict(min, &again) == nullptr && again == min);
  for (const JsonMember& m : members) {  // every member's value is a value
    check(m.key + m.key_len < min.size() && m.value + m.value_len <= min.size());
    check(json_valid(std::string_view(min).substr(m.value, m.value_len)));
  }

  std::string packed;
  msgpack_packer pk;
  msgpack_packer_init(&pk, &packed, append);
  check(pack_json(min, &pk));
  check(msgpack_size_of_json(min) == packed.size());

  msgpack_unpacked u;
  msgpack_unpacked_init(&u);
  std::size_t off = 0;
  const msgpack_unpack_return rc = msgpack_unpack_next(&u, packed.data(), packed.size(), &off);
  if (rc == MSGPACK_UNPACK_SUCCESS) {  // msgpack-c itself stops at some depth
    check(off == packed.size());
    std::string back;
    const JsonFromMsgpack r = msgpack_to_json(u.data, &back);
    // Lone surrogate escapes become U+FFFD; NaN never comes from JSON text,
    // but 1E400 does (an infinity), which JSON cannot hold.
    if (r == JsonFromMsgpack::Ok) check(json_valid(back));
  }
  msgpack_unpacked_destroy(&u);
  return 0;
}
