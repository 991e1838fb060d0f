// StreamId: a message id "<ms>-<seq>", the Redis Stream id form. Ordered as
// the pair of integers; increasing within a channel.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>

namespace rtpush {

struct StreamId {
  std::uint64_t ms = 0;
  std::uint64_t seq = 0;

  // "<ms>-<seq>", or "<ms>" alone (seq 0). Anything else: nullopt.
  static std::optional<StreamId> parse(std::string_view text);
  std::string str() const;

  // The smallest id greater than this one.
  StreamId successor() const;

  friend bool operator==(StreamId a, StreamId b) { return a.ms == b.ms && a.seq == b.seq; }
  friend bool operator!=(StreamId a, StreamId b) { return !(a == b); }
  friend bool operator<(StreamId a, StreamId b) { return std::tie(a.ms, a.seq) < std::tie(b.ms, b.seq); }
  friend bool operator>(StreamId a, StreamId b) { return b < a; }
  friend bool operator<=(StreamId a, StreamId b) { return !(b < a); }
  friend bool operator>=(StreamId a, StreamId b) { return !(a < b); }
};

// The id of a new message published at wall-clock `now_ms` after `last`:
// Redis's rule, so ids stay increasing even when the clock steps back.
StreamId next_stream_id(StreamId last, std::uint64_t now_ms);

}  // namespace rtpush
