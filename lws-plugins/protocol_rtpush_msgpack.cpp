// rtpush-msgpack: the WebSocket subprotocol with MessagePack binary frames
// (docs/protocol.md "MessagePack").
#include "ws_protocol.h"

namespace {

int callback_rtpush_msgpack(struct lws* wsi, enum lws_callback_reasons reason, void* user, void* in, size_t len) {
  return rtpush_lws::ws_callback(rtpush::Encoding::MsgPack, wsi, reason, user, in, len);
}

const struct lws_protocols protocols[] = {
    RTPUSH_WS_PROTOCOL("rtpush-msgpack", callback_rtpush_msgpack),
};

}  // namespace

extern "C" LWS_VISIBLE const lws_plugin_protocol_t rtpush_msgpack = {
    {"rtpush msgpack", "lws_protocol_plugin", LWS_PLUGIN_API_MAGIC},
    protocols, nullptr, LWS_ARRAY_SIZE(protocols), 0,
};
