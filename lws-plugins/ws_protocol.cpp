#include "ws_protocol.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <new>

#include "lws_logger.h"
#include "refused_vhost.h"
#include "vhost_state.h"
#include "ws_deflate.h"
#include "ws_handshake.h"

namespace rtpush_lws {

namespace {

// Writes queued frames until the socket is full; then the ping, then the
// close. Returns -1 to have lws close the connection.
int write_pending(struct lws* wsi, rtpush::TransportPort* port, rtpush::Session* s) {
  rtpush::SendQueue& q = s->queue();
  bool full = false;
  if (!write_frames(wsi, q, Framing::WebSocket, &full)) return -1;
  if (s->ping_due() && !full) {
    // Not empty: lws 4.1.6 drops an empty pong without telling the protocol
    // (ops-ws.c), and the pong is how a quiet client shows it is alive.
    unsigned char ping[LWS_PRE + 6];
    std::memcpy(ping + LWS_PRE, "rtpush", 6);
    if (lws_write(wsi, ping + LWS_PRE, 6, LWS_WRITE_PING) < 0) return -1;
    s->ping_sent();
  }
  port->written(s);  // a replay waiting for room may go on
  if (s->closing() && q.empty()) {
    const std::string& why = s->close_reason();
    lws_close_reason(wsi, static_cast<enum lws_close_status>(s->close_code()),
                     reinterpret_cast<unsigned char*>(const_cast<char*>(why.data())), why.size());
    return -1;
  }
  if (!q.empty() || s->ping_due()) lws_callback_on_writable(wsi);
  return 0;
}

// The 101 that lws writes after FILTER_PROTOCOL_CONNECTION and the
// `connection_established` frame written at ESTABLISHED leave as one TCP
// segment: the socket is corked from an admitted handshake until the frame
// is written (both in the same callback chain, so nothing waits). Two
// setsockopt() calls instead of a send: on loopback a send also runs the
// client's receive path on the server's CPU, the larger part of a
// connection storm's cost (docs/transport.md "Measured").
void set_cork(struct lws* wsi, bool on) {
  const int v = on ? 1 : 0;
  ::setsockopt(lws_get_socket_fd(wsi), IPPROTO_TCP, TCP_CORK, &v, sizeof v);
}

// Past receive-bytes-per-sec: the close goes out now and the connection is
// dropped, so lws reads (and inflates) nothing more of it. lws inflates one
// read's worth at most after this (ws_deflate.h), calling RECEIVE for each
// piece, which lands here again at once.
int refuse_input(struct lws* wsi, rtpush::Session* s) {
  const std::string& why = s->close_reason();
  lws_close_reason(wsi, static_cast<enum lws_close_status>(s->close_code()),
                   reinterpret_cast<unsigned char*>(const_cast<char*>(why.data())), why.size());
  return -1;
}

int dispatch(rtpush::Encoding encoding, struct lws* wsi, enum lws_callback_reasons reason,
             WsSessionData* pss, void* in, size_t len) {
  WsConnection* c = pss ? pss->connection() : nullptr;
  switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
      // WebSocket over an HTTP/2 stream (RFC 8441: lws offers it on every
      // TLS vhost whose ALPN has h2, lwsws's default). Its frames would have
      // to go inside h2 DATA frames under h2 flow control, and the write
      // path hands whole frames to the connection: refused, the stream gets
      // no 200. A vhost's ALPN is not visible to a plugin, so this is per
      // connection; `"alpn": "http/1.1"` on the vhost keeps browsers on a
      // WebSocket of its own (docs/architecture.md "The write path").
      if (lws_get_network_wsi(wsi) != wsi) {
        rtpush_lws::log_event(rtpush::LogLevel::Warn, "http2_refused",
                              {{"what", "websocket"},
                               {"cause", "refusing a WebSocket over HTTP/2 (RFC 8441); set the vhost's alpn to "
                                         "http/1.1 so that clients open it over HTTP/1.1"}});
        // 421: not on this connection; a client may try again on a new one.
        lws_return_http_status(wsi, 421, nullptr);
        return 1;
      }
      rtpush::TransportPort* port = port_of(wsi);
      if (!port)
        if (const std::string* refusal = refusal_of(wsi)) return refuse_upgrade(wsi, *refusal);
      if (!port || !pss) return 0;  // ESTABLISHED says why and closes it
      delete pss->admitted;  // never set twice by lws; cheap to be sure
      const int refused = admit_upgrade(wsi, *port, &pss->admitted);
      if (!refused) {
        set_cork(wsi, true);
        pss->corked = true;
      }
      return refused;
    }
    case LWS_CALLBACK_ESTABLISHED: {
      rtpush::TransportPort* port = port_of(wsi);
      if (!port) {
        rtpush_lws::log_event(rtpush::LogLevel::Err, "config_refused",
                              {{"cause", "this vhost has a WebSocket protocol of rtpush but no rtpush protocol"}});
        return -1;
      }
      c = new (pss->storage) WsConnection(wsi, port);
      pss->open = true;
      std::unique_ptr<rtpush::Admission> admitted(pss->admitted);
      pss->admitted = nullptr;
      c->session = port->open(c, encoding, admitted.get());
      c->session->set_deflate(pss->deflate);
      if (pss->corked) {  // connection_established now, behind the 101
        pss->corked = false;
        c->flush();
        set_cork(wsi, false);
      }
      return 0;
    }
    case LWS_CALLBACK_CONFIRM_EXTENSION_OKAY:
      return confirm_extension(wsi, static_cast<const char*>(in), pss);
    case LWS_CALLBACK_RECEIVE:
      if (!c) return -1;
      if (!c->port->receive(c->session, std::string_view(static_cast<const char*>(in), len),
                            lws_is_first_fragment(wsi), lws_is_final_fragment(wsi), lws_frame_is_binary(wsi)))
        return refuse_input(wsi, c->session);
      return 0;
    case LWS_CALLBACK_RECEIVE_PONG:
      if (c && !c->port->pong(c->session, len)) return refuse_input(wsi, c->session);
      return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
      return c ? write_pending(wsi, c->port, c->session) : -1;
    case LWS_CALLBACK_HTTP:
    case LWS_CALLBACK_HTTP_FILE_COMPLETION:
      // The vhost's default protocol ("default": "1") is the one lws binds
      // plain HTTP connections to, so the file:// mounts (the demo page)
      // report here: a file served (the transaction must end, or the next
      // request of the keep-alive connection gets the last file's stale
      // headers and no body) or no such file (LWS_CALLBACK_HTTP: 404).
      // lws's own dummy callback does exactly that.
      return lws_callback_http_dummy(wsi, reason, pss, in, len);
    case LWS_CALLBACK_CLOSED:
      if (pss) {  // an upgrade that failed between the filter and ESTABLISHED
        delete pss->admitted;
        pss->admitted = nullptr;
      }
      if (c) {
        pss->open = false;
        if (c->session) c->port->close(c->session);
        c->~WsConnection();
      }
      return 0;
    default:
      return 0;
  }
}

}  // namespace

void WsConnection::flush() {
  rtpush::Session* s = session;
  if (!s) return;
  bool full = lws_partial_buffered(wsi_);  // lws still holds a tail: it goes first
  if (!full && !s->closing() && !write_frames(wsi_, s->queue(), Framing::WebSocket, &full)) {
    lws_set_timeout(wsi_, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);  // socket error
    return;
  }
  port->written(s);  // a replay waiting for room may go on
  if (!s->queue().empty() || s->ping_due() || s->closing()) lws_callback_on_writable(wsi_);
}

int ws_callback(rtpush::Encoding encoding, struct lws* wsi, enum lws_callback_reasons reason,
                void* user, void* in, size_t len) {
  // No exception may cross into lws (C): a failure closes this connection.
  try {
    return dispatch(encoding, wsi, reason, static_cast<WsSessionData*>(user), in, len);
  } catch (const std::exception& e) {
    rtpush_lws::log_event(rtpush::LogLevel::Err, "connection_failed", {{"cause", e.what()}});
  } catch (...) {
    rtpush_lws::log_event(rtpush::LogLevel::Err, "connection_failed", {{"cause", "unknown error"}});
  }
  return -1;
}

}  // namespace rtpush_lws
