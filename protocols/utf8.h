// UTF-8 well-formedness (RFC 3629): what every text the server passes on
// must be. Shared by the strict JSON reader, MessagePack strings and
// channel names.
#pragma once
#include <cstddef>
#include <string_view>

namespace rtpush {

// The length of the well-formed UTF-8 sequence starting at p[0] (lead byte
// >= 0x80), at most `n` bytes available; 0 when it is not one: a stray
// continuation byte, an overlong form, a surrogate (U+D800-DFFF), past
// U+10FFFF or cut short.
std::size_t utf8_sequence(const unsigned char* p, std::size_t n);

// True when `s` is well-formed UTF-8.
bool valid_utf8(std::string_view s);

}  // namespace rtpush
