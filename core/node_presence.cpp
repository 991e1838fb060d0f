#include "node_presence.h"

#include <algorithm>
#include <utility>

namespace rtpush {

NodePresence::NodePresence(Presence& presence, SessionTable& sessions, const std::string& node_id,
                           const Clocks& clocks)
    : presence_(presence), sessions_(sessions), node_id_(node_id), clocks_(clocks) {
  presence_.set_listener(this);
}

NodePresence::~NodePresence() { presence_.set_listener(nullptr); }

void NodePresence::user_authenticated(Session* s) {
  const auth::Identity& who = s->identity();
  if (!who.authenticated || s->closing()) return;
  UserConnection c{s->id(), node_id_, clocks_.now_seconds()};
  // Registered once: a refresh (same sub) leaves the entry as it is.
  if (users_.add(who.user, s->serial(), c)) presence_.user_connected(who.user, c);
}

void NodePresence::user_gone(Session* s) {
  const auth::Identity& who = s->identity();
  if (who.authenticated && users_.remove(who.user, s->serial())) presence_.user_disconnected(who.user, s->id());
}

void NodePresence::users(const std::string& user, std::function<void(std::vector<UserConnection>)> done) {
  presence_.user_connections(user, [this, user, done = std::move(done)](bool shared, std::vector<UserConnection> list) {
    done(shared ? std::move(list) : users_.connections(user));
  });
}

void NodePresence::disconnect_user(const std::string& user, std::function<void(std::size_t)> done) {
  // The count first: once the disconnect has gone out, the registries
  // empty as the connections close.
  users(user, [this, user, done = std::move(done)](std::vector<UserConnection> list) {
    const std::size_t n = list.size();
    presence_.disconnect_user(user, [this, user, n, done](bool carried) {
      if (!carried) on_disconnect_user(user);
      done(n);
    });
  });
}

void NodePresence::on_disconnect_user(const std::string& user) {
  for (std::uint64_t serial : users_.serials(user)) {
    Session* s = sessions_.find(serial);
    if (!s) continue;
    // Out of the registries now, not when the transport reports the close:
    // GET users/<user> right after the disconnect no longer lists it.
    user_gone(s);
    if (s->closing()) continue;
    sessions_.send_error(s, ErrorCode::Unauthorized, "disconnected", {});
    s->close(kClosePolicy, "disconnected", false);
  }
}

void NodePresence::nodes(std::function<void(std::vector<NodeInfo>)> done) {
  presence_.nodes([this, done = std::move(done)](std::vector<NodeInfo> nodes) {
    auto self = std::find_if(nodes.begin(), nodes.end(), [&](const NodeInfo& n) { return n.node == node_id_; });
    if (self == nodes.end()) nodes.push_back(NodeInfo{node_id_, 0, 0});
    self = std::find_if(nodes.begin(), nodes.end(), [&](const NodeInfo& n) { return n.node == node_id_; });
    self->connections = sessions_.size();
    self->last_seen = clocks_.now_seconds();
    done(std::move(nodes));
  });
}

}  // namespace rtpush
