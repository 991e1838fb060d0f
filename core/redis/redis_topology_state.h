// RedisTopologyState: what a node knows of its Redis deployment, for the
// metrics (rtpush_redis_up{shard}, rtpush_redis_failovers_total,
// rtpush_redis_redirects_total{kind}) and GET health (503 while any shard
// has no reachable master). SPEC section 12.
//
// A shard is "0" for one Redis or a Sentinel master, and "FIRST-LAST" (its
// slot range) for a Redis Cluster shard. Written by the Redis backends on
// the I/O thread, read by the service thread: a mutex for the shard list,
// atomics for the counters.
#pragma once
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace rtpush {

class RedisTopologyState {
 public:
  struct Shard {
    std::string label;
    bool up = false;
  };

  // I/O thread.
  void set_shards(std::vector<Shard> shards) {
    std::lock_guard<std::mutex> lock(mutex_);
    shards_ = std::move(shards);
  }
  void set_up(const std::string& label, bool up) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (Shard& s : shards_)
      if (s.label == label) s.up = up;
  }
  void count_failover() { failovers_.fetch_add(1, std::memory_order_relaxed); }
  void count_redirect(bool ask) { (ask ? ask_ : moved_).fetch_add(1, std::memory_order_relaxed); }

  // Any thread.
  std::vector<Shard> shards() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return shards_;
  }
  // Shards with no reachable master (health names them).
  std::vector<std::string> down() const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<std::string> out;
    for (const Shard& s : shards_)
      if (!s.up) out.push_back(s.label);
    return out;
  }
  std::uint64_t failovers() const { return failovers_.load(std::memory_order_relaxed); }
  std::uint64_t moved() const { return moved_.load(std::memory_order_relaxed); }
  std::uint64_t ask() const { return ask_.load(std::memory_order_relaxed); }

 private:
  mutable std::mutex mutex_;
  std::vector<Shard> shards_;
  std::atomic<std::uint64_t> failovers_{0}, moved_{0}, ask_{0};
};

}  // namespace rtpush
