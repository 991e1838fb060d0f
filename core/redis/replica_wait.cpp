#include "replica_wait.h"

#include <utility>

namespace rtpush {

void ReplicaWait::after_reply(Done done) {
  if (!enabled()) return done(true, 0);
  next_.push_back(std::move(done));
  if (!in_flight_) send_wait();
}

void ReplicaWait::send_wait() {
  in_flight_ = true;
  ++sent_;
  auto batch = std::make_shared<std::vector<Done>>(std::move(next_));
  next_.clear();
  send_({"WAIT", std::to_string(replicas_), std::to_string(timeout_ms_)}, [this, batch](redisReply* r) {
    in_flight_ = false;
    const long long n = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    const bool ok = n >= replicas_;
    for (Done& d : *batch) d(ok, n);
    // Replies that came while this one was out: the next WAIT covers them.
    if (!next_.empty()) send_wait();
  });
}

}  // namespace rtpush
