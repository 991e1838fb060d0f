// The Redis side of the broker: key names and the Lua scripts. Shared by the
// nodes and `rtpush-publish --redis`, so both publish exactly the same way.
//
// Keys (CHANNEL is the rtpush channel name):
//   rtpush:stream:CHANNEL  a Stream, capped near history-size: the history
//   rtpush:live:CHANNEL    the pub/sub topic that carries it live to nodes
//   rtpush:trimmed:CHANNEL the newest id trimmed from the stream: a `since`
//                          older than it gets recovered:false
//   rtpush:bytes:CHANNEL   the payload bytes the stream holds: past
//                          history-channel-bytes its oldest entries go
//   All three expire history-ttl-secs after the channel's last publish (PEXPIRE
//   at each publish). A stream made anew may be a channel's second life
//   after they expired, so its trimmed starts at (now - ttl + 1)-0: every
//   expired message was published at least ttl before now.
//   rtpush:epoch           ms when this Redis data set began (set on first
//                          use): a `since` older than it predates data that
//                          may have been lost (restart without persistence,
//                          FLUSHALL), so it gets recovered:false
//   rtpush:nodes           sorted set node -> last heartbeat (ms)
//   rtpush:node-info       hash node -> connections
//   rtpush:config          hash: history-size, history-ttl-secs and
//                          history-channel-bytes (written
//                          by the nodes, read by rtpush-publish --redis so it
//                          trims and expires the same way);
//                          persist=1 once a node with PostgreSQL is up, and
//                          persist-from: ms when that first happened (every
//                          message after it is in PostgreSQL or on its way);
//                          persist-backlog: the nodes' pg-backlog-rows, the
//                          most entries rtpush:persist may hold;
//                          persist-backlog-bytes: their pg-backlog-bytes, the
//                          most payload bytes it may hold; persist-bytes: the
//                          payload bytes it holds (kept by the publish script
//                          and kAckPersistScript)
//   rtpush:persist         a Stream of every message to write to PostgreSQL,
//                          read by the consumer group "writers" (one consumer
//                          per node with PostgreSQL); entries are acknowledged
//                          and deleted after the rows commit
//
// Users (docs/architecture.md "Redis keys"; USER is the token's `sub`, any
// bytes, always passed as an argument, never spliced into a command):
//   rtpush:user:USER       hash connection_id -> "<connected_at>\t<node>":
//                          the user's authenticated connections on every node
//   rtpush:node-conns:NODE hash connection_id -> USER: what NODE registered,
//                          so its entries can be dropped without a scan when
//                          it stops or is found dead
//   rtpush:node-gen:NODE   counter: how many times NODE's whole registration
//                          was dropped (kDropNodeUsersScript). Two lwsws
//                          children share a node-id during a reload: each
//                          writes its users again when the other dropped them
//   rtpush:control         pub/sub topic every node listens to:
//                          "disconnect-user USER" (redis_users.h)
//
// These are the names in one Redis or a Sentinel master. In a Redis Cluster
// each carries a hash tag after "rtpush:" so a script's keys share a slot
// (rtpush:{b3-161}:stream:CHANNEL, rtpush:{presence}:nodes): redis_keys.h.
#pragma once

