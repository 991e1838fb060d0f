#include "protobuf_codec.h"

#include <cstring>
#include <memory>
#include <string>

#include "json_text.h"
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
struct WireStrings {
  std::string_view type, channel, since, ref;
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
        }
        break;
      }
      default: return false;  // groups: not in this schema
    }
  }
  return true;
}

}  // namespace

DecodeResult ProtobufCodec::decode(std::string_view bytes, bool /*is_binary*/,
                                   std::size_t /*max_payload_bytes: data is never larger than the frame*/) const {
  std::unique_ptr<Rtpush__V1__Frame, FrameDeleter> f(
      rtpush__v1__frame__unpack(nullptr, bytes.size(), reinterpret_cast<const std::uint8_t*>(bytes.data())));
  if (!f) return decode_error(ErrorCode::InvalidFrame, "frame is not an rtpush.v1.Frame");

  WireStrings w{text(f->type), text(f->channel), text(f->since), text(f->ref)};
  wire_strings(bytes, &w);  // keeps protobuf-c's views if the walk fails (it parsed)

  std::string ref;
  if (!w.ref.empty()) {
    if (const char* why = json_strict(w.ref, &ref))
      return decode_error(ErrorCode::InvalidFrame, std::string("ref must be JSON text: ") + why);
  }

  DecodeResult d;
  ClientRequest& req = d.request;
  if (!parse_request_type(w.type, &req.type))
    return decode_error(ErrorCode::UnknownMessageType, kUnknownTypeMessage, std::move(ref));
  req.channel = std::string(w.channel);  // NULs included: the core refuses them
  if (!w.since.empty()) {
    req.since = std::string(w.since);
    req.has_since = true;
  }
  if (req.type == RequestType::Publish) {
    if (!f->has_data || f->data.len == 0)
      return decode_error(ErrorCode::InvalidFrame, "publish needs a non-empty data field", std::move(ref));
    const std::string_view raw(reinterpret_cast<const char*>(f->data.data), f->data.len);
    req.has_data = true;
    // The strict check decides (spec 4b): strict JSON text is a JSON payload;
    // anything else, JSON with trailing bytes included, is bytes.
    if (json_strict(raw, &req.data.bytes) == nullptr) {
      req.data.kind = PayloadKind::Json;
    } else {
      req.data.kind = PayloadKind::Binary;
      req.data.bytes.assign(raw);
    }
  }
  req.ref = ref;
  d.ref = std::move(ref);
  d.ok = true;
  return d;
}

FrameRef ProtobufCodec::encode(const ServerFrame& f) const {
  // protobuf-c takes NUL-terminated strings: the views are copied once here.
  std::string type = server_frame_type_name(f.type), channel(f.channel), id(f.id), ref(f.ref), code(f.code),
              message(f.message), connection_id(f.connection_id), node(f.node), position(f.position);
  Rtpush__V1__Frame m = RTPUSH__V1__FRAME__INIT;
  // Like proto3: a field at its default is not sent.
  auto set = [](char** field, std::string& value) {
    if (!value.empty()) *field = value.data();
  };
  set(&m.type, type);
  set(&m.channel, channel);
  set(&m.id, id);
  set(&m.ref, ref);
  set(&m.code, code);
  set(&m.message, message);
  set(&m.connection_id, connection_id);
  set(&m.node, node);
  if (f.has_position) set(&m.position, position);
  if (f.timestamp != 0) {
    m.has_timestamp = true;
    m.timestamp = f.timestamp;
  }
  if (f.heartbeat_interval) {
    m.has_heartbeat_interval = true;
    m.heartbeat_interval = f.heartbeat_interval;
  }
  if (f.recovered) {  // proto3 `optional`: sent when set, false included
    m.has_recovered = true;
    m.recovered = *f.recovered;
  }
  if (f.data && !f.data->bytes.empty()) {  // JSON text or raw bytes, as they are
    m.has_data = true;
    m.data.len = f.data->bytes.size();
    m.data.data = reinterpret_cast<std::uint8_t*>(const_cast<char*>(f.data->bytes.data()));
  }
  std::string out(rtpush__v1__frame__get_packed_size(&m), '\0');
  rtpush__v1__frame__pack(&m, reinterpret_cast<std::uint8_t*>(out.data()));
  return Frame::make(out, /*binary=*/true);
}

}  // namespace rtpush
