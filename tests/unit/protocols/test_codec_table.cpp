// Every codec from one table: each client request (and each way one can be
// wrong) is written in JSON, MessagePack and Protocol Buffers by the test's
// own writers and must decode to the same request or the same error (the
// encoding's own code where the spec names one: INVALID_JSON for rtpush-json,
// INVALID_FRAME for the binary encodings); each server frame type is encoded
// by all three and read back to the same keys and values, in the table's order.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
extern "C" {
#include <cmocka.h>
}

#include <cjson/cJSON.h>
#include <msgpack.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "codec.h"
#include "json_msgpack.h"
#include "json_text.h"
#include "rtpush.pb-c.h"

using namespace rtpush;

namespace {

constexpr Encoding kEncodings[] = {Encoding::Json, Encoding::MsgPack, Encoding::Protobuf};
const char* name(Encoding e) { return codec_for(e)->protocol_name(); }

// ---- client frames, written per encoding ---------------------------------

// A member's value, as the table states it.
struct V {
  enum Kind { Str, Int, Bool, Null, Json, Bin, Ext } kind;
  std::string text;  // Str: the string; Int: digits; Bool: true/false; Json: JSON text; Bin: the bytes
};
V str(std::string s) { return {V::Str, std::move(s)}; }
V num(const char* digits) { return {V::Int, digits}; }
V boolean(bool b) { return {V::Bool, b ? "true" : "false"}; }
V null() { return {V::Null, ""}; }
V json(const char* text) { return {V::Json, text}; }
V bin(std::string bytes) { return {V::Bin, std::move(bytes)}; }
V ext() { return {V::Ext, ""}; }

struct Member {
  const char* key;  // type, channel, since, data, ref, token
  V value;
};

int append(void* data, const char* buf, size_t len) {
  static_cast<std::string*>(data)->append(buf, len);
  return 0;
}

// nullopt when JSON cannot say it (bytes, ext).
std::optional<std::string> write_json(const std::vector<Member>& members) {
  std::string o = "{";
  for (const Member& m : members) {
    if (o.size() > 1) o += ',';
    json_append_string(&o, m.key);
    o += ':';
    switch (m.value.kind) {
      case V::Str: json_append_string(&o, m.value.text); break;
      case V::Int: case V::Bool: case V::Json: o += m.value.text; break;
      case V::Null: o += "null"; break;
      case V::Bin: case V::Ext: return std::nullopt;
    }
  }
  return o + "}";
}

std::optional<std::string> write_msgpack(const std::vector<Member>& members) {
  std::string o;
  msgpack_packer pk;
  msgpack_packer_init(&pk, &o, append);
  msgpack_pack_map(&pk, members.size());
  for (const Member& m : members) {
    msgpack_pack_str_with_body(&pk, m.key, std::strlen(m.key));
    const std::string& t = m.value.text;
    switch (m.value.kind) {
      case V::Str: msgpack_pack_str_with_body(&pk, t.data(), t.size()); break;
      case V::Int:
        if (t[0] == '-') msgpack_pack_int64(&pk, std::strtoll(t.c_str(), nullptr, 10));
        else msgpack_pack_uint64(&pk, std::strtoull(t.c_str(), nullptr, 10));
        break;
      case V::Bool: t == "true" ? msgpack_pack_true(&pk) : msgpack_pack_false(&pk); break;
      case V::Null: msgpack_pack_nil(&pk); break;
      case V::Json: assert_true(pack_json(t, &pk)); break;
      case V::Bin: msgpack_pack_bin_with_body(&pk, t.data(), t.size()); break;
      case V::Ext: o.append("\xd4\x01\x00", 3); break;  // fixext 1
    }
  }
  return o;
}

// Fields of rtpush.v1.Frame written by hand (length-delimited), so that any
// bytes can go in; nullopt for what proto3 cannot say (numbers, booleans and
// null where the schema has strings, ext).
std::optional<std::string> write_protobuf(const std::vector<Member>& members) {
  std::string o;
  for (const Member& m : members) {
    const std::string key = m.key;
    const int number = key == "type"      ? 1
                       : key == "channel" ? 2
                       : key == "since"   ? 4
                       : key == "data"    ? 5
                       : key == "token"   ? 16
                                          : 6;
    if (m.value.kind != V::Str && m.value.kind != V::Json && m.value.kind != V::Bin) return std::nullopt;
    if (key == "token" && m.value.kind != V::Str) return std::nullopt;  // a string field: JSON text would be a string
    for (int tag = number << 3 | 2;; tag >>= 7) {  // varint tag (field 16 takes two bytes)
      o += static_cast<char>((tag & 0x7f) | (tag > 0x7f ? 0x80 : 0));
      if (tag <= 0x7f) break;
    }
    for (std::size_t n = m.value.text.size();; n >>= 7) {  // varint length
      o += static_cast<char>((n & 0x7f) | (n > 0x7f ? 0x80 : 0));
      if (n <= 0x7f) break;
    }
    o += m.value.text;
  }
  return o;
}

std::optional<std::string> write(Encoding e, const std::vector<Member>& members) {
  switch (e) {
    case Encoding::Json: return write_json(members);
    case Encoding::MsgPack: return write_msgpack(members);
    case Encoding::Protobuf: return write_protobuf(members);
    case Encoding::Sse: break;  // receive-only: no client frames (test_sse_frame.cpp)
  }
  return std::nullopt;
}

// What a decode must give.
enum class Outcome {
  Ok,
  UnknownType,   // UNKNOWN_MESSAGE_TYPE
  BadFrame,      // INVALID_JSON (rtpush-json) or INVALID_FRAME (binary encodings)
  TooLarge,      // MESSAGE_TOO_LARGE
};

struct DecodeCase {
  const char* what = "";
  std::vector<Member> members;
  Outcome outcome = Outcome::Ok;
  const char* ref = "";          // the ref echoed (JSON text; "" = none)
  // When Ok: the request.
  RequestType type = RequestType::Heartbeat;
  const char* channel = "";
  const char* since = nullptr;   // nullptr: no since
  PayloadKind data_kind = PayloadKind::Json;
  std::string data;              // when a publish
  std::string token;             // the request's token (auth only)
  // When not Ok: a part of the reason.
  const char* reason = "";
  // Frames given as bytes per encoding (in kEncodings order; nullptr: not
  // sayable there) instead of members.
  std::vector<const char*> raw = {};
  std::size_t raw_size[3] = {};
  int only = -1;                 // an Encoding the case is for alone (-1: all that can say it)
  std::size_t max_payload = SIZE_MAX;
};

std::vector<DecodeCase> decode_cases() {
  std::vector<DecodeCase> c;
  auto ok = [&](const char* what, std::vector<Member> m, RequestType t, const char* channel) -> DecodeCase& {
    DecodeCase d;
    d.what = what, d.members = std::move(m);
    d.type = t;
    d.channel = channel;
    c.push_back(std::move(d));
    return c.back();
  };
  auto fails = [&](const char* what, std::vector<Member> m, Outcome o, const char* reason) -> DecodeCase& {
    DecodeCase d;
    d.what = what, d.members = std::move(m), d.outcome = o;
    d.reason = reason;
    c.push_back(std::move(d));
    return c.back();
  };
  // Each request type.
  ok("subscribe", {{"type", str("subscribe")}, {"channel", str("news")}}, RequestType::Subscribe, "news");
  ok("subscribe since an id", {{"type", str("subscribe")}, {"channel", str("news")}, {"since", str("1-2")}},
     RequestType::Subscribe, "news").since = "1-2";
  ok("subscribe since a bare ms", {{"type", str("subscribe")}, {"channel", str("c")}, {"since", num("1700000000000")}},
     RequestType::Subscribe, "c").since = "1700000000000";
  ok("subscribe since null", {{"type", str("subscribe")}, {"channel", str("c")}, {"since", null()}},
     RequestType::Subscribe, "c");
  ok("a UTF-8 channel", {{"type", str("subscribe")}, {"channel", str("caf\xc3\xa9 \"x\"")}}, RequestType::Subscribe,
     "caf\xc3\xa9 \"x\"");
  ok("a channel that is no string", {{"type", str("subscribe")}, {"channel", num("7")}}, RequestType::Subscribe, "");
  ok("unsubscribe with a null ref", {{"type", str("unsubscribe")}, {"channel", str("news")}, {"ref", json("null")}},
     RequestType::Unsubscribe, "news").ref = "null";
  {
    DecodeCase& d = ok("publish JSON",
                       {{"type", str("publish")}, {"channel", str("c")}, {"data", json(R"({ "a" : [1, "x", true] })")},
                        {"ref", json(R"({ "k" : [7] })")}},
                       RequestType::Publish, "c");
    d.data = R"({"a":[1,"x",true]})";
    d.ref = R"({"k":[7]})";
  }
  ok("publish null", {{"type", str("publish")}, {"channel", str("c")}, {"data", json("null")}}, RequestType::Publish, "c")
      .data = "null";
  {
    DecodeCase& d = ok("publish bytes", {{"type", str("publish")}, {"channel", str("c")}, {"data", bin(std::string("\x00\xff\x01", 3))}},
                       RequestType::Publish, "c");
    d.data_kind = PayloadKind::Binary;
    d.data = std::string("\x00\xff\x01", 3);
  }
  ok("heartbeat", {{"type", str("heartbeat")}}, RequestType::Heartbeat, "");
  ok("auth", {{"type", str("auth")}, {"token", str("aaa.bbb.ccc")}}, RequestType::Auth, "").token = "aaa.bbb.ccc";
  {
    DecodeCase& d = ok("auth with a ref", {{"type", str("auth")}, {"token", str("t.u.v")}, {"ref", json(R"({"k":[1]})")}},
                       RequestType::Auth, "");
    d.token = "t.u.v";
    d.ref = R"({"k":[1]})";
  }
  // The token as the exact bytes sent (NULs, quotes): the verifier, not the codec, judges it.
  ok("auth with a NUL in the token", {{"type", str("auth")}, {"token", str(std::string("a\0\"b", 4))}},
     RequestType::Auth, "").token = std::string("a\0\"b", 4);
  // No token, or one that is no string, is an empty token (as a channel that
  // is no string is an empty channel): the core answers UNAUTHORIZED.
  ok("auth without a token", {{"type", str("auth")}}, RequestType::Auth, "");
  ok("auth with a token that is no string", {{"type", str("auth")}, {"token", num("7")}}, RequestType::Auth, "");
  ok("auth with a null token", {{"type", str("auth")}, {"token", null()}}, RequestType::Auth, "");
  ok("auth with a token that is an object", {{"type", str("auth")}, {"token", json(R"({"t":"x"})")}},
     RequestType::Auth, "");
  ok("a token on another request is not read", {{"type", str("heartbeat")}, {"token", str("aaa.bbb.ccc")}},
     RequestType::Heartbeat, "");

  // Each error.
  {
    DecodeCase& d = fails("not a frame", {}, Outcome::BadFrame, "");
    d.raw = {"not json", "\xc1", "\x0a\x05" "ab"};
    d.raw_size[0] = 8, d.raw_size[1] = 1, d.raw_size[2] = 4;
  }
  {
    DecodeCase& d = fails("not an object", {}, Outcome::BadFrame, "");
    d.raw = {"[1,2]", "\x92\x01\x02", nullptr};
    d.raw_size[0] = 5, d.raw_size[1] = 3;
  }
  fails("no type", {{"channel", str("c")}}, Outcome::UnknownType, kUnknownTypeMessage);
  fails("an unknown type", {{"type", str("dance")}, {"ref", json(R"({"a":[1]})")}}, Outcome::UnknownType,
        kUnknownTypeMessage).ref = R"({"a":[1]})";
  fails("a type spelt otherwise", {{"type", str("Subscribe")}}, Outcome::UnknownType, kUnknownTypeMessage);
  fails("a type that is no string", {{"type", num("5")}, {"ref", json("1")}}, Outcome::UnknownType,
        kUnknownTypeMessage).ref = "1";
  fails("publish without data", {{"type", str("publish")}, {"channel", str("c")}, {"ref", json("\"r\"")}},
        Outcome::BadFrame, "publish needs a").ref = "\"r\"";
  fails("since of no id's kind", {{"type", str("subscribe")}, {"channel", str("c")}, {"since", boolean(true)}, {"ref", json("2")}},
        Outcome::BadFrame, "since must be a message id string \"<ms>-<seq>\"").ref = "2";
  fails("a negative since", {{"type", str("subscribe")}, {"channel", str("c")}, {"since", num("-1")}}, Outcome::BadFrame,
        "since must be a message id string");
  fails("data JSON cannot hold", {{"type", str("publish")}, {"channel", str("c")}, {"data", ext()}, {"ref", json("3")}},
        Outcome::BadFrame, "data must be bin").ref = "3";
  fails("a ref JSON cannot hold", {{"type", str("heartbeat")}, {"ref", bin("\xff")}}, Outcome::BadFrame, "ref must be");
  {
    DecodeCase& d = fails("data past max-message-bytes as JSON",
                          {{"type", str("publish")}, {"channel", str("c")}, {"data", str(std::string(100, '\x01'))}},
                          Outcome::TooLarge, "larger than max-message-bytes (200)");
    d.only = static_cast<int>(Encoding::MsgPack);  // the one encoding whose data grows as JSON
    d.max_payload = 200;
  }
  return c;
}

ErrorCode expected_code(Outcome o, Encoding e) {
  switch (o) {
    case Outcome::UnknownType: return ErrorCode::UnknownMessageType;
    case Outcome::TooLarge: return ErrorCode::MessageTooLarge;
    default: return e == Encoding::Json ? ErrorCode::InvalidJson : ErrorCode::InvalidFrame;
  }
}

}  // namespace

