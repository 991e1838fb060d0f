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
// Its clock counts microseconds: with milliseconds, everything read within
// one millisecond refilled nothing, so a connection whose bytes arrive
// faster than `burst` a millisecond (a backlog the kernel buffered, read in
// one go) was closed at any rate, even 2^40 a second.
class ByteBucket {
 public:
  // Spends `n` bytes at `now_us` (a steady clock, microseconds). False when
  // that takes the bucket past `burst`: the caller stops reading from that
  // client. `rate` <= 2^40, `burst` <= 2^40.
  bool take(std::size_t n, std::uint64_t rate, std::uint64_t burst, std::int64_t now_us) {
    // In millionths of a byte, so that any rate refills something every
    // microsecond. Once `elapsed` alone refills what was spent the bucket is
    // full again, which also keeps elapsed * rate within 64 bits.
    const std::int64_t elapsed = now_us - last_us_;
    last_us_ = now_us;
    const auto r = static_cast<std::int64_t>(rate);
    if (elapsed < 0 || elapsed > spent_micro_ / r) {
      spent_micro_ = 0;
    } else {
      spent_micro_ -= elapsed * r;
    }
    spent_micro_ += static_cast<std::int64_t>(n) * 1'000'000;
    return spent_micro_ <= static_cast<std::int64_t>(burst) * 1'000'000;
  }

 private:
  std::int64_t spent_micro_ = 0;  // bytes read and not yet refilled (0: full)
  std::int64_t last_us_ = 0;
};

}  // namespace rtpush
