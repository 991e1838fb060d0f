// Hub: channel -> local subscribers, and THE FAN-OUT PATH (Hub::fan_out).
//
// A message is encoded at most once per encoding that has subscribers; the
// resulting Frame is shared by reference with every subscriber's send queue.
// No per-subscriber copy or allocation happens here.
//
// The replay seam: a new subscription starts "pending" (its history is being
// fetched); live messages that arrive meanwhile are parked on it. Then the
// replay runs: pages from the archive (PostgreSQL) if the range reaches past
// the hot history, the hot history (its first page, then further pages read
// from the broker), then the parked messages; then it goes live. Each page
// starts after the newest id read so far (Replay::read_to). Each
// subscription remembers the last id it sent and never sends an id at or
// below it, so the sources can overlap without a duplicate and without a gap.
//
// Flow control: a replay can be far longer than a send queue holds (100,000
// messages), so pump() sends until the queue reports backpressure and the
// node calls pump() again when the connection has drained.
//
// Memory: the messages of pages read for a replay count against the node's
// ReplayBudget (Replay::held) until pump() hands them to the send queue.
// Messages shared with the broker's memory (embedded history) and parked
// live messages (shared with fan-out) are not counted: they are no copy.
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
#include "replay_budget.h"
#include "session.h"

namespace rtpush {

struct Channel;

// What a subscription still has to send before it is live.
struct Replay {
  std::vector<MessagePtr> ready;  // to send next, oldest first
  std::size_t next = 0;           // first unsent in `ready`
  bool ready_counted = false;     // `ready` holds pages read for this replay (in `held`)
  std::vector<MessagePtr> hot;    // the broker's first history page: after the archive
  bool hot_counted = false;       // `hot` was copied for this replay (in `held`)
  bool from_parked = false;       // `ready` holds parked live messages
  // The newest id read from any source: the next page starts after it.
  StreamId read_to;
  // The archive range still to read: (read_to, archive_before).
  bool archive_done = true;
  StreamId archive_before;
  // Rows the next archive page may scan: few for the first, then what the
  // byte cut lets through at the sizes seen (see PgArchive::read).
  std::size_t archive_rows = 64;
  bool hot_done = true;   // the broker has no further history pages to read
  // recovered:false was announced and the history has given nothing yet: a
  // gap before its first message is the one announced, not a new loss.
  bool gap_known = false;
  bool fetching = false;  // a page is being read
  bool waiting = false;   // in the budget's queue for a page
  // Bytes of the counted pages not yet sent, and the page being read.
  BudgetHold held;
  // A replay from the archive answers `subscribed` only once its first page
  // is read, so a PostgreSQL failure is a plain error, not a cut-off replay.
  bool announced = true;
  std::optional<StreamId> position;  // for that `subscribed`
  bool recovered = true;             // as announced
  // A page can be read now: the archive's, or the history's once its first
  // page (`hot`) is in `ready` (the next one starts after it).
  bool page_to_read() const { return !archive_done || (hot.empty() && !hot_done); }
};

// How a replay starts (Hub::begin_replay).
struct ReplayStart {
  std::vector<MessagePtr> history;  // the broker's history (or its first page)
  bool history_counted = false;     // copied for this replay: counts in `held`
  bool more_history = false;        // the broker has more pages after it
  bool archive = false;             // first the archive range (since, archive_before)
  StreamId since, archive_before;
  BudgetHold held;                  // holds at least what `history` weighs when counted
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
  NeedPage,      // everything buffered is sent; the next page (archive or history) is needed
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

  // Starts the replay: archive pages if `archive` (ids in (since,
  // archive_before), fed by add_page()), then the history and its further
  // pages (add_page() again), then the parked messages. Call pump() next.
  void begin_replay(Subscription* sub, ReplayStart start);
  // The same, with nothing counted and no further history pages.
  void begin_replay(Subscription* sub, std::vector<MessagePtr> history, bool archive = false,
                    StreamId archive_after = {}, StreamId archive_before = {});
  // The next page: of the archive while its range is not done, else of the
  // broker's history; `last` when that source is exhausted. The page's
  // reservation (`reserved` bytes, in Replay::held since the read began) is
  // replaced by what the page weighs, held until the page is sent.
  void add_page(Subscription* sub, std::vector<MessagePtr> page, bool last, std::size_t reserved = 0);
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
