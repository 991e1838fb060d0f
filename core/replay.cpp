// Replay on subscribe: the continuation of Node::subscribe() once the broker
// has answered with the channel's hot history (or its first page).
//
//   since within the hot history   -> history pages, parked live messages, live
//   since older, archive holds it  -> settle (every message up to now is in
//                                     PostgreSQL), then archive pages, then
//                                     the hot history, parked, live
//   since older, nowhere held      -> recovered:false, what the hot history has
//
// Every step goes through Hub::pump(), which stops when the send queue
// reports backpressure; Node::written() resumes it once the transport has
// drained the queue to a quarter. So a replay of 100,000 messages streams at
// the client's pace within a bounded queue.
//
// Memory: every page read for a replay (archive rows, Redis history) is
// reserved in the node's ReplayBudget (replay-memory-bytes) before it is
// read and given back as its messages are queued; at most one page is read
// ahead. A replay whose page does not fit waits its turn (FIFO) and resumes
// when others give bytes back: budget_.wake() after anything that frees.
#include <algorithm>
#include <limits>

#include "node.h"

namespace rtpush {

std::size_t Node::replay_page_bytes(const Options& o) {
  // One page must hold the largest message this node accepts (with what a
  // Message adds to it), so a page cut by bytes never splits below one.
  return std::max<std::size_t>(kReplayPageMinBytes, o.max_message_bytes + 512);
}

Subscription* Node::find_sub(std::uint64_t serial, const std::string& channel, std::uint64_t sub_id) const {
  Session* s = find(serial);
  if (!s) return nullptr;
  Subscription* sub = hub_.find(s, channel);
  return sub && sub->id == sub_id ? sub : nullptr;  // not one that replaced it
}

// A backend could not answer. Before `subscribed` the subscribe simply
// failed; after it the client has part of the range, so it is told the
// subscription ended and subscribes again with `since` = the last id it got.
void Node::replay_unavailable(Subscription* sub, bool started) {
  const std::string& channel = sub->channel->name;
  replay_stopped(sub, started,
                 started ? "postgres is unavailable: the replay of " + channel + " stopped; subscribe again with since"
                         : "postgres is unavailable: cannot replay past the hot history of " + channel);
}

void Node::replay_stopped(Subscription* sub, bool started, const std::string& why) {
  Session* s = sub->session;
  const std::string channel = sub->channel->name;
  send_error(s, ErrorCode::Unavailable, why, {});
  drop_subscription(sub);
  if (started) send_unsubscribed(s, channel);
}

void Node::on_history(std::uint64_t serial, const std::string& channel, std::uint64_t sub_id,
                      std::optional<StreamId> since, HistoryResult h) {
  Subscription* sub = find_sub(serial, channel, sub_id);
  if (!sub || sub->live || sub->replay) return;  // unsubscribed (or replaced) meanwhile
  Session* s = sub->session;
  if (!h.ok) {
    send_error(s, ErrorCode::Unavailable, h.reason, {});
    return drop_subscription(sub);
  }
  // The first page's reservation shrinks to what it weighs (nothing when
  // the broker shares its memory).
  auto held = first_pages_.find(sub->id);
  if (held != first_pages_.end()) {
    std::size_t weight = 0;
    if (h.copied)
      for (const MessagePtr& m : h.messages) weight += message_bytes(*m);
    held->second.resize(weight);
    budget_.wake();
  }
  // The archive holds what the hot history lost when it is complete from
  // before `since` (HistoryResult::archive_floor).
  const bool deep = since && !h.recovered && archive_ && h.archive_floor && *since >= *h.archive_floor;
  if (!deep) return start_replay(s, sub, since, h, false);

  // Wait until every message published so far is in PostgreSQL (the writer
  // may lag by a batch): only then is the archive's range complete.
  auto done = [this, serial, channel, sub_id, since, h = std::move(h)](bool settled) mutable {
    Subscription* sub = find_sub(serial, channel, sub_id);
    if (!sub || sub->live || sub->replay) return;
    if (!settled) return replay_unavailable(sub, false);
    h.recovered = true;
    start_replay(sub->session, sub, since, h, true);
  };
  if (feed_) feed_->settle(std::move(done));
  else store_->settle(std::move(done));
}

void Node::announce(Session* s, Subscription* sub, bool with_since, std::optional<StreamId> position,
                    bool recovered) {
  ServerFrame f;
  f.type = ServerFrameType::Subscribed;
  f.channel = sub->channel->name;
  const std::string text = position ? position->str() : std::string();
  f.has_position = position.has_value();
  f.position = text;
  if (with_since) f.recovered = recovered;
  send(s, f);
}

void Node::start_replay(Session* s, Subscription* sub, std::optional<StreamId> since, HistoryResult& h,
                        bool archive) {
  // Without `since`, "from now on": nothing at or before the position.
  if (!since && h.position) sub->last_sent = *h.position;
  // The archive's part is everything before the first message the hot
  // history still holds (or, when it gave none, up to the position; later
  // ones come from the history's pages or live, and overlaps are skipped
  // by id).
  StreamId before{static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()), 0};
  if (!h.messages.empty()) before = h.messages.front()->id;
  else if (h.position) before = h.position->successor();
  ReplayStart start;
  start.history_counted = h.copied;
  start.more_history = h.more;
  start.archive = archive;
  start.since = since.value_or(StreamId{});
  start.archive_before = before;
  auto held = first_pages_.find(sub->id);
  if (held != first_pages_.end()) {
    start.held = std::move(held->second);
    first_pages_.erase(held);
  } else {
    start.held = budget_.empty_hold();
  }
  const bool gap_known = !h.recovered && h.messages.empty();
  start.history = std::move(h.messages);
  hub_.begin_replay(sub, std::move(start));
  Replay& r = *sub->replay;
  r.gap_known = gap_known && !archive;
  if (!r.archive_done) {  // `subscribed` goes with the first page
    r.announced = false;
    r.position = h.position;
    return fetch_page(s, sub);
  }
  announce(s, sub, since.has_value(), h.position, h.recovered);
  pump_replay(s, sub);
}

