#include "redis_address.h"

#include <charconv>

namespace rtpush {

namespace {

constexpr std::string_view kForms =
    "redis://[user:password@]host:port[/db], redis+sentinel://[user:password@]host:port,.../MASTER[/db] or "
    "redis+cluster://[user:password@]host:port,...";

bool to_int(std::string_view s, int lo, int hi, int* out) {
  int v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size() || v < lo || v > hi) return false;
  *out = v;
  return true;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// %XX decoded; false on a broken escape.
bool percent_decode(std::string_view in, std::string* out) {
  out->clear();
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out->push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) return false;
    const int hi = hex_digit(in[i + 1]), lo = hex_digit(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out->push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return true;
}

std::string percent_encode(std::string_view in) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : in) {
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       c == '-' || c == '.' || c == '_' || c == '~';
    if (plain) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

// "host[:port]" or "[v6]:port".
bool parse_endpoint(std::string_view s, int default_port, RedisEndpoint* e, std::string* error) {
  std::string_view host = s, port;
  if (!s.empty() && s.front() == '[') {
    const auto close = s.find(']');
    if (close == std::string_view::npos) {
      *error = "unclosed [ in a host of the redis URL";
      return false;
    }
    host = s.substr(1, close - 1);
    std::string_view rest = s.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        *error = "bad host in the redis URL";
        return false;
      }
      port = rest.substr(1);
      if (port.empty()) port = "x";
    }
  } else if (const auto colon = s.rfind(':'); colon != std::string_view::npos) {
    host = s.substr(0, colon);
    port = s.substr(colon + 1);
    if (port.empty()) port = "x";
  }
  if (host.empty()) {
    *error = "no host in the redis URL";
    return false;
  }
  e->host = std::string(host);
  e->port = default_port;
  if (!port.empty() && !to_int(port, 1, 65535, &e->port)) {
    *error = "bad port in the redis URL";
    return false;
  }
  return true;
}

}  // namespace

std::string RedisAddress::host_port() const { return host + ":" + std::to_string(port); }
std::string RedisEndpoint::host_port() const { return host + ":" + std::to_string(port); }

std::optional<RedisUrl> RedisUrl::parse(std::string_view url, std::string* error) {
  RedisUrl u;
  int default_port = 6379;
  if (url.rfind("redis://", 0) == 0) {
    url.remove_prefix(8);
  } else if (url.rfind("redis+sentinel://", 0) == 0) {
    url.remove_prefix(17);
    u.topology = RedisTopology::Sentinel;
    default_port = 26379;
  } else if (url.rfind("redis+cluster://", 0) == 0) {
    url.remove_prefix(16);
    u.topology = RedisTopology::Cluster;
  } else {
    // Never the URL itself: it may hold a password.
    *error = "the redis URL must be " + std::string(kForms);
    return std::nullopt;
  }
  if (url.find_first_of("?#") != std::string_view::npos) {
    *error = "the redis URL takes no query or fragment";
    return std::nullopt;
  }
  // Credentials end at the last '@' (a password may hold '/' or ':').
  if (const auto at = url.rfind('@'); at != std::string_view::npos) {
    const std::string_view info = url.substr(0, at);
    url.remove_prefix(at + 1);
    const auto colon = info.find(':');
    std::string_view user, password = info;
    if (colon != std::string_view::npos) {
      user = info.substr(0, colon);
      password = info.substr(colon + 1);
    }
    if (!percent_decode(user, &u.user) || !percent_decode(password, &u.password)) {
      *error = "bad %-escape in the redis URL's user or password";
      return std::nullopt;
    }
    if (u.password.empty()) {
      *error = "the redis URL names a user without a password";
      return std::nullopt;
    }
  }
  std::string_view hosts = url, path;
  if (const auto slash = url.find('/'); slash != std::string_view::npos) {
    hosts = url.substr(0, slash);
    path = url.substr(slash + 1);
  }
  if (hosts.empty()) {
    *error = "no host in the redis URL";
    return std::nullopt;
  }
  while (true) {
    const auto comma = hosts.find(',');
    RedisEndpoint e;
    if (!parse_endpoint(hosts.substr(0, comma), default_port, &e, error)) return std::nullopt;
    u.hosts.push_back(std::move(e));
    if (comma == std::string_view::npos) break;
    hosts.remove_prefix(comma + 1);
  }
  if (u.topology == RedisTopology::Single && u.hosts.size() > 1) {
    *error = "redis:// names one server; several are redis+sentinel:// or redis+cluster://";
    return std::nullopt;
  }
  if (u.topology == RedisTopology::Sentinel) {
    const auto slash = path.find('/');
    const std::string_view master = path.substr(0, slash);
    if (master.empty()) {
      *error = "redis+sentinel:// needs the master's name after the sentinels (/MASTER)";
      return std::nullopt;
    }
    u.master = std::string(master);
    path = slash == std::string_view::npos ? std::string_view{} : path.substr(slash + 1);
    if (slash != std::string_view::npos && path.empty()) path = "x";
  }
  if (u.topology == RedisTopology::Cluster && !path.empty()) {
    *error = "redis+cluster:// takes no database: a Redis Cluster has only database 0";
    return std::nullopt;
  }
  if (!path.empty() && !to_int(path, 0, 1 << 20, &u.db)) {
    *error = "bad database number in the redis URL";
    return std::nullopt;
  }
  return u;
}

std::string RedisUrl::redacted() const {
  std::string out = topology == RedisTopology::Sentinel  ? "redis+sentinel://"
                    : topology == RedisTopology::Cluster ? "redis+cluster://"
                                                         : "redis://";
  if (!password.empty()) out += (user.empty() ? "" : percent_encode(user)) + ":***@";
  for (std::size_t i = 0; i < hosts.size(); ++i) {
    if (i) out += ',';
    const bool v6 = hosts[i].host.find(':') != std::string::npos;
    out += (v6 ? "[" + hosts[i].host + "]" : hosts[i].host) + ":" + std::to_string(hosts[i].port);
  }
  if (topology == RedisTopology::Sentinel) out += "/" + master;
  if (db != 0) out += "/" + std::to_string(db);
  return out;
}

RedisAddress RedisUrl::server(const std::string& host, int port) const {
  RedisAddress a;
  a.host = host;
  a.port = port;
  a.db = db;
  a.user = user;
  a.password = password;
  return a;
}

RedisAddress RedisUrl::sentinel(const RedisEndpoint& e) const {
  RedisAddress a;
  a.host = e.host;
  a.port = e.port;
  a.password = sentinel_password;
  return a;
}

}  // namespace rtpush
