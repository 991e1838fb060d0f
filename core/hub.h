// Hub: channel -> local subscribers, and THE FAN-OUT PATH (Hub::fan_out).
//
// A message is encoded at most once per encoding that has subscribers; the
// resulting Frame is shared by reference with every subscriber's send queue.
// No per-subscriber copy or allocation happens here.
//
// The replay seam: a new subscription starts "pending" (its history is being
// fetched); live messages that arrive meanwhile are parked on it. When the
// history arrives the subscription sends it, then the parked messages newer
// than the last one sent, then goes live. Each subscription remembers the
// last id it sent and never sends an id at or below it, so replay and live
// can overlap without a duplicate and without a gap.
#pragma once
#include <array>
#include <cstdint>
#include <functional>
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
  std::uint32_t index = 0;  // position in channel->subscribers
  bool live = false;
  StreamId last_sent;
  std::vector<MessagePtr> parked;  // live messages seen while pending
};

struct Channel {
  std::string name;
  std::vector<Subscription*> subscribers;
  std::array<std::uint32_t, kEncodingCount> per_encoding{};
};

struct FanOutStats {
  std::uint64_t delivered = 0;  // frames queued to subscribers
  std::uint64_t dropped = 0;    // subscribers closed as too slow
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
  // The subscription of `session` to `channel`, if any.
  Subscription* find(Session* session, const std::string& channel) const;
  // Removes and frees it. Returns true when the channel has no local
  // subscribers left (and is gone).
  bool unsubscribe(Subscription* sub);

  // Sends the retained `history` (ids > `after`), then the parked messages,
  // and makes the subscription live.
  FanOutStats go_live(Subscription* sub, const std::vector<MessagePtr>& history);

  // Sends `msg` to every live subscriber of its channel.
  FanOutStats fan_out(const MessagePtr& msg);

  // The `message` frame of `msg` in `encoding`, encoded on first use.
  static const FrameRef& frame_for(const Message& msg, Encoding encoding);

  std::size_t channel_count() const { return channels_.size(); }
  std::size_t subscriber_count(const std::string& channel) const;

 private:
  bool deliver(Subscription* sub, const MessagePtr& msg, FanOutStats* stats);
  SlowConsumerHandler on_slow_;
  std::unordered_map<std::string, Channel> channels_;
};

}  // namespace rtpush
