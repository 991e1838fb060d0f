// The Protocol Buffers codec: every decode outcome from one table (frames
// built with the generated C code), JSON text vs bytes payloads, and server
// frames that read back with proto3 defaults left out.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
extern "C" {
#include <cmocka.h>
}

#include <cstring>
#include <string>

#include "protobuf_codec.h"
#include "rtpush.pb-c.h"

using namespace rtpush;

namespace {
const ProtobufCodec codec;

struct In {
  const char *type, *channel, *since, *data, *ref;
};

std::string frame(const In& in) {
  Rtpush__V1__Frame m = RTPUSH__V1__FRAME__INIT;
  m.type = const_cast<char*>(in.type);
  m.channel = const_cast<char*>(in.channel);
  m.since = const_cast<char*>(in.since);
  m.ref = const_cast<char*>(in.ref);
  if (in.data) {
    m.has_data = true;
    m.data.data = reinterpret_cast<std::uint8_t*>(const_cast<char*>(in.data));
    m.data.len = std::strlen(in.data);
  }
  std::string out(rtpush__v1__frame__get_packed_size(&m), '\0');
  rtpush__v1__frame__pack(&m, reinterpret_cast<std::uint8_t*>(out.data()));
  return out;
}

struct Case {
  std::string bytes;
  bool ok;
  ErrorCode error;
  const char* ref;
};
}  // namespace

static void every_decode_outcome(void**) {
  const Case kCases[] = {
      {std::string("\xc1\xff\x00", 3), false, ErrorCode::InvalidFrame, ""},  // truncated fixed64
      {std::string("\x0a\x05" "ab", 4), false, ErrorCode::InvalidFrame, ""},    // string longer than the frame
      {frame({nullptr, nullptr, nullptr, nullptr, nullptr}), false, ErrorCode::UnknownMessageType, ""},
      {frame({"dance", nullptr, nullptr, nullptr, "{\"a\": [1]}"}), false, ErrorCode::UnknownMessageType, "{\"a\":[1]}"},
      {frame({"heartbeat", nullptr, nullptr, nullptr, "not json"}), false, ErrorCode::InvalidFrame, ""},
      {frame({"publish", "c", nullptr, nullptr, "1"}), false, ErrorCode::InvalidFrame, "1"},
      {frame({"publish", "c", nullptr, "", nullptr}), false, ErrorCode::InvalidFrame, ""},
      {frame({"subscribe", "c", "1-2", nullptr, nullptr}), true, ErrorCode::InvalidFrame, ""},
      {frame({"publish", "c", nullptr, "[1, 2]", "\"r\""}), true, ErrorCode::InvalidFrame, "\"r\""},
      {frame({"heartbeat", nullptr, nullptr, nullptr, nullptr}), true, ErrorCode::InvalidFrame, ""},
  };
  for (const Case& c : kCases) {
    DecodeResult d = codec.decode(c.bytes, true);
    assert_int_equal(d.ok, c.ok);
    if (!c.ok) assert_int_equal(static_cast<int>(d.error), static_cast<int>(c.error));
    assert_string_equal(d.ref.c_str(), c.ref);
  }
}

static void json_text_or_bytes(void**) {
  DecodeResult d = codec.decode(frame({"publish", "c", nullptr, "{ \"n\" : 12345678901234567890 }", nullptr}), true);
  assert_true(d.ok);
  assert_int_equal(static_cast<int>(d.request.data.kind), static_cast<int>(PayloadKind::Json));
  assert_string_equal(d.request.data.bytes.c_str(), "{\"n\":12345678901234567890}");
  d = codec.decode(frame({"publish", "c", nullptr, "\xff not json", nullptr}), true);
  assert_true(d.ok);
  assert_int_equal(static_cast<int>(d.request.data.kind), static_cast<int>(PayloadKind::Binary));
  assert_string_equal(d.request.data.bytes.c_str(), "\xff not json");
  d = codec.decode(frame({"subscribe", "c", "", nullptr, nullptr}), true);
  assert_false(d.request.has_since);  // proto3: empty is absent
}

