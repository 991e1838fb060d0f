// The one writer of a connection (flushed_connection.h): the flush list,
// the flush pass and the writable step.
#include "flushed_connection.h"

#include <cstring>
#include <string>
#include <vector>

#include "sse_frame.h"

namespace rtpush_lws {

namespace {

// Connections that got frames since the last pass of the service loop.
// A zero-delay timer writes them all on the next pass, with writev() and no
// detour through epoll: asking lws for a writable callback per connection
// costs two epoll_ctl() calls and a callback each, which dominated fan-out
// of single messages. A burst of messages still leaves as one writev() per
// connection. What cannot be written now (socket full, lws holding a tail,
// a ping or a close due) goes the usual way: lws_callback_on_writable().
struct FlushList {
  std::vector<FlushedConnection*> pending, flushing;
  lws_sorted_usec_list_t timer{};
  bool scheduled = false;
};
thread_local FlushList flush_list;  // per lws service thread

void flush_pending(lws_sorted_usec_list_t*) {
  FlushList& fl = flush_list;
  fl.scheduled = false;
  fl.flushing.swap(fl.pending);  // both keep their storage: no allocation per pass
  for (FlushedConnection* c : fl.flushing)
    if (c) {
      c->in_flush_list = false;
      c->flush();
    }
  fl.flushing.clear();
}

// An SSE listener's heartbeat due goes into the queue as the shared
// `: ping` event, behind what is already queued (a listener cannot answer
// it: it only keeps proxies and EventSource from calling the stream idle).
void queue_sse_ping(rtpush::Session* s) {
  if (!s->ping_due() || s->closing()) return;
  s->queue().push(rtpush::sse_ping_frame());  // Dropped only past the bound: the next frame closes it
  s->ping_sent();
}

// A WebSocket heartbeat due, once the frames are out. Not empty: lws 4.1.6
// drops an empty pong without telling the protocol (ops-ws.c), and the
// pong is how a quiet client shows it is alive. False on a socket error.
bool write_ws_ping(struct lws* wsi, rtpush::Session* s) {
  unsigned char ping[LWS_PRE + 6];
  std::memcpy(ping + LWS_PRE, "rtpush", 6);
  if (lws_write(wsi, ping + LWS_PRE, 6, LWS_WRITE_PING) < 0) return false;
  s->ping_sent();
  return true;
}

}  // namespace

int close_websocket(struct lws* wsi, const rtpush::Session& s) {
  const std::string& why = s.close_reason();
  lws_close_reason(wsi, static_cast<enum lws_close_status>(s.close_code()),
                   reinterpret_cast<unsigned char*>(const_cast<char*>(why.data())), why.size());
  return -1;
}

FlushedConnection::~FlushedConnection() {
  if (!in_flush_list) return;
  // Normally in `pending` at flush_slot; were it closed while a flush pass
  // runs, it would be in `flushing`: never leave a dangling pointer.
  FlushList& fl = flush_list;
  if (flush_slot < fl.pending.size() && fl.pending[flush_slot] == this) {
    fl.pending[flush_slot] = nullptr;
    return;
  }
  for (FlushedConnection*& c : fl.flushing)
    if (c == this) c = nullptr;
}

void FlushedConnection::request_close() {
  lws_callback_on_writable(wsi_);
  // A peer that stopped reading never becomes writable: drop it anyway.
  lws_set_timeout(wsi_, PENDING_TIMEOUT_CLOSE_SEND, 5);
}

void FlushedConnection::request_write() {
  if (in_flush_list) return;
  FlushList& fl = flush_list;
  in_flush_list = true;
  flush_slot = static_cast<std::uint32_t>(fl.pending.size());
  fl.pending.push_back(this);
  if (!fl.scheduled) {
    fl.scheduled = true;
    lws_sul_schedule(lws_get_context(wsi_), lws_get_tsi(wsi_), &fl.timer, flush_pending, 1);
  }
}

void FlushedConnection::flush() {
  rtpush::Session* s = session;
  if (!s) return;
  bool full = lws_partial_buffered(wsi_);  // lws still holds a tail: it goes first
  if (!full && !s->closing()) {
    if (framing_ == Framing::Sse) queue_sse_ping(s);
    if (!write_frames(wsi_, s->queue(), framing_, &full)) {
      lws_set_timeout(wsi_, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);  // socket error: a dead peer
      return;
    }
  }
  port->written(s);  // a replay waiting for room may go on
  if (!s->queue().empty() || s->ping_due() || s->closing()) lws_callback_on_writable(wsi_);
}

int FlushedConnection::writable() {
  rtpush::Session* s = session;
  if (!s) return -1;
  if (framing_ == Framing::Sse) queue_sse_ping(s);
  rtpush::SendQueue& q = s->queue();
  bool full = false;
  if (!write_frames(wsi_, q, framing_, &full)) return -1;
  if (framing_ == Framing::WebSocket && s->ping_due() && !full && !write_ws_ping(wsi_, s)) return -1;
  port->written(s);  // a replay waiting for room may go on
  if (s->closing() && q.empty()) {
    // A WebSocket says why; an SSE body is close-delimited: the close ends it.
    return framing_ == Framing::WebSocket ? close_websocket(wsi_, *s) : -1;
  }
  if (!q.empty() || s->ping_due()) lws_callback_on_writable(wsi_);
  return 0;
}

}  // namespace rtpush_lws
