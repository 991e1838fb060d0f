// FlushedConnection: the one writer of a connection, WebSocket or SSE
// listener (docs/architecture.md "The write path"). Frames queued for it
// leave from a per-thread flush list on the next pass of the service loop
// (flush()); what cannot be written then leaves when lws says the socket
// is writable (writable()). Both steps are written once here; what differs
// between the protocols is the Framing: the frame's header, how a ping goes
// (a WebSocket PING after the frames, an SSE `: ping` event queued behind
// them) and how the close goes (a WebSocket close frame, the end of an SSE
// body). A member switch, not a virtual call: this runs per connection on
// every pass. Service thread only.
#pragma once
#include <libwebsockets.h>

#include <cstdint>

#include "connection.h"
#include "frame_writer.h"
#include "transport_port.h"

namespace rtpush_lws {

class FlushedConnection : public rtpush::Connection {
 public:
  FlushedConnection(struct lws* wsi, rtpush::TransportPort* p, Framing framing) : port(p), framing_(framing), wsi_(wsi) {}
  ~FlushedConnection() override;  // leaves the flush list
  FlushedConnection(const FlushedConnection&) = delete;
  FlushedConnection& operator=(const FlushedConnection&) = delete;

  // Puts the connection on the flush list (once until it is flushed).
  void request_write() override;
  // What is queued goes first (flush(), then writable()), then the
  // connection closes; a peer that stopped reading is dropped anyway.
  void request_close() override;

  // The flush list's pass: writes what is queued (an SSE heartbeat due
  // queued first) unless lws still holds a tail of this connection or it is
  // closing; a WebSocket's ping and every close are left to writable(),
  // which it asks for. A socket error drops the connection.
  void flush();
  // lws's WRITEABLE callback: writes what is queued, then the ping, then
  // the close once the queue is empty. Returns -1 to have lws close the
  // connection (the close written, or a socket error), else 0.
  int writable();

  struct lws* wsi() const { return wsi_; }

  rtpush::TransportPort* port;
  rtpush::Session* session = nullptr;  // from the port's open until it is closed
  std::uint32_t flush_slot = 0;        // 32 bits: the flush list holds connections of one thread
  bool in_flush_list = false;

 private:
  const Framing framing_;  // beside the flags: no padding of its own in WsSessionData

 protected:
  struct lws* wsi_;
};

// A WebSocket close with the session's close code and reason; returns -1,
// which has lws send it and close the connection.
int close_websocket(struct lws* wsi, const rtpush::Session& s);

}  // namespace rtpush_lws
