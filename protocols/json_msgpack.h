// Payload values between JSON text and MessagePack (docs/protocol.md
// "MessagePack (`rtpush-msgpack`)": a JSON payload
// reaches MessagePack subscribers as the equal MessagePack value, and a
// MessagePack publisher's value is JSON for everyone else).
//
// Written by hand rather than through cJSON: cJSON holds every number as a
// double, so 12345678901234567890 would not survive the trip; these keep
// integers exact in both directions.
#pragma once
#include <msgpack.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "utf8.h"  // valid_utf8, for those that used it from here

namespace rtpush {

// Packs JSON text (payloads and refs, validated before) as the equal
// MessagePack value: objects as maps, integers that fit 64 bits as
// integers, other numbers as float64. False if the text is not strict JSON.
// Linear: the strict reader (json_text.h) checks it and counts every
// container's items in one pass, a second emits.
bool pack_json(std::string_view json, msgpack_packer* pk);

// Appends the MessagePack value as compact JSON text. NotJson for what JSON
// cannot hold: bin or ext (inside a value), map keys that are not strings,
// strings that are not UTF-8, NaN or infinities, nesting past the bound.
// TooLarge as soon as the text would pass `limit` bytes (it is not built
// whole: escaping can make a string six times larger).
enum class JsonFromMsgpack { Ok, NotJson, TooLarge };
JsonFromMsgpack msgpack_to_json(const msgpack_object& o, std::string* out, std::size_t limit = SIZE_MAX);

// The size of pack_json(json) in bytes, counted without building it; SIZE_MAX
// when `json` is not valid. Linear.
std::size_t msgpack_size_of_json(std::string_view json);

}  // namespace rtpush
