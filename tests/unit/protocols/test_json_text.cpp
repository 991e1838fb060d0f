// Strict JSON text (json_text.h), one table row per rule; channel names;
// the size of a payload in every encoding; the JSON <-> MessagePack
// conversion's bounds.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
extern "C" {
#include <cmocka.h>
}

#include <msgpack.h>

#include <chrono>
#include <cstring>
#include <string>

#include "json_codec.h"
#include "json_msgpack.h"
#include "json_text.h"
#include "payload_size.h"
#include "wire.h"

using namespace rtpush;

namespace {

struct TextCase {
  std::string text;
  const char* minified;  // nullptr: refused
  const char* reason;    // a word of the reason when refused
};

std::string S(const char* s, std::size_t n) { return std::string(s, n); }

const TextCase kText[] = {
    // Exactly one value, whitespace around it allowed and dropped.
    {"1", "1", nullptr},
    {" \t\r\n{ \"a\" : [ 1 , true , null ] } \n", R"({"a":[1,true,null]})", nullptr},
    {R"("a b  c")", R"("a b  c")", nullptr},  // whitespace inside strings stays
    {"", nullptr, "no value"},
    {"   ", nullptr, "no value"},
    // Trailing bytes, two values.
    {R"({"a":1},"id":"9-0","channel":"x")", nullptr, "trailing"},
    {"{} {}", nullptr, "trailing"},
    {"1 2", nullptr, "trailing"},
    {"[1] x", nullptr, "trailing"},
    {S("1\0", 2), nullptr, "trailing"},
    // Invalid UTF-8 in a string: stray continuation, bad lead, cut short.
    {"\"\x80\"", nullptr, "UTF-8"},
    {"\"\xff\"", nullptr, "UTF-8"},
    {"\"\xe2\x82\"", nullptr, "UTF-8"},
    {"\"\xf5\x80\x80\x80\"", nullptr, "UTF-8"},
    {"\"\xf4\x90\x80\x80\"", nullptr, "UTF-8"},  // past U+10FFFF
    // Overlong forms.
    {"\"\xc0\xaf\"", nullptr, "UTF-8"},
    {"\"\xc1\xbf\"", nullptr, "UTF-8"},
    {"\"\xe0\x80\xaf\"", nullptr, "UTF-8"},
    {"\"\xf0\x80\x80\xaf\"", nullptr, "UTF-8"},
    // Surrogates encoded as UTF-8 bytes (lone or paired).
    {"\"\xed\xa0\x80\"", nullptr, "UTF-8"},
    {"\"\xed\xbf\xbf\"", nullptr, "UTF-8"},
    {"\"\xed\xa0\xbd\xed\xb8\x80\"", nullptr, "UTF-8"},
    // Well-formed UTF-8 of every length passes as it is.
    {"\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xef\xbf\xbf \xf4\x8f\xbf\xbf\"",
     "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xef\xbf\xbf \xf4\x8f\xbf\xbf\"", nullptr},
    // Raw control characters inside a string; escaped ones are fine.
    {"\"a\x01" "b\"", nullptr, "control"},
    {"\"a\tb\"", nullptr, "control"},
    {"\"a\nb\"", nullptr, "control"},
    {S("\"a\0b\"", 5), nullptr, "control"},
    {"\"\x7f\"", "\"\x7f\"", nullptr},  // DEL is no control in RFC 8259
    {R"("\u0000\t\n\"\\\/\b\f\r\ud83d\ude00\uD800")", R"("\u0000\t\n\"\\\/\b\f\r\ud83d\ude00\uD800")", nullptr},
    {R"("\x")", nullptr, "escape"},
    {R"("\u12")", nullptr, "escape"},
    {R"("\u12g4")", nullptr, "escape"},
    {"\"abc", nullptr, "unterminated"},
    // Numbers: the grammar's, kept as sent.
    {"[0,-0,1.5,-1.5e10,1E400,2e-3,12345678901234567890]", "[0,-0,1.5,-1.5e10,1E400,2e-3,12345678901234567890]",
     nullptr},
    {"01", nullptr, "number"},
    {"-", nullptr, "number"},
    {"+1", nullptr, "JSON"},
    {"1.", nullptr, "number"},
    {".5", nullptr, "JSON"},
    {"1e", nullptr, "number"},
    {"1e+", nullptr, "number"},
    {"0x10", nullptr, "JSON"},
    {"[1.2.3]", nullptr, "number"},
    {"NaN", nullptr, "JSON"},
    {"Infinity", nullptr, "JSON"},
    // Grammar.
    {"[1,]", nullptr, "JSON"},
    {R"({"a":1,})", nullptr, "JSON"},
    {R"({"a" 1})", nullptr, "JSON"},
    {"{1:2}", nullptr, "JSON"},
    {"[", nullptr, "JSON"},
    {"]", nullptr, "JSON"},
    {"tru", nullptr, "JSON"},
    {"nulll", nullptr, "trailing"},
    {"'a'", nullptr, "JSON"},
    {"\xef\xbb\xbf{}", nullptr, "JSON"},  // no byte-order mark
    // Nesting: kMaxJsonDepth levels, not one more.
    {std::string(kMaxJsonDepth, '[') + std::string(kMaxJsonDepth, ']'), nullptr, nullptr},  // checked below
    {std::string(kMaxJsonDepth + 1, '[') + std::string(kMaxJsonDepth + 1, ']'), nullptr, "deep"},
};

}  // namespace

