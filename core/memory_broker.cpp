#include "memory_broker.h"

#include <algorithm>

namespace rtpush {

const char* backend_state_name(BackendState s) {
  switch (s) {
    case BackendState::Off: return "off";
    case BackendState::Up: return "up";
    case BackendState::Down: return "down";
  }
  return "off";
}

namespace {

// glibc malloc: 16 bytes of header per block, at least 32 in all.
constexpr std::size_t kMallocHeader = 16;
constexpr std::size_t kPage = 4096;

// What the system gives for a block of n bytes.
std::size_t block(std::size_t n) {
  n += kMallocHeader;
  return n >= MemoryBroker::kLargeBlock ? (n + kPage - 1) / kPage * kPage : n;
}

// One encoded frame: a single block (Frame::make), headroom included.
std::size_t frame_block(const Frame& f) { return block(sizeof(Frame) + kFrameHeadroom + f.size()); }

// Heap bytes of a string beyond the object itself (none when short).
std::size_t string_heap(const std::string& s) { return s.capacity() > 15 ? block(s.capacity() + 1) : 0; }

// A std::deque allocates its map and a 512-byte block even when empty.
constexpr std::size_t kDequeFloor = 64 + 512 + 2 * kMallocHeader;

}  // namespace

std::size_t MemoryBroker::message_cost(const Message& m) {
  // make_shared: one block for the control block and the Message; the list
  // node in order_ and the ring's slot.
  std::size_t n = sizeof(Message) + 16 + kMallocHeader;
  n += sizeof(Retained) + 2 * sizeof(void*) + kMallocHeader + sizeof(void*);
  n += string_heap(m.channel) + string_heap(m.id_text) + string_heap(m.payload.bytes);
  for (std::size_t e = 0; e < kEncodingCount; ++e) {
    if (const FrameRef& f = m.frames[e]) n += frame_block(*f);
    // The compressed twin made for permessage-deflate subscribers; one
    // that is the plain frame itself (compressing did not pay) is counted.
    if (const FrameRef& d = m.deflated[e]; d && d.get() != m.frames[e].get()) n += frame_block(*d);
  }
  return n;
}

std::size_t MemoryBroker::channel_cost(const std::string& name) {
  // The map node (key and log), its bucket, the by_publish_ node, the ring.
  return sizeof(std::pair<const std::string, ChannelLog>) + 2 * sizeof(void*) + kMallocHeader + sizeof(void*) +
         3 * sizeof(void*) + kMallocHeader + kDequeFloor + string_heap(name);
}

MemoryBroker::MemoryBroker(std::size_t history_size, WallClockMs clock, HistoryLimits limits)
    : history_size_(history_size), clock_(std::move(clock)), limits_(limits), floor_{clock_(), 0} {}

MemoryBroker::ChannelLog& MemoryBroker::log_for(const std::string& channel) {
  auto [it, fresh] = channels_.try_emplace(channel);
  ChannelLog& log = it->second;
  if (fresh) {
    log.name = &it->first;
    // A log made after another was dropped whole may be this channel's
    // second life: its earlier messages are gone, and its ids must go on
    // above them.
    log.last = log.evicted = dropped_;
    log.by_publish = by_publish_.insert(by_publish_.end(), &log);
    bytes_ += channel_cost(channel);
  }
  return log;
}

void MemoryBroker::publish(const std::string& channel, Payload payload, std::string user, PublishDone done) {
  const std::uint64_t now = clock_();
  expire(now);
  ChannelLog& log = log_for(channel);
  auto msg = std::make_shared<Message>();
  msg->channel = channel;
  msg->id = next_stream_id(log.last, now);
  msg->id_text = msg->id.str();
  msg->payload = std::move(payload);
  msg->user = std::move(user);
  msg->timestamp = static_cast<double>(now) / 1000.0;
  log.last = msg->id;
  log.last_publish_ms = now;
  by_publish_.splice(by_publish_.end(), by_publish_, log.by_publish);
  MessagePtr ptr = std::move(msg);
  Retained* kept = nullptr;
  if (history_size_ > 0) {
    log.ring.push_back(order_.insert(order_.end(), Retained{ptr, message_cost(*ptr), &log}));
    kept = &*log.ring.back();
    bytes_ += kept->bytes;
    log.payload_bytes += ptr->payload.bytes.size();
    if (log.ring.size() > history_size_) drop_oldest(log);
    fit_channel(log);
    if (log.ring.empty()) kept = nullptr;  // larger than history-channel-bytes alone
  } else {
    log.evicted = ptr->id;
  }
  // The fan-out encodes the message's frames into it: count them too, then
  // make room. Nothing else runs in between, so `kept` is still retained.
  if (listener_) listener_->on_message(ptr);
  if (kept) recount(*kept);
  fit_budget();
  PublishResult r;
  r.ok = true;
  r.message = std::move(ptr);
  done(r);
}

void MemoryBroker::drop_oldest(ChannelLog& log) {
  Order::iterator it = log.ring.front();
  log.evicted = it->msg->id;
  bytes_ -= it->bytes;
  log.payload_bytes -= it->msg->payload.bytes.size();
  order_.erase(it);
  log.ring.pop_front();
}

void MemoryBroker::drop_log(ChannelLog& log) {
  for (Order::iterator it : log.ring) {
    bytes_ -= it->bytes;
    order_.erase(it);
  }
  dropped_ = std::max(dropped_, log.last);
  bytes_ -= channel_cost(*log.name);
  by_publish_.erase(log.by_publish);
  channels_.erase(channels_.find(*log.name));
}

void MemoryBroker::recount(Retained& r) {
  const std::size_t now = message_cost(*r.msg);
  bytes_ += now - r.bytes;  // frames are only ever added
  r.bytes = now;
}

void MemoryBroker::fit_budget() {
  while (bytes_ > limits_.memory_bytes) {
    // The globally oldest message is also the oldest of its own channel.
    if (!order_.empty()) {
      drop_oldest(*order_.front().log);
    } else if (!by_publish_.empty()) {
      // Only empty logs left (a budget smaller than their bookkeeping).
      drop_log(*by_publish_.front());
    } else {
      break;
    }
  }
}

void MemoryBroker::fit_channel(ChannelLog& log) {
  while (log.payload_bytes > limits_.channel_bytes && !log.ring.empty()) drop_oldest(log);
}

void MemoryBroker::expire(std::uint64_t now_ms) {
  if (limits_.ttl_ms == 0) return;
  while (!by_publish_.empty() && by_publish_.front()->last_publish_ms + limits_.ttl_ms <= now_ms)
    drop_log(*by_publish_.front());
}

void MemoryBroker::expire() { expire(clock_()); }

std::optional<HistoryStats> MemoryBroker::history_stats() {
  expire();
  return HistoryStats{bytes_, channels_.size()};
}

HistoryResult MemoryBroker::read(const std::string& channel, std::optional<StreamId> since) const {
  HistoryResult r;
  r.ok = true;
  auto it = channels_.find(channel);
  if (it != channels_.end() && it->second.last != StreamId{}) r.position = it->second.last;
  if (!since) return r;
  // Everything after `since` is here only if nothing after it was dropped
  // (from this log, or with a whole log: a channel without a log, or with a
  // log made since, may have had one) and it is not from before this broker
  // started.
  const StreamId evicted = it == channels_.end() ? dropped_ : it->second.evicted;
  r.recovered = *since >= evicted && *since >= floor_;
  r.archive_floor = floor_;  // a store of this node's messages began with it
  if (it == channels_.end()) return r;
  const auto& ring = it->second.ring;
  auto first = std::upper_bound(ring.begin(), ring.end(), *since,
                                [](StreamId id, Order::iterator m) { return id < m->msg->id; });
  r.messages.reserve(static_cast<std::size_t>(ring.end() - first));
  for (; first != ring.end(); ++first) r.messages.push_back((*first)->msg);
  return r;
}

void MemoryBroker::history(const std::string& channel, std::optional<StreamId> since, std::size_t,
                           HistoryDone done) {
  expire();
  done(read(channel, since));
  // The replay just encoded frames into the messages it sent: count them.
  auto it = channels_.find(channel);
  if (!since || it == channels_.end()) return;
  auto& ring = it->second.ring;
  auto first = std::upper_bound(ring.begin(), ring.end(), *since,
                                [](StreamId id, Order::iterator m) { return id < m->msg->id; });
  for (; first != ring.end(); ++first) recount(**first);
  fit_budget();
}

}  // namespace rtpush
