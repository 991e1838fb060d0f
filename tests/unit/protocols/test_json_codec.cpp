// The JSON codec: every decode outcome from one table, the exact bytes of
// every server frame, string escaping, base64 payloads, frame sharing.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
extern "C" {
#include <cmocka.h>
}

#include <cstring>
#include <string>

#include <cjson/cJSON.h>

#include "json_codec.h"

using namespace rtpush;

namespace {
const JsonCodec codec;

struct DecodeCase {
  const char* frame;
  bool ok;
  ErrorCode error;       // when !ok
  const char* ref;       // expected ref text ("" = none)
};

const DecodeCase kDecode[] = {
    {"", false, ErrorCode::InvalidJson, ""},
    {"{", false, ErrorCode::InvalidJson, ""},
    {"not json", false, ErrorCode::InvalidJson, ""},
    {"[1,2]", false, ErrorCode::InvalidJson, ""},
    {"\"subscribe\"", false, ErrorCode::InvalidJson, ""},
    {"{}", false, ErrorCode::UnknownMessageType, ""},
    {R"({"type":5,"ref":1})", false, ErrorCode::UnknownMessageType, "1"},
    {R"({"type":"dance","ref":{"a":[1]}})", false, ErrorCode::UnknownMessageType, R"({"a":[1]})"},
    {R"({"type":"Subscribe"})", false, ErrorCode::UnknownMessageType, ""},
    {R"({"type":"publish","channel":"c","ref":"r"})", false, ErrorCode::InvalidJson, "\"r\""},
    {R"({"type":"subscribe","channel":"c","since":true,"ref":2})", false, ErrorCode::InvalidJson, "2"},
    {R"({"type":"subscribe","channel":"c","since":-1})", false, ErrorCode::InvalidJson, ""},
    {R"({"type":"subscribe","channel":"c"})", true, ErrorCode::InvalidJson, ""},
    {R"({"type":"subscribe","channel":"c","since":"1-2","extra":[1]})", true, ErrorCode::InvalidJson, ""},
    {R"({"type":"unsubscribe","channel":"c","ref":null})", true, ErrorCode::InvalidJson, "null"},
    {R"({"type":"publish","channel":"c","data":null})", true, ErrorCode::InvalidJson, ""},
    {R"({"type":"heartbeat"})", true, ErrorCode::InvalidJson, ""},
};

}  // namespace

static void decode_table(void**) {
  for (const DecodeCase& c : kDecode) {
    DecodeResult d = codec.decode(c.frame, false);
    if (d.ok != c.ok) fail_msg("frame %s: ok=%d", c.frame, d.ok);
    if (!c.ok && d.error != c.error) fail_msg("frame %s: error %s", c.frame, error_code_name(d.error));
    if (!c.ok) assert_true(d.message.size() > 5);  // a reason a person can read
    if (d.ref != c.ref) fail_msg("frame %s: ref [%s]", c.frame, d.ref.c_str());
  }
}

