// The pure part of talking to Redis Sentinel, shared by SentinelLocator
// (the nodes, asynchronous) and rtpush-publish --redis (blocking), and
// unit-tested: what a sentinel's answers mean and how a failure to find a
// master is told. Plain functions; any thread.
#pragma once
#include <hiredis/hiredis.h>

#include <optional>
#include <string>
#include <vector>

#include "redis_address.h"

namespace rtpush {

// One sentinel's answer to SENTINEL get-master-addr-by-name MASTER.
struct SentinelAnswer {
  enum Kind { Address, UnknownMaster, Failed } kind = Failed;
  RedisEndpoint master;  // Address
  std::string why;       // Failed: the sentinel's error, or that it said something else
};
SentinelAnswer sentinel_master_answer(const redisReply* reply);

// A +switch-master message: "MASTER old-ip old-port new-ip new-port".
struct MasterSwitch {
  std::string master;
  RedisEndpoint from, to;
};
std::optional<MasterSwitch> parse_switch_master(const std::string& payload);

// Why no master was found after asking every sentinel once. `failures`
// holds, per sentinel, "host:port" and what went wrong ("" when it
// answered that it knows no master named `master`):
//   every sentinel knows no such master: "the sentinels know no master named X"
//   none answered at all:              "no sentinel answered (a:1: cause, b:2: cause)"
//   a mix: "the sentinels that answered know no master named X; no answer from (b:2: cause)"
struct SentinelFailure {
  std::string sentinel;  // host:port
  std::string why;       // empty: it knows no such master
};
std::string no_master_cause(const std::string& master, const std::vector<SentinelFailure>& failures);

// A ROLE reply's first element ("master", "slave", "sentinel"); empty when
// the reply is not one.
std::string role_of(const redisReply* reply);

}  // namespace rtpush
