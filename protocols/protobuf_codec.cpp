#include "protobuf_codec.h"

#include <cstring>
#include <memory>
#include <string>

#include "frame_fields.h"
#include "json_text.h"
#include "request_builder.h"
#include "rtpush.pb-c.h"  // generated at build time by protoc-c (see CMakeLists.txt)

namespace rtpush {

namespace {

struct FrameDeleter {
  void operator()(Rtpush__V1__Frame* f) const { rtpush__v1__frame__free_unpacked(f, nullptr); }
};

// proto3 has no "absent" for strings: empty is absent.
std::string_view text(const char* s) { return s ? std::string_view(s) : std::string_view(); }

// The string fields a client sends, as the exact bytes on the wire.
// protobuf-c hands strings over NUL-terminated, so "news\0x" would read as
// "news" (and a ref `{"a":1}\0junk` as strict JSON); this walk of the
// frame's top-level fields, done by hand since protobuf-c offers no length
// for strings, finds the last occurrence of each (the one protobuf-c kept).
// `legacy_token` is field 15 (`user`): where clients of the schema before
// `user` put an auth frame's token (rtpush.proto).
struct WireStrings {
  std::string_view type, channel, since, ref, token, legacy_token;
};

bool read_varint(const unsigned char* p, std::size_t n, std::size_t* i, std::uint64_t* v) {
  *v = 0;
  for (int shift = 0; shift < 64 && *i < n; shift += 7) {
    const unsigned char b = p[(*i)++];
    *v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) return true;
  }
  return false;
}

bool wire_strings(std::string_view bytes, WireStrings* out) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const std::size_t n = bytes.size();
  for (std::size_t i = 0; i < n;) {
    std::uint64_t tag, v;
    if (!read_varint(p, n, &i, &tag)) return false;
    switch (tag & 7) {
      case 0: if (!read_varint(p, n, &i, &v)) return false; break;
      case 1: if (n - i < 8) return false; i += 8; break;
      case 5: if (n - i < 4) return false; i += 4; break;
      case 2: {
        if (!read_varint(p, n, &i, &v) || v > n - i) return false;
        const std::string_view s = bytes.substr(i, static_cast<std::size_t>(v));
        i += static_cast<std::size_t>(v);
        switch (tag >> 3) {
          case 1: out->type = s; break;
          case 2: out->channel = s; break;
          case 4: out->since = s; break;
          case 6: out->ref = s; break;
          case 15: out->legacy_token = s; break;
          case 16: out->token = s; break;
        }
        break;
      }
      default: return false;  // groups: not in this schema
    }
  }
  return true;
}

// The frame's text for a string field; *is_string false for the others.
std::string_view string_of(const ServerFrame& f, FrameField field, bool* is_string) {
  *is_string = true;
  switch (field) {
    case FrameField::ConnectionId: return f.connection_id;
    case FrameField::Node: return f.node;
    case FrameField::Channel: return f.channel;
    case FrameField::Id: return f.id;
    case FrameField::Position: return f.has_position ? f.position : std::string_view();  // null: absent
    case FrameField::Code: return f.code;
    case FrameField::Message: return f.message;
    case FrameField::Ref: return f.ref;
    case FrameField::User: return f.user;
    case FrameField::Reason: return f.reason;
    default: *is_string = false; return {};
  }
}

char** string_slot(Rtpush__V1__Frame* m, FrameField field) {
  switch (field) {
    case FrameField::ConnectionId: return &m->connection_id;
    case FrameField::Node: return &m->node;
    case FrameField::Channel: return &m->channel;
    case FrameField::Id: return &m->id;
    case FrameField::Position: return &m->position;
    case FrameField::Code: return &m->code;
    case FrameField::Message: return &m->message;
    case FrameField::User: return &m->user;
    // The spec's Frame has no `reason`: the error-code field says it.
    case FrameField::Reason: return &m->code;
    default: return &m->ref;
  }
}

// A Protocol Buffers frame's members, read for build_request(). `data` is
// bytes: strict JSON text is a JSON payload, anything else (JSON with
// trailing bytes included) a binary one (docs/protocol.md, "Protocol Buffers").
class ProtobufRequest final : public RawRequest {
 public:
  explicit ProtobufRequest(std::string_view data)
      : RawRequest(ErrorCode::InvalidFrame, "publish needs a non-empty data field"), data_(data) {
    has_data = !data.empty();  // proto3 cannot tell empty from absent
  }