namespace rtpush::redis {

inline constexpr const char* kStreamPrefix = "rtpush:stream:";
inline constexpr const char* kLivePrefix = "rtpush:live:";
inline constexpr const char* kTrimmedPrefix = "rtpush:trimmed:";
inline constexpr const char* kBytesPrefix = "rtpush:bytes:";
inline constexpr const char* kEpochKey = "rtpush:epoch";
inline constexpr const char* kNodesKey = "rtpush:nodes";
inline constexpr const char* kNodeInfoKey = "rtpush:node-info";
inline constexpr const char* kConfigKey = "rtpush:config";
inline constexpr const char* kPersistKey = "rtpush:persist";
inline constexpr const char* kPersistGroup = "writers";
inline constexpr const char* kUserPrefix = "rtpush:user:";
inline constexpr const char* kNodeConnsPrefix = "rtpush:node-conns:";
inline constexpr const char* kNodeGenPrefix = "rtpush:node-gen:";
inline constexpr const char* kControlTopic = "rtpush:control";

// Publish atomically: append to the stream, trim it to the history size
// (remembering the newest id trimmed), and announce it live.
// When persistence is on, the message also goes to rtpush:persist, in the
// same atomic step: what is published is never missing from PostgreSQL.
// KEYS: stream, epoch, trimmed, persist, config, bytes. ARGV: history size,
// kind ("j" JSON / "b" bytes), data, live topic, channel, history TTL in ms
// (0: none), who publishes (below), history-channel-bytes (absent or "":
// rtpush:config's, as the nodes recorded it, else 64 MiB), user (the
// publisher's `sub`; absent or "" for none), the publish command (absent:
// PUBLISH; "SPUBLISH" in a Redis Cluster, where the live topic is a shard
// channel and every key lies in the channel's bucket, redis_keys.h).
// Returns the new id.
// The live payload is "<id> <kind><data>", or with a user
// "<id> u<length of user>:<user><kind><data>" (live_user_prefix()); the
// entries get a field u only when there is a user.
// The stream's payload bytes are kept in KEYS[6]: past the bound its
// oldest entries are deleted (and remembered in trimmed) until it fits,
// the new one too when it is larger alone.
// ARGV[7], who publishes: "<rows> <bytes>" (pg-backlog-rows,
// pg-backlog-bytes) a node with PostgreSQL, which switches persistence on
// itself when Redis forgot it (a restart with an empty data set, FLUSHALL):
// no publish it acknowledges skips the hand-off; "-" a node without it;
// "" rtpush-publish, which cannot know whether nodes with PostgreSQL exist,
// so it is refused (kUnconfiguredError) while no node has written
// rtpush:config in this data set.
// First, before anything is written: while rtpush:persist holds
// persist-backlog entries or persist-backlog-bytes of payloads (PostgreSQL
// is down or behind), the publish is refused with an error that starts with
// kBacklogFullError.
inline constexpr const char* kBacklogFullError = "BACKLOG";
inline constexpr const char* kUnconfiguredError = "UNCONFIGURED";
inline constexpr const char* kPublishScript = R"lua(
local persist = redis.call('HGET', KEYS[5], 'persist') == '1'
local caps = ARGV[7] or ''
if not persist and string.match(caps, '^%d+ %d+$') then
  local rows, bytes = string.match(caps, '^(%d+) (%d+)$')
  local now = redis.call('TIME')
  redis.call('HSETNX', KEYS[5], 'persist-from', now[1] * 1000 + math.floor(now[2] / 1000))
  redis.call('HSET', KEYS[5], 'persist', '1', 'persist-backlog', rows, 'persist-backlog-bytes', bytes)
  persist = true
elseif not persist and caps == '' and redis.call('EXISTS', KEYS[5]) == 0 then
  return redis.error_reply('UNCONFIGURED no rtpush node has configured this Redis data set yet ' ..
    '(new, restarted or flushed): nothing was published; retry once a node is connected')
end
local waiting_bytes = 0
if persist then
  local waiting = redis.call('XLEN', KEYS[4])
  local cap = tonumber(redis.call('HGET', KEYS[5], 'persist-backlog') or '')
  if cap and waiting >= cap then
    return redis.error_reply('BACKLOG postgres is behind: ' .. cap ..
      ' messages wait for it (pg-backlog-rows); nothing was published')
  end
  if waiting > 0 then waiting_bytes = tonumber(redis.call('HGET', KEYS[5], 'persist-bytes') or '0') or 0 end
  local bcap = tonumber(redis.call('HGET', KEYS[5], 'persist-backlog-bytes') or '')
  if bcap and waiting_bytes > 0 and waiting_bytes + #ARGV[3] > bcap then
    return redis.error_reply('BACKLOG postgres is behind: ' .. waiting_bytes ..
      ' bytes of messages wait for it (pg-backlog-bytes ' .. bcap .. '); nothing was published')
  end
end
local keep = tonumber(ARGV[1])
local t = redis.call('TIME')
redis.call('SET', KEYS[2], t[1] * 1000 + math.floor(t[2] / 1000), 'NX')
local ttl = tonumber(ARGV[6]) or 0
if ttl > 0 and redis.call('EXISTS', KEYS[1]) == 0 then
  local floor = t[1] * 1000 + math.floor(t[2] / 1000) - ttl + 1
  local old = redis.call('GET', KEYS[3])
  if floor > 0 and (not old or tonumber(string.match(old, '^%d+')) < floor) then
    redis.call('SET', KEYS[3], floor .. '-0')
  end
end
local function data_bytes(entries)
  local n = 0
  for _, e in ipairs(entries) do
    for i = 1, #e[2], 2 do
      if e[2][i] == 'd' then n = n + #e[2][i + 1] end
    end
  end
  return n
end
local held = 0
if redis.call('EXISTS', KEYS[1]) == 1 then held = tonumber(redis.call('GET', KEYS[6]) or '0') end
local drop = redis.call('XLEN', KEYS[1]) + 1 - keep
if drop > 0 and keep > 0 then
  local old = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', drop)
  if #old > 0 then redis.call('SET', KEYS[3], old[#old][1]) end
  held = held - data_bytes(old)
end
local user = ARGV[9] or ''
local id
if user ~= '' then
  id = redis.call('XADD', KEYS[1], 'MAXLEN', keep, '*', 'k', ARGV[2], 'd', ARGV[3], 'u', user)
else
  id = redis.call('XADD', KEYS[1], 'MAXLEN', keep, '*', 'k', ARGV[2], 'd', ARGV[3])
end
if keep == 0 then redis.call('SET', KEYS[3], id) end
held = keep == 0 and 0 or math.max(held, 0) + #ARGV[3]
local cap = tonumber(ARGV[8] or '') or tonumber(redis.call('HGET', KEYS[5], 'history-channel-bytes') or '')
  or 67108864
while held > cap do
  local old = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 16)
  if #old == 0 then held = 0 break end
  for _, e in ipairs(old) do
    if held <= cap then break end
    held = held - data_bytes({e})
    redis.call('XDEL', KEYS[1], e[1])
    redis.call('SET', KEYS[3], e[1])
  end
