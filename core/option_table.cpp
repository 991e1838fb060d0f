#include "option_table.h"

#include <cstdint>
#include <limits>

namespace rtpush {

namespace {

constexpr std::size_t kTiB = std::size_t{1} << 40;
constexpr std::size_t kMiB = std::size_t{1} << 20;
constexpr std::size_t kU32 = std::numeric_limits<std::uint32_t>::max();

template <typename T>
OptionSpec number(const char* name, T Options::*member, std::size_t min, std::size_t max, const char* doc) {
  OptionSpec s{name, OptionKind::Number, member};
  s.min = min;
  s.max = max;
  s.doc = doc;
  return s;
}

OptionSpec text(const char* name, OptionKind kind, std::string Options::*member, const char* doc) {
  OptionSpec s{name, kind, member};
  s.doc = doc;
  return s;
}

OptionSpec choice(const char* name, bool Options::*member, const char* false_word, const char* true_word,
                  const char* doc) {
  OptionSpec s{name, OptionKind::Choice, member};
  s.false_word = false_word;
  s.true_word = true_word;
  s.doc = doc;
  return s;
}

std::vector<OptionSpec> make_table() {
  using O = Options;
  return {
      text("redis", OptionKind::RedisUrl, &O::redis, "redis://, redis+sentinel:// or redis+cluster:// URL"),
      text("redis-sentinel-password", OptionKind::NonEmpty, &O::redis_sentinel_password,
           "AUTH for the sentinels"),
      number("redis-wait-replicas", &O::redis_wait_replicas, 0, 16, "replicas that must hold a publish"),
      number("redis-wait-timeout-ms", &O::redis_wait_timeout_ms, 1, 60'000, "longest WAIT for them"),
      text("postgres", OptionKind::Text, &O::postgres, "libpq conninfo: persist every message"),
      [] {
        OptionSpec s = text("node-id", OptionKind::NonEmpty, &O::node_id, "this node's name");
        s.default_doc = "hostname:pid";  // default_node_id(), given to parse_options()
        return s;
      }(),
      number("history-size", &O::history_size, 0, 10'000'000, "messages kept per channel"),
      number("heartbeat-secs", &O::heartbeat_secs, 1, 86400, "ping interval"),
      number("heartbeat-timeout-secs", &O::heartbeat_timeout_secs, 1, 86400, "silence that closes"),
      number("max-message-bytes", &O::max_message_bytes, 16, 256u << 20, "largest client message"),
      number("send-queue-bytes", &O::send_queue_bytes, 1024, kU32, "unsent output that closes"),
      // PgStore writes at most 100,000 rows in one statement (kMaxBatch).
      number("pg-batch-size", &O::pg_batch_size, 1, 100'000, "rows in one PostgreSQL write"),
      // A replay past the hot history first waits, at most 5 s, for every
      // row published so far to be written (PgStore and PersistFeed
      // settle(), docs/persistence.md "Replay past the hot history"): the
      // flush interval plus a batch's write must fit in that, or every such
      // replay answers UNAVAILABLE. Was up to 3,600,000.
      number("pg-flush-ms", &O::pg_flush_ms, 1, 2'000, "longest wait before a batch is written"),
      number("history-memory-bytes", &O::history_memory_bytes, 0, kTiB, "embedded history, all channels"),
      number("history-channel-bytes", &O::history_channel_bytes, 0, kTiB, "history of one channel"),
      number("history-ttl-secs", &O::history_ttl_secs, 0, 100u * 365 * 86400, "history kept after a publish"),
      number("max-channels-per-connection", &O::max_channels_per_connection, 1, 1'000'000,
             "subscriptions per connection"),
      number("publish-rate", &O::publish_rate, 0, 1'000'000, "publishes per second per connection; 0: unlimited"),
      number("receive-timeout-secs", &O::receive_timeout_secs, 1, 86400, "an unfinished message or body"),
      number("receive-bytes-per-sec", &O::receive_bytes_per_sec, 1, kTiB, "bytes read per connection"),
      number("pg-backlog-rows", &O::pg_backlog_rows, 1, 1'000'000'000, "rows waiting for PostgreSQL"),
      // At least one message of the default max-message-bytes; at most 1 TiB.
      number("pg-backlog-bytes", &O::pg_backlog_bytes, kMiB, kTiB, "bytes waiting for PostgreSQL"),
      number("replay-memory-bytes", &O::replay_memory_bytes, kMiB, kTiB, "bytes all replays hold"),
      // Up to 60 s: systemd's default TimeoutStopSec is 90 s, and the stop
      // must end before systemd's SIGKILL does it.
      number("stop-timeout-secs", &O::stop_timeout_secs, 1, 60, "longest graceful stop"),
      text("jwt-secret-file", OptionKind::File, &O::jwt_secret_file, "HS256 secret"),
      text("jwt-public-key-file", OptionKind::File, &O::jwt_public_key_file, "RS256/ES256 public key (PEM)"),
      text("jwt-audience", OptionKind::NonEmpty, &O::jwt_audience, "a token's aud must hold it"),
      text("jwt-issuer", OptionKind::NonEmpty, &O::jwt_issuer, "a token's iss must equal it"),
      // Skew between clocks, not a grace period: 5 minutes is RFC 7519's
      // "a few minutes" and past what NTP-synced hosts ever drift.
      number("jwt-leeway-secs", &O::jwt_leeway_secs, 0, 300, "clock skew on exp and nbf"),
      choice("auth", &O::auth_required, "optional", "required", "required: every connection presents a token"),
      text("channels-file", OptionKind::File, &O::channels_file, "namespace rules (JSON)"),
      text("api-key-file", OptionKind::File, &O::api_key_file, "the HTTP API's key"),
      choice("compression", &O::compression, "off", "on", "permessage-deflate"),
      [] {
        OptionSpec s{"allowed-origins", OptionKind::Origins, &Options::allowed_origins};
        s.doc = "origins a handshake or API request may come from";
        return s;
      }(),
  };
}

}  // namespace

const std::vector<OptionSpec>& option_table() {
  static const std::vector<OptionSpec> table = make_table();
  return table;
}

const OptionSpec* find_option(const std::string& name) {
  for (const OptionSpec& s : option_table())
    if (name == s.name) return &s;
  return nullptr;
}

}  // namespace rtpush
