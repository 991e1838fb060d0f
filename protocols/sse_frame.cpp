#include "sse_frame.h"

namespace rtpush {

namespace {

void append_data_line(std::string* out, std::string_view json) {
  out->append("data: ");
  const std::size_t from = out->size();
  out->append(json);
  // Compact JSON has no raw CR or LF (inside strings they are escaped);
  // should one ever come, a space keeps the event one line and the JSON
  // equal in meaning (CR and LF outside strings are only whitespace).
  for (std::size_t i = from; i < out->size(); ++i)
    if ((*out)[i] == '\n' || (*out)[i] == '\r') (*out)[i] = ' ';
  out->append("\n\n");
}

}  // namespace

std::string sse_event(std::string_view name, std::string_view id, std::string_view json) {
  std::string out;
  out.reserve(32 + name.size() + id.size() + json.size());
  if (!id.empty()) {
    out.append("id: ");
    out.append(id);
    out.push_back('\n');
  }
  out.append("event: ");
  out.append(name);
  out.push_back('\n');
  append_data_line(&out, json);
  return out;
}

FrameRef sse_message_frame(std::string_view id, const Frame& json) {
  return Frame::make(sse_event("message", id, json.view()), /*binary=*/false);
}

const FrameRef& sse_ping_frame() {
  // Made on first use on the service thread and never released: frames are
  // refcounted without atomics, and this one lives as long as the process.
  static const FrameRef* ping = new FrameRef(Frame::make(": ping\n\n", false));
  return *ping;
}

DecodeResult SseCodec::decode(std::string_view, bool, std::size_t) const {
  return decode_error(ErrorCode::InvalidFrame, "a Server-Sent Events listener sends nothing");
}

FrameRef SseCodec::encode(const ServerFrame& frame) const {
  const FrameRef j = codec_for(Encoding::Json)->encode(frame);
  // A message's event carries its id, so EventSource sends it back as
  // Last-Event-ID when it reconnects.
  const std::string_view id = frame.type == ServerFrameType::Message ? frame.id : std::string_view{};
  return Frame::make(sse_event(server_frame_type_name(frame.type), id, j->view()), false);
}

}  // namespace rtpush
