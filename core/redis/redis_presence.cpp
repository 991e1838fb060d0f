#include "redis_presence.h"

#include <atomic>
#include <cassert>
#include <chrono>
#include <cstdlib>
#include <optional>
#include <utility>

#include "redis_broker.h"
#include "redis_links.h"
#include "redis_scripts.h"
#include "redis_users.h"

namespace rtpush {

namespace {

constexpr std::int64_t kNodeTtlMs = 30000;  // a node silent this long is gone
constexpr int kStopTimeoutMs = 500;         // dropping this node's users at stop, at most

std::int64_t wall_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace

// Everything here runs on the I/O thread.
struct RedisPresence::IoSide final : RedisLinks::Tenant {
  IoSide(RedisPresence* o, IoThread* i, std::string n, Logger lg)
      : owner(o), io(i), log(std::move(lg)), node_id(std::move(n)) {}

  RedisPresence* owner;  // only in tasks delivered to the service thread (its listener)
  IoThread* io;
  Logger log;
  std::string node_id;
  // The broker's links, once attached; null again after its stop.
  RedisLinks* links = nullptr;
  bool closing_now = false;
  redis::LocalUsers users;  // what this node registered: written again after an outage
  // The drop count (rtpush:node-gen:NODE) after this process's last drop:
  // unset until then. A different count at a heartbeat means another
  // process with this node-id dropped our registrations.
  std::optional<long long> registered_gen;

  // Written by the service thread, read here.
  std::atomic<std::size_t> connections{0};  // this node's, for the registry

  bool up() const { return links && links->up(); }
  bool cmd_up() const { return links && links->cmd_up(); }

  // Hands `task` to the service thread.
  void deliver(std::function<void()> task) { io->deliver(std::move(task)); }

  void command(std::function<void(redisReply*)> cb, const std::vector<std::string>& args) {
    assert(io->on_io_thread());
    if (!links) return cb(nullptr);
    links->command(std::move(cb), args);
  }

  // ---- RedisLinks::Tenant ----------------------------------------------------
  void links_up() override {
    register_node(true);
    links->subscribe(links->keys.control_topic());
  }

  void heartbeat() override { register_node(); }

  // rtpush:control: a node asked every node to disconnect a user.
  void on_push(const std::string& kind, const std::string& topic, const redisReply* payload) override {
    if (!links || topic != links->keys.control_topic()) return;
    if (kind != "message" || !payload || payload->type != REDIS_REPLY_STRING) return;
    auto user = redis::parse_disconnect_message(std::string_view(payload->str, payload->len));
    if (!user) return;  // a later build's message: not ours to read
    RedisPresence* o = owner;
    deliver([o, user = std::move(*user)] {
      if (o->listener_) o->listener_->on_disconnect_user(user);
    });
  }

  void closing() override {
    closing_now = true;
    // A clean stop takes this process's users' connections out of the
    // registry now rather than when its heartbeat lapses: exactly those it
    // registered, not the node's whole hash, which during a reload also
    // holds the new lwsws child's (same node-id). The loop does not run
    // again, so not through the command link: blocking commands, bounded
    // in time.
    const auto address = links->address_of(links->keys.user_prefix());  // {presence}: one server
    if (cmd_up() && users.size() > 0 &&
        (!address || !blocking_commands(*address, users.removal_commands(node_id), kStopTimeoutMs)))
      log.event(LogLevel::Warn, "stop_cleanup_failed",
                {{"backend", "redis"}, {"cause", "could not drop this node's users' connections; they lapse with its heartbeat"}});
    links = nullptr;  // freed by the broker next
  }

  // ---- registry -----------------------------------------------------------
  // The heartbeat. `users_too`: write this node's users' connections again
  // (after a reconnect); they are also written again when the node was not
  // in the registry (ZADD added it): other nodes took it for dead and
  // dropped its entries, or Redis lost them.
  void register_node(bool users_too = false) {
    if (!cmd_up()) return;
    const std::int64_t now = wall_ms();
    command(
        [this, users_too](redisReply* r) {
          if (r && (users_too || (r->type == REDIS_REPLY_INTEGER && r->integer == 1))) register_users();
        },
        {"ZADD", links->keys.nodes(), std::to_string(now), node_id});
    // Did another process with this node-id drop our registrations (the
    // other lwsws child during a reload, at its start or after an outage)?
    // Then write them again, without dropping its own.
    command(
        [this](redisReply* r) {
          if (!r || r->type == REDIS_REPLY_ERROR || closing_now) return;
          const long long now_gen = r->type == REDIS_REPLY_STRING ? std::atoll(text(r).c_str()) : 0;
          if (registered_gen && now_gen != *registered_gen) {
            registered_gen = now_gen;
            for (auto& args : users.registration_commands(node_id)) command([](redisReply*) {}, args);
          }
        },
        {"GET", links->keys.node_gen_prefix() + node_id});
    command([](redisReply*) {}, {"HSET", links->keys.node_info(), node_id, std::to_string(connections.load())});
    command([](redisReply*) {}, {"EVAL", redis::kPruneNodesScript, "2", links->keys.nodes(), links->keys.node_info(),
                                 std::to_string(now - kNodeTtlMs), links->keys.node_conns_prefix(),
                                 links->keys.user_prefix(), links->keys.node_gen_prefix()});
  }

  std::vector<std::string> drop_users_command() const {
    return {"EVAL", redis::kDropNodeUsersScript, "2", links->keys.node_conns_prefix() + node_id,
            links->keys.node_gen_prefix() + node_id, links->keys.user_prefix()};
  }