static void strict_text_table(void**) {
  for (const TextCase& c : kText) {
    std::string out = "junk";
    const char* why = json_strict(c.text, &out);
    const bool deepest = c.text.size() == 2 * kMaxJsonDepth;
    if (c.minified || deepest) {
      if (why) fail_msg("[%s]: refused: %s", c.text.c_str(), why);
      if (c.minified && out != c.minified) fail_msg("[%s]: minified to [%s]", c.text.c_str(), out.c_str());
      assert_true(json_valid(c.text));
    } else {
      if (!why) fail_msg("[%s]: accepted", c.text.c_str());
      if (!std::strstr(why, c.reason)) fail_msg("[%s]: reason [%s], wanted [%s]", c.text.c_str(), why, c.reason);
      assert_false(json_valid(c.text));
      std::string compact;
      assert_false(json_compact(c.text, &compact));  // the HTTP body and CLI check is the same
    }
  }
}

static void members_and_unescape(void**) {
  std::vector<JsonMember> m;
  std::string out;
  assert_null(json_strict(R"( { "a" : [ 1 , 2 ] , "b\u0000" : "x" , "a" : {} } )", &out, kMaxJsonDepth, &m));
  assert_int_equal(m.size(), 3);
  auto key = [&](int i) { return out.substr(m[i].key, m[i].key_len); };
  auto value = [&](int i) { return out.substr(m[i].value, m[i].value_len); };
  assert_string_equal(key(0).c_str(), "a");
  assert_string_equal(value(0).c_str(), "[1,2]");
  assert_string_equal(key(1).c_str(), "b\\u0000");
  assert_string_equal(value(1).c_str(), "\"x\"");
  assert_string_equal(value(2).c_str(), "{}");

  std::string s;
  json_unescape(R"(news\u0000x \"\\\/\b\f\n\r\t \u00e9 \ud83d\ude00)", &s);
  assert_int_equal(s.size(), std::strlen("news") + 1 + std::strlen("x \"\\/\b\f\n\r\t \xc3\xa9 \xf0\x9f\x98\x80"));
  assert_memory_equal(s.data(), "news\0x \"\\/\b\f\n\r\t \xc3\xa9 \xf0\x9f\x98\x80", s.size());
  s.clear();
  json_unescape(R"(a\ud800)", &s);  // a lone surrogate: not valid UTF-8 afterwards
  assert_false(valid_utf8(s));
}

