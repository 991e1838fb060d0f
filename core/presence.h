// Presence: which nodes are alive and whose connections are where, apart
// from the messages (broker.h), as centrifuge splits presence.go from
// broker.go. It carries the node registry and its heartbeat count, each
// authenticated user's connections across nodes (docs/protocol.md "Users")
// and a disconnect of a user to every node. EmbeddedPresence is one node
// alone, in memory; RedisPresence (redis/redis_presence.h) shares it on the
// broker's Redis. Calls and callbacks happen on the service thread; a
// presence with an I/O thread hands results back to it.
#pragma once
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace rtpush {

struct NodeInfo {
  std::string node;
  std::size_t connections = 0;
  double last_seen = 0;
};

// One authenticated connection of a user (GET users/<user>).
struct UserConnection {
  std::string connection_id;
  std::string node;
  double connected_at = 0;  // Unix seconds
};

// Hears a disconnect of a user that reached this node. Service thread.
class PresenceListener {
 public:
  virtual ~PresenceListener() = default;
  // POST users/<user>/disconnect reached this node (from any node, this one
  // included, when the presence carried it: Presence::disconnect_user).
  virtual void on_disconnect_user(const std::string& user) = 0;
};

class Presence {
 public:
  using NodesDone = std::function<void(std::vector<NodeInfo>)>;
  // `shared` false: the presence cannot tell (embedded, Redis down); the
  // node then answers from its own sessions.
  using UsersDone = std::function<void(bool shared, std::vector<UserConnection>)>;
  using CarryDone = std::function<void(bool carried)>;

  virtual ~Presence() = default;
  virtual void set_listener(PresenceListener* listener) = 0;

  // Every live node sharing this presence (GET nodes); empty when that
  // cannot be known (the node then lists itself).
  virtual void nodes(NodesDone done) = 0;
  // This node's connection count, for the registry other nodes read.
  virtual void local_connections(std::size_t n) = 0;

  // A node registers each authenticated connection when it authenticates
  // and removes it when it closes; registrations of nodes that are no
  // longer live are not reported.
  virtual void user_connected(const std::string& user, const UserConnection& connection) = 0;
  virtual void user_disconnected(const std::string& user, const std::string& connection_id) = 0;
  // Every registered connection of `user` on every live node.
  virtual void user_connections(const std::string& user, UsersDone done) = 0;
  // Carries a disconnect of `user` to every node, this one included
  // (PresenceListener::on_disconnect_user). `carried` false: it could not
  // (embedded, Redis down); the node then disconnects its own.
  virtual void disconnect_user(const std::string& user, CarryDone done) = 0;
};

// One node alone: nothing is shared, so every question is answered "cannot
// tell" and the node answers from its own sessions (its UserRegistry).
// Service thread.
class EmbeddedPresence final : public Presence {
 public:
  void set_listener(PresenceListener*) override {}
  void nodes(NodesDone done) override { done({}); }
  void local_connections(std::size_t) override {}
  void user_connected(const std::string&, const UserConnection&) override {}
  void user_disconnected(const std::string&, const std::string&) override {}
  void user_connections(const std::string&, UsersDone done) override { done(false, {}); }
  void disconnect_user(const std::string&, CarryDone done) override { done(false); }
};

}  // namespace rtpush
