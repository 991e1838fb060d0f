// Publishing through Redis exactly as a node does: the nodes' own Lua script
// (core/redis/redis_scripts.h) over the blocking connection the nodes use
// at shutdown (core/redis/redis_blocking.h), pipelined so a stream of lines goes out fast.
#pragma once
#include <hiredis/hiredis.h>

#include <deque>
#include <functional>
#include <memory>
#include <string>

#include "redis_address.h"
#include "redis_blocking.h"

class RedisPublisher {
 public:
  // Called once per message, in order: the id, or an error.
  using Result = std::function<void(bool ok, const std::string& id_or_error)>;

  RedisPublisher(std::string channel, long history_size, double timeout_secs, Result on_result);
  ~RedisPublisher();
  // Connects and loads the script. False with *why on failure.
  bool connect(const rtpush::RedisAddress& address, std::string* why);
  // Queues one message (compact JSON text); answers may come later.
  bool publish(const std::string& json);
  // Waits for every answer.
  bool finish();

 private:
  bool read_one();
  std::string channel_;
  long history_;
  std::string ttl_ms_ = "0";  // history-ttl-secs of the nodes, in ms
  double timeout_;
  Result on_result_;
  rtpush::BlockingRedis ctx_;
  std::string sha_;
  std::size_t in_flight_ = 0;
  bool broken_ = false;
};
