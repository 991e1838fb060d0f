// Clocks: the times the core reads, injected so tests move them. Steady ms
// for heartbeats, deadlines and rates; steady us for receive-bytes-per-sec
// (a millisecond is too coarse for a byte rate: ByteBucket); wall ms for
// ids and timestamps.
// Called on the lws service thread (and what the node's parts run there).
#pragma once
#include <cstdint>
#include <functional>

namespace rtpush {

struct Clocks {
  std::function<std::int64_t()> steady_ms;  // heartbeats
  std::function<std::uint64_t()> wall_ms;   // ids and timestamps
  std::function<std::int64_t()> steady_us;  // the same steady clock in microseconds
  static Clocks system();
  double now_seconds() const { return static_cast<double>(wall_ms()) / 1000.0; }
};

}  // namespace rtpush
