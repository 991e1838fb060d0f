// Connection: what the core needs from a transport (an lws wsi, or a fake in
// unit tests). Calls come on the service thread.
#pragma once

namespace rtpush {

class Connection {
 public:
  virtual ~Connection() = default;
  // Ask for a chance to write: the session has frames, a ping, or a close.
  virtual void request_write() = 0;
  // The session is closing (Session::close_code() says why): write the
  // close as soon as possible, and drop the connection if that cannot
  // happen within a few seconds (a stuck peer).
  virtual void request_close() = 0;
  // Whether the peer took output since the last call: bytes acknowledged,
  // or none left waiting for it. Asked once a second of SSE listeners
  // (SessionTable::tick), which cannot answer a ping: one whose output stands
  // still for heartbeat-timeout-secs has stopped reading or vanished. A
  // transport that cannot tell says true.
  virtual bool output_taken() { return true; }
};

}  // namespace rtpush
