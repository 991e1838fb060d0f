#include "user_registry.h"

#include <utility>

namespace rtpush {

bool UserRegistry::add(const std::string& user, std::uint64_t serial, UserConnection connection) {
  if (!by_serial_.emplace(serial, user).second) return false;
  by_user_[user].emplace(serial, std::move(connection));
  return true;
}

bool UserRegistry::remove(const std::string& user, std::uint64_t serial) {
  auto owner = by_serial_.find(serial);
  if (owner == by_serial_.end() || owner->second != user) return false;
  by_serial_.erase(owner);
  auto it = by_user_.find(user);
  if (it == by_user_.end()) return false;  // cannot happen: both maps change together
  it->second.erase(serial);
  if (it->second.empty()) by_user_.erase(it);
  return true;
}

const UserRegistry::Connections* UserRegistry::find(std::string_view user) const {
  // One lookup key per call; users are short strings.
  auto it = by_user_.find(std::string(user));
  return it == by_user_.end() ? nullptr : &it->second;
}

std::vector<UserConnection> UserRegistry::connections(std::string_view user) const {
  std::vector<UserConnection> out;
  if (const Connections* c = find(user)) {
    out.reserve(c->size());
    for (const auto& [serial, conn] : *c) out.push_back(conn);
  }
  return out;
}

std::vector<std::uint64_t> UserRegistry::serials(std::string_view user) const {
  std::vector<std::uint64_t> out;
  if (const Connections* c = find(user)) {
    out.reserve(c->size());
    for (const auto& [serial, conn] : *c) out.push_back(serial);
  }
  return out;
}

std::size_t UserRegistry::count(std::string_view user) const {
  const Connections* c = find(user);
  return c ? c->size() : 0;
}

}  // namespace rtpush
