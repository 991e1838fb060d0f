// TokenBucket: allows `rate` events a second on average and bursts of up to
// `rate` at once (publish-rate, README.md "Options"). The rate is passed to each
// call rather than stored, so a session pays 16 bytes for it.
#pragma once
#include <cstddef>
#include <cstdint>

namespace rtpush {

class TokenBucket {
 public:
  // True, spending one token, when an event at `now_ms` (a steady clock) is
  // within `rate` per second; false, spending nothing, when it is over.
  // `rate` > 0.
  bool take(unsigned rate, std::int64_t now_ms) {
    // Tokens are counted in thousandths so that refilling `rate` a second
    // is exact in whole milliseconds: rate thousandths per ms.
    const std::int64_t elapsed = now_ms - last_ms_;
    last_ms_ = now_ms;
    if (elapsed >= 1000 || elapsed < 0) {
      spent_milli_ = 0;  // a full second refills the whole burst
    } else {
      spent_milli_ -= elapsed * static_cast<std::int64_t>(rate);
      if (spent_milli_ < 0) spent_milli_ = 0;
    }
    if (spent_milli_ + 1000 > static_cast<std::int64_t>(rate) * 1000) return false;
    spent_milli_ += 1000;
    return true;
  }

 private:
  std::int64_t spent_milli_ = 0;  // tokens used and not yet refilled (0: full)
  std::int64_t last_ms_ = 0;
};

// ByteBucket: `rate` bytes a second on average, bursts of up to `burst`
// bytes (receive-bytes-per-sec, burst twice max-message-bytes). Like
// TokenBucket, the rate and burst are passed to each call: 16 bytes.
class ByteBucket {
 public:
  // Spends `n` bytes at `now_ms` (a steady clock). False when that takes
  // the bucket past `burst`: the caller stops reading from that client.
  bool take(std::size_t n, std::uint64_t rate, std::uint64_t burst, std::int64_t now_ms) {
    // In thousandths of a byte, so that a rate below 1,000 a second still
    // refills something every millisecond. Past kFullAfterMs any bucket is
    // full again (and elapsed * rate cannot overflow: rate <= 2^40).
    constexpr std::int64_t kFullAfterMs = 1'000'000;
    const std::int64_t elapsed = now_ms - last_ms_;
    last_ms_ = now_ms;
    if (elapsed >= kFullAfterMs || elapsed < 0) {
      spent_milli_ = 0;
    } else {
      spent_milli_ -= elapsed * static_cast<std::int64_t>(rate);
      if (spent_milli_ < 0) spent_milli_ = 0;
    }
    spent_milli_ += static_cast<std::int64_t>(n) * 1000;
    return spent_milli_ <= static_cast<std::int64_t>(burst) * 1000;
  }

 private:
  std::int64_t spent_milli_ = 0;  // bytes read and not yet refilled (0: full)
  std::int64_t last_ms_ = 0;
};

}  // namespace rtpush
