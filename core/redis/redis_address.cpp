#include "redis_address.h"

#include <charconv>

namespace rtpush {

namespace {
bool to_int(std::string_view s, int lo, int hi, int* out) {
  int v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size() || v < lo || v > hi) return false;
  *out = v;
  return true;
}
}  // namespace

std::optional<RedisAddress> RedisAddress::parse(std::string_view url, std::string* error) {
  constexpr std::string_view kScheme = "redis://";
  if (url.substr(0, kScheme.size()) != kScheme) {
    *error = "\"" + std::string(url) + "\" is not a redis://host:port[/db] URL";
    return std::nullopt;
  }
  url.remove_prefix(kScheme.size());
  RedisAddress a;
  if (auto slash = url.find('/'); slash != std::string_view::npos) {
    if (!to_int(url.substr(slash + 1), 0, 1 << 20, &a.db)) {
      *error = "bad database number in the redis URL";
      return std::nullopt;
    }
    url = url.substr(0, slash);
  }
  if (auto colon = url.rfind(':'); colon != std::string_view::npos) {
    if (!to_int(url.substr(colon + 1), 1, 65535, &a.port)) {
      *error = "bad port in the redis URL";
      return std::nullopt;
    }
    url = url.substr(0, colon);
  }
  if (url.empty()) {
    *error = "no host in the redis URL";
    return std::nullopt;
  }
  a.host = std::string(url);
  return a;
}

}  // namespace rtpush
