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

MemoryBroker::MemoryBroker(std::size_t history_size, WallClockMs clock)
    : history_size_(history_size), clock_(std::move(clock)), floor_{clock_(), 0} {}

void MemoryBroker::publish(const std::string& channel, Payload payload, PublishDone done) {
  ChannelLog& log = channels_[channel];
  const std::uint64_t now = clock_();
  auto msg = std::make_shared<Message>();
  msg->channel = channel;
  msg->id = next_stream_id(log.last, now);
  msg->id_text = msg->id.str();
  msg->payload = std::move(payload);
  msg->timestamp = static_cast<double>(now) / 1000.0;
  log.last = msg->id;
  MessagePtr ptr = std::move(msg);
  if (history_size_ > 0) {
    log.ring.push_back(ptr);
    if (log.ring.size() > history_size_) {
      log.evicted = log.ring.front()->id;
      log.ring.pop_front();
    }
  } else {
    log.evicted = ptr->id;
  }
  if (listener_) listener_->on_message(ptr);
  PublishResult r;
  r.ok = true;
  r.message = std::move(ptr);
  done(r);
}

HistoryResult MemoryBroker::read(const std::string& channel, std::optional<StreamId> since) const {
  HistoryResult r;
  r.ok = true;
  auto it = channels_.find(channel);
  if (it != channels_.end() && it->second.last != StreamId{}) r.position = it->second.last;
  if (!since) return r;
  // Everything after `since` is here only if nothing after it was evicted
  // and it is not from before this broker started.
  const StreamId evicted = it == channels_.end() ? StreamId{} : it->second.evicted;
  r.recovered = *since >= evicted && *since >= floor_;
  r.archive_floor = floor_;  // a store of this node's messages began with it
  if (it == channels_.end()) return r;
  const auto& ring = it->second.ring;
  auto first = std::upper_bound(ring.begin(), ring.end(), *since,
                                [](StreamId id, const MessagePtr& m) { return id < m->id; });
  r.messages.assign(first, ring.end());
  return r;
}

void MemoryBroker::history(const std::string& channel, std::optional<StreamId> since, HistoryDone done) {
  done(read(channel, since));
}

}  // namespace rtpush