static void decode_fields(void**) {
  DecodeResult d = codec.decode(R"({"type":"publish","channel":"caf\u00e9 \"x\"","data": { "b" : [1, 2.5, "\u00e9\n"] , "n":null },"ref":[1]})", true);
  assert_true(d.ok);
  assert_int_equal(d.request.type, RequestType::Publish);
  assert_string_equal(d.request.channel.c_str(), "caf\xc3\xa9 \"x\"");
  assert_true(d.request.has_data);
  assert_int_equal(d.request.data.kind, PayloadKind::Json);
  assert_string_equal(d.request.data.bytes.c_str(), "{\"b\":[1,2.5,\"\\u00e9\\n\"],\"n\":null}");  // as sent
  assert_string_equal(d.request.ref.c_str(), "[1]");

  d = codec.decode(R"({"type":"subscribe","channel":7,"since":1732480000123})", false);
  assert_true(d.ok);
  assert_true(d.request.channel.empty());  // not a string: the core answers INVALID_CHANNEL
  assert_true(d.request.has_since);
  assert_string_equal(d.request.since.c_str(), "1732480000123");

  // A token is unescaped like any string; the first of duplicate keys counts.
  d = codec.decode(R"({"type":"auth","token":"a.b\u002ec","token":"other","ref":"r"})", false);
  assert_true(d.ok);
  assert_int_equal(d.request.type, RequestType::Auth);
  assert_string_equal(d.request.token.c_str(), "a.b.c");
  assert_string_equal(d.request.ref.c_str(), "\"r\"");

  d = codec.decode(R"({"type":"subscribe","channel":"c","since":null})", false);
  assert_true(d.ok);
  assert_false(d.request.has_since);

  // Values keep the sender's text: no digit of a number is lost, whatever a
  // double can hold; only whitespace between tokens goes.
  d = codec.decode(R"({"type":"publish","channel":"c","data":[ 12345678901234567890 , 0.1, 1E400, -0.0, "a  b\"}" ],)"
                   R"("ref" : 9007199254740993})", false);
  assert_true(d.ok);
  assert_string_equal(d.request.data.bytes.c_str(), R"([12345678901234567890,0.1,1E400,-0.0,"a  b\"}"])");
  assert_string_equal(d.request.ref.c_str(), "9007199254740993");
  std::string back;
  assert_true(json_compact(" { \"n\" : 123456789012345678901234567890 , \"t\":[ true ,null] } ", &back));
  assert_string_equal(back.c_str(), R"({"n":123456789012345678901234567890,"t":[true,null]})");
  // The first of duplicate keys, as cJSON reads it; a nested "data" is not the member.
  d = codec.decode(R"({"type":"publish","x":{"data":1},"channel":"c","data":2,"data":3})", false);
  assert_true(d.ok);
  assert_string_equal(d.request.data.bytes.c_str(), "2");
  // A key spelt with escapes still works (through cJSON's print).
  d = codec.decode(R"({"type":"publish","channel":"c","d\u0061ta":[1]})", false);
  assert_true(d.ok);
  assert_string_equal(d.request.data.bytes.c_str(), "[1]");
}

static std::string encode(const ServerFrame& f) {
  FrameRef r = codec.encode(f);
  assert_false(r->binary());
  return std::string(r->view());
}

static void encode_every_frame(void**) {
  ServerFrame f;
  f.type = ServerFrameType::ConnectionEstablished;
  f.connection_id = "abc";
  f.node = "n:1";
  f.heartbeat_interval = 25;
  f.timestamp = 1732480000.5;
  assert_string_equal(encode(f).c_str(),
                      R"({"type":"connection_established","connection_id":"abc","node":"n:1","heartbeat_interval":25,"timestamp":1732480000.500})");

  f = ServerFrame{};
  f.type = ServerFrameType::Subscribed;
  f.channel = "c";
  assert_string_equal(encode(f).c_str(), R"({"type":"subscribed","channel":"c","position":null})");
  f.has_position = true;
  f.position = "5-1";
  f.recovered = false;
  assert_string_equal(encode(f).c_str(), R"({"type":"subscribed","channel":"c","position":"5-1","recovered":false})");

  Payload p{PayloadKind::Json, R"({"a":[1,"x"]})"};
  f = ServerFrame{};
  f.type = ServerFrameType::Message;
  f.channel = "c";
  f.id = "7-0";
  f.data = &p;
  f.timestamp = 2.25;
  assert_string_equal(encode(f).c_str(), R"({"type":"message","channel":"c","id":"7-0","data":{"a":[1,"x"]},"timestamp":2.250})");

  Payload bin{PayloadKind::Binary, std::string("\xde\xad\xbe\xef", 4)};
  f.data = &bin;
  assert_string_equal(encode(f).c_str(),
                      R"({"type":"message","channel":"c","id":"7-0","data":"3q2+7w==","encoding":"base64","timestamp":2.250})");

  f = ServerFrame{};
  f.type = ServerFrameType::Unsubscribed;
  f.channel = "c";
  assert_string_equal(encode(f).c_str(), R"({"type":"unsubscribed","channel":"c"})");

  f = ServerFrame{};
  f.type = ServerFrameType::Published;
  f.channel = "c";
  f.id = "7-0";
  assert_string_equal(encode(f).c_str(), R"({"type":"published","channel":"c","id":"7-0"})");
  f.ref = R"({"k":1})";
  assert_string_equal(encode(f).c_str(), R"({"type":"published","channel":"c","id":"7-0","ref":{"k":1}})");

  f = ServerFrame{};
  f.type = ServerFrameType::HeartbeatAck;
  f.timestamp = 3;
  assert_string_equal(encode(f).c_str(), R"({"type":"heartbeat_ack","timestamp":3.000})");

  f = ServerFrame{};
  f.type = ServerFrameType::Error;
  f.code = error_code_name(ErrorCode::InvalidChannel);
  f.message = "bad \"name\"";
  f.ref = "7";
  assert_string_equal(encode(f).c_str(), R"({"type":"error","code":"INVALID_CHANNEL","message":"bad \"name\"","ref":7})");

  f = ServerFrame{};
  f.type = ServerFrameType::Authenticated;
  f.user = "42";
  f.expires = 1732480000;
  assert_string_equal(encode(f).c_str(), R"({"type":"authenticated","user":"42","expires":1732480000.000})");
  f.expires.reset();  // a token without `exp`
  assert_string_equal(encode(f).c_str(), R"({"type":"authenticated","user":"42","expires":null})");
}

