// Session: one client connection as the core sees it: its id, encoding,
// subscriptions, bounded send queue, heartbeat clock and the reassembly of
// fragmented messages, and who it is (its identity and token expiry).
// Touched on the lws service thread only (the Node's).
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "auth/channel_rules.h"
#include "connection.h"
#include "send_queue.h"
#include "token_bucket.h"
#include "wire.h"

namespace rtpush {

struct Subscription;

// A session's subscriptions: a vector that holds the first one inline,
// since most connections subscribe to one channel; an array is made only
// for a second. 16 bytes, against std::vector's 24 and a 32-byte block.
class SubscriptionList {
 public:
  SubscriptionList() = default;
  SubscriptionList(const SubscriptionList&) = delete;
  SubscriptionList& operator=(const SubscriptionList&) = delete;
  ~SubscriptionList() { if (capacity_ > 1) delete[] many_; }

  Subscription* const* begin() const { return capacity_ > 1 ? many_ : &one_; }
  Subscription* const* end() const { return begin() + size_; }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  Subscription* operator[](std::size_t i) const { return begin()[i]; }
  Subscription* front() const { return begin()[0]; }
  Subscription* back() const { return begin()[size_ - 1]; }

  void push_back(Subscription* sub);
  void set(std::size_t i, Subscription* sub) { data()[i] = sub; }
  // Keeps the array (as std::vector would) until the list is empty.
  void pop_back();

 private:
  Subscription** data() { return capacity_ > 1 ? many_ : &one_; }
  union {
    Subscription* one_ = nullptr;
    Subscription** many_;
  };
  std::uint32_t size_ = 0;
  std::uint32_t capacity_ = 1;
};

// WebSocket close codes the core uses.
enum CloseCode : std::uint16_t {
  kCloseGoingAway = 1001,      // heartbeat timeout
  kClosePolicy = 1008,         // too slow: send queue over its bound; a message not complete in time;
                               // UNAUTHORIZED (a refused token, no token in time, expiry)
  kCloseTooBig = 1009,         // message larger than max-message-bytes
  // A graceful stop (RFC 6455's registry: Service Restart): the client
  // should reconnect, to another node or this one later.
  kCloseServiceRestart = 1012,
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
  // The connection negotiated permessage-deflate: its message frames go
  // compressed (Hub::frame_for). Set by the transport right after open.
  bool deflate() const { return deflate_; }
  void set_deflate(bool on) { deflate_ = on; }

  // Queues a shared frame and asks the transport to write. Dropped when the
  // session is closing or the queue would pass its bound (the caller then
  // closes the session as too slow).
  SendResult send(const FrameRef& frame);

  // Starts closing with a WebSocket close code. Queued frames are dropped
  // when `discard_queue` (a slow consumer); otherwise they go first.
  void close(std::uint16_t code, std::string reason, bool discard_queue);
  bool closing() const { return close_code_ != 0; }
  std::uint16_t close_code() const { return close_code_; }
  const std::string& close_reason() const { return close_reason_ ? *close_reason_ : kNoReason; }

  // The writer's side (the plugin's WRITEABLE callback).
  SendQueue& queue() { return queue_; }
  bool ping_due() const { return ping_due_; }
  void ping_sent() { ping_due_ = false; }

  // A replay waits for room in the queue; the writer calls TransportPort::written()
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
  // A message is in progress from its first fragment until its last:
  // receive-timeout-secs counts from rx_started_ms().
  bool rx_in_progress() const { return rx_in_progress_; }
  std::int64_t rx_started_ms() const { return rx_started_ms_; }
  void rx_begin(std::int64_t now_ms) {
    rx_in_progress_ = true;
    rx_started_ms_ = now_ms;
  }
  void rx_end() { rx_in_progress_ = false; }
  bool rx_discarding() const { return rx_discard_; }
  void set_rx_discarding(bool on) {
    rx_discard_ = on;
    rx_discarded_ = 0;
  }
  void add_rx_discarded(std::size_t n) { rx_discarded_ += n; }
  std::size_t rx_discarded() const { return rx_discarded_; }

