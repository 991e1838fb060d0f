// MemoryBroker: the embedded default. Numbers messages per channel and keeps
// the last `history-size` of each for replay, within two bounds for all
// channels together (docs/limits.md, "History"):
//   history-memory-bytes  past it the oldest message of any channel is
//                         dropped first (one global publish order, O(1))
//   history-ttl-secs      a channel's whole log is freed this long after its
//                         last publish (channels ordered by last publish, so
//                         expiry looks only at the front)
// and one per channel:
//   history-channel-bytes past it the channel's own oldest messages are
//                         dropped (a running sum of its payload bytes)
// Delivers synchronously. One node only.
#pragma once
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <string>
#include <unordered_map>

#include "broker.h"

namespace rtpush {

struct HistoryLimits {
  std::size_t memory_bytes = 268435456;  // history-memory-bytes
  std::uint64_t ttl_ms = 86400000;       // history-ttl-secs * 1000; 0: forever
  std::size_t channel_bytes = 67108864;  // history-channel-bytes: payload bytes per channel
};

class MemoryBroker final : public Broker {
 public:
  using WallClockMs = std::function<std::uint64_t()>;
  // Ids issued by this broker are >= {start_ms, 0}: anything before is from
  // an earlier run, whose history this broker never had.
  MemoryBroker(std::size_t history_size, WallClockMs clock, HistoryLimits limits = {});
  MemoryBroker(const MemoryBroker&) = delete;
  MemoryBroker& operator=(const MemoryBroker&) = delete;

  void set_listener(BrokerListener* listener) override { listener_ = listener; }
  using Broker::publish;
  void publish(const std::string& channel, Payload payload, std::string user, PublishDone done) override;
  // Answers with every retained message at once: they are shared with the
  // ring (pointers, no copy), so a replay adds no memory for them.
  void history(const std::string& channel, std::optional<StreamId> since, std::size_t page_bytes,
               HistoryDone done) override;
  void watch(const std::string&, bool) override {}
  BackendState state() const override { return BackendState::Off; }
  std::optional<HistoryStats> history_stats() override;
  void expire() override;

  // Synchronous form of history(), for tests and the node's own use.
  HistoryResult read(const std::string& channel, std::optional<StreamId> since) const;

  // Blocks from this size on are mmapped by glibc, whole pages, and given
  // back to the system when freed: the plugin fixes glibc's threshold here
  // (M_MMAP_THRESHOLD) so that dropped history leaves no resident holes.
  static constexpr std::size_t kLargeBlock = 128 * 1024;

  // What one retained message / one channel log is counted as, in bytes.
  static std::size_t message_cost(const Message& m);
  static std::size_t channel_cost(const std::string& name);

 private:
  struct ChannelLog;
  struct Retained {
    MessagePtr msg;
    std::size_t bytes;  // message_cost() when last counted
    ChannelLog* log;
  };
  using Order = std::list<Retained>;  // every retained message, oldest published first
  struct ChannelLog {
    const std::string* name = nullptr;  // the key in channels_
    StreamId last;                      // newest id issued (zero: none yet)
    StreamId evicted;                   // newest id dropped from this log (zero: none)
    std::uint64_t last_publish_ms = 0;
    std::size_t payload_bytes = 0;     // of the messages in `ring`
    std::deque<Order::iterator> ring;  // this channel's part of order_, oldest first
    std::list<ChannelLog*>::iterator by_publish;
  };

  ChannelLog& log_for(const std::string& channel);
  void drop_oldest(ChannelLog& log);  // its oldest retained message
  void drop_log(ChannelLog& log);     // the whole channel
  void recount(Retained& r);          // frames encoded since it was counted
  void fit_budget();
  void fit_channel(ChannelLog& log);  // history-channel-bytes
  void expire(std::uint64_t now_ms);

  std::size_t history_size_;
  WallClockMs clock_;
  HistoryLimits limits_;
  StreamId floor_;  // {start_ms, 0}
  // Newest id of any channel whose log was dropped whole (TTL, or budget
  // with nothing else left to drop): a channel without a log, or with one
  // made after that, cannot prove anything before it complete.
  StreamId dropped_;
  std::size_t bytes_ = 0;
  BrokerListener* listener_ = nullptr;
  Order order_;
  std::list<ChannelLog*> by_publish_;  // least recently published first
  std::unordered_map<std::string, ChannelLog> channels_;
};

}  // namespace rtpush
