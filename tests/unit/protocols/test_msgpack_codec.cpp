// The MessagePack codec and the JSON <-> MessagePack value conversion:
// values round-trip exactly (64-bit integers included), every decode
// outcome from one table, and server frames as MessagePack maps.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
extern "C" {
#include <cmocka.h>
}

#include <msgpack.h>

#include <cstring>
#include <string>

#include "json_msgpack.h"
#include "msgpack_codec.h"

using namespace rtpush;

namespace {
const MsgPackCodec codec;

int append(void* data, const char* buf, size_t len) {
  static_cast<std::string*>(data)->append(buf, len);
  return 0;
}

// JSON text -> MessagePack bytes (through the converter under test).
std::string mp(const char* json) {
  std::string out;
  msgpack_packer pk;
  msgpack_packer_init(&pk, &out, append);
  assert_true(pack_json(json, &pk));
  return out;
}

// MessagePack bytes -> JSON text.
std::string js(const std::string& bytes, bool* ok = nullptr) {
  msgpack_unpacked u;
  msgpack_unpacked_init(&u);
  std::size_t off = 0;
  assert_int_equal(msgpack_unpack_next(&u, bytes.data(), bytes.size(), &off), MSGPACK_UNPACK_SUCCESS);
  std::string out;
  const bool converted = msgpack_to_json(u.data, &out) == JsonFromMsgpack::Ok;
  if (ok) *ok = converted;
  else assert_true(converted);
  msgpack_unpacked_destroy(&u);
  return out;
}

// A frame map with one raw MessagePack value spliced in as `data`.
std::string publish_with_data(const std::string& data_bytes) {
  std::string out;
  msgpack_packer pk;
  msgpack_packer_init(&pk, &out, append);
  msgpack_pack_map(&pk, 3);
  msgpack_pack_str_with_body(&pk, "type", 4);
  msgpack_pack_str_with_body(&pk, "publish", 7);
  msgpack_pack_str_with_body(&pk, "channel", 7);
  msgpack_pack_str_with_body(&pk, "c", 1);
  msgpack_pack_str_with_body(&pk, "data", 4);
  return out + data_bytes;
}
}  // namespace

static void values_round_trip_exactly(void**) {
  const char* kValues[] = {
      "null", "true", "false", "0", "-1", "12345678901234567890", "-9223372036854775808", "0.1", "-2.5e-07",
      "\"\"", "\"caf\xc3\xa9 \\\" \\\\ \\n\"", "[]", "{}", "[1,[2,[3,{\"k\":[]}]]]",
      "{\"a\":1,\"b\":{\"c\":[true,null,\"x\"]}}",
  };
  for (const char* v : kValues) assert_string_equal(js(mp(v)).c_str(), v);
  // Escapes become the characters; a surrogate pair becomes one 4-byte character.
  assert_string_equal(js(mp("\"\\u00e9\\ud83d\\ude00\\/\"")).c_str(), "\"\xc3\xa9\xf0\x9f\x98\x80/\"");
  // Whitespace between tokens is not a value.
  assert_string_equal(js(mp(" { \"a\" : [ 1 , 2 ] } ")).c_str(), "{\"a\":[1,2]}");
  // Beyond 64 bits: a float64, as near as it gets.
  assert_string_equal(js(mp("18446744073709551616")).c_str(), "1.8446744073709552e+19");
  // Not JSON.
  std::string sink;
  msgpack_packer pk;
  msgpack_packer_init(&pk, &sink, append);
  for (const char* bad : {"", "{", "[1,]", "{\"a\"}", "tru", "1 2", "\"open"}) assert_false(pack_json(bad, &pk));
}

