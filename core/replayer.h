// Replayer: everything a subscription sends before it is live. It owns the
// replay state of every replaying subscription, the paging of the archive
// (PostgreSQL) and of the hot history (the broker), the node's replay-memory
// budget, and the resuming of a replay once its connection has drained. The
// Hub keeps subscriptions, parking and live fan-out; Hub::deliver() is the
// one way a message, live or replayed, reaches a subscriber.
//
// The replay seam: a new subscription starts "pending" (its history is being
// fetched); live messages that arrive meanwhile are parked on it (Hub). Then
// the replay runs: pages from the archive if the range reaches past the hot
// history, the hot history (its first page, then further pages read from the
// broker), then the parked messages; then it goes live. Each page starts
// after the newest id read so far (Replay::read_to). Each subscription
// remembers the last id it sent and never sends an id at or below it, so the
// sources can overlap without a duplicate and without a gap.
//
//   since within the hot history   -> history pages, parked live messages, live
//   since older, archive holds it  -> settle (every message up to now is in
//                                     PostgreSQL), then archive pages, then
//                                     the hot history, parked, live
//   since older, nowhere held      -> recovered:false, what the hot history has
//
// Flow control: a replay can be far longer than a send queue holds (100,000
// messages), so pump() sends until the queue reports backpressure and
// written() pumps again once the transport has drained the queue to a
// quarter. So a replay streams at the client's pace within a bounded queue.
//
// Memory: every page read for a replay (archive rows, Redis history) is
// reserved in the ReplayBudget (replay-memory-bytes) before it is read and
// counts (Replay::held) until pump() hands its messages to the send queue;
// at most one page is read ahead. A replay whose page does not fit waits its
// turn (FIFO) and resumes when others give bytes back: wake() after anything
// that frees. A replay blocked on its client's queue holds nothing another
// waits for (SPEC 17: a client that stops reading never delays another's
// replay): while a replay waits, every blocked one sheds the pages it read
// and has not sent, and reads them again once its client drains; a blocked
// replay reads ahead only with room to spare, never queueing for it. Messages shared with the broker's memory (embedded history)
// and parked live messages (shared with fan-out) are not counted: they are
// no copy.
//
// Everything here runs on the lws service thread.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "broker.h"
#include "hub.h"
#include "message.h"
#include "metrics.h"
#include "options.h"
#include "persistence.h"
#include "replay_budget.h"
#include "session.h"

namespace rtpush {

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
  // The newest id pump() handed on from a page or the history (`since` at
  // first): a replay that sheds its pages (Replayer::shed) reads on from it.
  StreamId sent_to;
  bool sent_any = false;
  bool gap_at_start = false;  // recovered:false was announced: the gap after `since` is known
  // The archive was settled for this replay: it holds every message up to
  // `settled_to` (the position when the history was read), so pages shed
  // within that range are read again from it.
  bool archived = false;
  StreamId settled_to;
  Subscription* sub = nullptr;  // whose replay this is (forget() erases it first)
  // A replay from the archive answers `subscribed` only once its first page
  // is read, so a PostgreSQL failure is a plain error, not a cut-off replay.
  bool announced = true;
  std::optional<StreamId> position;  // for that `subscribed`
  bool recovered = true;             // as announced
  // A page can be read now: the archive's, or the history's once its first
  // page (`hot`) is in `ready` (the next one starts after it).
  bool page_to_read() const { return !archive_done || (hot.empty() && !hot_done); }
};

// How a replay starts (Replayer::begin).
struct ReplayStart {
  std::vector<MessagePtr> history;  // the broker's history (or its first page)
  bool history_counted = false;     // copied for this replay: counts in `held`
  bool more_history = false;        // the broker has more pages after it
  bool archive = false;             // first the archive range (since, archive_before)
  StreamId since, archive_before;
  BudgetHold held;                  // holds at least what `history` weighs when counted
};

enum class ReplayStep : std::uint8_t {
  Live,          // all sent: the subscription is live
  Blocked,       // the send queue is past half full: pump again once it drains
  NeedPage,      // everything buffered is sent; the next page (archive or history) is needed
  Dropped,       // the session was closed as too slow
};

// What the Replayer needs of the node around it: its sessions, the frames it
// sends and the way a subscription ends. Subscriptions implements it.
class ReplayHost {
 public:
  virtual Session* find(std::uint64_t serial) const = 0;
  virtual void send(Session* s, const ServerFrame& frame) = 0;
  virtual void send_error(Session* s, ErrorCode code, std::string_view message, std::string_view ref) = 0;
  virtual void send_unsubscribed(Session* s, std::string_view channel) = 0;
  // Removes the subscription (and, through Replayer::forget, its replay).
  virtual void drop_subscription(Subscription* sub) = 0;

 protected:
  ~ReplayHost() = default;
};