  // The session's subscriptions, in no particular order. Changed only
  // through add/remove_subscription (the hub), which keep the by-channel
  // index and each Subscription::session_index right.
  const SubscriptionList& subscriptions() const { return subscriptions_; }
  // The subscription to `channel`, or nullptr: O(1) (at most a few compares
  // below the table's threshold).
  Subscription* find_subscription(std::string_view channel) const;
  // `channel` must outlive the subscription (the hub's Channel::name).
  void add_subscription(Subscription* sub, std::string_view channel);
  void remove_subscription(Subscription* sub, std::string_view channel);

  // Who this connection is (SPEC section 8): anonymous until a valid token
  // (handshake or auth frame) sets it; `expires` is the token's exp (wall
  // clock, Unix seconds), none when it has none.
  const auth::Identity& identity() const { return auth_ ? auth_->identity : kAnonymous; }
  const std::optional<double>& expires() const { return auth_ ? auth_->expires : kNoExpiry; }
  void set_identity(auth::Identity who, std::optional<double> expires);

  // Where this session stands in the node's ordered deadline maps
  // (Authentication): the key of its entry, 0 when it has none.
  // Authentication alone sets them, keeping each equal to the entry it
  // holds, so that a closed or refreshed session's entry is found and
  // erased, not left to pile up.
  std::uint64_t expiry_key() const { return auth_ ? auth_->expiry_key : 0; }
  void set_expiry_key(std::uint64_t wall_ms);
  std::int64_t auth_deadline_key() const { return auth_ ? auth_->auth_deadline_key : 0; }
  void set_auth_deadline_key(std::int64_t steady_ms);

  // publish-rate (Publisher::publish).
  TokenBucket& publish_bucket() { return publish_bucket_; }
  // receive-bytes-per-sec (Inbound::receive). Once over it the session is
  // closing and the transport stops reading at once (`receive_refused`),
  // so the peer cannot make the node inflate or parse any more.
  ByteBucket& receive_bucket() { return receive_bucket_; }
  bool receive_refused() const { return receive_refused_; }
  void refuse_receive() { receive_refused_ = true; }

  // The transport (SessionTable::tick asks an SSE listener's whether its output
  // is still being taken).
  Connection* connection() const { return connection_; }

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
  bool rx_in_progress_ = false;
  bool awaiting_drain_ = false;
  bool deflate_ = false;
  bool receive_refused_ = false;
  // Set once, when closing: a pointer until then (8 bytes, not 32).
  std::unique_ptr<std::string> close_reason_;
  static const std::string kNoReason;
  std::string rx_;
  std::size_t rx_discarded_ = 0;
  std::int64_t rx_started_ms_ = 0;
  TokenBucket publish_bucket_;
  ByteBucket receive_bucket_;
  // Everything identity and its deadlines: made when the connection
  // authenticates or is given a deadline, so an anonymous connection (most
  // of them on an open vhost) pays one pointer, not ~130 bytes; dropped
  // again once all of it is back to anonymous, no deadline.
  struct AuthState {
    auth::Identity identity;
    std::optional<double> expires;
    std::uint64_t expiry_key = 0;
    std::int64_t auth_deadline_key = 0;
  };
  AuthState& auth_state();
  void release_auth_state_if_unused();
  std::unique_ptr<AuthState> auth_;
  static const auth::Identity kAnonymous;
  static const std::optional<double> kNoExpiry;
  SubscriptionList subscriptions_;
  // Channel name -> subscription, so subscribe/unsubscribe cost the same
  // with 1 or 10,000 channels held. Made only past a few subscriptions
  // (session.cpp): below, a look at each is as quick, and a connection
  // holding one channel pays one pointer, not a hash table.
  using ByChannel = std::unordered_map<std::string_view, Subscription*>;
  std::unique_ptr<ByChannel> by_channel_;
};

}  // namespace rtpush