static void every_request_through_every_codec(void**) {
  int ran[3] = {}, types_seen[kRequestTypeCount] = {};
  for (const DecodeCase& c : decode_cases()) {
    for (Encoding e : kEncodings) {
      const int ei = static_cast<int>(e);
      if (c.only >= 0 && c.only != ei) continue;
      std::optional<std::string> frame;
      if (!c.raw.empty()) {
        if (c.raw[ei]) frame = std::string(c.raw[ei], c.raw_size[ei]);
      } else {
        frame = write(e, c.members);
      }
      if (!frame) continue;  // the encoding cannot say it
      ++ran[ei];
      const DecodeResult d = codec_for(e)->decode(*frame, e != Encoding::Json, c.max_payload);
      if (d.ok != (c.outcome == Outcome::Ok))
        fail_msg("%s, %s: ok=%d (%s)", c.what, name(e), d.ok, d.message.c_str());
      if (d.ref != c.ref) fail_msg("%s, %s: ref [%s], not [%s]", c.what, name(e), d.ref.c_str(), c.ref);
      if (!d.ok) {
        if (d.error != expected_code(c.outcome, e))
          fail_msg("%s, %s: %s", c.what, name(e), error_code_name(d.error));
        if (d.message.find(c.reason) == std::string::npos || d.message.size() < 6)
          fail_msg("%s, %s: reason [%s]", c.what, name(e), d.message.c_str());
        continue;
      }
      const ClientRequest& r = d.request;
      ++types_seen[static_cast<int>(r.type)];
      if (r.type != c.type) fail_msg("%s, %s: type %s", c.what, name(e), request_type_name(r.type));
      if (r.channel != c.channel) fail_msg("%s, %s: channel [%s]", c.what, name(e), r.channel.c_str());
      if (r.has_since != (c.since != nullptr) || (c.since && r.since != c.since))
        fail_msg("%s, %s: since [%s]", c.what, name(e), r.since.c_str());
      if (r.ref != c.ref) fail_msg("%s, %s: request ref [%s]", c.what, name(e), r.ref.c_str());
      if (r.token != c.token) fail_msg("%s, %s: token [%s]", c.what, name(e), r.token.c_str());
      const bool publish = c.type == RequestType::Publish;
      if (r.has_data != publish) fail_msg("%s, %s: has_data=%d", c.what, name(e), r.has_data);
      if (publish && (r.data.kind != c.data_kind || r.data.bytes != c.data))
        fail_msg("%s, %s: data [%s]", c.what, name(e), r.data.bytes.c_str());
    }
  }
  // Every codec ran most of the table, and every request type was decoded.
  for (int n : ran) assert_true(n >= 12);
  for (int n : types_seen) assert_true(n >= 1);
}

