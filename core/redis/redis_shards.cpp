#include "redis_shards.h"

#include <strings.h>

#include <cstdlib>
#include <cstring>
#include <set>
#include <string_view>
#include <utility>

namespace rtpush {

namespace {

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

bool same_map(const cluster::SlotMap& a, const cluster::SlotMap& b) {
  if (a.shards().size() != b.shards().size()) return false;
  for (std::size_t i = 0; i < a.shards().size(); ++i) {
    const cluster::Shard &x = a.shards()[i], &y = b.shards()[i];
    if (x.first != y.first || x.last != y.last || x.master.host_port() != y.master.host_port()) return false;
  }
  return true;
}

}  // namespace

struct RedisShards::Request {
  std::vector<std::string> args;
  RedisLink::Reply done;
  int redirects = 0;
  std::optional<cluster::Node> ask_to;  // the next try goes there, after ASKING
};

RedisShards::RedisShards(struct ev_loop* loop, RedisUrl url, std::string name, Events events,
                         RedisTopologyState* topology)
    : loop_(loop), url_(std::move(url)), name_(std::move(name)), events_(std::move(events)), topology_(topology) {
  ev_timer_init(&tick_, &RedisShards::on_tick, kTickSecs, kTickSecs);
  tick_.data = this;
}

RedisShards::~RedisShards() {
  *alive_ = false;
  ev_timer_stop(loop_, &tick_);
  for (auto& [hp, n] : nodes_) {  // every callback runs once
    auto waiting = std::move(n->waiting);
    for (auto& [slot, req] : waiting) req->done(nullptr);
  }
  retired_.clear();
  nodes_.clear();  // pending callbacks run with null
}

void RedisShards::start() {
  ev_timer_start(loop_, &tick_);
  for (const RedisEndpoint& seed : url_.hosts) ensure(cluster::Node{seed.host, seed.port, {}});
}

RedisShards::NodeLinks& RedisShards::ensure(const cluster::Node& node) {
  const std::string hp = node.host_port();
  auto it = nodes_.find(hp);
  if (it != nodes_.end()) return *it->second;
  auto n = std::make_unique<NodeLinks>();
  n->node = node;
  const RedisAddress address = url_.server(node.host, node.port);
  RedisLink::Events cmd_events{[this, hp] { link_up(hp); }, [this, hp](const std::string& why) { link_down(hp, why); }};
  NodeLinks* raw = n.get();
  RedisLink::Events sub_events{[this, raw] {
                                 // A regular subscription that stays: hiredis keeps the link in
                                 // subscribed mode, which the shard channels' replies need.
                                 raw->sub->push_command({"SUBSCRIBE", "rtpush:anchor"});
                                 link_up(raw->node.host_port());
                               },
                               [this, hp](const std::string& why) { link_down(hp, why); }};
  n->cmd = std::make_unique<RedisLink>(loop_, address, "rtpush:" + name_ + ":cmd", std::move(cmd_events));
  n->sub = std::make_unique<RedisLink>(loop_, address, "rtpush:" + name_ + ":sub", std::move(sub_events));
  n->sub->set_push_handler([this, hp](redisReply* r) {
    if (r && r->type == REDIS_REPLY_ERROR) {  // an SSUBSCRIBE refused (MOVED): the map is old
      refresh_due_ = true;
      return;
    }
    if (events_.push) events_.push(hp, r);
  });
  n->cmd->start();
  n->sub->start();
  return *nodes_.emplace(hp, std::move(n)).first->second;
}

bool RedisShards::slot_up(int slot) const {
  if (!map_) return false;
  const cluster::Shard* s = map_->shard_of(slot);
  if (!s) return false;
  auto it = nodes_.find(s->master.host_port());
  return it != nodes_.end() && it->second->cmd->up() && it->second->sub->up();
}

std::string RedisShards::owner(int slot) const {
  const cluster::Shard* s = map_ ? map_->shard_of(slot) : nullptr;
  return s ? s->master.host_port() : std::string();
}

RedisLink* RedisShards::sub_link(const std::string& owner) {
  auto it = nodes_.find(owner);
  return it == nodes_.end() ? nullptr : it->second->sub.get();
}

bool RedisShards::subscribe_shard(const std::string& owner, const std::string& topic) {
  RedisLink* sub = sub_link(owner);
  if (!sub || !sub->up()) return false;
  sub->push_command({"SUBSCRIBE", topic});
  sub->push_command({"SSUBSCRIBE", topic});
  return true;
}

void RedisShards::unsubscribe_shard(const std::string& owner, const std::string& topic, const std::string& key) {
  // SUNSUBSCRIBE to a master that no longer serves the slot is answered
  // MOVED (which closes the link, as for SSUBSCRIBE): only once a read of
  // `key` there shows it still does. A slot that moved away took the shard
  // subscription with it.
  command_on(owner, {"EXISTS", key}, [this, owner, topic](redisReply* r) {
    if (!r || !*alive_) return;
    RedisLink* sub = sub_link(owner);
    if (!sub || !sub->up()) return;
    if (r->type != REDIS_REPLY_ERROR) sub->push_command({"SUNSUBSCRIBE", topic});
    sub->push_command({"UNSUBSCRIBE", topic});
  });
}

std::optional<RedisAddress> RedisShards::address_of(int slot) const {
  const cluster::Shard* s = map_ ? map_->shard_of(slot) : nullptr;
  if (!s) return std::nullopt;
  return url_.server(s->master.host, s->master.port);
}

int RedisShards::slot_of_command(const std::vector<std::string>& args) {
  if (!args.empty() && (strcasecmp(args[0].c_str(), "EVAL") == 0 || strcasecmp(args[0].c_str(), "EVALSHA") == 0))
    return args.size() >= 4 && std::atoi(args[2].c_str()) > 0 ? cluster::key_slot(args[3]) : 0;
  return args.size() >= 2 ? cluster::key_slot(args[1]) : 0;
}

void RedisShards::command(int slot, std::vector<std::string> args, RedisLink::Reply done) {
  auto req = std::make_shared<Request>();
  req->args = std::move(args);
  req->done = std::move(done);
  send(slot, std::move(req));
}

void RedisShards::command_on(const std::string& owner, const std::vector<std::string>& args, RedisLink::Reply done) {
  auto it = nodes_.find(owner);
  if (it == nodes_.end() || !it->second->cmd->up()) return done(nullptr);
  it->second->cmd->command(args, std::move(done));
}

void RedisShards::send(int slot, std::shared_ptr<Request> req) {
  NodeLinks* target = nullptr;
  if (req->ask_to) {
    target = &ensure(*req->ask_to);
  } else {
    const cluster::Shard* s = map_ ? map_->shard_of(slot) : nullptr;
    if (s) target = &ensure(s->master);
  }
  if (target && !target->cmd->up() && !target->settled && target->waiting.size() < kMaxWaiting) {
    target->waiting.emplace_back(slot, std::move(req));  // sent once it is up (or failed once it fails)
    return;
  }
  if (!target || !target->cmd->up()) {
    refresh_due_ = true;
    return req->done(nullptr);
  }
  const bool asking = req->ask_to.has_value();
  req->ask_to.reset();
  if (asking) target->cmd->command({"ASKING"}, [](redisReply*) {});
  const std::string from_host = target->node.host;
  target->cmd->command(req->args, [this, slot, req, from_host](redisReply* r) {
    if (!r || r->type != REDIS_REPLY_ERROR) return req->done(r);  // also while this is being destroyed
    const std::string_view said(r->str, r->len);
    if (req->redirects < kMaxRedirects) {
      if (auto redirect = cluster::parse_redirect(said)) {
        ++req->redirects;
        if (redirect->to.host_unknown()) redirect->to.host = from_host;  // Redis: "the host you asked"
        const bool ask = redirect->kind == cluster::Redirect::Kind::Ask;
        topology_->count_redirect(ask);
        if (ask) {
          req->ask_to = redirect->to;
          return send(slot, req);
        }
        moved(redirect->slot, redirect->to);
        return send(slot, req);
      }
      if (starts_with(said, "TRYAGAIN")) {  // a multi-key command during a migration: shortly again
        ++req->redirects;
        struct Retry {
          RedisShards* self;
          std::shared_ptr<bool> alive;
          int slot;
          std::shared_ptr<Request> req;
        };
        ev_once(loop_, -1, 0, kTryAgainSecs,
                [](int, void* arg) {
                  std::unique_ptr<Retry> retry(static_cast<Retry*>(arg));
                  if (!*retry->alive) return retry->req->done(nullptr);
                  retry->self->send(retry->slot, retry->req);
                },
                new Retry{this, alive_, slot, req});
        return;
      }
    }
    if (starts_with(said, "CLUSTERDOWN") && !cluster_down_) {  // down until CLUSTER INFO says ok (on_tick)
      cluster_down_ = true;
      last_why_ = "redis cluster: " + std::string(said);
      refresh_due_ = true;
      update();
    }
    req->done(r);
  });
}

void RedisShards::moved(int slot, const cluster::Node& to) {
  if (map_) map_->moved(slot, to);
  refresh_due_ = true;
  ensure(to);
  update();
  if (events_.map_changed) events_.map_changed();
}

void RedisShards::link_up(const std::string& owner) {
  auto it = nodes_.find(owner);
  if (it != nodes_.end() && it->second->cmd->up()) {
    it->second->settled = true;
    auto waiting = std::move(it->second->waiting);
    it->second->waiting.clear();
    for (auto& [slot, req] : waiting) send(slot, req);
  }
  update();
  if (refresh_due_ || !map_) refresh();
}

void RedisShards::link_down(const std::string& owner, const std::string& why) {
  if (dropping_) return;  // the companion of the link that failed: that one told why
  last_why_ = "redis " + owner + ": " + why;
  refresh_due_ = true;
  auto it = nodes_.find(owner);
  if (it != nodes_.end()) {  // both links of a master start over together
    it->second->settled = true;
    auto waiting = std::move(it->second->waiting);
    it->second->waiting.clear();
    for (auto& [slot, req] : waiting) req->done(nullptr);
    dropping_ = true;
    if (it->second->cmd->up()) it->second->cmd->drop();
    if (it->second->sub->up()) it->second->sub->drop();
    dropping_ = false;
  }
  const bool was_up = up_;
  update();
  if (!was_up && events_.down) events_.down(last_why_);  // (a transition told it already)
}

void RedisShards::refresh() {
  if (refreshing_) return;
  NodeLinks* asked = nullptr;
  if (map_)
    for (const cluster::Node& m : map_->masters()) {
      auto it = nodes_.find(m.host_port());
      if (it != nodes_.end() && it->second->cmd->up()) {
        asked = it->second.get();
        break;
      }
    }
  if (!asked)
    for (auto& [hp, n] : nodes_)
      if (n->cmd->up()) {
        asked = n.get();
        break;
      }
  if (!asked) {  // nothing reachable: the seeds too (their up event asks again)
    for (const RedisEndpoint& seed : url_.hosts) ensure(cluster::Node{seed.host, seed.port, {}});
    return;
  }
  refreshing_ = true;
  refresh_due_ = false;
  const cluster::Node node = asked->node;
  asked->cmd->command({"CLUSTER", "SLOTS"}, [this, node](redisReply* r) {
    if (!*alive_) return;
    refreshing_ = false;
    last_refresh_ = ev_now(loop_);
    if (!r) {
      refresh_due_ = true;
      return;
    }
    std::string why;
    std::optional<cluster::SlotMap> map;
    if (r->type == REDIS_REPLY_ERROR) {
      const std::string said(r->str, r->len);
      why = said.find("cluster support disabled") != std::string::npos
                ? "redis " + node.host_port() + " is not in cluster mode (" + said + ")"
                : "redis " + node.host_port() + " refused CLUSTER SLOTS: " + said;
    } else {
      map = cluster::SlotMap::from_cluster_slots(r, node, &why);
      if (!map) why = "redis " + node.host_port() + " sent an unusable CLUSTER SLOTS: " + why;
    }
    if (!map) {
      last_why_ = why;
      refresh_due_ = true;
      update();
      if (events_.down) events_.down(why);
      return;
    }
    take_map(std::move(*map));
  });
}

void RedisShards::take_map(cluster::SlotMap map) {
  const bool changed = !map_ || !same_map(*map_, map);
  std::set<std::string> promoted;
  if (map_ && changed) {  // a master gone from the map: its replica took over (a failover followed)
    std::set<std::string> now;
    for (const cluster::Node& m : map.masters()) now.insert(m.host_port());
    for (const cluster::Node& m : map_->masters())
      if (!now.count(m.host_port())) topology_->count_failover();
    for (const cluster::Shard& s : map.shards())
      if (const cluster::Shard* old = map_->shard_of(s.first); old && !now.count(old->master.host_port()))
        promoted.insert(s.master.host_port());
  }
  map_ = std::move(map);
  if (!map_->covers_all()) {
    refresh_due_ = true;
    last_why_ = "the redis cluster has slots no master serves";
  }
  std::set<std::string> masters;
  for (const cluster::Node& m : map_->masters()) {
    masters.insert(m.host_port());
    ensure(m);
  }
  // Before update() can tell the owner "up": its first commands to a
  // promoted master (the failover epoch) go ahead of everything else.
  if (!promoted.empty() && events_.failover) events_.failover(promoted);
  for (auto it = nodes_.begin(); it != nodes_.end();) {  // seeds that are replicas, masters no more
    if (masters.count(it->first)) {
      ++it;
      continue;
    }
    auto waiting = std::move(it->second->waiting);
    it->second->waiting.clear();
    for (auto& [slot, req] : waiting) req->done(nullptr);
    retired_.push_back(std::move(it->second));
    it = nodes_.erase(it);
  }
  update();
  if (changed && events_.map_changed) events_.map_changed();
}

void RedisShards::update() {
  std::vector<RedisTopologyState::Shard> shards;
  bool all = map_ && map_->covers_all() && !cluster_down_;
  if (map_)
    for (const cluster::Shard& s : map_->shards()) {
      auto it = nodes_.find(s.master.host_port());
      const bool ok = it != nodes_.end() && it->second->cmd->up() && it->second->sub->up();
      all = all && ok;
      shards.push_back({s.label(), ok});
    }
  if (shards.empty()) shards.push_back({"0-16383", false});
  topology_->set_shards(std::move(shards));
  if (all == up_) return;
  up_ = all;
  if (all && events_.up) events_.up();
  if (!all && events_.down) events_.down(last_why_.empty() ? "a redis cluster shard has no reachable master" : last_why_);
}

void RedisShards::on_tick(struct ev_loop* loop, ev_timer* w, int) {
  auto* self = static_cast<RedisShards*>(w->data);
  self->retired_.clear();
  const bool whole = self->map_ && self->map_->covers_all();
  if (self->refresh_due_ || !whole || ev_now(loop) - self->last_refresh_ >= kRefreshEverySecs) self->refresh();
  if (self->cluster_down_) self->check_cluster_state();
  if (self->events_.tick) self->events_.tick();
}

// After a CLUSTERDOWN: CLUSTER INFO on a master until it says
// cluster_state:ok.
void RedisShards::check_cluster_state() {
  for (auto& [hp, n] : nodes_) {
    if (!n->cmd->up()) continue;
    n->cmd->command({"CLUSTER", "INFO"}, [this](redisReply* r) {
      if (!r || !*alive_ || !cluster_down_) return;
      if (r->type != REDIS_REPLY_STRING) return;
      if (std::string_view(r->str, r->len).find("cluster_state:ok") == std::string_view::npos) return;
      cluster_down_ = false;
      update();
    });
    return;
  }
}

}  // namespace rtpush
