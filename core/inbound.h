// Inbound: what comes from a client before it is a message. Fragments are
// put together (a message is handed on when its final fragment arrives),
// max-message-bytes is held (MESSAGE_TOO_LARGE at once, 1009 once the
// message has ended), and every byte, pongs too, is counted against
// receive-bytes-per-sec as it arrives, however the message is fragmented or
// compressed. A whole message goes to the MessageSink (the Node), one
// virtual call per message.
//
// Service thread only.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "clocks.h"
#include "logger.h"
#include "metrics.h"
#include "options.h"
#include "session.h"
#include "session_table.h"

namespace rtpush {

// Where a whole client message goes.
class MessageSink {
 public:
  virtual void handle(Session* s, std::string_view bytes, bool binary) = 0;

 protected:
  ~MessageSink() = default;
};

class Inbound {
 public:
  // Holds references: the Node's members (and the Node), which outlive it.
  Inbound(const Options& options, SessionTable& sessions, Metrics& metrics, const Logger& log, const Clocks& clocks,
          MessageSink& sink)
      : options_(options), sessions_(sessions), metrics_(metrics), log_(log), clocks_(clocks), sink_(sink) {}
  Inbound(const Inbound&) = delete;
  Inbound& operator=(const Inbound&) = delete;

  // One fragment of a client message, in order (TransportPort::receive):
  // false once the session is over receive-bytes-per-sec (closing, 1008);
  // the transport must then stop reading from it at once.
  bool receive(Session* s, std::string_view fragment, bool first, bool final, bool binary);
  // A pong of `bytes` (TransportPort::pong): the session is alive; the
  // bytes count as received.
  bool pong(Session* s, std::size_t bytes);

 private:
  // Spends `bytes` of the session's receive-bytes-per-sec; false (and the
  // session closing, 1008) once it is over.
  bool within_receive_rate(Session* s, std::size_t bytes, std::int64_t now_ms);

  const Options& options_;
  SessionTable& sessions_;
  Metrics& metrics_;
  const Logger& log_;
  const Clocks& clocks_;
  MessageSink& sink_;
};

}  // namespace rtpush
