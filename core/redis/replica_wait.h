// ReplicaWait: redis-wait-replicas (SPEC 12). A publish is answered only
// once `WAIT N T` on its connection says N replicas hold it. One WAIT in
// flight at a time covers every publish whose reply came before it was
// sent (WAIT counts the connection's writes so far); publishes whose
// replies arrive meanwhile wait for the next one. So a burst costs one
// round trip to the replicas, not one per message, and the command link is
// blocked (Redis holds the connection during WAIT) for one WAIT at a time.
//
// The cluster backend keeps one per shard link. I/O thread only.
#pragma once
#include <hiredis/hiredis.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace rtpush {

class ReplicaWait {
 public:
  // `replicas` confirmed or not (then `confirmed` says how many did; -1: no
  // reply, the link went down).
  using Done = std::function<void(bool ok, long long confirmed)>;
  // Sends a command on the publishes' link; the callback gets null when none came.
  using Send = std::function<void(const std::vector<std::string>& args, std::function<void(redisReply*)> reply)>;

  ReplicaWait(int replicas, int timeout_ms, Send send)
      : replicas_(replicas), timeout_ms_(timeout_ms), send_(std::move(send)) {}

  bool enabled() const { return replicas_ > 0; }
  // A publish's script reply arrived on the link: `done` runs once a WAIT
  // sent after it answers (at once, ok, when disabled).
  void after_reply(Done done);

  std::uint64_t waits_sent() const { return sent_; }  // for tests and the bench

 private:
  void send_wait();

  int replicas_, timeout_ms_;
  Send send_;
  bool in_flight_ = false;
  std::vector<Done> next_;  // covered by the next WAIT
  std::uint64_t sent_ = 0;
};

}  // namespace rtpush