// ---- server frames, read back per encoding -------------------------------

namespace {

using Keys = std::vector<std::pair<std::string, std::string>>;  // key, value as canonical text

std::string hex(std::string_view bytes) {
  std::string h = "bin:";
  char b[3];
  for (unsigned char c : bytes) std::snprintf(b, sizeof b, "%02x", c), h += b;
  return h;
}

std::string quoted(std::string_view s) {
  std::string q;
  json_append_string(&q, s);
  return q;
}

std::string seconds(double t) {
  char b[40];
  std::snprintf(b, sizeof b, "%.3f", t);
  return b;
}

Keys read_json(std::string_view bytes) {
  cJSON* root = cJSON_ParseWithLength(bytes.data(), bytes.size());
  assert_non_null(root);
  Keys keys;
  const cJSON* encoding = cJSON_GetObjectItemCaseSensitive(root, "encoding");
  for (const cJSON* v = root->child; v; v = v->next) {
    const std::string key = v->string;
    if (key == "encoding") continue;  // said below, with the data it describes
    std::string text;
    if (key == "data" && cJSON_IsString(encoding)) {
      assert_string_equal(encoding->valuestring, "base64");
      std::string raw(std::strlen(v->valuestring), '\0');
      int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(raw.data()),
                              reinterpret_cast<const unsigned char*>(v->valuestring), static_cast<int>(raw.size()));
      const std::string_view b64(v->valuestring);
      n -= static_cast<int>(std::count(b64.begin(), b64.end(), '='));  // padding decodes to zero bytes
      text = hex(std::string_view(raw.data(), static_cast<std::size_t>(n)));
    } else if (cJSON_IsString(v)) {
      text = quoted(v->valuestring);
    } else if (cJSON_IsNumber(v)) {
      text = key == "timestamp" || key == "expires" ? seconds(v->valuedouble)
                                                     : std::to_string(static_cast<long long>(v->valuedouble));
    } else {
      char* printed = cJSON_PrintUnformatted(v);
      text = printed;
      cJSON_free(printed);
    }
    keys.emplace_back(key, text);
  }
  cJSON_Delete(root);
  return keys;
}

