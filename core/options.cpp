#include "options.h"

#include <unistd.h>

#include <charconv>
#include <limits>

namespace rtpush {

namespace {

// Options lwsws itself reads from a protocol's block; not ours to reject.
bool lws_owned(const std::string& name) { return name == "default" || name == "status"; }

bool parse_size(const std::string& v, std::size_t min, std::size_t max, std::size_t* out) {
  std::size_t n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (v.empty() || ec != std::errc() || p != v.data() + v.size() || n < min || n > max) return false;
  *out = n;
  return true;
}

}  // namespace

std::string default_node_id() {
  char host[256] = "localhost";
  gethostname(host, sizeof host - 1);
  host[sizeof host - 1] = '\0';
  return std::string(host) + ":" + std::to_string(getpid());
}

OptionsResult parse_options(const OptionList& values, const std::string& default_node) {
  OptionsResult r;
  Options& o = r.options;
  o.node_id = default_node;
  constexpr std::size_t kMax = std::numeric_limits<std::uint32_t>::max();
  struct Numeric { const char* name; std::size_t min, max; std::size_t* value; };
  std::size_t hb = o.heartbeat_secs, hbt = o.heartbeat_timeout_secs, flush = o.pg_flush_ms;
  std::size_t ttl = o.history_ttl_secs, rate = o.publish_rate, rx_timeout = o.receive_timeout_secs;
  // The ranges the README's options table states; a bound that comes from
  // the code says where.
  const Numeric numeric[] = {
      {"history-size", 0, 10'000'000, &o.history_size},
      {"heartbeat-secs", 1, 86400, &hb},
      {"heartbeat-timeout-secs", 1, 86400, &hbt},
      {"max-message-bytes", 16, 256u << 20, &o.max_message_bytes},
      {"send-queue-bytes", 1024, kMax, &o.send_queue_bytes},
      // PgStore writes at most 100,000 rows in one statement (kMaxBatch).
      {"pg-batch-size", 1, 100'000, &o.pg_batch_size},
      // A replay past the hot history first waits, at most 5 s, for every
      // row published so far to be written (PgStore and PersistFeed
      // settle(), docs/persistence.md "Replay past the hot history"): the
      // flush interval plus a batch's write must fit in that, or every such
      // replay answers UNAVAILABLE. Was up to 3,600,000.
      {"pg-flush-ms", 1, 2'000, &flush},
      {"history-memory-bytes", 0, std::size_t{1} << 40, &o.history_memory_bytes},
      {"history-ttl-secs", 0, 100u * 365 * 86400, &ttl},
      {"max-channels-per-connection", 1, 1'000'000, &o.max_channels_per_connection},
      {"publish-rate", 0, 1'000'000, &rate},
      {"receive-timeout-secs", 1, 86400, &rx_timeout},
      {"pg-backlog-rows", 1, 1'000'000'000, &o.pg_backlog_rows},
      {"replay-memory-bytes", 1 << 20, std::size_t{1} << 40, &o.replay_memory_bytes},
  };
  for (const auto& [name, value] : values) {
    if (name == "redis") { o.redis = value; continue; }
    if (name == "postgres") { o.postgres = value; continue; }
    if (name == "node-id") {
      if (value.empty()) { r.error = "node-id must not be empty"; return r; }
      o.node_id = value;
      continue;
    }
    bool known = false;
    for (const auto& n : numeric) {
      if (name != n.name) continue;
      known = true;
      if (!parse_size(value, n.min, n.max, n.value)) {
        r.error = name + ": \"" + value + "\" is not a whole number from " + std::to_string(n.min) +
                  " to " + std::to_string(n.max);
        return r;
      }
    }
    if (!known && !lws_owned(name)) r.warnings.push_back("unknown option \"" + name + "\" ignored");
  }
  o.heartbeat_secs = static_cast<unsigned>(hb);
  o.heartbeat_timeout_secs = static_cast<unsigned>(hbt);
  o.pg_flush_ms = static_cast<unsigned>(flush);
  o.history_ttl_secs = static_cast<unsigned>(ttl);
  o.publish_rate = static_cast<unsigned>(rate);
  o.receive_timeout_secs = static_cast<unsigned>(rx_timeout);
  if (!o.redis.empty() && o.redis.rfind("redis://", 0) != 0) {
    r.error = "redis: \"" + o.redis + "\" is not a redis://host:port[/db] URL";
    return r;
  }
  r.ok = true;
  return r;
}

}  // namespace rtpush
