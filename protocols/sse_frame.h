// Server-Sent Events (SPEC section 9, docs/protocol.md "Server-Sent Events"):
// the bytes of the event stream and the SseCodec, the receive-only encoding
// of a GET sse/<channel> listener. Every event carries the JSON frame of the
// same name (section 4) on one `data:` line:
//
//   event: subscribed\ndata: {"type":"subscribed",...}\n\n
//   id: 1700000000000-0\nevent: message\ndata: {"type":"message",...}\n\n
//   : ping\n\n
//
// Lines end with LF alone (allowed by the SSE grammar, one byte less).
#pragma once
#include <string>
#include <string_view>

#include "codec.h"
#include "frame.h"

namespace rtpush {

// `event: NAME` + `data: JSON` (+ `id: ID` first when `id` is not empty),
// then the blank line. A CR or LF in `json` (never in the compact JSON the
// codecs make) becomes a space, so the event stays one data line.
std::string sse_event(std::string_view name, std::string_view id, std::string_view json);
// The `message` event of a message whose JSON `message` frame is `json`:
// built once per message (Hub::frame_for) and shared by every listener.
FrameRef sse_message_frame(std::string_view id, const Frame& json);
// The heartbeat comment (`: ping` and a blank line), one frame for all.
const FrameRef& sse_ping_frame();

// Encoding::Sse: what the core sends a listener (subscribed, message,
// error, ...) as events named after the frame's type. A listener sends
// nothing: decode refuses everything.
class SseCodec final : public Codec {
 public:
  Encoding encoding() const override { return Encoding::Sse; }
  const char* protocol_name() const override { return "sse"; }
  using Codec::decode;
  DecodeResult decode(std::string_view bytes, bool is_binary, std::size_t max_payload_bytes) const override;
  FrameRef encode(const ServerFrame& frame) const override;
};

}  // namespace rtpush
