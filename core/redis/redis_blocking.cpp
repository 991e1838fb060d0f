#include "redis_blocking.h"

#include <sys/time.h>

#include "redis_argv.h"

namespace rtpush {

BlockingRedis blocking_connect(const RedisAddress& address, double timeout_secs, std::string* why) {
  const timeval tv{static_cast<long>(timeout_secs),
                   static_cast<long>((timeout_secs - static_cast<long>(timeout_secs)) * 1e6)};
  BlockingRedis c(redisConnectWithTimeout(address.host.c_str(), address.port, tv));
  if (!c || c->err) {
    *why = "cannot reach redis://" + address.host + ":" + std::to_string(address.port) + ": " +
           (c ? c->errstr : "out of memory");
    return nullptr;
  }
  redisSetTimeout(c.get(), tv);
  // AUTH, or without a password a PING: a server wanting one answers it
  // NOAUTH, said here rather than as the first real command's error (as
  // RedisLink does). Redis never echoes the password in its answer.
  if (address.password.empty()) {
    const RedisReplyPtr r = blocking_command(c.get(), {"PING"});
    if (!r || r->type == REDIS_REPLY_ERROR) {
      *why = "redis " + address.host_port() + " refused the connection without a password: " +
             (r ? std::string(r->str, r->len) : std::string(c->errstr));
      return nullptr;
    }
  } else {
    const RedisReplyPtr r = address.user.empty() ? blocking_command(c.get(), {"AUTH", address.password})
                                                 : blocking_command(c.get(), {"AUTH", address.user, address.password});
    if (!r || r->type == REDIS_REPLY_ERROR) {
      *why = "redis " + address.host_port() + " refused AUTH" +
             (address.user.empty() ? std::string() : " for user " + address.user) + ": " +
             (r ? std::string(r->str, r->len) : std::string(c->errstr));
      return nullptr;
    }
  }
  if (address.db != 0) {
    const RedisReplyPtr r = blocking_command(c.get(), {"SELECT", std::to_string(address.db)});
    if (!r || r->type != REDIS_REPLY_STATUS) {
      *why = "redis refused SELECT " + std::to_string(address.db) +
             (r && r->type == REDIS_REPLY_ERROR ? ": " + std::string(r->str, r->len) : std::string());
      return nullptr;
    }
  }
  return c;
}

RedisReplyPtr blocking_command(redisContext* c, const std::vector<std::string>& args) {
  RedisArgv a(args);  // not const: some hiredis 0.14 calls take const char**
  return RedisReplyPtr(
      static_cast<redisReply*>(redisCommandArgv(c, a.count(), a.argv.data(), a.lens.data())));
}

}  // namespace rtpush