Keys read_msgpack(std::string_view bytes) {
  msgpack_unpacked u;
  msgpack_unpacked_init(&u);
  std::size_t off = 0;
  assert_int_equal(msgpack_unpack_next(&u, bytes.data(), bytes.size(), &off), MSGPACK_UNPACK_SUCCESS);
  assert_int_equal(off, bytes.size());
  assert_int_equal(u.data.type, MSGPACK_OBJECT_MAP);
  Keys keys;
  for (std::uint32_t k = 0; k < u.data.via.map.size; ++k) {
    const msgpack_object& key = u.data.via.map.ptr[k].key;
    const msgpack_object& v = u.data.via.map.ptr[k].val;
    assert_int_equal(key.type, MSGPACK_OBJECT_STR);
    const std::string name(key.via.str.ptr, key.via.str.size);
    std::string text;
    switch (v.type) {
      case MSGPACK_OBJECT_STR: text = quoted(std::string_view(v.via.str.ptr, v.via.str.size)); break;
      case MSGPACK_OBJECT_BIN: text = hex(std::string_view(v.via.bin.ptr, v.via.bin.size)); break;
      case MSGPACK_OBJECT_FLOAT64: text = seconds(v.via.f64); break;
      default: assert_int_equal(msgpack_to_json(v, &text), JsonFromMsgpack::Ok);
    }
    keys.emplace_back(name, text);
  }
  msgpack_unpacked_destroy(&u);
  return keys;
}

