#include "msgpack_codec.h"

#include <msgpack.h>

#include <cstring>
#include <string>

#include "frame_fields.h"
#include "json_msgpack.h"
#include "request_builder.h"

namespace rtpush {

namespace {

bool is_str(const msgpack_object& o, const char* s) {
  return o.type == MSGPACK_OBJECT_STR && o.via.str.size == std::strlen(s) &&
         std::memcmp(o.via.str.ptr, s, o.via.str.size) == 0;
}

std::string_view view(const msgpack_object& o) { return std::string_view(o.via.str.ptr, o.via.str.size); }

// A MessagePack frame's members, read for build_request(). `data` is bin (a
// binary payload) or any value JSON can hold, converted when it is needed.
class MsgPackRequest final : public RawRequest {
 public:
  MsgPackRequest(const msgpack_object* data, std::size_t max_payload_bytes)
      : RawRequest(ErrorCode::InvalidFrame, "publish needs a data field"),
        data_(data),
        max_payload_bytes_(max_payload_bytes) {
    has_data = data != nullptr;
  }

  std::optional<MemberFailure> read_data(Payload* out) const override {
    if (data_->type == MSGPACK_OBJECT_BIN) {  // bytes: not JSON (docs/protocol.md, "MessagePack")
      out->kind = PayloadKind::Binary;
      out->bytes.assign(data_->via.bin.ptr, data_->via.bin.size);
      return std::nullopt;
    }
    out->kind = PayloadKind::Json;
    const JsonFromMsgpack r = msgpack_to_json(*data_, &out->bytes, max_payload_bytes_);
    if (r == JsonFromMsgpack::TooLarge)
      return MemberFailure{ErrorCode::MessageTooLarge, "data as JSON would be larger than max-message-bytes (" +
                                                           std::to_string(max_payload_bytes_) + ")"};
    if (r != JsonFromMsgpack::Ok)
      return MemberFailure{ErrorCode::InvalidFrame,
                           "data must be bin, or a value JSON can hold (no ext, non-string keys, NaN or bin inside)"};
    return std::nullopt;
  }

 private:
  const msgpack_object* data_;
  std::size_t max_payload_bytes_;
};

// msgpack-c writes through a callback: straight into a std::string.
int append(void* data, const char* buf, size_t len) {
  static_cast<std::string*>(data)->append(buf, len);
  return 0;
}

struct Packer {
  std::string out;
  msgpack_packer pk;
  Packer() { msgpack_packer_init(&pk, &out, append); }
  void key(std::string_view k) { msgpack_pack_str_with_body(&pk, k.data(), k.size()); }
  void text(std::string_view v) { msgpack_pack_str_with_body(&pk, v.data(), v.size()); }
  void field(const char* k, std::string_view v) {
    key(k);
    text(v);
  }
  // A JSON text (a payload, a ref) as its MessagePack value.
  void json(std::string_view j) {
    if (!pack_json(j, &pk)) msgpack_pack_nil(&pk);  // never: payloads and refs are validated
  }
};

// True when `p` holds exactly one MessagePack value whose declared lengths
// all fit in the bytes there are. msgpack-c allocates a container's objects
// from its declared count before reading them, so five bytes declaring an
// array of 2^32 elements made it ask for 256 GB (found by fuzz_msgpack_decode):
// every element takes at least one byte, so no honest count exceeds what is
// left. Walks the bytes without recursion or allocation.
bool lengths_fit(const unsigned char* p, std::size_t n) {
  std::size_t i = 0;
  std::uint64_t pending = 1;  // values still to read
  auto be = [&](std::size_t width, std::uint64_t* v) {
    if (n - i < width) return false;
    *v = 0;
    for (std::size_t k = 0; k < width; ++k) *v = (*v << 8) | p[i + k];
    i += width;
    return true;
  };
  auto skip = [&](std::uint64_t len) {
    if (n - i < len) return false;
    i += static_cast<std::size_t>(len);
    return true;
  };
  while (pending > 0) {
    if (i >= n) return false;
    --pending;
    const unsigned char b = p[i++];
    std::uint64_t len = 0, items = 0;
    if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) continue;  // ints, nil, bools
    if (b <= 0x8f) {
      items = 2 * (b & 0x0f);  // fixmap
    } else if (b <= 0x9f) {
      items = b & 0x0f;  // fixarray
    } else if (b <= 0xbf) {
      len = b & 0x1f;  // fixstr
    } else if (b >= 0xca && b <= 0xd3) {
      static const std::uint8_t kFixed[] = {4, 8, 1, 2, 4, 8, 1, 2, 4, 8};  // float 32/64, uint, int
      len = kFixed[b - 0xca];
    } else if (b >= 0xd4 && b <= 0xd8) {
      len = 1 + (1u << (b - 0xd4));  // fixext 1..16, after its type byte
    } else {
      // bin 8/16/32, ext 8/16/32, str 8/16/32, array 16/32, map 16/32: a
      // big-endian length or count of 1, 2 or 4 bytes.
      std::size_t width = 0;
      std::uint64_t* into = &len;
      switch (b) {
        case 0xc4: case 0xc7: case 0xd9: width = 1; break;
        case 0xc5: case 0xc8: case 0xda: width = 2; break;
        case 0xc6: case 0xc9: case 0xdb: width = 4; break;
        case 0xdc: case 0xde: width = 2; into = &items; break;
        case 0xdd: case 0xdf: width = 4; into = &items; break;
        default: return false;  // 0xc1: never used
      }
      if (!be(width, into)) return false;
      if (b >= 0xc7 && b <= 0xc9) ++len;  // ext: the type byte
      if (b == 0xde || b == 0xdf) items *= 2;
    }
    if (!skip(len)) return false;
    pending += items;
    if (pending > n - i) return false;  // each needs a byte at least
  }
  return i == n;
}

}  // namespace

