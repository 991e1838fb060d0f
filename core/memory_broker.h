// MemoryBroker: the embedded default. Numbers messages per channel, keeps the
// last `history-size` of each, and delivers synchronously. One node only.
#pragma once
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <unordered_map>

#include "broker.h"

namespace rtpush {

class MemoryBroker final : public Broker {
 public:
  using WallClockMs = std::function<std::uint64_t()>;
  // Ids issued by this broker are >= {start_ms, 0}: anything before is from
  // an earlier run, whose history this broker never had.
  MemoryBroker(std::size_t history_size, WallClockMs clock);

  void set_listener(BrokerListener* listener) override { listener_ = listener; }
  void publish(const std::string& channel, Payload payload, PublishDone done) override;
  void history(const std::string& channel, std::optional<StreamId> since, HistoryDone done) override;
  void watch(const std::string&, bool) override {}
  BackendState state() const override { return BackendState::Off; }

  // Synchronous form of history(), for tests and the node's own use.
  HistoryResult read(const std::string& channel, std::optional<StreamId> since) const;

 private:
  struct ChannelLog {
    StreamId last;                // newest id issued (zero: none yet)
    StreamId evicted;             // newest id dropped from the ring (zero: none)
    std::deque<MessagePtr> ring;  // the retained messages, oldest first
  };
  std::size_t history_size_;
  WallClockMs clock_;
  StreamId floor_;  // {start_ms, 0}
  BrokerListener* listener_ = nullptr;
  std::unordered_map<std::string, ChannelLog> channels_;
};

}  // namespace rtpush
