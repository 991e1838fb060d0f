// Hub: channel -> local subscribers, and THE FAN-OUT PATH (Hub::fan_out).
//
// A message is encoded at most once per encoding that has subscribers; the
// resulting Frame is shared by reference with every subscriber's send queue.
// No per-subscriber copy or allocation happens here.
//
// The replay seam: a new subscription starts "pending" (its history is being
// fetched); live messages that arrive meanwhile are parked on it. Then the
// replay runs: pages from the archive (PostgreSQL) if the range reaches past
// the hot history, the hot history, then the parked messages; then it goes
// live. Each subscription remembers the last id it sent and never sends an
// id at or below it, so the sources can overlap without a duplicate and
// without a gap.
//
// Flow control: a replay can be far longer than a send queue holds (100,000
// messages), so pump() sends until the queue reports backpressure and the
// node calls pump() again when the connection has drained.
#pragma once
#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "message.h"
#include "session.h"

namespace rtpush {

struct Channel;

// What a subscription still has to send before it is live.
struct Replay {
  std::vector<MessagePtr> ready;  // to send next, oldest first
  std::size_t next = 0;           // first unsent in `ready`
  std::vector<MessagePtr> hot;    // the broker's history: after the archive
  bool from_parked = false;       // `ready` holds parked live messages
  // The archive range still to read: (after, before). Done when exhausted.
  bool archive_done = true;
  bool fetching = false;  // a page is being read
  StreamId archive_after, archive_before;
  // A replay from the archive answers `subscribed` only once its first page
  // is read, so a PostgreSQL failure is a plain error, not a cut-off replay.
  bool announced = true;
  std::optional<StreamId> position;  // for that `subscribed`
  std::size_t buffered() const { return ready.size() - next; }
};

struct Subscription {
  Session* session = nullptr;
  Channel* channel = nullptr;
  std::uint64_t id = 0;     // unique per hub: tells a replaced subscription apart
  std::uint32_t index = 0;  // position in channel->subscribers
  std::uint32_t session_index = 0;  // position in session->subscriptions()
  bool live = false;
  StreamId last_sent;
  std::vector<MessagePtr> parked;  // live messages seen while pending
  std::unique_ptr<Replay> replay;  // while replaying
};

// Parked live messages per replaying subscription, at most: past it the
// subscriber is closed as too slow (1008) rather than grow without bound.
inline constexpr std::size_t kMaxParked = 100000;

enum class ReplayStep : std::uint8_t {
  Live,          // all sent: the subscription is live
  Blocked,       // the send queue is past half full: pump again once it drains
  NeedArchive,   // everything buffered is sent; the next archive page is needed
  Dropped,       // the session was closed as too slow
};

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

  // Starts the replay: archive pages if `archive` (ids in (archive_after,
  // archive_before), fed by add_page()), then `history`, then the parked
  // messages. Call pump() next.
  void begin_replay(Subscription* sub, std::vector<MessagePtr> history, bool archive = false,
                    StreamId archive_after = {}, StreamId archive_before = {});
  // One page read from the archive; `last` when the range is exhausted.
  void add_page(Subscription* sub, std::vector<MessagePtr> page, bool last);
  // Sends what the replay has, as far as the send queue allows.
  ReplayStep pump(Subscription* sub, FanOutStats* stats);
  // begin_replay(history) and pump(), for a replay that fits the queue.
  FanOutStats go_live(Subscription* sub, std::vector<MessagePtr> history);

  // Sends `msg` to every live subscriber of its channel.
  FanOutStats fan_out(const MessagePtr& msg);

  // The `message` frame of `msg` in `encoding`, encoded on first use.
  static const FrameRef& frame_for(const Message& msg, Encoding encoding);

  std::size_t channel_count() const { return channels_.size(); }
  std::size_t subscriber_count(const std::string& channel) const;

 private:
  SendResult deliver(Subscription* sub, const MessagePtr& msg, FanOutStats* stats);
  std::uint64_t next_id_ = 1;
  SlowConsumerHandler on_slow_;
  std::unordered_map<std::string, Channel> channels_;
};

}  // namespace rtpush