static void what_json_cannot_hold_is_refused(void**) {
  bool ok = true;
  js(std::string("\xc4\x02\x01\x02", 4), &ok);  // bin
  assert_false(ok);
  js(std::string("\x81\x01\x02", 3), &ok);  // map with an integer key
  assert_false(ok);
  js(std::string("\xa2\xff\xfe", 3), &ok);  // str that is not UTF-8
  assert_false(ok);
  js(std::string("\xcb\x7f\xf8\x00\x00\x00\x00\x00\x00", 9), &ok);  // NaN
  assert_false(ok);
  js(std::string("\xd4\x01\x00", 3), &ok);  // fixext 1
  assert_false(ok);
}

struct DecodeCase {
  std::string frame;
  bool ok;
  ErrorCode error;  // when !ok
  const char* ref;  // expected ref JSON ("" = none)
};

static void every_decode_outcome(void**) {
  const DecodeCase kCases[] = {
      {"", false, ErrorCode::InvalidFrame, ""},
      {"\xc1", false, ErrorCode::InvalidFrame, ""},                     // never used
      {"\x92\x01\x02", false, ErrorCode::InvalidFrame, ""},             // an array
      {mp("{\"type\":\"heartbeat\"}") + std::string(1, '\0'), false, ErrorCode::InvalidFrame, ""},  // trailing bytes
      {mp("{}"), false, ErrorCode::UnknownMessageType, ""},
      {"\xdd\xff\xff\xff\xff", false, ErrorCode::InvalidFrame, ""},  // array of 2^32-1: more than the bytes
      {"\x81\xa4type\xdf\x7f\xff\xff\xff", false, ErrorCode::InvalidFrame, ""},  // nested huge map
      {"\xdb\x00\x00\x10\x00" "abc", false, ErrorCode::InvalidFrame, ""},  // str 32 longer than the frame
      {mp("{\"type\":\"dance\",\"ref\":{\"a\":[1]}}"), false, ErrorCode::UnknownMessageType, "{\"a\":[1]}"},
      {mp("{\"type\":\"publish\",\"channel\":\"c\",\"ref\":\"r\"}"), false, ErrorCode::InvalidFrame, "\"r\""},
      {mp("{\"type\":\"subscribe\",\"channel\":\"c\",\"since\":true}"), false, ErrorCode::InvalidFrame, ""},
      {publish_with_data("\xd4\x01\x00"), false, ErrorCode::InvalidFrame, ""},  // ext data
      {mp("{\"type\":\"subscribe\",\"channel\":\"c\",\"since\":\"1-2\",\"extra\":[1]}"), true, ErrorCode::InvalidFrame, ""},
      {mp("{\"type\":\"unsubscribe\",\"channel\":\"c\",\"ref\":null}"), true, ErrorCode::InvalidFrame, "null"},
      {mp("{\"type\":\"publish\",\"channel\":\"c\",\"data\":null}"), true, ErrorCode::InvalidFrame, ""},
      {mp("{\"type\":\"heartbeat\"}"), true, ErrorCode::InvalidFrame, ""},
      {mp("{\"type\":\"auth\",\"token\":\"a.b.c\",\"ref\":1}"), true, ErrorCode::InvalidFrame, "1"},
      {mp("{\"type\":\"auth\"}"), true, ErrorCode::InvalidFrame, ""},  // no token: the core says UNAUTHORIZED
  };
  for (const DecodeCase& c : kCases) {
    DecodeResult d = codec.decode(c.frame, true);
    if (d.ok != c.ok) print_error("case %zu: ok=%d (%s)\n", static_cast<std::size_t>(&c - kCases), d.ok, d.message.c_str());
    assert_int_equal(d.ok, c.ok);
    if (!c.ok) assert_int_equal(static_cast<int>(d.error), static_cast<int>(c.error));
    assert_string_equal(d.ref.c_str(), c.ref);
  }
}