static void server_frames(void**) {
  Payload p{PayloadKind::Json, "{\"a\":1}"};
  ServerFrame f;
  f.type = ServerFrameType::Message;
  f.channel = "c";
  f.id = "1-0";
  f.data = &p;
  f.timestamp = 2.5;
  FrameRef fr = codec.encode(f);
  assert_true(fr->binary());
  Rtpush__V1__Frame* m = rtpush__v1__frame__unpack(nullptr, fr->size(), fr->data());
  assert_non_null(m);
  assert_string_equal(m->type, "message");
  assert_string_equal(m->id, "1-0");
  assert_int_equal(m->data.len, 7);
  assert_memory_equal(m->data.data, "{\"a\":1}", 7);
  assert_true(m->has_timestamp);
  assert_false(m->has_recovered);
  assert_null(m->ref);  // at its default: not sent
  rtpush__v1__frame__free_unpacked(m, nullptr);

  ServerFrame s;
  s.type = ServerFrameType::Subscribed;
  s.channel = "c";
  s.recovered = false;  // proto3 optional: false is sent
  fr = codec.encode(s);
  m = rtpush__v1__frame__unpack(nullptr, fr->size(), fr->data());
  assert_true(m->has_recovered);
  assert_false(m->recovered);
  assert_null(m->position);  // null position: absent
  rtpush__v1__frame__free_unpacked(m, nullptr);

  ServerFrame a;
  a.type = ServerFrameType::Authenticated;
  a.user = "42";
  a.expires = 1732480000.25;
  fr = codec.encode(a);
  m = rtpush__v1__frame__unpack(nullptr, fr->size(), fr->data());
  assert_string_equal(m->type, "authenticated");
  assert_string_equal(m->user, "42");
  assert_true(m->has_expires);
  assert_true(m->expires == 1732480000.25);
  assert_false(m->has_timestamp);
  rtpush__v1__frame__free_unpacked(m, nullptr);
  a.expires.reset();  // a token without `exp`: absent is null
  fr = codec.encode(a);
  m = rtpush__v1__frame__unpack(nullptr, fr->size(), fr->data());
  assert_string_equal(m->user, "42");
  assert_false(m->has_expires);
  rtpush__v1__frame__free_unpacked(m, nullptr);
  // The bytes: field 15 (user, as the product's schema numbers it) then
  // field 17 (expires, fixed64).
  a.expires = 0.0;
  const std::string bytes(codec.encode(a)->view());
  const std::string want = std::string("\x0a\x0d" "authenticated" "\x7a\x02" "42" "\x89\x01", 21) + std::string(8, '\0');
  assert_int_equal(bytes.size(), want.size());
  assert_memory_equal(bytes.data(), want.data(), want.size());
}

// A length-delimited field by hand: protobuf-c cannot write a NUL inside a string.
static std::string field(int number, const std::string& bytes) {
  const int tag = number << 3 | 2;
  std::string t = tag < 0x80 ? std::string(1, static_cast<char>(tag))
                             : std::string{static_cast<char>((tag & 0x7f) | 0x80), static_cast<char>(tag >> 7)};
  return t + static_cast<char>(bytes.size()) + bytes;
}

static void strings_are_read_whole(void**) {
  // A NUL inside the channel is kept, so the core refuses it (INVALID_CHANNEL).
  DecodeResult d = codec.decode(field(1, "subscribe") + field(2, std::string("news\0x", 6)), true);
  assert_true(d.ok);
  assert_int_equal(d.request.channel.size(), 6);
  assert_false(valid_channel(d.request.channel));
  // The last occurrence counts, as protobuf-c keeps it.
  d = codec.decode(field(1, "subscribe") + field(2, "old") + field(2, "new"), true);
  assert_string_equal(d.request.channel.c_str(), "new");
  // A ref cut at a NUL would look like strict JSON.
  d = codec.decode(field(1, "publish") + field(2, "c") + field(5, "1") + field(6, std::string("{\"a\":1}\0junk", 12)), true);
  assert_false(d.ok);
  assert_int_equal(d.error, ErrorCode::InvalidFrame);
  // data that is JSON with trailing bytes is a binary payload.
  d = codec.decode(field(1, "publish") + field(2, "c") + field(5, "{\"a\":1} trailing"), true);
  assert_true(d.ok);
  assert_int_equal(d.request.data.kind, PayloadKind::Binary);
  assert_string_equal(d.request.data.bytes.c_str(), "{\"a\":1} trailing");
  // A token (field 16; field 15 from clients of the schema before `user`)
  // is read whole too: a NUL would otherwise cut off a refused token's tail
  // and leave what precedes it to the verifier.
  for (int number : {16, 15}) {
    d = codec.decode(field(1, "auth") + field(number, std::string("a.b.c\0x", 7)), true);
    assert_true(d.ok);
    assert_int_equal(d.request.type, RequestType::Auth);
    assert_int_equal(d.request.token.size(), 7);
    assert_memory_equal(d.request.token.data(), "a.b.c\0x", 7);
  }
  // Both: field 16 is the token.
  d = codec.decode(field(1, "auth") + field(15, "old") + field(16, "new"), true);
  assert_string_equal(d.request.token.c_str(), "new");
}

// A message's publisher: field 15, `user`, as the product's schema has it.
static void message_user_is_field_15(void**) {
  Payload p{PayloadKind::Json, "1"};
  ServerFrame f;
  f.type = ServerFrameType::Message;
  f.channel = "c";
  f.id = "1-0";
  f.data = &p;
  f.user = "alice";
  const std::string bytes(codec.encode(f)->view());
  assert_true(bytes.find(std::string("\x7a\x05" "alice", 7)) != std::string::npos);
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(every_decode_outcome),
      cmocka_unit_test(json_text_or_bytes),
      cmocka_unit_test(server_frames),
      cmocka_unit_test(strings_are_read_whole),
      cmocka_unit_test(message_user_is_field_15),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
