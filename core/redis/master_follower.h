// MasterFollower: what a node does each time its Redis links come up, for
// a Sentinel master: notices a master other than the last one they were up
// on (counts it in RedisTopologyState, logs event=redis_failover
// from=host:port to=host:port, never a password), and runs the failover
// epoch script (failover_epoch.h) first on the command link. RedisBroker
// owns one; the hand-off reader follows on its own link but counts nothing.
// I/O thread only.
#pragma once
#include <string>

#include "logger.h"
#include "redis_links.h"
#include "redis_topology_state.h"

namespace rtpush {

class MasterFollower {
 public:
  MasterFollower(Logger log, RedisTopologyState* topology, bool move_epoch)
      : log_(std::move(log)), topology_(topology), move_epoch_(move_epoch) {}

  // The links are up on `master` (host:port): call before anything else is
  // sent on them.
  void links_up(RedisLinks& links, const std::string& master);
  // The sentinels announced a switch of our master.
  void switched(const std::string& from, const std::string& to);

 private:
  Logger log_;
  RedisTopologyState* topology_;
  bool move_epoch_;
  std::string last_;  // the master the links were last up on
};

}  // namespace rtpush
