// This node's users' connections as RedisPresence registers them in Redis, and
// the formats of that registry (redis_scripts.h "Users"): the pure part,
// unit-tested without a Redis.
//
// LocalUsers is the node's own copy of what it registered: Redis is written
// from it again after an outage, or after other nodes took this one for dead
// and dropped its entries, so the registry heals without the sessions'
// help. Owned by RedisPresence::IoSide: I/O thread only.
#pragma once
#include <hiredis/hiredis.h>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "presence.h"

namespace rtpush::redis {

// The value of a connection's field in rtpush:user:USER:
// "<connected_at>\t<node>". The node goes last, so any byte in it is kept.
std::string user_entry(const std::string& node, double connected_at);

// What PUBLISH on rtpush:control carries to ask every node to disconnect a
// user, and its reading (nullopt: not such a message). The user id is the
// rest of the payload, any bytes.
std::string disconnect_message(const std::string& user);
std::optional<std::string> parse_disconnect_message(std::string_view payload);

// The users script's reply, a flat array [connection_id, node,
// connected_at, ...], as connections; nullopt when it is not that shape.
std::optional<std::vector<UserConnection>> parse_user_connections(const redisReply* reply);

class LocalUsers {
 public:
  // Commands carrying at most this many fields each, so that re-registering
  // a user with 10,000 connections is a few bounded commands.
  static constexpr std::size_t kFieldsPerCommand = 500;

  void add(const std::string& user, const std::string& connection_id, double connected_at);
  // False when it was not registered (never, or already removed).
  bool remove(const std::string& user, const std::string& connection_id);
  std::size_t size() const { return size_; }

  // The commands that write every registration of `node` (after its old
  // ones were dropped): HSET rtpush:user:USER per user and HSET
  // rtpush:node-conns:NODE, in chunks of kFieldsPerCommand fields.
  std::vector<std::vector<std::string>> registration_commands(const std::string& node) const;
  // The commands that remove exactly these registrations of `node` (HDEL,
  // same chunks), and no other: at a clean stop. During a reload (SIGHUP)
  // the old lwsws child and the new one register under the same node-id;
  // dropping the whole rtpush:node-conns:NODE would take the new child's
  // users out of the registry (docs/operations.md).
  std::vector<std::vector<std::string>> removal_commands(const std::string& node) const;

  // The keys' prefixes (RedisKeys: a Redis Cluster puts them under
  // {presence}); today's names by default.
  std::string user_prefix = "rtpush:user:", node_conns_prefix = "rtpush:node-conns:";

 private:
  // HSET (write) or HDEL of every registration, chunked as above.
  std::vector<std::vector<std::string>> commands(const std::string& node, bool write) const;
  // user -> connection_id -> connected_at
  std::unordered_map<std::string, std::unordered_map<std::string, double>> by_user_;
  std::size_t size_ = 0;
};

}  // namespace rtpush::redis
