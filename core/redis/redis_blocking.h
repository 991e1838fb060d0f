// The blocking (synchronous) hiredis connection, written once for the two
// that need one: `rtpush-publish --redis` (a command-line tool, one thread)
// and a backend's last commands at shutdown (blocking_commands,
// redis_link.h), when its event loop will not run again. The nodes' other
// Redis traffic is asynchronous (RedisLink).
//
// No state of its own: each connection belongs to the thread that made it.
#pragma once
#include <hiredis/hiredis.h>

#include <memory>
#include <string>
#include <vector>

#include "redis_address.h"

namespace rtpush {

struct RedisContextFree {
  void operator()(redisContext* c) const { redisFree(c); }
};
struct RedisReplyFree {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using BlockingRedis = std::unique_ptr<redisContext, RedisContextFree>;
using RedisReplyPtr = std::unique_ptr<redisReply, RedisReplyFree>;

// Connects to `address` within `timeout_secs`, makes every reply wait at
// most as long, authenticates (AUTH [user] password, when the address has a
// password) and selects the address's database. Null on failure, with
// *why: "cannot reach redis://HOST:PORT: CAUSE" (hiredis's errstr), "redis
// HOST:PORT refused AUTH: CAUSE" (Redis's words; never the password) or
// "redis refused SELECT N: CAUSE".
BlockingRedis blocking_connect(const RedisAddress& address, double timeout_secs, std::string* why);

// One command, binary-safe; null when no reply came (the connection failed
// or timed out: c->errstr says why).
RedisReplyPtr blocking_command(redisContext* c, const std::vector<std::string>& args);

}  // namespace rtpush
