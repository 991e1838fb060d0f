// The JSON encoding. Decoding parses with cJSON; encoding appends strings
// directly (no cJSON tree): it runs once per message per encoding on the
// fan-out path, and the payload is already compact JSON text.
#include "json_codec.h"

#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>

namespace rtpush {

namespace {

struct JsonDeleter {
  void operator()(cJSON* j) const { cJSON_Delete(j); }
};
using JsonPtr = std::unique_ptr<cJSON, JsonDeleter>;

// Values travel as the sender's own text, not as cJSON re-prints it: cJSON
// holds numbers as doubles, so 12345678901234567890 would come back as
// 1.2345678901234567e+19 and 1E400 as null. cJSON only validates; these
// helpers cut a member's text out of the (valid) frame and drop the
// whitespace between tokens.

bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::size_t skip_ws(std::string_view j, std::size_t i) {
  while (i < j.size() && is_ws(j[i])) ++i;
  return i;
}

// j[i] is '"': the index after the closing quote.
std::size_t skip_string(std::string_view j, std::size_t i) {
  for (++i; i < j.size(); ++i) {
    if (j[i] == '\\') ++i;
    else if (j[i] == '"') return i + 1;
  }
  return j.size();
}

// The index after the value starting at j[i].
std::size_t skip_value(std::string_view j, std::size_t i) {
  if (i >= j.size()) return i;
  if (j[i] == '"') return skip_string(j, i);
  if (j[i] == '{' || j[i] == '[') {
    int depth = 0;
    while (i < j.size()) {
      const char c = j[i];
      if (c == '"') {
        i = skip_string(j, i);
        continue;
      }
      if (c == '{' || c == '[') ++depth;
      if ((c == '}' || c == ']') && --depth == 0) return i + 1;
      ++i;
    }
    return i;
  }
  while (i < j.size() && !is_ws(j[i]) && j[i] != ',' && j[i] != '}' && j[i] != ']') ++i;
  return i;
}

// The text of the first member `key` of the top-level object of valid JSON
// `j`; empty when absent (or spelt with escapes: the caller falls back).
std::string_view member_text(std::string_view j, std::string_view key) {
  std::size_t i = skip_ws(j, 0);
  if (i >= j.size() || j[i] != '{') return {};
  for (i = skip_ws(j, i + 1); i < j.size() && j[i] == '"';) {
    const std::size_t k = i;
    i = skip_string(j, i);
    const std::string_view name = j.substr(k + 1, i - k - 2);
    i = skip_ws(j, i);
    if (i >= j.size() || j[i] != ':') return {};
    const std::size_t v = skip_ws(j, i + 1);
    i = skip_value(j, v);
    if (name == key) return j.substr(v, i - v);
    i = skip_ws(j, i);
    if (i >= j.size() || j[i] != ',') return {};
    i = skip_ws(j, i + 1);
  }
  return {};
}

// Valid JSON text without the whitespace between tokens.
void minify(std::string_view j, std::string* out) {
  out->clear();
  out->reserve(j.size());
  for (std::size_t i = 0; i < j.size();) {
    if (j[i] == '"') {
      const std::size_t end = skip_string(j, i);
      out->append(j.substr(i, end - i));
      i = end;
    } else {
      if (!is_ws(j[i])) out->push_back(j[i]);
      ++i;
    }
  }
}

// The member's own text, minified; cJSON's print as a fallback.
bool member_compact(std::string_view frame, const char* key, const cJSON* item, std::string* out) {
  const std::string_view raw = member_text(frame, key);
  if (!raw.empty()) {
    minify(raw, out);
    return true;
  }
  char* text = cJSON_PrintUnformatted(item);
  if (!text) return false;
  out->assign(text);
  cJSON_free(text);
  return true;
}

bool request_type(const cJSON* type, RequestType* out) {
  return cJSON_IsString(type) && parse_request_type(type->valuestring, out);
}

void append_timestamp(std::string* out, double t) {
  char buf[40];
  int n = std::snprintf(buf, sizeof buf, "%.3f", std::isfinite(t) ? t : 0.0);
  out->append(buf, n > 0 ? static_cast<std::size_t>(n) : 0);
}

void append_key(std::string* out, const char* key) {
  out->append(",\"");
  out->append(key);
  out->append("\":");
}

void append_field(std::string* out, const char* key, std::string_view value) {
  append_key(out, key);
  json_append_string(out, value);
}

// `"ref":R` when the request had a ref (R is its JSON text).
void append_ref(std::string* out, std::string_view ref) {
  if (ref.empty()) return;
  append_key(out, "ref");
  out->append(ref);
}

void append_base64(std::string* out, std::string_view bytes) {
  const std::size_t at = out->size();
  out->resize(at + 4 * ((bytes.size() + 2) / 3) + 1);
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(&(*out)[at]),
                                reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out->resize(at + static_cast<std::size_t>(n));
}

}  // namespace

void json_append_string(std::string* out, std::string_view s) {
  static const char kHex[] = "0123456789abcdef";
  out->push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\b': out->append("\\b"); break;
      case '\f': out->append("\\f"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      default:
        if (c < 0x20) {
          const char esc[] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 15]};
          out->append(esc, sizeof esc);
        } else {
          out->push_back(static_cast<char>(c));  // UTF-8 passes through
        }
    }
  }
  out->push_back('"');
}

