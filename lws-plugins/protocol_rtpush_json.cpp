// rtpush-json: the WebSocket subprotocol with JSON text frames (docs/protocol.md).
#include "ws_protocol.h"

namespace {

int callback_rtpush_json(struct lws* wsi, enum lws_callback_reasons reason, void* user, void* in, size_t len) {
  return rtpush_lws::ws_callback(rtpush::Encoding::Json, wsi, reason, user, in, len);
}

const struct lws_protocols protocols[] = {
    RTPUSH_WS_PROTOCOL("rtpush-json", callback_rtpush_json),
};

}  // namespace

extern "C" LWS_VISIBLE const lws_plugin_protocol_t rtpush_json = {
    {"rtpush json", "lws_protocol_plugin", LWS_PLUGIN_API_MAGIC},
    protocols, nullptr, LWS_ARRAY_SIZE(protocols), 0,
};
