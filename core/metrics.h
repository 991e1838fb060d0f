// Metrics: counters the core keeps, rendered in Prometheus text format.
#pragma once
#include <array>
#include <cstdint>
#include <iterator>
#include <string>
#include <string_view>

#include "auth/token.h"
#include "wire.h"

namespace rtpush {

struct StoreStats;          // persistence.h
struct ProcessStats;        // process_stats.h
class RedisTopologyState;   // redis/redis_topology_state.h

// This build's version: the CMake project version, with `git describe`'s
// commit when configured from a git checkout ("0.1.0+g559ab50").
const char* build_version();

// `value` as a Prometheus label value, quotes not included: backslash,
// double quote and newline escaped (the text format's rules).
std::string escape_label_value(std::string_view value);

// Cumulative histogram with fixed buckets (seconds).
class Histogram {
 public:
  static constexpr std::array<double, 12> kBounds = {
      0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25};
  void observe(double seconds);
  void render(std::string* out, const char* name, const char* help) const;

 private:
  std::array<std::uint64_t, kBounds.size() + 1> counts_{};  // last: +Inf
  double sum_ = 0;
  std::uint64_t count_ = 0;
};

// Values read at scrape time rather than counted.
struct Gauges {
  std::size_t connections_active = 0;      // WebSocket connections and SSE listeners
  std::size_t sse_connections_active = 0;  // of which SSE listeners
  std::size_t channels_active = 0;
  std::size_t send_queue_bytes = 0;
  // History held in this node's memory (embedded broker; not shown with
  // Redis, where history lives in Redis).
  bool has_history = false;
  std::size_t history_bytes = 0;
  std::size_t history_channels = 0;
  std::size_t replay_bytes = 0;     // held by replays in flight (replay-memory-bytes)
  std::size_t replays_waiting = 0;  // replays waiting their turn for a page
  // With postgres: the writer's figures (the rtpush_pg_* block); null without.
  const StoreStats* pg = nullptr;
  bool pg_up = false;  // PostgreSQL reachable
  // With redis: its shards and counters (rtpush_redis_up{shard},
  // rtpush_redis_failovers_total, rtpush_redis_redirects_total{kind});
  // null without.
  const RedisTopologyState* redis = nullptr;
  // This process's CPU, memory and descriptors (process_*); null when /proc
  // could not be read.
  const ProcessStats* process = nullptr;
};

// Why the server closed a connection.
enum class CloseReason : std::uint8_t {
  HeartbeatTimeout,
  SlowConsumer,
  MessageTooLarge,
  ReceiveTimeout,
  Unauthorized,  // 1008 after UNAUTHORIZED: refused token, other user, no auth in time, expiry
  ReceiveRate,   // 1008: past receive-bytes-per-sec
  kCount
};

// Reasons of rtpush_auth_failures_total besides a refused token's own
// (auth::TokenRefusal, by token_refusal_name).
enum class AuthFailure : std::uint8_t {
  NoKey,              // a token came to a vhost with no jwt-*-file: it cannot be verified
  UserMismatch,       // an auth frame for another `sub` than the connection's
  Unauthenticated,    // auth required: another request before a valid token
  AuthTimeout,        // auth required: no valid token within 10 s of opening
  ConnectionExpired,  // the connection's token expired with no refresh
  ForeignOrigin,      // a handshake or HTTP API request from an origin not in allowed-origins
  ApiKey,             // an HTTP API request without the api key, or with another
  kCount
};
const char* auth_failure_name(AuthFailure f);  // "no_key", ...

// TokenRefusal's values, None included (its slot stays 0).
inline constexpr std::size_t kTokenRefusalCount = static_cast<std::size_t>(auth::TokenRefusal::WrongIssuer) + 1;

// The codes of rtpush_requests_refused_total (docs/limits.md "Per connection"), in order.
inline constexpr ErrorCode kRefusedCodes[] = {ErrorCode::Forbidden, ErrorCode::RateLimited, ErrorCode::LimitExceeded};

struct Metrics {
  std::uint64_t connections_total = 0;
  // Client frames by type, the last slot for frames that did not decode.
  std::array<std::uint64_t, kRequestTypeCount + 1> received{};
  std::uint64_t delivered = 0;       // message frames queued to subscribers (live and replay)
  std::uint64_t replayed = 0;        // of which replayed history
  std::uint64_t archive_rows = 0;    // messages read back from PostgreSQL for replays
  std::uint64_t published_ws = 0;    // messages accepted by the broker, by source
  std::uint64_t published_http = 0;
  std::uint64_t publish_failed = 0;  // refused by the broker (UNAVAILABLE / 503)
  std::uint64_t slow_consumers = 0;
  std::array<std::uint64_t, static_cast<std::size_t>(CloseReason::kCount)> closed{};
  std::array<std::uint64_t, static_cast<std::size_t>(ErrorCode::kCount)> errors{};  // by ErrorCode
  std::array<std::uint64_t, std::size(kRefusedCodes)> refused{};  // by kRefusedCodes
  std::uint64_t http_requests = 0;
  std::array<std::uint64_t, kTokenRefusalCount> tokens_refused{};  // by TokenRefusal
  std::array<std::uint64_t, static_cast<std::size_t>(AuthFailure::kCount)> auth_failed{};
  Histogram processing;              // one client frame, decode to handled

  void count_received(RequestType t) { ++received[static_cast<std::size_t>(t)]; }
  void count_invalid() { ++received[kRequestTypeCount]; }
  void count_error(ErrorCode c) { ++errors[static_cast<std::size_t>(c)]; }
  void count_close(CloseReason r) { ++closed[static_cast<std::size_t>(r)]; }
  void count_token_refused(auth::TokenRefusal r) { ++tokens_refused[static_cast<std::size_t>(r)]; }
  void count_auth_failure(AuthFailure f) { ++auth_failed[static_cast<std::size_t>(f)]; }
  void count_refused(ErrorCode c) {
    for (std::size_t i = 0; i < refused.size(); ++i)
      if (kRefusedCodes[i] == c) ++refused[i];
  }

  // The whole GET /metrics text. `node` may hold any characters: it is
  // escaped as a label value.
  std::string render(const std::string& node, const Gauges& g) const;
};

}  // namespace rtpush