end
redis.call('SET', KEYS[6], held)
if ttl > 0 then
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('PEXPIRE', KEYS[3], ttl)
  redis.call('PEXPIRE', KEYS[6], ttl)
else
  redis.call('PERSIST', KEYS[1])
  redis.call('PERSIST', KEYS[3])
  redis.call('PERSIST', KEYS[6])
end
local live = ''
if user ~= '' then live = 'u' .. #user .. ':' .. user end
redis.call(ARGV[10] or 'PUBLISH', ARGV[4], id .. ' ' .. live .. ARGV[2] .. ARGV[3])
if persist then
  if user ~= '' then
    redis.call('XADD', KEYS[4], '*', 'c', ARGV[5], 'i', id, 'k', ARGV[2], 'd', ARGV[3], 'u', user)
  else
    redis.call('XADD', KEYS[4], '*', 'c', ARGV[5], 'i', id, 'k', ARGV[2], 'd', ARGV[3])
  end
  redis.call('HSET', KEYS[5], 'persist-bytes', waiting_bytes + #ARGV[3])
end
return id
)lua";

// Persistence on: every message published from now on also goes to
// rtpush:persist. persist-from keeps when that first happened for this data
// set: PostgreSQL can replay only what came after. KEYS: config. ARGV: the
// node's pg-backlog-rows (persist-backlog) and pg-backlog-bytes
// (persist-backlog-bytes).
inline constexpr const char* kEnablePersistScript = R"lua(
local t = redis.call('TIME')
redis.call('HSETNX', KEYS[1], 'persist-from', t[1] * 1000 + math.floor(t[2] / 1000))
redis.call('HSET', KEYS[1], 'persist', '1', 'persist-backlog', ARGV[1], 'persist-backlog-bytes', ARGV[2])
return 1
)lua";

// Entries of rtpush:persist whose rows committed: acknowledged, deleted, and
// their payload bytes taken off persist-bytes (only for entries this call
// deleted: an entry written by two nodes is counted off once). An empty
// Stream holds 0 bytes, whatever the count says (entries deleted by hand);
// a flushed data set has no count to keep.
// KEYS: rtpush:persist, config. ARGV: the group, then id, payload bytes, ...
inline constexpr const char* kAckPersistScript = R"lua(
local freed = 0
for i = 2, #ARGV - 1, 2 do
  redis.call('XACK', KEYS[1], ARGV[1], ARGV[i])
  if redis.call('XDEL', KEYS[1], ARGV[i]) == 1 then freed = freed + tonumber(ARGV[i + 1]) end
end
if redis.call('EXISTS', KEYS[2]) == 0 then return freed end  -- flushed: no count to keep
local left = redis.call('HINCRBY', KEYS[2], 'persist-bytes', -freed)
if left < 0 or redis.call('XLEN', KEYS[1]) == 0 then redis.call('HSET', KEYS[2], 'persist-bytes', 0) end
return freed
)lua";

