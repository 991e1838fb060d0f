// Waiters: callbacks waiting until a condition holds, each with a deadline.
// Their owner checks them when the condition may have changed (a commit, a
// poll); used by PgStore::settle() and PersistFeed::settle(). One thread.
#pragma once
#include <functional>
#include <utility>
#include <vector>

namespace rtpush {

template <class Mark>
class Waiters {
 public:
  using Done = std::function<void(bool)>;

  void add(Mark mark, double deadline, Done done) { waiting_.push_back({std::move(mark), deadline, std::move(done)}); }
  bool empty() const { return waiting_.empty(); }

  // done(true) for each whose mark `met` accepts, done(false) for each past
  // its deadline at `now`; the rest keep waiting. A `done` may add() a new
  // waiter: the list is taken out first, so none is lost or run half-moved.
  template <class Met>
  void resolve(const Met& met, double now) {
    std::vector<Waiter> checking;
    checking.swap(waiting_);
    for (Waiter& w : checking) {
      if (met(w.mark)) w.done(true);
      else if (now >= w.deadline) w.done(false);
      else waiting_.push_back(std::move(w));
    }
  }

 private:
  struct Waiter {
    Mark mark;
    double deadline;
    Done done;
  };
  std::vector<Waiter> waiting_;
};

}  // namespace rtpush
