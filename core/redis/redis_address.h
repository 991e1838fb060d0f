// The `redis` option's URL (and rtpush-publish's --redis), parsed once by
// parse_options() into Options::redis_url (options.h), and the address of
// one Redis server a connection is made to. Plain values; any thread.
//
//   redis://[user:password@]host:port[/db]                    one Redis
//   redis+sentinel://[user:password@]h1:p1,h2:p2,.../MASTER[/db]  a Sentinel master
//   redis+cluster://[user:password@]h1:p1,h2:p2,...           a Redis Cluster
//
// As redis-cli's -u, `password@` alone (no colon) is a password for the
// default user; user and password are percent-decoded (%40 for '@').
// The password goes to every Redis server (AUTH) and never into a log
// line, an error or a metric: print a URL with redacted(), a server with
// host_port().
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rtpush {

// One Redis server a connection is made to, with what it is sent first.
struct RedisAddress {
  std::string host = "127.0.0.1";
  int port = 6379;
  int db = 0;
  std::string user;      // empty: the default user
  std::string password;  // empty: no AUTH
  // "host:port", as the log events' `addr` field shows it (never the password).
  std::string host_port() const;
};

enum class RedisTopology { Single, Sentinel, Cluster };

struct RedisEndpoint {
  std::string host;
  int port = 0;
  std::string host_port() const;
};

struct RedisUrl {
  RedisTopology topology = RedisTopology::Single;
  // Single: the server; Sentinel: the sentinels; Cluster: the seeds.
  std::vector<RedisEndpoint> hosts;
  std::string master;  // Sentinel: the master's name
  int db = 0;          // Cluster: always 0
  std::string user, password;
  // Not in the URL: the redis-sentinel-password option, sent to sentinels.
  std::string sentinel_password;

  // nullopt and *error (naming the problem, never the password) when `url`
  // is none of the three forms.
  static std::optional<RedisUrl> parse(std::string_view url, std::string* error);

  // The URL with the password as "***": what logs and errors may show.
  std::string redacted() const;
  // A data server of this deployment (a master, a replica, a cluster node)
  // with the URL's credentials and database.
  RedisAddress server(const std::string& host, int port) const;
  // Single: the server.
  RedisAddress single() const { return server(hosts.front().host, hosts.front().port); }
  // A sentinel: database 0, the sentinel password (no user).
  RedisAddress sentinel(const RedisEndpoint& e) const;
};

}  // namespace rtpush
