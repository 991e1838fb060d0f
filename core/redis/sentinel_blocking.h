// The Sentinel master for `rtpush-publish --redis redis+sentinel://...`
// (one thread, blocking calls, like the rest of its Redis I/O): each
// sentinel is asked in turn, the named master is checked with ROLE (a
// server that is not one: the next sentinel is asked). The
// nodes do the same asynchronously (SentinelLocator). Any thread; no state.
#pragma once
#include <optional>
#include <string>

#include "redis_address.h"

namespace rtpush {

// The master with the URL's credentials and database, or nullopt and *why
// (no_master_cause()'s wording, or "redis H:P is not a master (ROLE: slave)";
// never a password). Each sentinel and the master get `timeout_secs`.
std::optional<RedisAddress> blocking_sentinel_master(const RedisUrl& url, double timeout_secs, std::string* why);

}  // namespace rtpush
