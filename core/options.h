// The `rtpush` protocol's per-vhost options (README.md "Options", with each
// one's range; docs/limits.md for the bounds). lwsws hands every value over
// as a string; parse_options() checks and converts them through the table
// of option_table.h (each option's name, kind, range and member).
// Made on the service thread at vhost init, then read-only.
#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "config_error.h"
#include "redis/redis_address.h"  // a parsed URL: plain data, no hiredis

namespace rtpush {

struct Options {
  std::string redis;     // the URL as given; empty: embedded in-memory broker
  // `redis` parsed once (RedisUrl::parse), for the broker and the
  // PostgreSQL hand-off, with redis_sentinel_password in it. A URL that
  // begins with one of the three schemes but is malformed otherwise leaves
  // it empty with redis_error saying why: Vhost::build refuses it (after
  // the identity files, as it always has).
  std::optional<RedisUrl> redis_url;
  std::string redis_error;
  std::string redis_sentinel_password;  // sent to sentinels (AUTH)
  unsigned redis_wait_replicas = 0;     // WAIT N before answering a publish
  unsigned redis_wait_timeout_ms = 500;
  std::string postgres;  // empty: no persistence
  std::string node_id;   // default hostname:pid
  std::size_t history_size = 1000;
  unsigned heartbeat_secs = 25;
  unsigned heartbeat_timeout_secs = 60;
  std::size_t max_message_bytes = 1048576;
  std::size_t send_queue_bytes = 4194304;
  std::size_t pg_batch_size = 1000;
  unsigned pg_flush_ms = 100;
  // Bounds on what clients can make the node hold (docs/limits.md).
  std::size_t history_memory_bytes = 268435456;  // embedded history, all channels together
  unsigned history_ttl_secs = 86400;             // 0: keep a channel's history forever
  std::size_t max_channels_per_connection = 256;
  unsigned publish_rate = 0;                     // per connection per second; 0: unlimited
  unsigned receive_timeout_secs = 10;            // an unfinished message or HTTP body
  std::size_t pg_backlog_rows = 1000000;         // rows waiting for PostgreSQL, at most
  std::size_t pg_backlog_bytes = 268435456;      // their payloads' bytes (as stored), at most
  std::size_t replay_memory_bytes = 67108864;    // messages held by all replays together
  std::size_t history_channel_bytes = 67108864;  // payload bytes of history one channel keeps
  // What one WebSocket connection may make the node read and parse a
  // second, after permessage-deflate (a token bucket, burst twice
  // max-message-bytes); past it: close 1008.
  std::size_t receive_bytes_per_sec = 1048576;
  // SIGTERM/SIGINT: the longest a graceful stop takes (closing connections,
  // writing accepted rows to PostgreSQL) before the node exits anyway;
  // well under systemd's TimeoutStopSec (90 s). docs/operations.md.
  unsigned stop_timeout_secs = 10;
  // Identity and permissions (SPEC section 8; README "Security"). Files are
  // read by Vhost::build (auth/auth_settings.h), not here.
  std::string jwt_secret_file;
  std::string jwt_public_key_file;
  std::string jwt_audience;
  std::string jwt_issuer;
  // Clock skew allowed on a token's exp and nbf, seconds (0 to 300): a
  // token expired this long ago, or valid this soon, is still accepted.
  unsigned jwt_leeway_secs = 0;
  bool auth_required = false;                    // auth: required | optional
  std::string channels_file;
  std::string api_key_file;
  std::vector<std::string> allowed_origins;      // empty: any origin
  // compression: on | off. On: permessage-deflate (RFC 7692) for a client
  // that offers it; each message compressed once per encoding (hub.cpp).
  bool compression = false;
};

struct OptionsResult {
  bool ok = false;
  Options options;
  ConfigError error;                  // when !ok: which option and why
  std::vector<std::string> warnings;  // unknown option names, ignored
};

using OptionList = std::vector<std::pair<std::string, std::string>>;

OptionsResult parse_options(const OptionList& values, const std::string& default_node_id);

// "hostname:pid" for this process.
std::string default_node_id();

}  // namespace rtpush