class Replayer {
 public:
  // `persistence` (may be null) settles what was published and reads the
  // archive back for replays past the hot history. The replay budget is
  // options.replay_memory_bytes.
  Replayer(Hub& hub, ReplayHost& host, Metrics& metrics, Broker& broker, const Options& options,
           Persistence* persistence = nullptr);
  Replayer(const Replayer&) = delete;
  Replayer& operator=(const Replayer&) = delete;

  // A new pending subscription of `s` (Hub::subscribe): reads its history
  // from `since` (none: from now on), then replays it and goes live.
  void start(Session* s, Subscription* sub, std::optional<StreamId> since);
  // The transport wrote some of the session's queue: a replay waiting for
  // room (Session::awaiting_drain()) resumes once it is down to a quarter.
  void written(Session* s);
  // `sub` is being removed: what its replay held goes back (call wake()
  // once it is gone from the hub).
  void forget(const Subscription* sub);
  // Runs the replays waiting for budget whose turn it is.
  void wake() { budget_.wake(); }
  // Every second (Node::tick through Subscriptions::tick): a subscribe a
  // backend has not answered within kAnswerMs gets UNAVAILABLE; a late
  // answer finds it gone.
  void tick(std::int64_t now_ms);

  // The replay state machine, on its own (the tests drive it directly).
  // Starts the replay: archive pages if `archive` (ids in (since,
  // archive_before), fed by add_page()), then the history and its further
  // pages (add_page() again), then the parked messages. Call pump() next.
  void begin(Subscription* sub, ReplayStart start);
  // The same, with nothing counted and no further history pages.
  void begin(Subscription* sub, std::vector<MessagePtr> history, bool archive = false, StreamId archive_after = {},
             StreamId archive_before = {});
  // The next page: of the archive while its range is not done, else of the
  // broker's history; `last` when that source is exhausted. The page's
  // reservation (`reserved` bytes, in Replay::held since the read began) is
  // replaced by what the page weighs, held until the page is sent.
  void add_page(Subscription* sub, std::vector<MessagePtr> page, bool last, std::size_t reserved = 0);
  // Sends what the replay has, as far as the send queue allows.
  ReplayStep pump(Subscription* sub, FanOutStats* stats);
  // begin(history) and pump(), for a replay that fits the queue.
  FanOutStats go_live(Subscription* sub, std::vector<MessagePtr> history);
  // The replay of `sub`, or nullptr when it is pending or live.
  Replay* find(const Subscription* sub);

  // A subscribe is answered (`subscribed`, or UNAVAILABLE) within this
  // long while it waits on a backend: the history, the archive settling
  // (which gives up after 5 s itself) or the first archive page. A turn
  // waited for replay-memory-bytes does not count: others' progress ends it.
  static constexpr std::int64_t kAnswerMs = 10'000;

  const ReplayBudget& budget() const { return budget_; }
  std::size_t replaying() const { return replays_.size(); }

 private:
  static constexpr std::size_t kArchivePage = 1000;               // rows per archive page, at most
  static constexpr std::size_t kReplayPageMinBytes = 256 * 1024;  // bytes per page, at least
  static std::size_t page_bytes(const Options& o);

  Subscription* find_sub(std::uint64_t serial, const std::string& channel, std::uint64_t sub_id) const;
  void on_history(std::uint64_t serial, const std::string& channel, std::uint64_t sub_id,
                  std::optional<StreamId> since, HistoryResult h);
  void start_replay(Session* s, Subscription* sub, std::optional<StreamId> since, HistoryResult& h, bool archive);
  void announce(Session* s, Subscription* sub, bool with_since, std::optional<StreamId> position, bool recovered);
  void pump_replay(Session* s, Subscription* sub);
  void fetch_page(Session* s, Subscription* sub);
  void read_page(Session* s, Subscription* sub, BudgetHold grant);
  void on_page(std::uint64_t serial, const std::string& channel, std::uint64_t sub_id, std::size_t reserved, bool ok,
               std::vector<MessagePtr> page, bool more, bool gap);
  bool shed(Replay& r);
  void shed_blocked(const Replay* except);
  void replay_unavailable(Subscription* sub, bool started);
  void replay_stopped(Subscription* sub, bool started, const std::string& why);

  Hub& hub_;
  ReplayHost& host_;
  Metrics& metrics_;
  Broker& broker_;
  Persistence* persistence_;
  // Before everything that holds bytes of it.
  ReplayBudget budget_;
  // The first history page's reservation of a subscription whose history
  // is being read (by Subscription::id), until its replay begins.
  std::unordered_map<std::uint64_t, BudgetHold> first_pages_;
  // Subscribes not answered yet while a backend works for them, by
  // Subscription::id: whose, and the steady ms by which they are answered
  // (0 until the next tick sets it).
  struct Unanswered {
    std::uint64_t serial;
    std::string channel;
    std::int64_t deadline_ms = 0;
  };
  std::unordered_map<std::uint64_t, Unanswered> unanswered_;
  // The replays in progress, by Subscription::id (node-based: a Replay& stays
  // valid while others come and go).
  std::unordered_map<std::uint64_t, Replay> replays_;
};

}  // namespace rtpush