bool json_compact(std::string_view text, std::string* compact) {
  JsonPtr root(cJSON_ParseWithLength(text.data(), text.size()));
  if (!root) return false;
  minify(text, compact);  // the sender's own text: numbers keep every digit
  return true;
}

DecodeResult JsonCodec::decode(std::string_view bytes, bool /*is_binary: JSON in a binary frame is fine*/) const {
  JsonPtr root(cJSON_ParseWithLength(bytes.data(), bytes.size()));
  if (!root) return decode_error(ErrorCode::InvalidJson, "frame is not valid JSON");
  if (!cJSON_IsObject(root.get())) return decode_error(ErrorCode::InvalidJson, "a frame must be a JSON object");

  std::string ref;
  if (const cJSON* r = cJSON_GetObjectItemCaseSensitive(root.get(), "ref")) member_compact(bytes, "ref", r, &ref);

  DecodeResult d;
  ClientRequest& req = d.request;
  if (!request_type(cJSON_GetObjectItemCaseSensitive(root.get(), "type"), &req.type))
    return decode_error(ErrorCode::UnknownMessageType, kUnknownTypeMessage, std::move(ref));

  const cJSON* channel = cJSON_GetObjectItemCaseSensitive(root.get(), "channel");
  if (cJSON_IsString(channel)) req.channel = channel->valuestring;  // the core validates it

  const cJSON* since = cJSON_GetObjectItemCaseSensitive(root.get(), "since");
  if (since && !cJSON_IsNull(since)) {
    if (cJSON_IsString(since)) {
      req.since = since->valuestring;
    } else if (cJSON_IsNumber(since) && since->valuedouble >= 0 &&
               since->valuedouble == std::floor(since->valuedouble) && since->valuedouble < 1e19) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.0f", since->valuedouble);  // a bare ms: "<ms>"
      req.since = buf;
    } else {
      return decode_error(ErrorCode::InvalidJson, "since must be a message id string \"<ms>-<seq>\"", std::move(ref));
    }
    req.has_since = true;
  }

  if (req.type == RequestType::Publish) {
    const cJSON* data = cJSON_GetObjectItemCaseSensitive(root.get(), "data");
    if (!data) return decode_error(ErrorCode::InvalidJson, "publish needs a data field", std::move(ref));
    req.has_data = true;
    req.data.kind = PayloadKind::Json;
    member_compact(bytes, "data", data, &req.data.bytes);
  }
  req.ref = ref;
  d.ref = std::move(ref);
  d.ok = true;
  return d;
}

FrameRef JsonCodec::encode(const ServerFrame& f) const {
  std::string o;
  o.reserve(96 + f.channel.size() + (f.data ? f.data->bytes.size() * 4 / 3 + 32 : 0) + f.message.size());
  o.append("{\"type\":\"");
  o.append(server_frame_type_name(f.type));
  o.push_back('"');
  switch (f.type) {
    case ServerFrameType::ConnectionEstablished:
      append_field(&o, "connection_id", f.connection_id);
      append_field(&o, "node", f.node);
      append_key(&o, "heartbeat_interval");
      o.append(std::to_string(f.heartbeat_interval));
      append_key(&o, "timestamp");
      append_timestamp(&o, f.timestamp);
      break;
    case ServerFrameType::Subscribed:
      append_field(&o, "channel", f.channel);
      append_key(&o, "position");
      if (f.has_position) json_append_string(&o, f.position); else o.append("null");
      if (f.recovered) {
        append_key(&o, "recovered");
        o.append(*f.recovered ? "true" : "false");
      }
      break;
    case ServerFrameType::Message:
      append_field(&o, "channel", f.channel);
      append_field(&o, "id", f.id);
      append_key(&o, "data");
      if (!f.data) {
        o.append("null");
      } else if (f.data->kind == PayloadKind::Json) {
        o.append(f.data->bytes);  // already compact, validated JSON
      } else {
        o.push_back('"');
        append_base64(&o, f.data->bytes);
        o.push_back('"');
        append_field(&o, "encoding", "base64");
      }
      append_key(&o, "timestamp");
      append_timestamp(&o, f.timestamp);
      break;
    case ServerFrameType::Unsubscribed:
      append_field(&o, "channel", f.channel);
      break;
    case ServerFrameType::Published:
      append_field(&o, "channel", f.channel);
      append_field(&o, "id", f.id);
      append_ref(&o, f.ref);
      break;
    case ServerFrameType::HeartbeatAck:
      append_key(&o, "timestamp");
      append_timestamp(&o, f.timestamp);
      break;
    case ServerFrameType::Error:
      append_field(&o, "code", f.code);
      append_field(&o, "message", f.message);
      append_ref(&o, f.ref);
      break;
  }
  o.push_back('}');
  return Frame::make(o, /*binary=*/false);
}

}  // namespace rtpush