DecodeResult MsgPackCodec::decode(std::string_view bytes, bool /*is_binary*/, std::size_t max_payload_bytes) const {
  if (!lengths_fit(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size()))
    return decode_error(ErrorCode::InvalidFrame, "frame is not one MessagePack value");
  msgpack_unpacked u;
  msgpack_unpacked_init(&u);
  struct Free {
    msgpack_unpacked* u;
    ~Free() { msgpack_unpacked_destroy(u); }
  } guard{&u};
  std::size_t off = 0;
  const msgpack_unpack_return rc = msgpack_unpack_next(&u, bytes.data(), bytes.size(), &off);
  if (rc != MSGPACK_UNPACK_SUCCESS || off != bytes.size())
    return decode_error(ErrorCode::InvalidFrame, "frame is not one MessagePack value");
  const msgpack_object& root = u.data;
  if (root.type != MSGPACK_OBJECT_MAP) return decode_error(ErrorCode::InvalidFrame, "a frame must be a MessagePack map");

  const msgpack_object *type = nullptr, *channel = nullptr, *since = nullptr, *data = nullptr, *ref = nullptr,
                       *token = nullptr;
  for (std::uint32_t k = 0; k < root.via.map.size; ++k) {
    const msgpack_object_kv& kv = root.via.map.ptr[k];
    const msgpack_object** slot = is_str(kv.key, "type")      ? &type
                                  : is_str(kv.key, "channel") ? &channel
                                  : is_str(kv.key, "since")   ? &since
                                  : is_str(kv.key, "data")    ? &data
                                  : is_str(kv.key, "ref")     ? &ref
                                  : is_str(kv.key, "token")   ? &token
                                                              : nullptr;
    if (slot && !*slot) *slot = &kv.val;  // the first one counts, as with JSON
  }

  MsgPackRequest raw(data, max_payload_bytes);
  if (ref) {
    const JsonFromMsgpack r = msgpack_to_json(*ref, &raw.ref, max_payload_bytes);
    if (r == JsonFromMsgpack::TooLarge)
      return decode_error(ErrorCode::MessageTooLarge, "ref as JSON is larger than max-message-bytes");
    if (r != JsonFromMsgpack::Ok)
      return decode_error(ErrorCode::InvalidFrame, "ref must be a value JSON can hold (no bin, ext or non-string keys)");
  }
  raw.type_is_string = type && type->type == MSGPACK_OBJECT_STR;
  if (raw.type_is_string) raw.type = view(*type);
  if (channel && channel->type == MSGPACK_OBJECT_STR) raw.channel = view(*channel);
  if (token && token->type == MSGPACK_OBJECT_STR) raw.token = view(*token);
  if (since && since->type != MSGPACK_OBJECT_NIL) {
    raw.since_state = RawRequest::Since::Given;
    if (since->type == MSGPACK_OBJECT_STR) raw.since = view(*since);
    else if (since->type == MSGPACK_OBJECT_POSITIVE_INTEGER) raw.since = std::to_string(since->via.u64);  // "<ms>"
    else raw.since_state = RawRequest::Since::Bad;
  }
  return build_request(raw);
}

FrameRef MsgPackCodec::encode(const ServerFrame& f) const {
  Packer p;
  p.out.reserve(64 + f.channel.size() + (f.data ? f.data->bytes.size() : 0) + f.message.size());
  msgpack_packer* pk = &p.pk;
  msgpack_pack_map(pk, frame_key_count(f));  // the size the table gives: never counted by hand
  p.field("type", server_frame_type_name(f.type));
  for (FrameField field : frame_fields(f.type)) {
    if (!frame_field_present(f, field)) continue;
    p.key(frame_field_name(field));
    switch (field) {
      case FrameField::ConnectionId: p.text(f.connection_id); break;
      case FrameField::Node: p.text(f.node); break;
      case FrameField::HeartbeatInterval: msgpack_pack_uint32(pk, f.heartbeat_interval); break;
      case FrameField::Timestamp: msgpack_pack_double(pk, f.timestamp); break;
      case FrameField::Channel: p.text(f.channel); break;
      case FrameField::Id: p.text(f.id); break;
      case FrameField::Position:
        if (f.has_position) p.text(f.position); else msgpack_pack_nil(pk);
        break;
      case FrameField::Recovered: *f.recovered ? msgpack_pack_true(pk) : msgpack_pack_false(pk); break;
      case FrameField::Data:
        if (!f.data) msgpack_pack_nil(pk);
        else if (f.data->kind == PayloadKind::Json) p.json(f.data->bytes);
        else msgpack_pack_bin_with_body(pk, f.data->bytes.data(), f.data->bytes.size());
        break;
      case FrameField::Code: p.text(f.code); break;
      case FrameField::Message: p.text(f.message); break;
      case FrameField::Ref: p.json(f.ref); break;  // the request's JSON text, as the equal value
      case FrameField::User: p.text(f.user); break;
      case FrameField::Reason: p.text(f.reason); break;
      case FrameField::Expires:
        if (const std::optional<double> t = frame_expires(f)) msgpack_pack_double(pk, *t); else msgpack_pack_nil(pk);
        break;
    }
  }
  return Frame::make(p.out, /*binary=*/true);
}

}  // namespace rtpush
