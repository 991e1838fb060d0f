// Payload values between JSON text and MessagePack (spec 4b: a JSON payload
// reaches MessagePack subscribers as the equal MessagePack value, and a
// MessagePack publisher's value is JSON for everyone else).
//
// Written by hand rather than through cJSON: cJSON holds every number as a
// double, so 12345678901234567890 would not survive the trip; these keep
// integers exact in both directions.
#pragma once
#include <msgpack.h>

#include <string>
#include <string_view>

namespace rtpush {

// Packs valid JSON text (validated before: payloads and refs are) as the
// equal MessagePack value: objects as maps, integers that fit 64 bits as
// integers, other numbers as float64. False if the text is not valid.
bool pack_json(std::string_view json, msgpack_packer* pk);

// Appends the MessagePack value as compact JSON text. False for what JSON
// cannot hold: bin or ext (inside a value), map keys that are not strings,
// strings that are not UTF-8, NaN or infinities.
bool msgpack_to_json(const msgpack_object& o, std::string* out);

// True when `s` is well-formed UTF-8.
bool valid_utf8(std::string_view s);

}  // namespace rtpush
