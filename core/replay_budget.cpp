#include "replay_budget.h"

#include <algorithm>

namespace rtpush {

BudgetHold& BudgetHold::operator=(BudgetHold&& o) noexcept {
  if (this != &o) {
    resize(0);
    budget_ = o.budget_;
    bytes_ = o.bytes_;
    o.bytes_ = 0;
  }
  return *this;
}

void BudgetHold::resize(std::size_t n) {
  if (!budget_) return;
  budget_->held_ = budget_->held_ - bytes_ + n;
  bytes_ = n;
}

void BudgetHold::merge(BudgetHold&& o) {
  if (!budget_) budget_ = o.budget_;
  bytes_ += o.bytes_;  // the budget's total is unchanged: same bytes, one holder
  o.bytes_ = 0;
}

ReplayBudget::ReplayBudget(std::size_t limit, std::size_t page_bytes)
    : limit_(limit), page_bytes_(std::min(page_bytes, limit)) {}

bool ReplayBudget::try_reserve(BudgetHold* out) {
  if (!waiters_.empty() || !fits()) return false;
  held_ += page_bytes_;
  *out = BudgetHold(this, page_bytes_);
  return true;
}

void ReplayBudget::wait(std::uint64_t key, Grant grant) { waiters_.push_back({key, std::move(grant)}); }

void ReplayBudget::cancel(std::uint64_t key) {
  waiters_.erase(std::remove_if(waiters_.begin(), waiters_.end(), [key](const Waiter& w) { return w.key == key; }),
                 waiters_.end());
}

void ReplayBudget::wake() {
  if (waking_) return;
  waking_ = true;
  while (!waiters_.empty() && fits()) {
    Grant grant = std::move(waiters_.front().grant);
    waiters_.pop_front();
    held_ += page_bytes_;
    grant(BudgetHold(this, page_bytes_));  // a grant not used goes back at once
  }
  waking_ = false;
}

}  // namespace rtpush
