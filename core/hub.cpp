#include "hub.h"

#include <algorithm>

#include "codec.h"

namespace rtpush {

Hub::~Hub() {
  for (auto& [name, ch] : channels_)
    for (Subscription* s : ch.subscribers) delete s;
}

Subscription* Hub::subscribe(Session* session, const std::string& channel) {
  if (find(session, channel)) return nullptr;
  Channel& ch = channels_[channel];
  if (ch.name.empty()) ch.name = channel;
  auto* sub = new Subscription;
  sub->session = session;
  sub->channel = &ch;
  sub->id = next_id_++;
  sub->index = static_cast<std::uint32_t>(ch.subscribers.size());
  ch.subscribers.push_back(sub);
  ++ch.per_encoding[static_cast<std::size_t>(session->encoding())];
  session->add_subscription(sub, ch.name);
  return sub;
}

Subscription* Hub::find(Session* session, const std::string& channel) const {
  return session->find_subscription(channel);
}

bool Hub::unsubscribe(Subscription* sub) {
  Channel& ch = *sub->channel;
  // Swap-remove: O(1) whatever the channel's size.
  Subscription* last = ch.subscribers.back();
  ch.subscribers[sub->index] = last;
  last->index = sub->index;
  ch.subscribers.pop_back();
  --ch.per_encoding[static_cast<std::size_t>(sub->session->encoding())];
  sub->session->remove_subscription(sub, ch.name);
  const bool empty = ch.subscribers.empty();
  if (empty) channels_.erase(ch.name);
  delete sub;
  return empty;
}

const FrameRef& Hub::frame_for(const Message& msg, Encoding encoding) {
  FrameRef& f = msg.frames[static_cast<std::size_t>(encoding)];
  if (!f) {
    ServerFrame frame;
    frame.type = ServerFrameType::Message;
    frame.channel = msg.channel;
    frame.id = msg.id_text;
    frame.data = &msg.payload;
    frame.timestamp = msg.timestamp;
    f = codec_for(encoding)->encode(frame);
  }
  return f;
}

SendResult Hub::deliver(Subscription* sub, const MessagePtr& msg, FanOutStats* stats) {
  if (msg->id <= sub->last_sent) return SendResult::Queued;  // already sent (replay/live overlap)
  Session* s = sub->session;
  sub->last_sent = msg->id;
  const SendResult r = s->send(frame_for(*msg, s->encoding()));
  if (r == SendResult::Dropped) {
    if (!s->closing()) {
      ++stats->dropped;
      on_slow_(s);
    }
    return r;
  }
  ++stats->delivered;
  return r;
}

namespace {
std::size_t weight(const std::vector<MessagePtr>& messages) {
  std::size_t n = 0;
  for (const MessagePtr& m : messages) n += message_bytes(*m);
  return n;
}
}  // namespace

void Hub::begin_replay(Subscription* sub, ReplayStart start) {
  auto r = std::make_unique<Replay>();
  r->read_to = start.since;
  r->hot_done = !start.more_history;
  r->held = std::move(start.held);
  if (start.history_counted) r->held.resize(weight(start.history));
  else r->held.resize(0);
  if (start.archive) {
    r->archive_done = start.since >= start.archive_before;
    r->archive_before = start.archive_before;
    r->hot = std::move(start.history);
    r->hot_counted = start.history_counted;
  } else {
    if (!start.history.empty()) r->read_to = start.history.back()->id;
    r->ready = std::move(start.history);
    r->ready_counted = start.history_counted;
  }
  sub->replay = std::move(r);
}

void Hub::begin_replay(Subscription* sub, std::vector<MessagePtr> history, bool archive, StreamId archive_after,
                       StreamId archive_before) {
  ReplayStart start;
  start.history = std::move(history);
  start.archive = archive;
  start.since = archive_after;
  start.archive_before = archive_before;
  begin_replay(sub, std::move(start));
}

void Hub::add_page(Subscription* sub, std::vector<MessagePtr> page, bool last, std::size_t reserved) {
  Replay& r = *sub->replay;
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

ReplayStep Hub::pump(Subscription* sub, FanOutStats* stats) {
  Replay& r = *sub->replay;
  for (;;) {
    while (r.next < r.ready.size()) {
      MessagePtr& slot = r.ready[r.next++];
      const MessagePtr msg = std::move(slot);  // sent: the replay keeps no reference
      if (r.ready_counted) r.held.release(message_bytes(*msg));
      const std::uint64_t before = stats->delivered;
      const SendResult res = deliver(sub, msg, stats);
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
    sub->replay.reset();
    sub->parked.shrink_to_fit();
    sub->live = true;
    return ReplayStep::Live;
  }
}

FanOutStats Hub::go_live(Subscription* sub, std::vector<MessagePtr> history) {
  FanOutStats stats;
  begin_replay(sub, std::move(history));
  pump(sub, &stats);
  return stats;
}

FanOutStats Hub::fan_out(const MessagePtr& msg) {
  FanOutStats stats;
  auto it = channels_.find(msg->channel);
  if (it == channels_.end()) return stats;
  Channel& ch = it->second;
  // Encode once per encoding present, before the loop: the loop then only
  // bumps reference counts.
  for (std::size_t e = 0; e < kEncodingCount; ++e)
    if (ch.per_encoding[e]) frame_for(*msg, static_cast<Encoding>(e));
  for (Subscription* sub : ch.subscribers) {
    if (!sub->live) {
      if (sub->parked.size() < kMaxParked) {
        sub->parked.push_back(msg);
      } else if (!sub->session->closing()) {
        ++stats.dropped;
        on_slow_(sub->session);
      }
      continue;
    }
    deliver(sub, msg, &stats);
  }
  return stats;
}

std::size_t Hub::subscriber_count(const std::string& channel) const {
  auto it = channels_.find(channel);
  return it == channels_.end() ? 0 : it->second.subscribers.size();
}

}  // namespace rtpush
