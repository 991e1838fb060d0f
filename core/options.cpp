#include "options.h"

#include <unistd.h>

#include <charconv>
#include <limits>
#include <string_view>

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

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// A serialized origin (RFC 6454): scheme "://" host [":" port], nothing
// after it. What a browser sends in Origin, so anything else (a path, a
// trailing '/', userinfo) could never match and is a configuration mistake.
bool valid_origin(std::string_view o) {
  const std::size_t sep = o.find("://");
  if (sep == std::string_view::npos || sep == 0 || !is_alpha(o[0])) return false;
  for (char c : o.substr(0, sep))
    if (!is_alpha(c) && !is_digit(c) && c != '+' && c != '-' && c != '.') return false;
  std::string_view rest = o.substr(sep + 3);
  std::string_view host = rest, port;
  if (!rest.empty() && rest[0] == '[') {  // an IPv6 literal: [::1]:8080
    const std::size_t close = rest.find(']');
    if (close == std::string_view::npos || close == 1) return false;
    host = rest.substr(0, close + 1);
    const std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return false;
      port = after.substr(1);
      if (port.empty()) return false;
    }
  } else if (const std::size_t colon = rest.rfind(':'); colon != std::string_view::npos) {
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
    if (port.empty()) return false;
  }
  if (host.empty()) return false;
  const bool literal = host[0] == '[';
  for (char c : literal ? host.substr(1, host.size() - 2) : host) {
    if (literal ? !(is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' || c == '.')
                : (c == '/' || c == '?' || c == '#' || c == '@' || c == ':' || c == '[' || c == ']' ||
                   c == '\\' || static_cast<unsigned char>(c) <= ' ' || c == 0x7f))
      return false;
  }
  if (!port.empty()) {
    unsigned n = 0;
    for (char c : port) {
      if (!is_digit(c) || port.size() > 5) return false;
      n = n * 10 + static_cast<unsigned>(c - '0');
    }
    if (n == 0 || n > 65535) return false;
  }
  return true;
}

std::string_view trim(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

// allowed-origins: comma-separated, spaces around each item ignored. Empty
// string when all are good, else why not.
std::string parse_origins(const std::string& value, std::vector<std::string>* out) {
  std::string_view rest = value;
  for (;;) {
    const std::size_t comma = rest.find(',');
    const std::string_view item = trim(rest.substr(0, comma));
    if (item.empty()) return "allowed-origins: an empty item in \"" + value + "\"";
    if (!valid_origin(item))
      return "allowed-origins: \"" + std::string(item) + "\" is not an origin scheme://host[:port] (no path, no trailing '/')";
    out->emplace_back(item);
    if (comma == std::string_view::npos) return {};
    rest.remove_prefix(comma + 1);
  }
}

// The options that are plain text (file names, expected claims); the files
// are read by Vhost::build, not here.
std::string* text_option(Options* o, const std::string& name) {
  if (name == "jwt-secret-file") return &o->jwt_secret_file;
  if (name == "jwt-public-key-file") return &o->jwt_public_key_file;
  if (name == "jwt-audience") return &o->jwt_audience;
  if (name == "jwt-issuer") return &o->jwt_issuer;
  if (name == "channels-file") return &o->channels_file;
  if (name == "api-key-file") return &o->api_key_file;
  return nullptr;
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
  std::size_t stop_timeout = o.stop_timeout_secs, leeway = o.jwt_leeway_secs;
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
      // At least one message of the default max-message-bytes; at most 1 TiB.
      {"pg-backlog-bytes", std::size_t{1} << 20, std::size_t{1} << 40, &o.pg_backlog_bytes},
      {"replay-memory-bytes", 1 << 20, std::size_t{1} << 40, &o.replay_memory_bytes},
      {"history-channel-bytes", 0, std::size_t{1} << 40, &o.history_channel_bytes},
      {"receive-bytes-per-sec", 1, std::size_t{1} << 40, &o.receive_bytes_per_sec},
      // Up to 60 s: systemd's default TimeoutStopSec is 90 s, and the stop
      // must end before systemd's SIGKILL does it.
      {"stop-timeout-secs", 1, 60, &stop_timeout},
      // Skew between clocks, not a grace period: 5 minutes is RFC 7519's
      // "a few minutes" and past what NTP-synced hosts ever drift.
      {"jwt-leeway-secs", 0, 300, &leeway},
  };
  for (const auto& [name, value] : values) {
    if (name == "redis") { o.redis = value; continue; }
    if (name == "postgres") { o.postgres = value; continue; }
    if (name == "node-id") {
      if (value.empty()) { r.error = "node-id must not be empty"; return r; }
      o.node_id = value;
      continue;
    }
    if (std::string* text = text_option(&o, name)) {
      // Empty is a mistake (a template variable that was not filled), not
      // "unset": reading it as unset would quietly leave the vhost open.
      if (value.empty()) { r.error = name + " must not be empty"; return r; }
      *text = value;
      continue;
    }
    if (name == "auth") {
      if (value != "optional" && value != "required") {
        r.error = "auth: \"" + value + "\" is neither optional nor required";
        return r;
      }
      o.auth_required = value == "required";
      continue;
    }
    if (name == "compression") {
      if (value != "off" && value != "on") {
        r.error = "compression: \"" + value + "\" is neither off nor on";
        return r;
      }
      o.compression = value == "on";
      continue;
    }
    if (name == "allowed-origins") {
      o.allowed_origins.clear();
      if (std::string why = parse_origins(value, &o.allowed_origins); !why.empty()) {
        r.error = std::move(why);
        return r;
      }
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
  o.stop_timeout_secs = static_cast<unsigned>(stop_timeout);
  o.jwt_leeway_secs = static_cast<unsigned>(leeway);
  if (!o.redis.empty() && o.redis.rfind("redis://", 0) != 0) {
    r.error = "redis: \"" + o.redis + "\" is not a redis://host:port[/db] URL";
    return r;
  }
  r.ok = true;
  return r;
}

}  // namespace rtpush
