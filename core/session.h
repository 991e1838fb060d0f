// Session: one client connection as the core sees it: its id, encoding,
// subscriptions, bounded send queue, heartbeat clock and the reassembly of
// fragmented messages.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "connection.h"
#include "send_queue.h"
#include "wire.h"

namespace rtpush {

struct Subscription;

// WebSocket close codes the core uses.
enum CloseCode : std::uint16_t {
  kCloseGoingAway = 1001,      // heartbeat timeout
  kClosePolicy = 1008,         // too slow: send queue over its bound
  kCloseTooBig = 1009,         // message larger than max-message-bytes
};

class Session {
 public:
  Session(std::uint64_t serial, std::string id, Encoding encoding, Connection* connection,
          std::size_t queue_limit, std::int64_t now_ms)
      : serial_(serial), id_(std::move(id)), encoding_(encoding), connection_(connection),
        queue_(queue_limit), last_activity_ms_(now_ms), next_ping_ms_(now_ms) {}

  std::uint64_t serial() const { return serial_; }
  const std::string& id() const { return id_; }
  Encoding encoding() const { return encoding_; }

  // Queues a shared frame and asks the transport to write. Dropped when the
  // session is closing or the queue would pass its bound (the caller then
  // closes the session as too slow).
  SendResult send(const FrameRef& frame);

  // Starts closing with a WebSocket close code. Queued frames are dropped
  // when `discard_queue` (a slow consumer); otherwise they go first.
  void close(std::uint16_t code, std::string reason, bool discard_queue);
  bool closing() const { return close_code_ != 0; }
  std::uint16_t close_code() const { return close_code_; }
  const std::string& close_reason() const { return close_reason_; }

  // The writer's side (the plugin's WRITEABLE callback).
  SendQueue& queue() { return queue_; }
  bool ping_due() const { return ping_due_; }
  void ping_sent() { ping_due_ = false; }

  // A replay waits for room in the queue; the writer calls Node::written()
  // after each write, which resumes it once the queue is down to a quarter.
  bool awaiting_drain() const { return awaiting_drain_; }
  void set_awaiting_drain(bool on) { awaiting_drain_ = on; }

  // Heartbeats.
  void touch(std::int64_t now_ms) { last_activity_ms_ = now_ms; }
  std::int64_t last_activity_ms() const { return last_activity_ms_; }
  std::int64_t next_ping_ms() const { return next_ping_ms_; }
  void schedule_ping(std::int64_t at_ms) { next_ping_ms_ = at_ms; }
  void want_ping();

  // Reassembly of a fragmented client message; empty while idle.
  std::string& rx_buffer() { return rx_; }
  bool rx_discarding() const { return rx_discard_; }
  void set_rx_discarding(bool on) {
    rx_discard_ = on;
    rx_discarded_ = 0;
  }
  void add_rx_discarded(std::size_t n) { rx_discarded_ += n; }
  std::size_t rx_discarded() const { return rx_discarded_; }

  std::vector<Subscription*>& subscriptions() { return subscriptions_; }

 private:
  std::uint64_t serial_;
  std::string id_;
  Encoding encoding_;
  Connection* connection_;
  SendQueue queue_;
  std::int64_t last_activity_ms_;
  std::int64_t next_ping_ms_;
  std::uint16_t close_code_ = 0;
  bool ping_due_ = false;
  bool rx_discard_ = false;
  bool awaiting_drain_ = false;
  std::string close_reason_;
  std::string rx_;
  std::size_t rx_discarded_ = 0;
  std::vector<Subscription*> subscriptions_;
};

}  // namespace rtpush
