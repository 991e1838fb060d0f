// libFuzzer target: the redis URL parser (core/redis/redis_address.h). It
// reads configuration, not untrusted bytes, but must never crash nor show a
// password. The input is parsed as it is; then again behind a scheme (its
// first byte chooses which) and credentials whose password starts with a
// marker: neither the error nor redacted() may hold the marker, whatever
// follows it (more '@', broken escapes, bad hosts, ports, databases).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "redis/redis_address.h"

using rtpush::RedisTopology;
using rtpush::RedisUrl;

namespace {

constexpr std::string_view kMarker = "Pw9Zq";  // in no message of the parser

void check(bool ok) {
  if (!ok) __builtin_trap();
}

// What every accepted URL holds.
void check_url(const RedisUrl& u) {
  check(!u.hosts.empty());
  for (const auto& h : u.hosts) check(!h.host.empty() && h.port >= 1 && h.port <= 65535);
  check(u.topology != RedisTopology::Single || u.hosts.size() == 1);
  check(u.topology != RedisTopology::Sentinel || !u.master.empty());
  check(u.topology != RedisTopology::Cluster || u.db == 0);
  check(u.password.empty() == (u.redacted().find(":***@") == std::string::npos));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  std::string error;
  if (const auto u = RedisUrl::parse(in, &error))
    check_url(*u);
  else
    check(!error.empty());
  // The marker in the input's own hosts or path would be shown rightly.
  if (size == 0 || in.find(kMarker) != std::string_view::npos) return 0;
  static constexpr std::string_view kSchemes[] = {"redis://", "redis+sentinel://", "redis+cluster://"};
  const std::string url =
      std::string(kSchemes[data[0] % 3]) + "user:" + std::string(kMarker) + "-pw@" + std::string(in.substr(1));
  error.clear();
  const auto u = RedisUrl::parse(url, &error);
  check(error.find(kMarker) == std::string::npos);
  if (u) {
    check_url(*u);
    check(u->user == "user" && u->password.rfind(kMarker, 0) == 0);
    check(u->redacted().find(kMarker) == std::string::npos);
  } else {
    check(!error.empty());
  }
  return 0;
}
