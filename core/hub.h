// Hub: channel -> local subscribers, and THE FAN-OUT PATH (Hub::fan_out).
//
// A message is encoded at most once per encoding that has subscribers; the
// resulting Frame is shared by reference with every subscriber's send queue.
// No per-subscriber copy or allocation happens here.
//
// A new subscription starts "pending": live messages that arrive while its
// history is read are parked on it, and the Replayer (replayer.h) sends its
// history, then the parked messages, before it goes live.
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "message.h"
#include "session.h"

namespace rtpush {

struct Channel;

struct Subscription {
  Session* session = nullptr;
  Channel* channel = nullptr;
  std::uint64_t id = 0;     // unique per hub: tells a replaced subscription apart
  std::uint32_t session_index = 0;  // position in session->subscriptions()
  // Bit fields: a separate bool padded the struct to 80 bytes (a 96-byte
  // block per subscriber); 72 fits an 80-byte block.
  std::uint32_t index : 31;  // position in channel->subscribers
  std::uint32_t live : 1;
  Subscription() : index(0), live(0) {}  // C++17: no initializers on bit fields
  StreamId last_sent;
  std::vector<MessagePtr> parked;  // live messages seen while pending
};

// Parked live messages per replaying subscription, at most: past it the
// subscriber is closed as too slow (1008) rather than grow without bound.
inline constexpr std::size_t kMaxParked = 100000;

struct Channel {
  std::string name;
  std::vector<Subscription*> subscribers;
  std::array<std::uint32_t, kEncodingCount> per_encoding{};
};

struct FanOutStats {
  std::uint64_t delivered = 0;  // frames queued to subscribers
  std::uint64_t dropped = 0;    // subscribers closed as too slow
  std::uint64_t replayed = 0;   // of `delivered`: from history or the archive
};

class Hub {
 public:
  // Called with each session whose queue overflowed during fan-out.
  using SlowConsumerHandler = std::function<void(Session*)>;
  explicit Hub(SlowConsumerHandler on_slow) : on_slow_(std::move(on_slow)) {}
  ~Hub();
  Hub(const Hub&) = delete;
  Hub& operator=(const Hub&) = delete;

  // A new, pending subscription of `session` to `channel`; nullptr if the
  // session already has one for that channel.
  Subscription* subscribe(Session* session, const std::string& channel);
  // The subscription of `session` to `channel`, if any. O(1).
  Subscription* find(Session* session, const std::string& channel) const;
  // Removes and frees it. Returns true when the channel has no local
  // subscribers left (and is gone).
  bool unsubscribe(Subscription* sub);

  // Sends `msg` to every live subscriber of its channel.
  FanOutStats fan_out(const MessagePtr& msg);

  // The `message` frame of `msg` in `encoding`, encoded on first use.
  static const FrameRef& frame_for(const Message& msg, Encoding encoding);
  // The same for a connection with permessage-deflate (`deflate`): the
  // frame compressed once on first use and shared, or the plain frame when
  // compressing does not pay.
  static const FrameRef& frame_for(const Message& msg, Encoding encoding, bool deflate);

  // Queues `msg` to `sub` unless it sent that id or a later one already
  // (live and replay overlap): the one way a message reaches a subscriber,
  // from fan_out() or a replay. A queue that overflows closes its session
  // as too slow (the handler).
  SendResult deliver(Subscription* sub, const MessagePtr& msg, FanOutStats* stats);

  std::size_t channel_count() const { return channels_.size(); }
  std::size_t subscriber_count(const std::string& channel) const;

 private:
  std::uint64_t next_id_ = 1;
  SlowConsumerHandler on_slow_;
  std::unordered_map<std::string, Channel> channels_;
};

}  // namespace rtpush
