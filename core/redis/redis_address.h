// redis://host:port[/db]: a node's `redis` option, parsed once by
// parse_options() into Options::redis_address (options.h), and
// rtpush-publish's --redis. A plain value; any thread.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace rtpush {

struct RedisAddress {
  std::string host = "127.0.0.1";
  int port = 6379;
  int db = 0;
  // nullopt (and *error) when `url` is not redis://host[:port][/db].
  static std::optional<RedisAddress> parse(std::string_view url, std::string* error);
  // "host:port", as the log events' `addr` field shows it.
  std::string host_port() const { return host + ":" + std::to_string(port); }
};

}  // namespace rtpush