// A token's `exp` is any number its signer chose: the largest finite double
// is written whole (309 digits), still one JSON number.
static void encode_any_expires(void**) {
  ServerFrame f;
  f.type = ServerFrameType::Authenticated;
  f.user = "u";
  f.expires = 1.7976931348623157e308;
  const std::string text = encode(f);
  cJSON* j = cJSON_Parse(text.c_str());
  assert_non_null(j);
  const cJSON* expires = cJSON_GetObjectItemCaseSensitive(j, "expires");
  assert_true(cJSON_IsNumber(expires));
  assert_true(expires->valuedouble == 1.7976931348623157e308);
  cJSON_Delete(j);
  assert_non_null(std::strstr(text.c_str(), "858368.000}"));  // DBL_MAX's last digits: not cut short
}

static void strings_escape_and_round_trip(void**) {
  std::string out;
  json_append_string(&out, std::string("a\"b\\c\n\t\x01\x1f\x7f caf\xc3\xa9", 16));
  assert_string_equal(out.c_str(), "\"a\\\"b\\\\c\\n\\t\\u0001\\u001f\x7f caf\xc3\xa9\"");
  // Every byte below 0x20 comes back as itself through a JSON parser.
  std::string all;
  for (int c = 1; c < 0x20; ++c) all.push_back(static_cast<char>(c));
  std::string lit;
  json_append_string(&lit, all);
  cJSON* j = cJSON_Parse(lit.c_str());
  assert_non_null(j);
  assert_string_equal(j->valuestring, all.c_str());
  cJSON_Delete(j);
}

static void channel_names(void**) {
  assert_true(valid_channel("news"));
  assert_true(valid_channel("a/b:c.d-e_f@g"));
  assert_true(valid_channel("caf\xc3\xa9"));
  assert_true(valid_channel(std::string(200, 'x')));
  assert_false(valid_channel(std::string(201, 'x')));
  assert_false(valid_channel(""));
  for (const char* bad : {"a b", "a\tb", "a\nb", "a\rb", "\x7f", "a\x01"}) assert_false(valid_channel(bad));
}

static void frames_share_bytes(void**) {
  FrameRef a = Frame::make("hello", true);
  FrameRef b = a, c = b;
  assert_int_equal(a.use_count(), 3);
  assert_ptr_equal(a->data(), c->data());
  assert_true(a->binary());
  assert_int_equal(a->size(), 5);
  // The headroom in front of the payload is writable scratch for lws.
  std::memset(a->data() - kFrameHeadroom, 0xAA, kFrameHeadroom);
  assert_memory_equal(c->data(), "hello", 5);
  b = FrameRef();
  assert_int_equal(a.use_count(), 2);
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(decode_table),          cmocka_unit_test(decode_fields),
      cmocka_unit_test(encode_every_frame),    cmocka_unit_test(strings_escape_and_round_trip),
      cmocka_unit_test(channel_names),         cmocka_unit_test(frames_share_bytes),
      cmocka_unit_test(encode_any_expires),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
