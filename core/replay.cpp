// Replay on subscribe: the continuation of Node::subscribe() once the broker
// has answered with the channel's hot history.
//
//   since within the hot history   -> history, parked live messages, live
//   since older, archive holds it  -> settle (every message up to now is in
//                                     PostgreSQL), then archive pages, then
//                                     the hot history, parked, live
//   since older, nowhere held      -> recovered:false, what the hot history has
//
// Every step goes through Hub::pump(), which stops when the send queue
// reports backpressure; Node::written() resumes it once the transport has
// drained the queue to a quarter. So a replay of 100,000 messages streams at
// the client's pace within a bounded queue, and at most two archive pages
// are held in memory per replay.
#include <limits>

#include "node.h"

namespace rtpush {

Subscription* Node::find_sub(std::uint64_t serial, const std::string& channel, std::uint64_t sub_id) const {
  Session* s = find(serial);
  if (!s) return nullptr;
  Subscription* sub = hub_.find(s, channel);
  return sub && sub->id == sub_id ? sub : nullptr;  // not one that replaced it
}

// PostgreSQL could not answer. Before `subscribed` the subscribe simply
// failed; after it the client has part of the range, so it is told the
// subscription ended and subscribes again with `since` = the last id it got.
void Node::replay_unavailable(Subscription* sub, bool started) {
  Session* s = sub->session;
  const std::string channel = sub->channel->name;
  send_error(s, ErrorCode::Unavailable,
             started ? "postgres is unavailable: the replay of " + channel + " stopped; subscribe again with since"
                     : "postgres is unavailable: cannot replay past the hot history of " + channel,
             {});
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
  // history still holds (or, when it holds none after `since`, up to the
  // position; later ones come live, and overlaps are skipped by id).
  StreamId before{static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()), 0};
  if (!h.messages.empty()) before = h.messages.front()->id;
  else if (h.position) before = h.position->successor();
  hub_.begin_replay(sub, std::move(h.messages), archive, since.value_or(StreamId{}), before);
  Replay& r = *sub->replay;
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
  if (step == ReplayStep::Blocked || step == ReplayStep::NeedArchive) fetch_page(s, sub);
}

// Reads the next archive page unless one is on its way or a page is still
// buffered: read-ahead of one page, so the client never waits on PostgreSQL
// while it has something to receive.
void Node::fetch_page(Session* s, Subscription* sub) {
  Replay& r = *sub->replay;
  if (r.archive_done || r.fetching || r.buffered() >= kArchivePage) return;
  r.fetching = true;
  archive_->read(
      sub->channel->name, r.archive_after, r.archive_before, kArchivePage,
      [this, serial = s->serial(), channel = sub->channel->name, id = sub->id](bool ok, std::vector<MessagePtr> page) {
        Subscription* sub = find_sub(serial, channel, id);
        if (!sub || !sub->replay) return;
        Session* s = sub->session;
        if (!ok) return replay_unavailable(sub, sub->replay->announced);
        if (!sub->replay->announced) {
          sub->replay->announced = true;
          announce(s, sub, true, sub->replay->position, true);
        }
        metrics_.archive_rows += page.size();
        const bool last = page.size() < kArchivePage;
        hub_.add_page(sub, std::move(page), last);
        if (s->awaiting_drain() || s->closing()) return fetch_page(s, sub);
        pump_replay(s, sub);
      });
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
