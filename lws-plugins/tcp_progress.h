// Whether a TCP peer is taking what is sent to it, from the kernel's own
// counters (TCP_INFO): an SSE listener cannot answer a ping, so this is how
// the node tells a live one from one that stopped reading or vanished
// (Connection::output_taken, SessionTable::tick). No lws types: a file descriptor.
#pragma once
#include <cstdint>

namespace rtpush_lws {

// One connection's view, kept between two looks (once a second, on the
// service thread: SessionTable::tick through SseConnection::output_taken).
struct TcpProgress {
  std::uint64_t acked = 0;  // tcpi_bytes_acked at the last look
  // True when the peer acknowledged bytes since the last look, or nothing
  // sent to it waits (unsent or unacknowledged); also when `fd` is not a
  // TCP socket or the kernel does not say (nothing to judge by).
  bool taken(int fd);
};

}  // namespace rtpush_lws
