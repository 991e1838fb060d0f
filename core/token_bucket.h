// TokenBucket: allows `rate` events a second on average and bursts of up to
// `rate` at once (publish-rate, README.md "Options"). The rate is passed to each
// call rather than stored, so a session pays 16 bytes for it.
#pragma once
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

}  // namespace rtpush