  // Replaces whatever Redis holds for this node with the local copy: what
  // was closed while the link was down (its HDEL failed) goes, what is open
  // comes back. Readers may miss this node's users between the two steps.
  void register_users() {
    command(
        [this](redisReply* r) {
          if (r && r->type == REDIS_REPLY_INTEGER) registered_gen = r->integer;
        },
        drop_users_command());
    for (auto& args : users.registration_commands(node_id)) command([](redisReply*) {}, args);
  }
};

RedisPresence::RedisPresence(RedisBroker& broker, std::string node_id, IoThread* io, Logger log)
    : io_(io), io_side_(new IoSide(this, io, std::move(node_id), std::move(log))) {
  IoSide* side = io_side_.get();
  RedisBroker* b = &broker;
  io_->post([side, b] {
    side->links = &b->links();
    side->links->tenant = side;
    side->users.user_prefix = side->links->keys.user_prefix();
    side->users.node_conns_prefix = side->links->keys.node_conns_prefix();
    if (side->up()) side->links_up();  // came up before this ran
  });
}

RedisPresence::~RedisPresence() {
  IoSide* side = io_side_.get();
  io_->run_and_wait([side] {
    // Normally the broker is gone and closing() ran. A presence destroyed
    // first stops being the tenant here; what it still has in flight on the
    // links would outlive it, hence the order the header asks for.
    assert(!side->links);
    if (side->links && side->links->tenant == side) side->links->tenant = nullptr;
  });
}

void RedisPresence::local_connections(std::size_t n) { io_side_->connections.store(n); }

void RedisPresence::nodes(NodesDone done) {
  io_->post([this, done = std::move(done)] {
    IoSide* side = io_side_.get();
    auto give = [side, done](std::vector<NodeInfo> v) { side->deliver([done, v = std::move(v)] { done(v); }); };
    if (!side->up()) return give({});
    const std::int64_t now = wall_ms();
    side->command(
        [side, give](redisReply* r) {
          if (!r || r->type != REDIS_REPLY_ARRAY || r->elements == 0) return give({});
          auto list = std::make_shared<std::vector<NodeInfo>>();
          std::vector<std::string> args = {"HMGET", side->links->keys.node_info()};
          for (std::size_t i = 0; i + 1 < r->elements; i += 2) {
            NodeInfo n;
            n.node = text(r->element[i]);
            n.last_seen = std::atof(text(r->element[i + 1]).c_str()) / 1000.0;
            list->push_back(n);
            args.push_back(n.node);
          }
          side->command(
              [list, give](redisReply* counts) {
                for (std::size_t i = 0; counts && i < counts->elements && i < list->size(); ++i)
                  (*list)[i].connections = std::strtoull(text(counts->element[i]).c_str(), nullptr, 10);
                give(std::move(*list));
              },
              args);
        },
        {"ZRANGEBYSCORE", side->links->keys.nodes(), std::to_string(now - kNodeTtlMs), "+inf", "WITHSCORES"});
  });
}


void RedisPresence::user_connected(const std::string& user, const UserConnection& c) {
  io_->post([this, user, id = c.connection_id, at = c.connected_at] {
    IoSide* side = io_side_.get();
    side->users.add(user, id, at);
    if (!side->cmd_up()) return;  // written when the link is back (register_users)
    side->command([](redisReply*) {},
                  {"HSET", side->links->keys.user_prefix() + user, id, redis::user_entry(side->node_id, at)});
    side->command([](redisReply*) {}, {"HSET", side->links->keys.node_conns_prefix() + side->node_id, id, user});
  });
}

void RedisPresence::user_disconnected(const std::string& user, const std::string& connection_id) {
  io_->post([this, user, connection_id] {
    IoSide* side = io_side_.get();
    if (!side->users.remove(user, connection_id)) return;
    if (!side->cmd_up()) return;  // register_users drops it when the link is back
    side->command([](redisReply*) {}, {"HDEL", side->links->keys.user_prefix() + user, connection_id});
    side->command([](redisReply*) {}, {"HDEL", side->links->keys.node_conns_prefix() + side->node_id, connection_id});
  });
}

void RedisPresence::user_connections(const std::string& user, UsersDone done) {
  io_->post([this, user, done = std::move(done)] {
    IoSide* side = io_side_.get();
    auto give = [side, done](bool shared, std::vector<UserConnection> v) {
      side->deliver([done, shared, v = std::move(v)]() mutable { done(shared, std::move(v)); });
    };
    if (!side->cmd_up()) return give(false, {});
    const std::int64_t cutoff = wall_ms() - kNodeTtlMs;  // as nodes() reads the registry
    side->command(
        [give](redisReply* r) {
          auto list = redis::parse_user_connections(r);
          if (!list) return give(false, {});
          give(true, std::move(*list));
        },
        {"EVAL", redis::kUserConnectionsScript, "2", side->links->keys.user_prefix() + user,
         side->links->keys.nodes(), std::to_string(cutoff), side->links->keys.node_conns_prefix()});
  });
}

void RedisPresence::disconnect_user(const std::string& user, CarryDone done) {
  io_->post([this, user, done = std::move(done)] {
    IoSide* side = io_side_.get();
    auto give = [side, done](bool carried) { side->deliver([done, carried] { done(carried); }); };
    if (!side->up()) return give(false);  // this node's own subscriber must hear it too
    side->command([give](redisReply* r) { give(r && r->type == REDIS_REPLY_INTEGER); },
                  {"PUBLISH", side->links->keys.control_topic(), redis::disconnect_message(user)});
  });
}

}  // namespace rtpush
