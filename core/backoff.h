// Backoff: how long to wait before the next attempt to reach a backend
// (Redis, PostgreSQL). Exponential with full jitter between min/2 and a cap
// that doubles with every failed attempt up to max: nodes that lost the
// same backend do not come back in step, and a backend that stays down is
// tried about every `max` seconds. reset() once the backend answers.
#pragma once
#include <algorithm>
#include <functional>
#include <memory>
#include <random>

namespace rtpush {

class Backoff {
 public:
  // A uniform draw in [lo, hi); tests pass one they control.
  using Draw = std::function<double(double lo, double hi)>;
  static constexpr double kMinSecs = 0.1, kMaxSecs = 5;

  explicit Backoff(double min_secs = kMinSecs, double max_secs = kMaxSecs, Draw draw = {})
      : min_(min_secs), max_(max_secs), draw_(draw ? std::move(draw) : random_draw()) {}

  // The delay before the next attempt, in seconds; each call counts a failure.
  double next() {
    const double cap = std::min(max_, min_ * static_cast<double>(1u << std::min(attempts_, 10)));
    ++attempts_;
    return draw_(min_ / 2, std::max(cap, min_ / 2));
  }
  void reset() { attempts_ = 0; }
  int attempts() const { return attempts_; }

 private:
  static Draw random_draw() {
    auto rng = std::make_shared<std::mt19937>(std::random_device{}());
    return [rng](double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(*rng); };
  }
  double min_, max_;
  int attempts_ = 0;
  Draw draw_;
};

}  // namespace rtpush
