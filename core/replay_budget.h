// ReplayBudget: the bytes of messages all replays of a node hold together
// (replay-memory-bytes; docs/limits.md "Replays in flight").
//
// A replay reserves a page's worth (page_bytes()) before it reads a page of
// the archive or of the Redis history, keeps what the page really weighs
// and gives it back message by message as it hands them to the send queue.
// When the reservation does not fit, the replay waits in a FIFO queue; the
// node calls wake() after anything that may have freed bytes, and the
// waiters at the head get their reservation in turn. A page is never larger
// than the whole budget, so an empty budget always admits the head waiter:
// every replay makes progress, even with a message bigger than the budget.
#pragma once
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>

namespace rtpush {

class ReplayBudget;

// Bytes held against a budget; given back when it goes (RAII, movable).
class BudgetHold {
 public:
  BudgetHold() = default;
  BudgetHold(BudgetHold&& o) noexcept : budget_(o.budget_), bytes_(o.bytes_) { o.bytes_ = 0; }
  BudgetHold& operator=(BudgetHold&& o) noexcept;
  BudgetHold(const BudgetHold&) = delete;
  BudgetHold& operator=(const BudgetHold&) = delete;
  ~BudgetHold() { resize(0); }

  std::size_t bytes() const { return bytes_; }
  // Holds `n` bytes now (more or fewer). Growing never waits: it is for a
  // page already read, whose size is only known then.
  void resize(std::size_t n);
  void release(std::size_t n) { resize(bytes_ > n ? bytes_ - n : 0); }
  // Takes over what `o` holds (same budget).
  void merge(BudgetHold&& o);

 private:
  friend class ReplayBudget;
  BudgetHold(ReplayBudget* b, std::size_t n) : budget_(b), bytes_(n) {}
  ReplayBudget* budget_ = nullptr;
  std::size_t bytes_ = 0;
};

class ReplayBudget {
 public:
  // `page_bytes`: what one page read reserves; capped at `limit`.
  ReplayBudget(std::size_t limit, std::size_t page_bytes);
  ReplayBudget(const ReplayBudget&) = delete;
  ReplayBudget& operator=(const ReplayBudget&) = delete;

  std::size_t limit() const { return limit_; }
  std::size_t page_bytes() const { return page_bytes_; }
  std::size_t held() const { return held_; }
  std::size_t waiting() const { return waiters_.size(); }

  // A page's reservation, now: only when nobody waits (FIFO) and it fits.
  bool try_reserve(BudgetHold* out);
  // A hold of nothing yet, for bytes known only later (resize()).
  BudgetHold empty_hold() { return BudgetHold(this, 0); }

  // Queues `grant`, run with the reservation when it is this waiter's turn
  // (from wake()). `key` identifies the waiter for cancel().
  using Grant = std::function<void(BudgetHold)>;
  void wait(std::uint64_t key, Grant grant);
  void cancel(std::uint64_t key);
  // Runs the waiters whose turn it is. Reentrant calls return at once (the
  // running loop sees what they freed).
  void wake();

 private:
  friend class BudgetHold;
  struct Waiter {
    std::uint64_t key;
    Grant grant;
  };
  bool fits() const { return held_ + page_bytes_ <= limit_; }
  std::size_t limit_, page_bytes_, held_ = 0;
  std::deque<Waiter> waiters_;
  bool waking_ = false;
};

}  // namespace rtpush
