#include "hub.h"

#include <algorithm>

#include "codec.h"
#include "frame_deflate.h"
#include "sse_frame.h"

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
  if (!f && encoding == Encoding::Sse) {
    // The JSON frame wrapped as an event: JSON is encoded once whether
    // WebSocket subscribers, SSE listeners or both receive it.
    f = sse_message_frame(msg.id_text, *frame_for(msg, Encoding::Json));
  } else if (!f) {
    ServerFrame frame;
    frame.type = ServerFrameType::Message;
    frame.channel = msg.channel;
    frame.id = msg.id_text;
    frame.data = &msg.payload;
    frame.timestamp = msg.timestamp;
    frame.user = msg.user;
    f = codec_for(encoding)->encode(frame);
  }
  return f;
}

const FrameRef& Hub::frame_for(const Message& msg, Encoding encoding, bool deflate) {
  const FrameRef& plain = frame_for(msg, encoding);
  if (!deflate || encoding == Encoding::Sse) return plain;  // an event stream is never compressed
  FrameRef& d = msg.deflated[static_cast<std::size_t>(encoding)];
  if (!d) {
    d = deflate_frame(*plain);
    if (!d) d = plain;
  }
  return d;
}

SendResult Hub::deliver(Subscription* sub, const MessagePtr& msg, FanOutStats* stats) {
  if (msg->id <= sub->last_sent) return SendResult::Queued;  // already sent (replay/live overlap)
  Session* s = sub->session;
  sub->last_sent = msg->id;
  const SendResult r = s->send(frame_for(*msg, s->encoding(), s->deflate()));
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
