// Publishing through Redis exactly as a node does: the nodes' own Lua script
// (core/redis/redis_scripts.h) with the nodes' key names (redis_keys.h) over
// the blocking connection the nodes use at shutdown
// (core/redis/redis_blocking.h), pipelined so a stream of lines goes out fast.
//
// In a Redis Cluster it talks to the master of the channel's slot (every key
// of a channel shares one slot), follows MOVED (a new map, the new master)
// and ASK (ASKING on the importing node for that one message), waits out
// TRYAGAIN and CLUSTERDOWN, and after a lost connection (a master died)
// locates the channel's master again for the next message, within
// --timeout. The messages in flight when a connection is lost are reported
// failed: they may have been published.
//
// One thread: the CLI's.
#pragma once
#include <hiredis/hiredis.h>

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cluster_slots.h"
#include "redis_address.h"
#include "redis_blocking.h"
#include "redis_keys.h"

class RedisPublisher {
 public:
  // Called once per message, in order: the id, or an error.
  using Result = std::function<void(bool ok, const std::string& id_or_error)>;

  RedisPublisher(std::string channel, long history_size, double timeout_secs, Result on_result);
  ~RedisPublisher();
  // Connects (a cluster: to the channel's master) and loads the script.
  // False with *why on failure.
  bool connect(const rtpush::RedisUrl& url, std::string* why);
  // One Redis server found already (a Sentinel's master): connects there.
  bool connect(const rtpush::RedisAddress& server, std::string* why);
  // Queues one message (compact JSON text); answers may come later.
  bool publish(const std::string& json);
  // Waits for every answer.
  bool finish();

 private:
  // The master of the channel's slot from a fresh slot map (cluster).
  bool locate(rtpush::RedisAddress* master, std::string* why);
  // Connects ctx_ to `a`; reads the nodes' settings once; loads the script.
  bool open(const rtpush::RedisAddress& a, std::string* why);
  // The EVALSHA command for one message.
  std::vector<std::string> command(const std::string& json) const;
  void append(const std::string& json);
  bool read_one();
  // A cluster answer that says "not here / not now" (MOVED, ASK, TRYAGAIN,
  // CLUSTERDOWN) for the message in front: it and those behind it in the
  // pipeline are sent again one by one, following the answers.
  void redirected(rtpush::RedisReplyPtr first);
  // One message sent until it gets a final answer (or --timeout passes);
  // `answer` is what it got first. Reports the message.
  void follow(const std::string& json, rtpush::RedisReplyPtr answer);
  void report(const redisReply* r);
  void lost(const std::string& why);

  std::string channel_;
  long history_;
  std::string ttl_ms_ = "0";  // history-ttl-secs of the nodes, in ms
  bool settings_read_ = false;
  double timeout_;
  Result on_result_;
  rtpush::RedisUrl url_;
  rtpush::RedisKeys keys_ = rtpush::RedisKeys::single();
  std::optional<rtpush::cluster::SlotMap> slots_;
  rtpush::RedisAddress at_;  // where ctx_ is connected
  rtpush::BlockingRedis ctx_;
  std::string sha_;
  // The importing node of an ASK (a slot half-moved), kept while it lasts.
  rtpush::BlockingRedis asked_;
  std::string asked_at_, asked_sha_;
  std::deque<std::string> in_flight_;  // the messages sent, not yet answered, oldest first
  bool broken_ = false;
};

// A cluster error that a client answers by trying again elsewhere or later.
bool cluster_retry_error(const redisReply* r);