void Node::pump_replay(Session* s, Subscription* sub) {
  FanOutStats st;
  const ReplayStep step = hub_.pump(sub, &st);
  metrics_.delivered += st.delivered;
  metrics_.replayed += st.replayed;
  if (step == ReplayStep::Blocked) s->set_awaiting_drain(true);
  if (step == ReplayStep::Blocked || step == ReplayStep::NeedPage) fetch_page(s, sub);
  budget_.wake();  // what was sent is free for others
}

// Reads the next page unless one is on its way or a page is still buffered:
// read-ahead of one page, so the client never waits on a backend while it
// has something to receive. The page's bytes are reserved first; without
// room the replay waits its turn.
void Node::fetch_page(Session* s, Subscription* sub) {
  Replay& r = *sub->replay;
  if (!r.page_to_read() || r.fetching || r.waiting || r.held.bytes() >= budget_.page_bytes()) return;
  BudgetHold grant;
  if (budget_.try_reserve(&grant)) return read_page(s, sub, std::move(grant));
  r.waiting = true;
  budget_.wait(sub->id, [this, serial = s->serial(), channel = sub->channel->name, id = sub->id](BudgetHold g) {
    Subscription* sub = find_sub(serial, channel, id);
    if (!sub || !sub->replay) return;  // gone meanwhile: `g` goes back
    sub->replay->waiting = false;
    read_page(sub->session, sub, std::move(g));
  });
}

void Node::read_page(Session* s, Subscription* sub, BudgetHold grant) {
  Replay& r = *sub->replay;
  r.fetching = true;
  const std::size_t reserved = grant.bytes();
  r.held.merge(std::move(grant));  // the replay holds the reservation until the page is in
  auto done = [this, serial = s->serial(), channel = sub->channel->name, id = sub->id, reserved](
                  bool ok, std::vector<MessagePtr> page, bool more, bool gap) {
    on_page(serial, channel, id, reserved, ok, std::move(page), more, gap);
    budget_.wake();
  };
  if (!r.archive_done) {
    archive_->read(sub->channel->name, r.read_to, r.archive_before, r.archive_rows, reserved,
                   [done](bool ok, std::vector<MessagePtr> page, bool more) { done(ok, std::move(page), more, false); });
  } else {
    broker_->read_history(sub->channel->name, r.read_to, reserved,
                          [done](HistoryPage p) { done(p.ok, std::move(p.messages), p.more, p.gap); });
  }
}

void Node::on_page(std::uint64_t serial, const std::string& channel, std::uint64_t sub_id, std::size_t reserved,
                   bool ok, std::vector<MessagePtr> page, bool more, bool gap) {
  Subscription* sub = find_sub(serial, channel, sub_id);
  if (!sub || !sub->replay) return;
  Session* s = sub->session;
  Replay& r = *sub->replay;
  const bool from_archive = !r.archive_done;
  if (from_archive) {
    if (!ok) return replay_unavailable(sub, r.announced);
    if (!r.announced) {
      r.announced = true;
      announce(s, sub, true, r.position, true);
    }
    metrics_.archive_rows += page.size();
    if (!page.empty()) {  // scan about what the next page's bytes let through
      std::size_t weight = 0;
      for (const MessagePtr& m : page) weight += message_bytes(*m);
      const std::size_t average = std::max<std::size_t>(1, weight / page.size());
      r.archive_rows = std::clamp<std::size_t>(budget_.page_bytes() / average + 1, 1, kArchivePage);
    }
  } else {
    if (!ok)
      return replay_stopped(sub, true,
                            "redis is unavailable: the replay of " + channel + " stopped; subscribe again with since");
    // Trimmed past where the replay is (it waited its turn, or its client
    // read slowly, while more than history-size messages were published):
    // what is missing is not a gap the client was told about.
    if (gap && !r.gap_known)
      return replay_stopped(sub, true,
                            "the replay of " + channel +
                                " fell behind the history (history-size); subscribe again with since");
    if (!page.empty()) r.gap_known = false;
  }
  hub_.add_page(sub, std::move(page), !more, reserved);
  if (s->awaiting_drain() || s->closing()) return fetch_page(s, sub);
  pump_replay(s, sub);
}

void Node::written(Session* s) {
  const SendQueue& q = s->queue();
  if (!s->awaiting_drain() || q.bytes() > q.limit() / 4) return;
  s->set_awaiting_drain(false);
  if (s->closing()) return;
  for (Subscription* sub : s->subscriptions()) {  // pumping never adds or removes subscriptions
    if (!sub->replay) continue;
    pump_replay(s, sub);
    if (s->awaiting_drain() || s->closing()) break;
  }
}

}  // namespace rtpush
