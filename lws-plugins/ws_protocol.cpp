#include "ws_protocol.h"

#include <cstring>

#include "vhost_state.h"

namespace rtpush_lws {

// The core's view of one lws WebSocket connection.
class WsConnection final : public rtpush::Connection {
 public:
  explicit WsConnection(struct lws* wsi) : wsi_(wsi) {}
  void request_write() override { lws_callback_on_writable(wsi_); }
  void request_close() override {
    lws_callback_on_writable(wsi_);
    // A peer that stopped reading never becomes writable: drop it anyway.
    lws_set_timeout(wsi_, PENDING_TIMEOUT_CLOSE_SEND, 5);
  }
  rtpush::Node* node = nullptr;
  rtpush::Session* session = nullptr;

 private:
  struct lws* wsi_;
};

namespace {

// Writes queued frames until the kernel stops taking them whole; then the
// ping, then the close. Returns -1 to have lws close the connection.
//
// lws_send_pipe_choked() costs a poll() per call; instead each write is
// followed by lws_partial_buffered(), free: once lws had to keep the tail
// of a frame, the socket is full and we stop (lws sends that tail first).
int write_pending(struct lws* wsi, rtpush::Session* s) {
  rtpush::SendQueue& q = s->queue();
  bool full = false;
  while (!q.empty() && !full) {
    rtpush::Frame& f = *q.front();
    // The frame is shared: lws writes its header into the headroom in front
    // of the payload, the same bytes for every subscriber.
    const auto mode = f.binary() ? LWS_WRITE_BINARY : LWS_WRITE_TEXT;
    if (lws_write(wsi, f.data(), f.size(), mode) < static_cast<int>(f.size())) return -1;
    q.pop();
    full = lws_partial_buffered(wsi);
  }
  if (s->ping_due() && !full) {
    // Not empty: lws 4.1.6 drops an empty pong without telling the protocol
    // (ops-ws.c), and the pong is how a quiet client shows it is alive.
    unsigned char ping[LWS_PRE + 6];
    std::memcpy(ping + LWS_PRE, "rtpush", 6);
    if (lws_write(wsi, ping + LWS_PRE, 6, LWS_WRITE_PING) < 0) return -1;
    s->ping_sent();
  }
  if (s->closing() && q.empty()) {
    const std::string& why = s->close_reason();
    lws_close_reason(wsi, static_cast<enum lws_close_status>(s->close_code()),
                     reinterpret_cast<unsigned char*>(const_cast<char*>(why.data())), why.size());
    return -1;
  }
  if (!q.empty() || s->ping_due()) lws_callback_on_writable(wsi);
  return 0;
}

int dispatch(rtpush::Encoding encoding, struct lws* wsi, enum lws_callback_reasons reason,
             WsSessionData* pss, void* in, size_t len) {
  WsConnection* c = pss ? pss->connection : nullptr;
  switch (reason) {
    case LWS_CALLBACK_ESTABLISHED: {
      rtpush::Node* node = node_of(wsi);
      if (!node) {
        lwsl_err("rtpush: this vhost has a WebSocket protocol of rtpush but no \"rtpush\" protocol\n");
        return -1;
      }
      c = new WsConnection(wsi);
      pss->connection = c;
      c->node = node;
      c->session = node->open(c, encoding);
      return 0;
    }
    case LWS_CALLBACK_RECEIVE:
      if (!c) return -1;
      c->node->receive(c->session, std::string_view(static_cast<const char*>(in), len),
                       lws_is_first_fragment(wsi), lws_is_final_fragment(wsi), lws_frame_is_binary(wsi));
      return 0;
    case LWS_CALLBACK_RECEIVE_PONG:
      if (c) c->node->pong(c->session);
      return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
      return c ? write_pending(wsi, c->session) : -1;
    case LWS_CALLBACK_CLOSED:
      if (c) {
        pss->connection = nullptr;
        if (c->session) c->node->close(c->session);
        delete c;
      }
      return 0;
    default:
      return 0;
  }
}

}  // namespace

int ws_callback(rtpush::Encoding encoding, struct lws* wsi, enum lws_callback_reasons reason,
                void* user, void* in, size_t len) {
  // No exception may cross into lws (C): a failure closes this connection.
  try {
    return dispatch(encoding, wsi, reason, static_cast<WsSessionData*>(user), in, len);
  } catch (const std::exception& e) {
    lwsl_err("rtpush: closing a connection after an error: %s\n", e.what());
  } catch (...) {
    lwsl_err("rtpush: closing a connection after an unknown error\n");
  }
  return -1;
}

}  // namespace rtpush_lws
