// NodePresence: this node's side of presence (SPEC section 8, "Connections
// of a user"; docs/protocol.md "Users"): the local user registry, GET
// users/<user>, POST users/<user>/disconnect and GET nodes, on top of a
// Presence (presence.h) that shares them across nodes or not. It holds
// references to the session table and the Presence; the Node makes one and
// tells it what happens to sessions, the HTTP API asks it.
//
// Touched on the lws service thread only.
#pragma once
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "clocks.h"
#include "presence.h"
#include "session.h"
#include "session_table.h"
#include "user_registry.h"

namespace rtpush {

class NodePresence final : public PresenceListener {
 public:
  // Holds references: all outlive it (the Node's members). Listens to
  // `presence` until destroyed.
  NodePresence(Presence& presence, SessionTable& sessions, const std::string& node_id, const Clocks& clocks);
  ~NodePresence() override;
  NodePresence(const NodePresence&) = delete;
  NodePresence& operator=(const NodePresence&) = delete;

  // A session's identity was set for the first time (handshake token or
  // first auth frame): it joins its user's connections (GET users/<user>,
  // here and through the Presence). user_gone() takes it out again.
  void user_authenticated(Session* s);
  // Takes `s` out of its user's connections, here and in the Presence's
  // registry; nothing when it was not in them.
  void user_gone(Session* s);
  // The session table gained or lost a session: the count the node
  // registry shows other nodes.
  void connections_changed() { presence_.local_connections(sessions_.size()); }

  // GET users/<user>: the user's connections on every node sharing the
  // Presence; embedded, or with Redis down, those of this node. `done` may
  // run later.
  void users(const std::string& user, std::function<void(std::vector<UserConnection>)> done);
  // POST users/<user>/disconnect: every connection of `user` is sent error
  // UNAUTHORIZED "disconnected" and closed with 1008, on every node when the
  // Presence carries it, else on this one. `done` gets how many connections
  // the user had (as users() would list them). `done` may run later.
  void disconnect_user(const std::string& user, std::function<void(std::size_t)> done);
  // GET nodes: every live node from the Presence's registry, this one with
  // its live count; embedded, or with Redis down, just this one. `done` may
  // run later.
  void nodes(std::function<void(std::vector<NodeInfo>)> done);

  // PresenceListener: a disconnect of `user` (from any node, this one
  // included): closes its sessions here.
  void on_disconnect_user(const std::string& user) override;

 private:
  Presence& presence_;
  SessionTable& sessions_;
  const std::string& node_id_;
  const Clocks& clocks_;
  // Authenticated sessions by user (user_authenticated() .. user_gone()).
  UserRegistry users_;
};

}  // namespace rtpush
