#include "cluster_locator.h"

#include <string_view>

#include "redis_blocking.h"

namespace {

constexpr std::string_view kNoClusterSupport = "ERR This instance has cluster support disabled";

// The map as one node answers it, or nullopt with that node's part of *why.
std::optional<rtpush::cluster::SlotMap> ask(const rtpush::RedisUrl& url, const rtpush::cluster::Node& node,
                                           double timeout_secs, std::string* why) {
  const rtpush::BlockingRedis c = rtpush::blocking_connect(url.server(node.host, node.port), timeout_secs, why);
  if (!c) return std::nullopt;
  const rtpush::RedisReplyPtr r = rtpush::blocking_command(c.get(), {"CLUSTER", "SLOTS"});
  if (!r) {
    *why = node.host_port() + ": no answer to CLUSTER SLOTS: " + c->errstr;
    return std::nullopt;
  }
  if (r->type == REDIS_REPLY_ERROR) {
    const std::string_view text(r->str, r->len);
    *why = node.host_port() + (text.substr(0, kNoClusterSupport.size()) == kNoClusterSupport
                                   ? " is not in cluster mode (" + std::string(text) + ")"
                                   : " refused CLUSTER SLOTS: " + std::string(text));
    return std::nullopt;
  }
  std::string bad;
  auto map = rtpush::cluster::SlotMap::from_cluster_slots(r.get(), node, &bad);
  if (!map) *why = node.host_port() + ": unreadable CLUSTER SLOTS answer: " + bad;
  else if (map->shards().empty()) {
    *why = node.host_port() + ": no slot is served (a cluster not yet made?)";
    return std::nullopt;
  }
  return map;
}

}  // namespace

std::optional<rtpush::cluster::SlotMap> fetch_slot_map(const rtpush::RedisUrl& url,
                                                      const std::vector<rtpush::cluster::Node>& also,
                                                      double timeout_secs, std::string* why) {
  std::vector<rtpush::cluster::Node> nodes;
  for (const rtpush::RedisEndpoint& e : url.hosts) nodes.push_back({e.host, e.port, ""});
  for (const rtpush::cluster::Node& n : also) {
    bool known = false;
    for (const auto& m : nodes) known = known || m.host_port() == n.host_port();
    if (!known) nodes.push_back(n);
  }
  std::string tried;
  for (const auto& node : nodes) {
    std::string one;
    if (auto map = ask(url, node, timeout_secs, &one)) return map;
    tried += (tried.empty() ? "" : "; ") + one;
  }
  *why = "no cluster node gave its slot map: " + tried;
  return std::nullopt;
}
