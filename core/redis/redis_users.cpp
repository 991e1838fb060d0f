#include "redis_users.h"

#include <cstdio>
#include <cstdlib>

#include "redis_link.h"
#include "redis_scripts.h"

namespace rtpush::redis {

namespace {
constexpr std::string_view kDisconnectVerb = "disconnect-user ";
}

std::string user_entry(const std::string& node, double connected_at) {
  char at[40];
  std::snprintf(at, sizeof at, "%.3f", connected_at);
  return std::string(at) + "\t" + node;
}

std::string disconnect_message(const std::string& user) { return std::string(kDisconnectVerb) + user; }

std::optional<std::string> parse_disconnect_message(std::string_view payload) {
  if (payload.substr(0, kDisconnectVerb.size()) != kDisconnectVerb) return std::nullopt;
  return std::string(payload.substr(kDisconnectVerb.size()));
}

std::optional<std::vector<UserConnection>> parse_user_connections(const redisReply* r) {
  if (!r || r->type != REDIS_REPLY_ARRAY || r->elements % 3 != 0) return std::nullopt;
  std::vector<UserConnection> out;
  out.reserve(r->elements / 3);
  for (std::size_t i = 0; i < r->elements; i += 3) {
    for (std::size_t k = 0; k < 3; ++k)
      if (!r->element[i + k] || r->element[i + k]->type != REDIS_REPLY_STRING) return std::nullopt;
    UserConnection c;
    c.connection_id = text(r->element[i]);
    c.node = text(r->element[i + 1]);
    c.connected_at = std::strtod(text(r->element[i + 2]).c_str(), nullptr);
    out.push_back(std::move(c));
  }
  return out;
}

void LocalUsers::add(const std::string& user, const std::string& connection_id, double connected_at) {
  auto [it, fresh] = by_user_[user].insert_or_assign(connection_id, connected_at);
  (void)it;
  if (fresh) ++size_;
}

bool LocalUsers::remove(const std::string& user, const std::string& connection_id) {
  auto u = by_user_.find(user);
  if (u == by_user_.end() || u->second.erase(connection_id) == 0) return false;
  if (u->second.empty()) by_user_.erase(u);
  --size_;
  return true;
}

std::vector<std::vector<std::string>> LocalUsers::registration_commands(const std::string& node) const {
  return commands(node, /*write=*/true);
}

std::vector<std::vector<std::string>> LocalUsers::removal_commands(const std::string& node) const {
  return commands(node, /*write=*/false);
}

// One walk for both: HSET writes each field with its value (the user's hash
// the entry, the node's hash the user), HDEL names the field alone; either
// way at most kFieldsPerCommand fields a command.
std::vector<std::vector<std::string>> LocalUsers::commands(const std::string& node, bool write) const {
  const char* verb = write ? "HSET" : "HDEL";
  const std::size_t full = (write ? 2 : 1) * kFieldsPerCommand;  // arguments after verb and key
  std::vector<std::vector<std::string>> cmds;
  std::vector<std::string> conns;  // rtpush:node-conns:NODE, being filled
  auto flush_conns = [&] {
    if (conns.size() > 2) cmds.push_back(std::move(conns));
    conns = {verb, node_conns_prefix + node};
  };
  flush_conns();
  for (const auto& [user, connections] : by_user_) {
    std::vector<std::string> entries;
    for (const auto& [id, at] : connections) {
      if (entries.empty()) entries = {verb, user_prefix + user};
      entries.push_back(id);
      if (write) entries.push_back(user_entry(node, at));
      if (entries.size() - 2 == full) cmds.push_back(std::move(entries)), entries.clear();
      conns.push_back(id);
      if (write) conns.push_back(user);
      if (conns.size() - 2 == full) flush_conns();
    }
    if (!entries.empty()) cmds.push_back(std::move(entries));
  }
  flush_conns();
  return cmds;
}

}  // namespace rtpush::redis
