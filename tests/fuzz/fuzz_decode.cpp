// libFuzzer target: one client frame through a decoder (FUZZ_ENCODING picks
// which), and, when it is a publish, its payload out through every encoder
// (the transcoding a channel shared by three encodings does). Asserts what
// the strict validation promises: what a decoder accepts is strict JSON (or
// bytes), and it re-encodes to a valid frame in all three encodings.
// Then the same bytes go to a whole Node as a client's frame, so the core's
// own checks run too (channel names, `since` ids, limits, replay), and every
// frame it answers with must be a valid frame of the client's encoding.
#include <msgpack.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

#include <memory>

#include "codec.h"
#include "json_text.h"
#include "fuzz_node.h"
#include "fuzz_sse_event.h"
#include "rtpush.pb-c.h"

using namespace rtpush;

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

// The frame is readable by a client of its encoding.
void check_frame(Encoding e, const FrameRef& f) {
  check(static_cast<bool>(f));
  const std::string_view bytes = f->view();
  switch (e) {
    case Encoding::Json:
      check(json_valid(bytes));
      break;
    case Encoding::MsgPack: {
      msgpack_unpacked u;
      msgpack_unpacked_init(&u);
      std::size_t off = 0;
      const msgpack_unpack_return rc = msgpack_unpack_next(&u, bytes.data(), bytes.size(), &off);
      msgpack_unpacked_destroy(&u);
      check(rc == MSGPACK_UNPACK_SUCCESS && off == bytes.size());  // exactly one value
      break;
    }
    case Encoding::Protobuf: {
      Rtpush__V1__Frame* m =
          rtpush__v1__frame__unpack(nullptr, bytes.size(), reinterpret_cast<const std::uint8_t*>(bytes.data()));
      check(m != nullptr);
      rtpush__v1__frame__free_unpacked(m, nullptr);
      break;
    }
    case Encoding::Sse: {
      // One event: its lines (id:, event:, data:) then the blank line, and
      // the data line the JSON frame whatever the payload held.
      check(fuzz::well_formed_sse_event(bytes));
      break;
    }
  }
}

struct World {
  fuzz::NullConnection conn;
  std::unique_ptr<Node> node = fuzz::small_node();
};

// The input as a client's frame of FUZZ_ENCODING to a fresh session.
void through_node(std::string_view bytes) {
  static World w;
  Session* s = w.node->open(&w.conn, FUZZ_ENCODING);
  w.node->receive(s, bytes, true, true, FUZZ_ENCODING != Encoding::Json);
  while (!s->queue().empty()) {
    check_frame(FUZZ_ENCODING, s->queue().front());
    s->queue().pop();
  }
  w.node->close(s);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  through_node(bytes);
  const DecodeResult d = codec_for(FUZZ_ENCODING)->decode(bytes, true, 1 << 20);
  if (!d.ok) return 0;
  check(d.ref.empty() || json_valid(d.ref));
  // The core publishes only to a valid channel (and answers INVALID_CHANNEL).
  if (d.request.type != RequestType::Publish || !valid_channel(d.request.channel)) return 0;
  check(d.request.data.kind == PayloadKind::Binary || json_valid(d.request.data.bytes));
  ServerFrame f;
  f.type = ServerFrameType::Message;
  f.channel = d.request.channel;
  f.id = "1-0";
  f.data = &d.request.data;
  f.timestamp = 1.5;
  for (Encoding e : {Encoding::Json, Encoding::MsgPack, Encoding::Protobuf, Encoding::Sse})
    check_frame(e, codec_for(e)->encode(f));
  ServerFrame ack;  // the ref, echoed in every encoding
  ack.type = ServerFrameType::Published;
  ack.channel = d.request.channel;
  ack.id = "1-0";
  ack.ref = d.request.ref;
  for (Encoding e : {Encoding::Json, Encoding::MsgPack, Encoding::Protobuf, Encoding::Sse})
    check_frame(e, codec_for(e)->encode(ack));
  return 0;
}
