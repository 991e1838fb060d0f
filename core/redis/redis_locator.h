// RedisLocator: where a RedisLink connects, asked at every connection
// attempt. A link made with a fixed RedisAddress needs none (one Redis, a
// Cluster master); a Sentinel deployment's links ask a SentinelLocator, so
// each new connection goes to the master the sentinels name now.
//
// I/O thread only: locate() is called there and `done` runs there (maybe
// later, maybe before locate() returns). The caller must cope with `done`
// running after it was itself freed (RedisLink guards with a token).
#pragma once
#include <functional>
#include <optional>
#include <string>

#include "redis_address.h"

namespace rtpush {

class RedisLocator {
 public:
  // The server to connect to, or nullopt and why none could be found (a
  // cause for a log line: never a password).
  using Found = std::function<void(std::optional<RedisAddress> server, const std::string& why)>;
  virtual ~RedisLocator() = default;
  virtual void locate(Found done) = 0;
  // True: the server must say it is a master (ROLE) before the link is up;
  // a replica (a stale answer, a demoted master) is refused and located again.
  virtual bool wants_master() const = 0;
  // The server locate() gave said it is not a master (ROLE): a stale
  // answer; the next locate() should ask elsewhere first.
  virtual void not_master(const RedisAddress& server) { (void)server; }
};

}  // namespace rtpush