static void publish_payloads(void**) {
  DecodeResult d = codec.decode(mp("{\"type\":\"publish\",\"channel\":\"c\",\"data\":{\"n\":12345678901234567890}}"), true);
  assert_true(d.ok);
  assert_int_equal(static_cast<int>(d.request.data.kind), static_cast<int>(PayloadKind::Json));
  assert_string_equal(d.request.data.bytes.c_str(), "{\"n\":12345678901234567890}");
  d = codec.decode(publish_with_data(std::string("\xc4\x03\x00\xff\x01", 5)), true);
  assert_true(d.ok);
  assert_int_equal(static_cast<int>(d.request.data.kind), static_cast<int>(PayloadKind::Binary));
  assert_int_equal(d.request.data.bytes.size(), 3);
  assert_memory_equal(d.request.data.bytes.data(), "\x00\xff\x01", 3);
  d = codec.decode(mp("{\"type\":\"subscribe\",\"channel\":\"c\",\"since\":1700000000000}"), true);
  assert_true(d.ok);
  assert_string_equal(d.request.since.c_str(), "1700000000000");
  // A token in bin is no string, as a channel in bin is none: empty.
  d = codec.decode(std::string("\x82\xa4type\xa4" "auth\xa5token\xc4\x01x", 20), true);
  assert_true(d.ok);
  assert_int_equal(d.request.type, RequestType::Auth);
  assert_true(d.request.token.empty());
}

static void server_frames_are_maps(void**) {
  Payload json{PayloadKind::Json, "{\"a\":[1,2.5,\"x\"]}"};
  ServerFrame f;
  f.type = ServerFrameType::Message;
  f.channel = "c";
  f.id = "1-0";
  f.data = &json;
  f.timestamp = 1.5;
  FrameRef fr = codec.encode(f);
  assert_true(fr->binary());
  assert_string_equal(js(std::string(fr->view())).c_str(),
                      "{\"type\":\"message\",\"channel\":\"c\",\"id\":\"1-0\",\"data\":{\"a\":[1,2.5,\"x\"]},\"timestamp\":1.5}");
  Payload bytes{PayloadKind::Binary, std::string("\x00\x01", 2)};
  f.data = &bytes;
  fr = codec.encode(f);
  const std::string raw(fr->view());
  assert_non_null(memmem(raw.data(), raw.size(), "\xc4\x02\x00\x01", 4));  // bin 8, the bytes
  ServerFrame s;
  s.type = ServerFrameType::Subscribed;
  s.channel = "c";
  s.recovered = false;
  assert_string_equal(js(std::string(codec.encode(s)->view())).c_str(),
                      "{\"type\":\"subscribed\",\"channel\":\"c\",\"position\":null,\"recovered\":false}");
  ServerFrame e;
  e.type = ServerFrameType::Error;
  e.code = "INVALID_FRAME";
  e.message = "m";
  e.ref = "{\"k\":7}";
  assert_string_equal(js(std::string(codec.encode(e)->view())).c_str(),
                      "{\"type\":\"error\",\"code\":\"INVALID_FRAME\",\"message\":\"m\",\"ref\":{\"k\":7}}");
  ServerFrame a;
  a.type = ServerFrameType::Authenticated;
  a.user = "42";
  a.expires = 1732480000.5;
  assert_string_equal(js(std::string(codec.encode(a)->view())).c_str(),
                      "{\"type\":\"authenticated\",\"user\":\"42\",\"expires\":1732480000.5}");
  const std::string with_exp(codec.encode(a)->view());
  assert_non_null(memmem(with_exp.data(), with_exp.size(), "\xa7" "expires\xcb", 9));  // float64, as timestamp
  a.expires.reset();
  const std::string no_exp(codec.encode(a)->view());
  assert_int_equal(static_cast<unsigned char>(no_exp[0]), 0x83);  // a map of 3: expires is there, nil
  assert_non_null(memmem(no_exp.data(), no_exp.size(), "\xa7" "expires\xc0", 9));
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(values_round_trip_exactly),
      cmocka_unit_test(what_json_cannot_hold_is_refused),
      cmocka_unit_test(every_decode_outcome),
      cmocka_unit_test(publish_payloads),
      cmocka_unit_test(server_frames_are_maps),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
