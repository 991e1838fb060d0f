// What the fuzz targets that drive a whole Node share: a connection that
// goes nowhere, and a node on the embedded broker with small bounds (memory
// stays flat however many channels the inputs name) and a clock that moves.
#pragma once
#include <cstdint>
#include <memory>

#include "memory_broker.h"
#include "node.h"

namespace fuzz {

struct NullConnection : rtpush::Connection {
  void request_write() override {}
  void request_close() override {}
};

inline std::unique_ptr<rtpush::Node> small_node() {
  rtpush::Options o;
  o.history_size = 16;
  o.history_memory_bytes = 1 << 20;
  o.max_channels_per_connection = 8;
  std::uint64_t now = 1'700'000'000'000ULL;
  rtpush::Clocks clocks{[] { return std::int64_t{0}; }, [now]() mutable { return ++now; }, [] { return std::int64_t{0}; }};
  return std::make_unique<rtpush::Node>(
      o,
      std::make_unique<rtpush::MemoryBroker>(o.history_size, clocks.wall_ms,
                                             rtpush::HistoryLimits{o.history_memory_bytes, 0}),
      clocks);
}

}  // namespace fuzz
