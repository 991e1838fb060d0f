// The failover promise without WAIT (SPEC 12, docs/redis.md "Sentinel").
//
// Sentinel promotes a replica that may lack the master's last writes:
// messages acknowledged `published` may be gone from the channel's Stream
// (and from rtpush:persist, so from PostgreSQL too). A subscriber resuming
// with `since` from before the failover must then hear recovered:false,
// never get a silent gap. So when a node's links come up on a master other
// than the one rtpush:epoch-master names, rtpush:epoch moves to this
// master's TIME: the history script answers recovered:false for a `since`
// older than the epoch, and RedisBroker keeps the PostgreSQL replay
// (archive_floor) above it too, as the archive may miss the same window.
// The first node to reach the new master moves it, on its command link,
// before any publish of its own there; the others find epoch-master
// already theirs. With redis-wait-replicas >= 1 an acknowledged message is
// on a replica, so epoch-master is updated without moving the epoch.
//
// Ids stay increasing: XADD * on the promoted replica gives ids greater
// than its stream's last id (replicated with every entry) and than its
// clock's ms; the lost entries' ids were taken from the old master's clock
// before its death, at least down-after-milliseconds before the promotion.
// We rely on the servers' clocks agreeing within that (NTP).
#pragma once

namespace rtpush::redis {

inline constexpr const char* kEpochMasterKey = "rtpush:epoch-master";

// KEYS: rtpush:epoch, rtpush:epoch-master. ARGV: this master's host:port,
// "move" (redis-wait-replicas 0) or "keep". Returns 1 when the epoch moved.
inline constexpr const char* kFollowMasterScript = R"lua(
local seen = redis.call('GET', KEYS[2])
if seen == ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[1])
if not seen or ARGV[2] ~= 'move' then return 0 end
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local old = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
if now > old then redis.call('SET', KEYS[1], now) end
return 1
)lua";

}  // namespace rtpush::redis
