// JSON text, the one module that reads and writes it: the strict reader
// every path uses before a JSON value is passed on (WebSocket frames, HTTP
// bodies, Protocol Buffers data and refs, the CLI, entries read back from
// Redis or PostgreSQL), string literals in and out, and the item counts the
// MessagePack conversion needs (json_msgpack.h).
//
// Accepts exactly RFC 8259: one value with only whitespace around it, the
// grammar's numbers, well-formed UTF-8 (no overlongs, no surrogates), no raw
// byte below 0x20 inside a string, and nesting at most `max_depth` deep. One
// linear pass validates and minifies (drops the whitespace between tokens);
// everything else is the sender's own text, so numbers keep every digit.
//
// Written by hand: cJSON (the JSON library in use) accepts trailing bytes,
// invalid UTF-8 and raw control characters, truncates strings at \u0000, and
// holds numbers as doubles; no Debian library both validates this strictly
// and keeps the sender's number text.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace rtpush {

// How deep arrays and objects may nest in a payload or a ref. A client frame
// (an object holding them) may be one level deeper.
inline constexpr int kMaxJsonDepth = 1000;

// One member of the top-level object, as offsets into the minified text:
// the key's body (between its quotes, escapes as sent) and the value's text.
struct JsonMember {
  std::size_t key = 0, key_len = 0;
  std::size_t value = 0, value_len = 0;
};

// Checks `text`; when `out` is set, writes it minified there (replacing its
// contents); when `members` is set and the value is an object, lists its
// members in order. Returns nullptr when the text is strict JSON, else a
// reason a person can read ("trailing bytes after the JSON value", ...).
const char* json_strict(std::string_view text, std::string* out, int max_depth = kMaxJsonDepth,
                        std::vector<JsonMember>* members = nullptr);

inline bool json_valid(std::string_view text) { return json_strict(text, nullptr) == nullptr; }

// True when `text` is strict JSON; `compact` gets it minified, the sender's
// own text.
inline bool json_compact(std::string_view text, std::string* compact) { return json_strict(text, compact) == nullptr; }

// The number of members or elements of every object and array of a text, in
// the order they open: MessagePack writes a container's count before its
// items. Kept by the caller so that its vectors are reused.
struct JsonContainerCounts {
  std::vector<std::uint32_t> items;  // per container, in opening order
  std::vector<std::uint32_t> open;   // while reading: index in items of each open container
};

// Checks `text` as json_strict does (nesting at most `max_depth`) and fills
// `counts`. Returns nullptr when the text is strict JSON, else the reason.
const char* json_container_counts(std::string_view text, JsonContainerCounts* counts, int max_depth);

// The offset just past the closing quote of the valid string literal that
// opens at text[open] (a '"'); `escaped` set when it holds an escape.
std::size_t json_string_end(std::string_view text, std::size_t open, bool* escaped);

// What json_unescape makes of an escaped lone surrogate (\ud800 unpaired).
enum class LoneSurrogate {
  Keep,     // its three-byte form, not valid UTF-8: a channel check refuses it
            // rather than a silent U+FFFD that would alias another name
  Replace,  // U+FFFD: a value passed on (a MessagePack str) stays valid UTF-8
};

// Appends the decoded body of a valid string literal (between its quotes) to
// `out`. \u0000 stays a NUL byte.
void json_unescape(std::string_view body, std::string* out, LoneSurrogate lone = LoneSurrogate::Keep);

// Appends `s` as a JSON string literal (quoted, escaped) to `out`.
void json_append_string(std::string* out, std::string_view s);

// The length of json_append_string(s) in bytes, counted without writing.
std::size_t json_string_size(std::string_view s);

}  // namespace rtpush