static void json_frames_are_strict(void**) {
  const JsonCodec codec;
  struct Row {
    std::string frame;
    ErrorCode error;
  };
  const Row rows[] = {
      {R"({"type":"publish","channel":"c","data":{"a":1}},"id":"9-0","channel":"x"})", ErrorCode::InvalidJson},
      {"{\"type\":\"publish\",\"channel\":\"c\",\"data\":\"\xff\"}", ErrorCode::InvalidJson},
      {"{\"type\":\"publish\",\"channel\":\"c\",\"data\":\"a\x01\"}", ErrorCode::InvalidJson},
      {R"({"type":"heartbeat"} {"type":"heartbeat"})", ErrorCode::InvalidJson},
      {"{\"type\":\"publish\",\"channel\":\"c\",\"data\":" + std::string(kMaxJsonDepth + 1, '[') +
           std::string(kMaxJsonDepth + 1, ']') + "}",
       ErrorCode::InvalidJson},
  };
  for (const Row& r : rows) {
    DecodeResult d = codec.decode(r.frame, true);
    if (d.ok) fail_msg("accepted [%s]", r.frame.c_str());
    assert_int_equal(d.error, r.error);
  }
  // A payload kMaxJsonDepth deep is accepted inside a frame.
  DecodeResult d = codec.decode("{\"type\":\"publish\",\"channel\":\"c\",\"data\":" + std::string(kMaxJsonDepth, '[') +
                                    std::string(kMaxJsonDepth, ']') + "}",
                                true);
  assert_true(d.ok);
  // The channel keeps the NUL that \u0000 spells, so the core refuses it.
  d = codec.decode(R"({"type":"subscribe","channel":"news\u0000x"})", false);
  assert_true(d.ok);
  assert_int_equal(d.request.channel.size(), 6);
  assert_false(valid_channel(d.request.channel));
  // Duplicate keys: the first one counts, escaped spellings included.
  d = codec.decode(R"({"type":"publish","ch\u0061nnel":"first","channel":"second","data":1})", false);
  assert_true(d.ok);
  assert_string_equal(d.request.channel.c_str(), "first");
}

static void channel_rules(void**) {
  struct Row {
    std::string name;
    bool ok;
  };
  const Row rows[] = {
      {"news", true},
      {"caf\xc3\xa9", true},
      {"\xf0\x9f\x98\x80", true},
      {std::string(200, 'x'), true},
      {std::string(201, 'x'), false},
      {"", false},
      {S("news\0x", 6), false},       // NUL
      {"news\xff", false},             // invalid UTF-8
      {"a\xc0\xaf", false},            // overlong
      {"a\xed\xa0\x80", false},        // surrogate
      {"a\xe2\x82", false},            // cut short
      {"a b", false},
      {"a\x7f", false},
      {"a\xc2\x85", false},            // NEL, a C1 control
      {"a\xc2\xa0" "b", false},        // no-break space
      {"a\xe2\x80\xa8" "b", false},    // line separator
      {"a\xe3\x80\x80" "b", false},    // ideographic space
  };
  for (const Row& r : rows)
    if (valid_channel(r.name) != r.ok) fail_msg("channel [%s]: expected %d", r.name.c_str(), r.ok);
}

static std::string to_msgpack(std::string_view json) {
  std::string out;
  msgpack_packer pk;
  msgpack_packer_init(&pk, &out, [](void* d, const char* b, size_t n) {
    static_cast<std::string*>(d)->append(b, n);
    return 0;
  });
  assert_true(pack_json(json, &pk));
  return out;
}