// Fields in schema order; proto3 sends no default, so no null and no order.
Keys read_protobuf(std::string_view bytes) {
  Rtpush__V1__Frame* m = rtpush__v1__frame__unpack(nullptr, bytes.size(), reinterpret_cast<const std::uint8_t*>(bytes.data()));
  assert_non_null(m);
  Keys keys;
  auto s = [&](const char* key, const char* v) {
    if (v) keys.emplace_back(key, quoted(v));
  };
  s("type", m->type);
  s("channel", m->channel);
  s("id", m->id);
  if (m->has_data) {
    const std::string_view d(reinterpret_cast<const char*>(m->data.data), m->data.len);
    keys.emplace_back("data", json_valid(d) ? std::string(d) : hex(d));
  }
  if (m->ref) keys.emplace_back("ref", m->ref);
  s("code", m->code);
  s("message", m->message);
  if (m->has_timestamp) keys.emplace_back("timestamp", seconds(m->timestamp));
  s("connection_id", m->connection_id);
  s("node", m->node);
  if (m->has_heartbeat_interval) keys.emplace_back("heartbeat_interval", std::to_string(m->heartbeat_interval));
  s("position", m->position);
  if (m->has_recovered) keys.emplace_back("recovered", m->recovered ? "true" : "false");
  s("user", m->user);
  if (m->has_expires) keys.emplace_back("expires", seconds(m->expires));
  assert_null(m->token);  // a client's field: never in a server frame
  rtpush__v1__frame__free_unpacked(m, nullptr);
  return keys;
}

