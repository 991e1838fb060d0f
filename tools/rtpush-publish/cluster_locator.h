// Where a channel lives in a Redis Cluster, for rtpush-publish --redis
// redis+cluster://: the slot map from CLUSTER SLOTS of the first seed that
// answers (blocking hiredis: the CLI has one thread and nothing else to do).
//
// One thread: the CLI's.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "cluster_slots.h"
#include "redis_address.h"

// The slot map, asked of each of `seeds` in turn (then of `also`, the masters
// a previous map named, so a refresh still works when the seeds are the ones
// that died). nullopt and *why naming every node tried and its answer ("is
// not in cluster mode" for a Redis without cluster support); the password
// never appears.
std::optional<rtpush::cluster::SlotMap> fetch_slot_map(const rtpush::RedisUrl& url,
                                                      const std::vector<rtpush::cluster::Node>& also,
                                                      double timeout_secs, std::string* why);
