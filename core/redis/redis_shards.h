// RedisShards: a node's links to a Redis Cluster (SPEC section 12), the
// cluster counterpart of RedisLinks. One command link and one pub/sub link
// per master; the slot map (CLUSTER SLOTS from any reachable seed or
// master) says which master serves a key. The map is asked again on a
// MOVED, on a link failure, while any slot is uncovered and every
// kRefreshEverySecs. A command goes to its slot's master; MOVED updates the
// map (counted) and sends it again, ASK sends ASKING + the command to the
// target (counted), TRYAGAIN waits kTryAgainSecs; at most kMaxRedirects per
// command. CLUSTERDOWN is passed on, and the cluster is down (a log line,
// health 503) until CLUSTER INFO says cluster_state:ok again.
//
// Up: the map covers every slot and every master's two links are up. The
// owner hears up/down transitions (a down with the cause, for the log line
// BackendHealth writes once per outage), map changes (move subscriptions)
// and every pub/sub reply with the master it came from.
//
// Pub/sub on hiredis 0.14, which knows nothing of SSUBSCRIBE: a channel is
// SUBSCRIBEd under the same name first (nobody PUBLISHes to it), which
// registers hiredis's callback for the name and puts the link in subscribed
// mode; the SSUBSCRIBE after it then gets its `ssubscribe`, `smessage` and
// `sunsubscribe` through that callback (subscribe_shard()).
//
// I/O thread only: every member is the I/O side's, but for the topology
// state (its own lock).
#pragma once
#include <hiredis/hiredis.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cluster_slots.h"
#include "ev_loop.h"
#include "redis_address.h"
#include "redis_link.h"
#include "redis_topology_state.h"

namespace rtpush {

class RedisShards {
 public:
  struct Request;
  static constexpr int kMaxRedirects = 5;
  static constexpr double kTryAgainSecs = 0.05;
  static constexpr double kTickSecs = 1, kRefreshEverySecs = 10;
  static constexpr std::size_t kMaxWaiting = 10000;  // commands waiting for a new master's link

  struct Events {
    std::function<void()> up;                          // every shard reachable (again)
    std::function<void(const std::string& why)> down;  // a link failed or the map is not whole
    std::function<void()> map_changed;                 // a slot has a new master: move subscriptions
    // A pub/sub reply on the sub link of master `from` ("host:port").
    std::function<void(const std::string& from, redisReply* reply)> push;
    std::function<void()> tick;  // every kTickSecs
    // Ranges whose master left the map (died) are served by these masters
    // now (promoted replicas): told before the links to them are up.
    std::function<void(const std::set<std::string>& promoted)> failover;
  };

  RedisShards(struct ev_loop* loop, RedisUrl url, std::string name, Events events, RedisTopologyState* topology);
  ~RedisShards();  // pending callbacks run with null
  RedisShards(const RedisShards&) = delete;
  RedisShards& operator=(const RedisShards&) = delete;

  void start();
  bool up() const { return up_; }
  bool slot_up(int slot) const;
  // The command on `slot`'s master, following redirects; null when that
  // shard is unreachable.
  void command(int slot, std::vector<std::string> args, RedisLink::Reply done);
  // The command on master `owner`'s command link as it is (no redirects:
  // WAIT after the publishes sent there); null when it is not up.
  void command_on(const std::string& owner, const std::vector<std::string>& args, RedisLink::Reply done);
  // The master serving `slot` ("host:port", "" for none) and its links.
  std::string owner(int slot) const;
  RedisLink* sub_link(const std::string& owner);
  // SUBSCRIBE + SSUBSCRIBE `topic` (a shard channel) on `owner`'s sub link;
  // unsubscribe_shard the reverse (`key`: one of the topic's slot, read
  // first). False when that link is not up. An error
  // reply on a subscribed hiredis 0.14 link closes it (a MOVED to an
  // SSUBSCRIBE would), so the caller first makes sure `owner` serves the
  // slot (a read of the channel's key on its command link).
  bool subscribe_shard(const std::string& owner, const std::string& topic);
  void unsubscribe_shard(const std::string& owner, const std::string& topic, const std::string& key);
  // A server of `slot` with the URL's credentials (blocking last words at stop).
  std::optional<RedisAddress> address_of(int slot) const;
  void refresh_soon() { refresh_due_ = true; }
  // A MOVED met outside command() (the owner checked a master before
  // SSUBSCRIBE): `slot` is served by `to` (with a known host) until the next
  // map; counted by the caller.
  void moved(int slot, const cluster::Node& to);

  // The slot of the key a command touches first (EVAL: its first KEY).
  static int slot_of_command(const std::vector<std::string>& args);

 private:
  struct NodeLinks {
    cluster::Node node;
    std::unique_ptr<RedisLink> cmd, sub;
    // A master met for the first time (a MOVED or ASK to it, a new map):
    // commands wait for its first connection instead of failing; once it
    // has failed they fail at once.
    bool settled = false;
    std::vector<std::pair<int, std::shared_ptr<Request>>> waiting;
  };

  NodeLinks& ensure(const cluster::Node& node);
  void send(int slot, std::shared_ptr<Request> req);
  void link_up(const std::string& owner);
  void link_down(const std::string& owner, const std::string& why);
  void refresh();
  void take_map(cluster::SlotMap map);
  void update();  // recomputes up_ and the topology; tells transitions
  void check_cluster_state();
  static void on_tick(struct ev_loop* loop, ev_timer* w, int revents);

  struct ev_loop* loop_;
  RedisUrl url_;
  std::string name_;
  Events events_;
  RedisTopologyState* topology_;
  std::optional<cluster::SlotMap> map_;
  std::map<std::string, std::unique_ptr<NodeLinks>> nodes_;  // by host:port
  std::vector<std::unique_ptr<NodeLinks>> retired_;          // freed at the next tick, outside their callbacks
  bool up_ = false, refreshing_ = false, refresh_due_ = true, dropping_ = false;
  bool cluster_down_ = false;  // a CLUSTERDOWN answer, until CLUSTER INFO says ok
  double last_refresh_ = 0;
  std::string last_why_;
  ev_timer tick_{};
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // for delayed retries
};

}  // namespace rtpush
