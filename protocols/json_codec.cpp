// The JSON encoding. Decoding is one strict pass (json_text.h) that
// validates, minifies and lists the frame's members; values travel as the
// sender's own text (12345678901234567890 and 1E400 arrive as sent).
// Encoding follows the frame field table (frame_fields.h) and appends
// strings directly: it runs once per message per encoding on the fan-out
// path, and the payload is already compact JSON text.
#include "json_codec.h"

#include <openssl/evp.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "frame_fields.h"
#include "json_text.h"
#include "request_builder.h"

namespace rtpush {

namespace {

// Seconds with three decimals. The buffer holds any finite double that way
// (DBL_MAX is 309 digits): a token's `exp` is the sender's number, not a clock's.
void append_timestamp(std::string* out, double t) {
  char buf[320];
  int n = std::snprintf(buf, sizeof buf, "%.3f", std::isfinite(t) ? t : 0.0);
  out->append(buf, n > 0 ? static_cast<std::size_t>(n) : 0);
}

void append_key(std::string* out, std::string_view key) {
  out->append(",\"");
  out->append(key);
  out->append("\":");
}

void append_base64(std::string* out, std::string_view bytes) {
  const std::size_t at = out->size();
  out->resize(at + 4 * ((bytes.size() + 2) / 3) + 1);
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(&(*out)[at]),
                                reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out->resize(at + static_cast<std::size_t>(n));
}

// The members a client frame may have; the first of duplicate keys counts.
struct FrameMembers {
  std::string_view type, channel, since, data, ref, token;
  bool has_type = false, has_channel = false, has_since = false, has_data = false, has_ref = false, has_token = false;

  void take(std::string_view name, std::string_view value) {
    auto slot = [&](std::string_view* v, bool* has) {
      if (!*has) *v = value, *has = true;
    };
    if (name == "type") slot(&type, &has_type);
    else if (name == "channel") slot(&channel, &has_channel);
    else if (name == "since") slot(&since, &has_since);
    else if (name == "data") slot(&data, &has_data);
    else if (name == "ref") slot(&ref, &has_ref);
    else if (name == "token") slot(&token, &has_token);
  }
};

bool is_string(std::string_view v) { return !v.empty() && v.front() == '"'; }

// The decoded text of a string value (valid, quoted): every byte, NULs too.
std::string string_value(std::string_view v) {
  std::string s;
  json_unescape(v.substr(1, v.size() - 2), &s);
  return s;
}

// A JSON frame's members, read for build_request(); `data` is the sender's
// own (minified, strict) text.
class JsonRequest final : public RawRequest {
 public:
  explicit JsonRequest(const FrameMembers& m)
      : RawRequest(ErrorCode::InvalidJson, "publish needs a data field"), data_(m.data) {
    if (m.has_ref) ref.assign(m.ref);
    type_is_string = is_string(m.type);
    if (type_is_string) {
      const std::string_view body = m.type.substr(1, m.type.size() - 2);
      if (body.find('\\') == std::string_view::npos) {
        type = body;
      } else {
        json_unescape(body, &type_text_);
        type = type_text_;
      }
    }
    if (is_string(m.channel)) channel = string_value(m.channel);
    if (is_string(m.token)) token = string_value(m.token);
    if (m.has_since && m.since != "null") read_since(m.since);
    has_data = m.has_data;
  }

  std::optional<MemberFailure> read_data(Payload* out) const override {
    out->kind = PayloadKind::Json;
    out->bytes.assign(data_);
    return std::nullopt;
  }

 private:
  // A string is the id as sent; a whole non-negative number a bare ms.
  void read_since(std::string_view v) {
    since_state = Since::Bad;
    const char c = v.front();
    if (is_string(v)) {
      since = string_value(v);
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      const double ms = std::strtod(std::string(v).c_str(), nullptr);
      if (!(ms >= 0 && ms == std::floor(ms) && ms < 1e19)) return;
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.0f", ms);  // a bare ms: "<ms>"
      since = buf;
    } else {
      return;
    }
    since_state = Since::Given;
  }

  std::string_view data_;
  std::string type_text_;  // `type` spelt with escapes, unescaped
};

}  // namespace

DecodeResult JsonCodec::decode(std::string_view bytes, bool /*is_binary: JSON in a binary frame is fine*/,
                               std::size_t /*max_payload_bytes: the payload is never larger than the frame*/) const {
  std::string text;  // the frame, minified
  std::vector<JsonMember> members;
  if (const char* why = json_strict(bytes, &text, kMaxJsonDepth + 1, &members))
    return decode_error(ErrorCode::InvalidJson, std::string("frame is not valid JSON: ") + why);
  if (text.front() != '{') return decode_error(ErrorCode::InvalidJson, "a frame must be a JSON object");

  FrameMembers m;
  const std::string_view all(text);
  std::string unescaped;
  for (const JsonMember& jm : members) {
    std::string_view name = all.substr(jm.key, jm.key_len);
    if (name.find('\\') != std::string_view::npos) {  // a key spelt with escapes
      unescaped.clear();
      json_unescape(name, &unescaped);
      name = unescaped;
    }
    m.take(name, all.substr(jm.value, jm.value_len));
  }
  JsonRequest raw(m);
  return build_request(raw);
}

FrameRef JsonCodec::encode(const ServerFrame& f) const {
  std::string o;
  o.reserve(96 + f.channel.size() + (f.data ? f.data->bytes.size() * 4 / 3 + 32 : 0) + f.message.size());
  o.append("{\"type\":\"");
  o.append(server_frame_type_name(f.type));
  o.push_back('"');
  for (FrameField field : frame_fields(f.type)) {
    if (!frame_field_present(f, field)) continue;
    append_key(&o, frame_field_name(field));
    switch (field) {
      case FrameField::ConnectionId: json_append_string(&o, f.connection_id); break;
      case FrameField::Node: json_append_string(&o, f.node); break;
      case FrameField::HeartbeatInterval: o.append(std::to_string(f.heartbeat_interval)); break;
      case FrameField::Timestamp: append_timestamp(&o, f.timestamp); break;
      case FrameField::Channel: json_append_string(&o, f.channel); break;
      case FrameField::Id: json_append_string(&o, f.id); break;
      case FrameField::Position:
        if (f.has_position) json_append_string(&o, f.position); else o.append("null");
        break;
      case FrameField::Recovered: o.append(*f.recovered ? "true" : "false"); break;
      case FrameField::Data:
        if (!f.data) {
          o.append("null");
        } else if (f.data->kind == PayloadKind::Json) {
          o.append(f.data->bytes);  // already compact, validated JSON
        } else {  // bytes: base64, and a key saying so (docs/protocol.md, "Payloads that are not JSON")
          o.push_back('"');
          append_base64(&o, f.data->bytes);
          o.push_back('"');
          append_key(&o, "encoding");
          o.append("\"base64\"");
        }
        break;
      case FrameField::Code: json_append_string(&o, f.code); break;
      case FrameField::Message: json_append_string(&o, f.message); break;
      case FrameField::Ref: o.append(f.ref); break;  // the request's own JSON text
      case FrameField::User: json_append_string(&o, f.user); break;
      case FrameField::Reason: json_append_string(&o, f.reason); break;
      case FrameField::Expires:
        if (const std::optional<double> t = frame_expires(f)) append_timestamp(&o, *t); else o.append("null");
        break;
    }
  }
  o.push_back('}');
  return Frame::make(o, /*binary=*/false);
}

}  // namespace rtpush
