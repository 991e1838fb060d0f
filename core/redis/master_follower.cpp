#include "master_follower.h"

#include "failover_epoch.h"
#include "redis_scripts.h"

namespace rtpush {

void MasterFollower::links_up(RedisLinks& links, const std::string& master) {
  if (!last_.empty() && last_ != master) {
    topology_->count_failover();
    log_.event(LogLevel::Notice, "redis_failover", {{"from", last_}, {"to", master}});
  }
  last_ = master;
  Logger log = log_;
  links.command(
      [log, master](redisReply* r) {
        if (r && r->type == REDIS_REPLY_INTEGER && r->integer == 1)
          log.event(LogLevel::Warn, "redis_epoch_moved",
                    {{"master", master},
                     {"cause", "a failover without redis-wait-replicas may have lost acknowledged messages: "
                               "resumes from before it get recovered:false"}});
      },
      {"EVAL", redis::kFollowMasterScript, "2", redis::kEpochKey, redis::kEpochMasterKey, master,
       move_epoch_ ? "move" : "keep"});
}

void MasterFollower::switched(const std::string& from, const std::string& to) {
  log_.event(LogLevel::Notice, "redis_switch_master", {{"from", from}, {"to", to}, {"action", "reconnecting"}});
}

}  // namespace rtpush