struct EncodeCase {
  const char* what;
  ServerFrame frame;
  Keys keys;  // in the order JSON and MessagePack write them
};

std::string keys_text(const Keys& keys) {
  std::string t;
  for (const auto& [k, v] : keys) t += k + "=" + v + " ";
  return t;
}

}  // namespace

static void every_frame_through_every_codec(void**) {
  const Payload json{PayloadKind::Json, R"({"a":[1,"x"]})"};
  const Payload bytes{PayloadKind::Binary, std::string("\xde\xad\xbe\xef", 4)};
  std::vector<EncodeCase> cases;
  auto add = [&](const char* what, ServerFrameType type, Keys keys) -> ServerFrame& {
    ServerFrame f;
    f.type = type;
    keys.insert(keys.begin(), {"type", quoted(server_frame_type_name(type))});
    cases.push_back({what, f, std::move(keys)});
    return cases.back().frame;
  };
  {
    ServerFrame& f = add("connection_established", ServerFrameType::ConnectionEstablished,
                         {{"connection_id", "\"abc\""}, {"node", "\"n:1\""}, {"heartbeat_interval", "25"},
                          {"timestamp", "1732480000.500"}});
    f.connection_id = "abc", f.node = "n:1", f.heartbeat_interval = 25, f.timestamp = 1732480000.5;
  }
  add("subscribed, no message yet", ServerFrameType::Subscribed, {{"channel", "\"c\""}, {"position", "null"}}).channel = "c";
  {
    ServerFrame& f = add("subscribed since, not recovered", ServerFrameType::Subscribed,
                         {{"channel", "\"c\""}, {"position", "\"5-1\""}, {"recovered", "false"}});
    f.channel = "c", f.has_position = true, f.position = "5-1", f.recovered = false;
  }
  {
    ServerFrame& f = add("message, JSON", ServerFrameType::Message,
                         {{"channel", "\"c\""}, {"id", "\"7-0\""}, {"data", R"({"a":[1,"x"]})"}, {"timestamp", "2.250"}});
    f.channel = "c", f.id = "7-0", f.data = &json, f.timestamp = 2.25;
  }
  {
    ServerFrame& f = add("message, bytes", ServerFrameType::Message,
                         {{"channel", "\"c\""}, {"id", "\"7-0\""}, {"data", "bin:deadbeef"}, {"timestamp", "2.250"}});
    f.channel = "c", f.id = "7-0", f.data = &bytes, f.timestamp = 2.25;
  }
  add("unsubscribed", ServerFrameType::Unsubscribed, {{"channel", "\"c\""}}).channel = "c";
  {
    ServerFrame& f = add("published", ServerFrameType::Published, {{"channel", "\"c\""}, {"id", "\"7-0\""}});
    f.channel = "c", f.id = "7-0";
  }
  {
    ServerFrame& f = add("published, with a ref", ServerFrameType::Published,
                         {{"channel", "\"c\""}, {"id", "\"7-0\""}, {"ref", R"({"k":1})"}});
    f.channel = "c", f.id = "7-0", f.ref = R"({"k":1})";
  }
  add("heartbeat_ack", ServerFrameType::HeartbeatAck, {{"timestamp", "3.000"}}).timestamp = 3;
  {
    ServerFrame& f = add("error", ServerFrameType::Error,
                         {{"code", "\"INVALID_CHANNEL\""}, {"message", "\"bad \\\"name\\\"\""}, {"ref", "7"}});
    f.code = "INVALID_CHANNEL", f.message = "bad \"name\"", f.ref = "7";
  }
  {
    ServerFrame& f = add("authenticated, until a time", ServerFrameType::Authenticated,
                         {{"user", "\"42\""}, {"expires", "1732480000.000"}});
    f.user = "42", f.expires = 1732480000;
  }
  {
    ServerFrame& f = add("authenticated, until a time with a fraction", ServerFrameType::Authenticated,
                         {{"user", "\"caf\xc3\xa9 \\\"x\\\"\""}, {"expires", "1732480000.250"}});
    f.user = "caf\xc3\xa9 \"x\"", f.expires = 1732480000.25;
  }
  {
    ServerFrame& f = add("authenticated, at time 0", ServerFrameType::Authenticated,
                         {{"user", "\"u\""}, {"expires", "0.000"}});
    f.user = "u", f.expires = 0.0;  // proto3 optional: 0 is sent, not taken for absent
  }
  add("authenticated, a token without exp", ServerFrameType::Authenticated, {{"user", "\"u\""}, {"expires", "null"}})
      .user = "u";
  {
    // An `exp` of 1E400 reads as infinity: no time, so null (JSON has no infinity).
    ServerFrame& f = add("authenticated, an infinite exp", ServerFrameType::Authenticated,
                         {{"user", "\"u\""}, {"expires", "null"}});
    f.user = "u", f.expires = HUGE_VAL;
  }

  bool type_seen[static_cast<int>(ServerFrameType::Authenticated) + 1] = {};
  for (const EncodeCase& c : cases) {
    type_seen[static_cast<int>(c.frame.type)] = true;
    for (Encoding e : kEncodings) {
      const FrameRef f = codec_for(e)->encode(c.frame);
      assert_int_equal(f->binary(), e != Encoding::Json);
      Keys got = e == Encoding::Json      ? read_json(f->view())
                 : e == Encoding::MsgPack ? read_msgpack(f->view())
                                          : read_protobuf(f->view());
      Keys want = c.keys;
      if (e == Encoding::Protobuf) {  // proto3: null is absent, and fields have no order
        want.erase(std::remove_if(want.begin(), want.end(), [](const auto& kv) { return kv.second == "null"; }),
                   want.end());
        std::sort(want.begin(), want.end());
        std::sort(got.begin(), got.end());
      }
      if (got != want)
        fail_msg("%s, %s:\n  got  %s\n  want %s", c.what, name(e), keys_text(got).c_str(), keys_text(want).c_str());
    }
  }
  for (bool seen : type_seen) assert_true(seen);  // every frame type
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(every_request_through_every_codec),
      cmocka_unit_test(every_frame_through_every_codec),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
