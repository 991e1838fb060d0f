// UserRegistry: the authenticated connections of each user on this node
// (SPEC section 8, "Connections of a user"). GET users/<user> answers from it
// when the presence cannot tell (embedded, Redis down), and
// POST users/<user>/disconnect finds here the sessions to close. Sessions are
// held by serial, not pointer, so an entry can never dangle: the Node looks
// each one up. Touched on the lws service thread only (the Node's).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "presence.h"

namespace rtpush {

class UserRegistry {
 public:
  // O(1) on average. False when `serial` was already registered (for any
  // user): nothing changes then.
  bool add(const std::string& user, std::uint64_t serial, UserConnection connection);
  // O(1) on average. False when it was not registered under `user`. A user
  // left without connections is forgotten: memory follows live connections.
  bool remove(const std::string& user, std::uint64_t serial);

  // The user's connections on this node, in no particular order.
  std::vector<UserConnection> connections(std::string_view user) const;
  // Their sessions' serials, a copy: the caller may close sessions (and so
  // change the registry) while walking it.
  std::vector<std::uint64_t> serials(std::string_view user) const;
  std::size_t count(std::string_view user) const;

  std::size_t users() const { return by_user_.size(); }
  std::size_t size() const { return by_serial_.size(); }

 private:
  using Connections = std::unordered_map<std::uint64_t, UserConnection>;
  const Connections* find(std::string_view user) const;

  std::unordered_map<std::string, Connections> by_user_;
  // serial -> its user: a serial is registered once, whoever asks.
  std::unordered_map<std::uint64_t, std::string> by_serial_;
};

}  // namespace rtpush
