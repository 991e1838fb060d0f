// The Replayer (replayer.h): replay state, archive and history paging,
// the replay budget, resuming on drain.
#include <algorithm>
#include <limits>

#include "replayer.h"

namespace rtpush {

std::size_t Replayer::page_bytes(const Options& o) {
  // One page must hold the largest message this node accepts (with what a
  // Message adds to it), so a page cut by bytes never splits below one.
  return std::max<std::size_t>(kReplayPageMinBytes, o.max_message_bytes + 512);
}

Replayer::Replayer(Hub& hub, ReplayHost& host, Metrics& metrics, Broker& broker, const Options& options,
                   Persistence* persistence)
    : hub_(hub),
      host_(host),
      metrics_(metrics),
      broker_(broker),
      persistence_(persistence),
      budget_(options.replay_memory_bytes, page_bytes(options)) {}

Replay* Replayer::find(const Subscription* sub) {
  auto it = replays_.find(sub->id);
  return it == replays_.end() ? nullptr : &it->second;
}

void Replayer::start(Session* s, Subscription* sub, std::optional<StreamId> since) {
  // Room for the history's first page now, or none: then the broker answers
  // without messages and the replay reads its pages when its turn comes.
  unanswered_.insert_or_assign(sub->id, Unanswered{s->serial(), sub->channel->name, 0});
  std::size_t page = 0;
  BudgetHold first;
  if (since && budget_.try_reserve(&first)) {
    page = first.bytes();
    first_pages_.emplace(sub->id, std::move(first));
  }
  broker_.history(sub->channel->name, since, page,
                  [this, serial = s->serial(), channel = sub->channel->name, id = sub->id, since](HistoryResult h) {
                    on_history(serial, channel, id, since, std::move(h));
                  });
}

void Replayer::forget(const Subscription* sub) {
  unanswered_.erase(sub->id);
  first_pages_.erase(sub->id);
  budget_.cancel(sub->id);
  replays_.erase(sub->id);
}

namespace {
std::size_t weight(const std::vector<MessagePtr>& messages) {
  std::size_t n = 0;
  for (const MessagePtr& m : messages) n += message_bytes(*m);
  return n;
}
}  // namespace

void Replayer::begin(Subscription* sub, ReplayStart start) {
  Replay r;
  r.sub = sub;
  r.read_to = start.since;
  r.sent_to = start.since;
  r.archived = start.archive;
  r.hot_done = !start.more_history;
  r.held = std::move(start.held);
  if (start.history_counted) r.held.resize(weight(start.history));
  else r.held.resize(0);
  if (start.archive) {
    r.archive_done = start.since >= start.archive_before;
    r.archive_before = start.archive_before;
    r.hot = std::move(start.history);
    r.hot_counted = start.history_counted;
  } else {
    if (!start.history.empty()) r.read_to = start.history.back()->id;
    r.ready = std::move(start.history);
    r.ready_counted = start.history_counted;
  }
  replays_.insert_or_assign(sub->id, std::move(r));
}

void Replayer::begin(Subscription* sub, std::vector<MessagePtr> history, bool archive, StreamId archive_after,
                     StreamId archive_before) {
  ReplayStart start;
  start.history = std::move(history);
  start.archive = archive;
  start.since = archive_after;
  start.archive_before = archive_before;
  begin(sub, std::move(start));
}

void Replayer::add_page(Subscription* sub, std::vector<MessagePtr> page, bool last, std::size_t reserved) {
  Replay& r = *find(sub);
  r.fetching = false;
  r.held.release(reserved);
  r.held.resize(r.held.bytes() + weight(page));
  if (!page.empty()) r.read_to = page.back()->id;
  if (!r.archive_done) r.archive_done = last;
  else r.hot_done = last;
  if (r.next > 0) {  // drop what is sent before appending
    r.ready.erase(r.ready.begin(), r.ready.begin() + static_cast<std::ptrdiff_t>(r.next));
    r.next = 0;
  }
  r.ready_counted = true;  // pages only follow pages: `ready` holds no uncounted rest here
  if (r.ready.empty()) r.ready = std::move(page);
  else r.ready.insert(r.ready.end(), page.begin(), page.end());
}

ReplayStep Replayer::pump(Subscription* sub, FanOutStats* stats) {
  Replay& r = *find(sub);
  for (;;) {
    while (r.next < r.ready.size()) {
      MessagePtr& slot = r.ready[r.next++];
      const MessagePtr msg = std::move(slot);  // sent: the replay keeps no reference
      if (r.ready_counted) r.held.release(message_bytes(*msg));
      if (!r.from_parked) {
        r.sent_to = msg->id;
        r.sent_any = true;
      }
      const std::uint64_t before = stats->delivered;
      const SendResult res = hub_.deliver(sub, msg, stats);
      if (!r.from_parked) stats->replayed += stats->delivered - before;
      if (res == SendResult::Dropped) return ReplayStep::Dropped;
      if (res == SendResult::Backpressure) return ReplayStep::Blocked;
    }
    r.ready.clear();
    r.next = 0;
    if (!r.archive_done) return ReplayStep::NeedPage;
    if (!r.hot.empty()) {
      r.ready.swap(r.hot);
      r.ready_counted = r.hot_counted;
      if (r.ready.back()->id > r.read_to) r.read_to = r.ready.back()->id;
      continue;
    }
    if (!r.hot_done) return ReplayStep::NeedPage;
    if (!sub->parked.empty()) {  // live messages that came meanwhile
      r.ready.swap(sub->parked);
      r.ready_counted = false;
      r.from_parked = true;
      continue;
    }
    replays_.erase(sub->id);  // `r` is gone
    sub->parked.shrink_to_fit();
    sub->live = true;
    return ReplayStep::Live;
  }
}

Subscription* Replayer::find_sub(std::uint64_t serial, const std::string& channel, std::uint64_t sub_id) const {
  Session* s = host_.find(serial);
  if (!s) return nullptr;
  Subscription* sub = hub_.find(s, channel);
  return sub && sub->id == sub_id ? sub : nullptr;  // not one that replaced it
}

// A backend could not answer. Before `subscribed` the subscribe simply
// failed; after it the client has part of the range, so it is told the
// subscription ended and subscribes again with `since` = the last id it got.
void Replayer::replay_unavailable(Subscription* sub, bool started) {
  const std::string& channel = sub->channel->name;
  replay_stopped(sub, started,
                 started ? "postgres is unavailable: the replay of " + channel + " stopped; subscribe again with since"
                         : "postgres is unavailable: cannot replay past the hot history of " + channel);
}

void Replayer::replay_stopped(Subscription* sub, bool started, const std::string& why) {
  Session* s = sub->session;
  const std::string channel = sub->channel->name;
  host_.send_error(s, ErrorCode::Unavailable, why, {});
  host_.drop_subscription(sub);
  if (started) host_.send_unsubscribed(s, channel);
}

void Replayer::on_history(std::uint64_t serial, const std::string& channel, std::uint64_t sub_id,
                          std::optional<StreamId> since, HistoryResult h) {
  Subscription* sub = find_sub(serial, channel, sub_id);
  if (!sub || sub->live || find(sub)) return;  // unsubscribed (or replaced) meanwhile
  Session* s = sub->session;
  if (!h.ok) {
    host_.send_error(s, ErrorCode::Unavailable, h.reason, {});
    return host_.drop_subscription(sub);
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
  const bool deep = since && !h.recovered && persistence_ && h.archive_floor && *since >= *h.archive_floor;
  if (!deep) return start_replay(s, sub, since, h, false);

  // Wait until every message published so far is in PostgreSQL (the writer
  // may lag by a batch): only then is the archive's range complete.
  auto done = [this, serial, channel, sub_id, since, h = std::move(h)](bool settled) mutable {
    Subscription* sub = find_sub(serial, channel, sub_id);
    if (!sub || sub->live || find(sub)) return;
    if (!settled) return replay_unavailable(sub, false);
    h.recovered = true;
    start_replay(sub->session, sub, since, h, true);
  };
  persistence_->settle(std::move(done));
}

void Replayer::announce(Session* s, Subscription* sub, bool with_since, std::optional<StreamId> position,
                        bool recovered) {
  unanswered_.erase(sub->id);
  ServerFrame f;
  f.type = ServerFrameType::Subscribed;
  f.channel = sub->channel->name;
  const std::string text = position ? position->str() : std::string();
  f.has_position = position.has_value();
  f.position = text;
  if (with_since) f.recovered = recovered;
  host_.send(s, f);
}

void Replayer::start_replay(Session* s, Subscription* sub, std::optional<StreamId> since, HistoryResult& h,
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
  begin(sub, std::move(start));
  Replay& r = *find(sub);
  r.gap_known = gap_known && !archive;
  r.gap_at_start = !h.recovered && !archive;  // announced: a rewind to `since` meets that gap again
  if (archive && h.position) r.settled_to = *h.position;
  if (!r.archive_done) {  // `subscribed` goes with the first page
    r.announced = false;
    r.position = h.position;
    return fetch_page(s, sub);
  }
  announce(s, sub, since.has_value(), h.position, h.recovered);
  pump_replay(s, sub);
}

void Replayer::pump_replay(Session* s, Subscription* sub) {
  FanOutStats st;
  const ReplayStep step = pump(sub, &st);
  metrics_.delivered += st.delivered;
  metrics_.replayed += st.replayed;
  if (step == ReplayStep::Blocked) s->set_awaiting_drain(true);
  if (step == ReplayStep::Blocked && budget_.waiting() > 0) shed(*find(sub));
  else if (step == ReplayStep::Blocked || step == ReplayStep::NeedPage) fetch_page(s, sub);
  budget_.wake();  // what was sent is free for others
}

// A replay blocked on its client gives back the pages it read and has not
// sent, and reads on from the last message it sent once the client drains:
// from the archive within what it was settled for (its messages are all
// there), else from the broker's history. Not while a page is on its way
// (on_page sheds it once it lands), nor with parked live messages unsent
// (they hold nothing). True when bytes went back.
bool Replayer::shed(Replay& r) {
  if (r.fetching || r.held.bytes() == 0 || (!r.ready_counted && r.next < r.ready.size())) return false;
  std::optional<StreamId> last;  // the newest message given back
  if (r.next < r.ready.size()) last = r.ready.back()->id;
  if (r.hot_counted && !r.hot.empty()) {
    last = r.hot.back()->id;
    r.hot.clear();
  }
  r.ready.clear();
  r.next = 0;
  r.held.resize(0);
  if (!last) return true;
  r.read_to = r.sent_to;
  if (!r.sent_any) r.gap_known = r.gap_at_start;
  const StreamId archived_to = std::min(*last, r.settled_to);
  if (r.archived && r.sent_to < archived_to) {
    const StreamId before = archived_to.successor();
    r.archive_before = r.archive_done ? before : std::max(before, r.archive_before);
    r.archive_done = false;
    if (*last > archived_to) r.hot_done = false;
  } else {
    r.hot_done = false;
  }
  return true;
}

void Replayer::shed_blocked(const Replay* except) {
  bool freed = false;
  for (auto& [id, r] : replays_)
    if (&r != except && r.sub->session->awaiting_drain()) freed = shed(r) || freed;
  if (freed) budget_.wake();
}

// Reads the next page unless one is on its way or a page is still buffered:
// read-ahead of one page, so the client never waits on a backend while it
// has something to receive. The page's bytes are reserved first; without
// room the replay waits its turn.
void Replayer::fetch_page(Session* s, Subscription* sub) {
  Replay& r = *find(sub);
  if (!r.page_to_read() || r.fetching || r.waiting || r.held.bytes() >= budget_.page_bytes()) return;
  BudgetHold grant;
  if (budget_.try_reserve(&grant)) return read_page(s, sub, std::move(grant));
  if (s->awaiting_drain()) return;  // blocked: it reads on once its client drains
  r.waiting = true;
  if (!r.announced) unanswered_.erase(sub->id);  // its turn comes as others send: not a backend's silence
  budget_.wait(sub->id, [this, serial = s->serial(), channel = sub->channel->name, id = sub->id](BudgetHold g) {
    Subscription* sub = find_sub(serial, channel, id);
    Replay* r = sub ? find(sub) : nullptr;
    if (!r) return;  // gone meanwhile: `g` goes back
    r->waiting = false;
    read_page(sub->session, sub, std::move(g));
  });
  shed_blocked(&r);  // what stalled clients hold goes to the waiters
}

void Replayer::read_page(Session* s, Subscription* sub, BudgetHold grant) {
  Replay& r = *find(sub);
  r.fetching = true;
  if (!r.announced) unanswered_.try_emplace(sub->id, Unanswered{s->serial(), sub->channel->name, 0});
  const std::size_t reserved = grant.bytes();
  r.held.merge(std::move(grant));  // the replay holds the reservation until the page is in
  auto done = [this, serial = s->serial(), channel = sub->channel->name, id = sub->id, reserved](
                  bool ok, std::vector<MessagePtr> page, bool more, bool gap) {
    on_page(serial, channel, id, reserved, ok, std::move(page), more, gap);
    budget_.wake();
  };
  if (!r.archive_done) {
    persistence_->read_page(
        sub->channel->name, r.read_to, r.archive_before, r.archive_rows,
        reserved, [done](bool ok, std::vector<MessagePtr> page, bool more) {
          done(ok, std::move(page), more, false);
        });
  } else {
    broker_.read_history(sub->channel->name, r.read_to, reserved,
                          [done](HistoryPage p) { done(p.ok, std::move(p.messages), p.more, p.gap); });
  }
}

void Replayer::on_page(std::uint64_t serial, const std::string& channel, std::uint64_t sub_id, std::size_t reserved,
                       bool ok, std::vector<MessagePtr> page, bool more, bool gap) {
  Subscription* sub = find_sub(serial, channel, sub_id);
  Replay* replay = sub ? find(sub) : nullptr;
  if (!replay) return;
  Session* s = sub->session;
  Replay& r = *replay;
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
  add_page(sub, std::move(page), !more, reserved);
  if (s->awaiting_drain() && budget_.waiting() > 0) return void(shed(r));
  if (s->awaiting_drain() || s->closing()) return fetch_page(s, sub);
  pump_replay(s, sub);
}

void Replayer::tick(std::int64_t now_ms) {
  std::vector<std::uint64_t> late;
  for (auto& [id, u] : unanswered_) {
    if (!u.deadline_ms) u.deadline_ms = now_ms + kAnswerMs;
    else if (now_ms >= u.deadline_ms) late.push_back(id);
  }
  for (std::uint64_t id : late) {
    auto it = unanswered_.find(id);
    Subscription* sub = find_sub(it->second.serial, it->second.channel, id);
    unanswered_.erase(it);
    if (sub)
      replay_stopped(sub, false,
                     "no answer from the history or the archive of " + sub->channel->name +
                         " within " + std::to_string(kAnswerMs / 1000) + " s; subscribe again");
  }
}

void Replayer::written(Session* s) {
  const SendQueue& q = s->queue();
  if (!s->awaiting_drain() || q.bytes() > q.limit() / 4) return;
  s->set_awaiting_drain(false);
  if (s->closing()) return;
  for (Subscription* sub : s->subscriptions()) {  // pumping never adds or removes subscriptions
    if (!find(sub)) continue;
    pump_replay(s, sub);
    if (s->awaiting_drain() || s->closing()) break;
  }
}

}  // namespace rtpush
