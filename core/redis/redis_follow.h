// How a node's Redis connections reach the URL's data server: a fixed
// address for one Redis, a SentinelLocator for a Sentinel master (each
// connection attempt asks it; a +switch-master of ours calls `on_switch`,
// whose owner drops its links so they locate the new master). Used by
// RedisBroker (commands, pub/sub: one locator for both) and PersistFeed
// (the hand-off reader: its own). I/O thread only.
#pragma once
#include <functional>
#include <memory>
#include <string>

#include "redis_link.h"
#include "sentinel_locator.h"

namespace rtpush {

// Null for one Redis (links take url.single()); a SentinelLocator for a
// Sentinel URL. (Cluster links are made per master by their owner.)
inline std::shared_ptr<RedisLocator> make_redis_locator(struct ev_loop* loop, const RedisUrl& url,
                                                        const std::string& name,
                                                        std::function<void(const MasterSwitch&)> on_switch) {
  if (url.topology != RedisTopology::Sentinel) return nullptr;
  auto locator = std::make_shared<SentinelLocator>(loop, url, name + ":sentinel", std::move(on_switch));
  locator->watch();
  return locator;
}

inline std::unique_ptr<RedisLink> make_redis_link(struct ev_loop* loop, const RedisUrl& url,
                                                  const std::shared_ptr<RedisLocator>& locator,
                                                  const std::string& name, RedisLink::Events events) {
  if (locator) return std::make_unique<RedisLink>(loop, locator, name, std::move(events));
  return std::make_unique<RedisLink>(loop, url.single(), name, std::move(events));
}

// Where the health lines say the backend is: host:port for one Redis, the
// URL without its password for the others.
inline std::string redis_health_addr(const RedisUrl& url) {
  return url.topology == RedisTopology::Single ? url.single().host_port() : url.redacted();
}

}  // namespace rtpush