// History of a channel. KEYS: stream, epoch, trimmed, config. ARGV: since
// ("" = none), page size, history TTL in ms (0: none). Returns {epoch, last
// id ("" = none), newest trimmed id, entries after since (at most a page),
// persist-from ("" = off)}. A missing stream may have expired: its trimmed
// is then at least (now - ttl + 1)-0, as for a stream made anew.
inline constexpr const char* kHistoryScript = R"lua(
local t = redis.call('TIME')
redis.call('SET', KEYS[2], t[1] * 1000 + math.floor(t[2] / 1000), 'NX')
local epoch = redis.call('GET', KEYS[2])
local trimmed = redis.call('GET', KEYS[3]) or '0-0'
local last = ''
if redis.call('EXISTS', KEYS[1]) == 1 then
  local info = redis.call('XINFO', 'STREAM', KEYS[1])
  for i = 1, #info, 2 do
    if info[i] == 'last-generated-id' then last = info[i + 1] end
  end
else
  local ttl = tonumber(ARGV[3]) or 0
  local floor = t[1] * 1000 + math.floor(t[2] / 1000) - ttl + 1
  if ttl > 0 and floor > 0 and tonumber(string.match(trimmed, '^%d+')) < floor then
    trimmed = floor .. '-0'
  end
end
local entries = {}
if ARGV[1] ~= '' then
  entries = redis.call('XRANGE', KEYS[1], '(' .. ARGV[1], '+', 'COUNT', ARGV[2])
end
local from = ''
if redis.call('HGET', KEYS[4], 'persist') == '1' then
  from = redis.call('HGET', KEYS[4], 'persist-from') or ''
end
return {epoch, last, trimmed, entries, from}
)lua";

// A user's connections on live nodes. KEYS: rtpush:user:USER, rtpush:nodes.
// ARGV: the liveness cutoff (ms: a node last seen before it is gone), the
// node-conns prefix. Returns {connection_id, node, connected_at, ...}.
// Entries of nodes no longer live (crashed: nobody dropped them) are deleted
// on the way, from both hashes: the registry cleans itself where it is read.
// One HGETALL, and one ZSCORE per distinct node.
inline constexpr const char* kUserConnectionsScript = R"lua(
local cutoff = tonumber(ARGV[1])
local live = {}
local out = {}
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local conn = all[i]
  local at, node = string.match(all[i + 1], '^([^\t]*)\t(.*)$')
  if node and live[node] == nil then
    local seen = redis.call('ZSCORE', KEYS[2], node)
    live[node] = (seen and tonumber(seen) >= cutoff) or false
  end
  if node and live[node] then
    out[#out + 1] = conn
    out[#out + 1] = node
    out[#out + 1] = at
  else
    redis.call('HDEL', KEYS[1], conn)
    if node then redis.call('HDEL', ARGV[2] .. node, conn) end
  end
end
return out
)lua";

// Drops every registration of one node: its stop, its re-registration after
// an outage (what was closed meanwhile must not stay), or its death (the
// prune below). KEYS: rtpush:node-conns:NODE, rtpush:node-gen:NODE.
// ARGV: the user prefix. Counts the drop in rtpush:node-gen:NODE and returns
// that count: another process with the same node-id (the other lwsws child
// during a reload) sees it change at its next heartbeat and writes its own
// users again.
inline constexpr const char* kDropNodeUsersScript = R"lua(
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  redis.call('HDEL', ARGV[1] .. all[i + 1], all[i])
end
redis.call('DEL', KEYS[1])
return redis.call('INCR', KEYS[2])
)lua";

// Drops the nodes silent past the cutoff (ARGV[1], ms) from the registry,
// their rtpush:node-info entries with them (also entries whose node is no
// longer in rtpush:nodes at all), so neither grows with every node that
// ever ran, and their users' connections (as kDropNodeUsersScript). One
// script: nothing can re-register in between. KEYS: rtpush:nodes,
// rtpush:node-info. ARGV: cutoff, node-conns prefix, user prefix,
// node-gen prefix.
inline constexpr const char* kPruneNodesScript = R"lua(
local cutoff = tonumber(ARGV[1])
local gone = 0
for _, node in ipairs(redis.call('HKEYS', KEYS[2])) do
  local seen = redis.call('ZSCORE', KEYS[1], node)
  if not seen or tonumber(seen) < cutoff then
    redis.call('HDEL', KEYS[2], node)
    local conns = ARGV[2] .. node
    local all = redis.call('HGETALL', conns)
    for i = 1, #all, 2 do
      redis.call('HDEL', ARGV[3] .. all[i + 1], all[i])
    end
    redis.call('DEL', conns)
    if ARGV[4] then redis.call('DEL', ARGV[4] .. node) end
    gone = gone + 1
  end
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1])
return gone
)lua";

}  // namespace rtpush::redis