  std::optional<MemberFailure> read_data(Payload* out) const override {
    if (json_strict(data_, &out->bytes) == nullptr) {
      out->kind = PayloadKind::Json;
    } else {
      out->kind = PayloadKind::Binary;
      out->bytes.assign(data_);
    }
    return std::nullopt;
  }

 private:
  std::string_view data_;
};

}  // namespace

DecodeResult ProtobufCodec::decode(std::string_view bytes, bool /*is_binary*/,
                                   std::size_t /*max_payload_bytes: data is never larger than the frame*/) const {
  std::unique_ptr<Rtpush__V1__Frame, FrameDeleter> f(
      rtpush__v1__frame__unpack(nullptr, bytes.size(), reinterpret_cast<const std::uint8_t*>(bytes.data())));
  if (!f) return decode_error(ErrorCode::InvalidFrame, "frame is not an rtpush.v1.Frame");

  WireStrings w{text(f->type), text(f->channel), text(f->since), text(f->ref), text(f->token), text(f->user)};
  wire_strings(bytes, &w);  // keeps protobuf-c's views if the walk fails (it parsed)

  const std::string_view data = f->has_data ? std::string_view(reinterpret_cast<const char*>(f->data.data), f->data.len)
                                            : std::string_view();
  ProtobufRequest raw(data);
  if (!w.ref.empty()) {
    if (const char* why = json_strict(w.ref, &raw.ref))
      return decode_error(ErrorCode::InvalidFrame, std::string("ref must be JSON text: ") + why);
  }
  raw.type_is_string = true;  // proto3: a missing type is empty, which no type is
  raw.type = w.type;
  raw.channel = std::string(w.channel);  // NULs included: the core refuses them
  // NULs included: the verifier refuses them.
  raw.token = std::string(!w.token.empty() ? w.token : w.legacy_token);
  if (!w.since.empty()) {
    raw.since_state = RawRequest::Since::Given;
    raw.since = std::string(w.since);
  }
  return build_request(raw);
}

FrameRef ProtobufCodec::encode(const ServerFrame& f) const {
  Rtpush__V1__Frame m = RTPUSH__V1__FRAME__INIT;
  m.type = const_cast<char*>(server_frame_type_name(f.type));  // static text; pack only reads it
  // protobuf-c takes NUL-terminated strings: the views are copied once, one
  // after the other into one buffer (on the stack for frames without a long
  // message). Like proto3, a field at its default (empty, 0) is not sent.
  std::size_t text_size = 0;
  for (FrameField field : frame_fields(f.type)) {
    bool is_string;
    if (frame_field_present(f, field)) text_size += string_of(f, field, &is_string).size() + 1;
  }
  char small[256];
  std::unique_ptr<char[]> large(text_size > sizeof small ? new char[text_size] : nullptr);
  char* text = large ? large.get() : small;
  for (FrameField field : frame_fields(f.type)) {
    if (!frame_field_present(f, field)) continue;
    bool is_string;
    const std::string_view value = string_of(f, field, &is_string);
    if (is_string) {
      if (value.empty()) continue;
      *string_slot(&m, field) = text;
      std::memcpy(text, value.data(), value.size());
      text[value.size()] = '\0';
      text += value.size() + 1;
      continue;
    }
    switch (field) {
      case FrameField::HeartbeatInterval:
        m.has_heartbeat_interval = f.heartbeat_interval != 0;
        m.heartbeat_interval = f.heartbeat_interval;
        break;
      case FrameField::Timestamp:
        m.has_timestamp = f.timestamp != 0;
        m.timestamp = f.timestamp;
        break;
      case FrameField::Recovered:  // proto3 `optional`: sent when set, false included
        m.has_recovered = true;
        m.recovered = *f.recovered;
        break;
      case FrameField::Expires:  // proto3 `optional`: absent is null, 0 is sent
        if (const std::optional<double> t = frame_expires(f)) {
          m.has_expires = true;
          m.expires = *t;
        }
        break;
      case FrameField::Data:  // JSON text or raw bytes, as they are
        if (f.data && !f.data->bytes.empty()) {
          m.has_data = true;
          m.data.len = f.data->bytes.size();
          m.data.data = reinterpret_cast<std::uint8_t*>(const_cast<char*>(f.data->bytes.data()));
        }
        break;
      default: break;  // the strings, above
    }
  }
  std::string out(rtpush__v1__frame__get_packed_size(&m), '\0');
  rtpush__v1__frame__pack(&m, reinterpret_cast<std::uint8_t*>(out.data()));
  return Frame::make(out, /*binary=*/true);
}

}  // namespace rtpush
