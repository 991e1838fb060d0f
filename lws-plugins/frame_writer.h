// The coalescing write path shared by WebSocket connections and SSE
// listeners (docs/architecture.md "The write path"): a per-thread flush
// list written on the next pass of the service loop, writev() of the shared
// frames on plain sockets, one SSL_write per 64 KB gathered on TLS. Service
// thread only.
#pragma once
#include <libwebsockets.h>

#include <cstdint>

#include "connection.h"
#include "send_queue.h"

namespace rtpush_lws {

// How a queued frame goes on the wire.
enum class Framing : std::uint8_t {
  WebSocket,  // a WebSocket header is written into the frame's headroom first
  Raw,        // the frame's bytes as they are (an SSE event in an HTTP body)
};

// Writes what is queued until the socket is full, through lws's TLS when
// the connection has it. Returns false on a socket error; sets *full when
// the socket is full (or lws holds bytes of this connection).
bool write_frames(struct lws* wsi, rtpush::SendQueue& q, Framing framing, bool* full);

// A connection written through the flush list. request_write() puts it on
// the list; the next pass of the service loop calls flush() on each. What
// flush() cannot write then goes the usual way: lws_callback_on_writable().
class FlushedConnection : public rtpush::Connection {
 public:
  explicit FlushedConnection(struct lws* wsi) : wsi_(wsi) {}
  ~FlushedConnection() override;  // leaves the flush list
  FlushedConnection(const FlushedConnection&) = delete;
  FlushedConnection& operator=(const FlushedConnection&) = delete;
  void request_write() override;
  // What is queued goes first (flush(), then the writable callback), then
  // the connection closes; a peer that stopped reading is dropped anyway.
  void request_close() override;
  virtual void flush() = 0;
  struct lws* wsi() const { return wsi_; }
  std::uint32_t flush_slot = 0;  // 32 bits: the flush list holds connections of one thread
  bool in_flush_list = false;

 protected:
  struct lws* wsi_;
};

}  // namespace rtpush_lws