static void payload_sizes(void**) {
  // The counted MessagePack size is the packed size.
  for (const char* j : {"1", "1.5", "[]", "{}", R"({"a":[1,-1,300,-300,70000,5000000000,12345678901234567890,1e5]})",
                        R"("\u00e9\ud83d\ude00\n")", "[[[[]]]]"}) {
    if (msgpack_size_of_json(j) != to_msgpack(j).size()) fail_msg("size of %s", j);
  }
  const std::string many(32, 'x');
  std::string big = "[1";  // an array 16 of str 8, past a fixarray
  for (int i = 0; i < 70000; ++i) big += ",\"" + many + "\"";
  big += "]";
  assert_int_equal(msgpack_size_of_json(big), to_msgpack(big).size());

  // Floats grow 9/4 as MessagePack; bytes grow 4/3 as base64.
  std::string floats = "[1.5";
  for (int i = 0; i < 999; ++i) floats += ",1.5";
  floats += "]";
  const Payload f{PayloadKind::Json, floats};  // 4,001 bytes, 9,003 as MessagePack
  assert_null(payload_oversize(f, 9003));
  assert_string_equal(payload_oversize(f, 9002), "MessagePack");
  assert_string_equal(payload_oversize(f, 4000), "JSON");
  const Payload b{PayloadKind::Binary, std::string(3000, '\x01')};  // base64 4,000, bin 3,003
  assert_null(payload_oversize(b, 4000));
  assert_string_equal(payload_oversize(b, 3999), "JSON");
  const Payload small{PayloadKind::Json, "1.5"};  // 9 bytes as MessagePack: three times
  assert_null(payload_oversize(small, 9));
  assert_non_null(payload_oversize(small, 8));
}

static msgpack_object unpack(msgpack_unpacked* u, const std::string& bytes) {
  std::size_t off = 0;
  assert_int_equal(msgpack_unpack_next(u, bytes.data(), bytes.size(), &off), MSGPACK_UNPACK_SUCCESS);
  return u->data;
}

static void msgpack_to_json_stops_at_the_limit(void**) {
  // A string of control bytes becomes six times larger as JSON.
  std::string str(1000, '\x01');
  std::string packed = "\xda\x03\xe8" + str;  // str 16, 1000 bytes
  msgpack_unpacked u;
  msgpack_unpacked_init(&u);
  const msgpack_object o = unpack(&u, packed);
  std::string out;
  assert_int_equal(msgpack_to_json(o, &out, 6001), JsonFromMsgpack::TooLarge);
  assert_true(out.size() <= 6001);  // never built past the limit
  out.clear();
  assert_int_equal(msgpack_to_json(o, &out, 6002), JsonFromMsgpack::Ok);
  assert_int_equal(out.size(), 6002);
  msgpack_unpacked_destroy(&u);
}

static void deep_json_packs_in_linear_time(void**) {
  // 990 levels around a 1 MB string: before, each level re-read the rest
  // (0.3 s); now two passes.
  const int depth = 990;
  const std::string json = std::string(depth, '[') + "\"" + std::string(1000000, 'x') + "\"" + std::string(depth, ']');
  const auto t0 = std::chrono::steady_clock::now();
  const std::string mp = to_msgpack(json);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  assert_int_equal(mp.size(), depth + 5 + 1000000);
  if (secs > 0.1) fail_msg("packing took %.3f s", secs);
  // Past the depth bound packing refuses rather than recursing on.
  const std::string too_deep = std::string(kMaxJsonDepth + 2, '[') + std::string(kMaxJsonDepth + 2, ']');
  std::string out;
  msgpack_packer pk;
  msgpack_packer_init(&pk, &out, [](void*, const char*, size_t) { return 0; });
  assert_false(pack_json(too_deep, &pk));
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(strict_text_table),      cmocka_unit_test(members_and_unescape),
      cmocka_unit_test(json_frames_are_strict), cmocka_unit_test(channel_rules),
      cmocka_unit_test(payload_sizes),          cmocka_unit_test(msgpack_to_json_stops_at_the_limit),
      cmocka_unit_test(deep_json_packs_in_linear_time),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
