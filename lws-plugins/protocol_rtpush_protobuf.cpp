// rtpush-protobuf: the WebSocket subprotocol with Protocol Buffers binary frames, rtpush.v1.Frame
// (docs/protocol.md "Protocol Buffers").
#include "ws_protocol.h"

namespace {

int callback_rtpush_protobuf(struct lws* wsi, enum lws_callback_reasons reason, void* user, void* in, size_t len) {
  return rtpush_lws::ws_callback(rtpush::Encoding::Protobuf, wsi, reason, user, in, len);
}

const struct lws_protocols protocols[] = {
    RTPUSH_WS_PROTOCOL("rtpush-protobuf", callback_rtpush_protobuf),
};

}  // namespace

extern "C" LWS_VISIBLE const lws_plugin_protocol_t rtpush_protobuf = {
    {"rtpush protobuf", "lws_protocol_plugin", LWS_PLUGIN_API_MAGIC},
    protocols, nullptr, LWS_ARRAY_SIZE(protocols), 0,
};
