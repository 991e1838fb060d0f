// RedisLinks: a node's two connections to Redis, one for commands and one
// for pub/sub (a subscribed connection can run nothing but (UN)SUBSCRIBE).
// RedisBroker owns them and their lifecycle: it connects them, drops both
// when either fails, runs the heartbeat timer and frees them at its stop.
// RedisPresence borrows them as their one Tenant, with its own keys,
// scripts and replies. I/O thread only: every member is the I/O side's.
#pragma once
#include <hiredis/hiredis.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "redis_address.h"
#include "redis_keys.h"
#include "redis_link.h"
#include "redis_shards.h"

namespace rtpush {

struct RedisLinks {
  // What the owner tells the links' other user, on the I/O thread.
  class Tenant {
   public:
    virtual ~Tenant() = default;
    // Both links are up (first time, or after an outage): subscribe, write
    // what Redis may have lost.
    virtual void links_up() = 0;
    // Every heartbeat (a few seconds) while the command link is up.
    virtual void heartbeat() = 0;
    // A pub/sub message or (un)subscribe reply on a topic that is not a
    // channel's (RedisBroker's are kLivePrefix + channel).
    virtual void on_push(const std::string& kind, const std::string& topic, const redisReply* payload) = 0;
    // The owner is about to free the links and its loop will not run again:
    // the last (blocking) commands, and nothing more after.
    virtual void closing() = 0;
  };

  explicit RedisLinks(RedisAddress a) : address(std::move(a)) {}

  RedisAddress address;  // one Redis; a Sentinel's links locate theirs (server())
  std::unique_ptr<RedisLink> cmd;  // scripts, reads, registry
  std::unique_ptr<RedisLink> sub;  // pub/sub
  // A Redis Cluster: the links per master instead of cmd and sub (which stay
  // null); commands go to the master of the key they touch first.
  std::unique_ptr<RedisShards> shards;
  RedisKeys keys = RedisKeys::single();  // where each key lives
  Tenant* tenant = nullptr;        // at most one; set on the I/O thread

  // Null while the owner's stop frees them (their callbacks run then, with
  // no reply).
  // (In a cluster: the master of the tenant's keys, {presence}, is reachable;
  // the owner's channels ask their own shard, RedisShards::slot_up().)
  bool up() const { return shards ? shards->slot_up(cluster::key_slot(keys.nodes())) : cmd && sub && cmd->up() && sub->up(); }
  bool cmd_up() const { return shards ? up() : cmd && cmd->up(); }
  // The server the command link is (or was last) connected to.
  const RedisAddress& server() const { return cmd ? cmd->address() : address; }
  // A command on the command link (in a cluster: its key's master); `cb`
  // gets null when there is none.
  void command(RedisLink::Reply cb, const std::vector<std::string>& args) {
    if (shards) return shards->command(RedisShards::slot_of_command(args), args, std::move(cb));
    if (!cmd) return cb(nullptr);
    cmd->command(args, std::move(cb));
  }
  // A regular SUBSCRIBE (in a cluster, where PUBLISH reaches every node: on
  // the link of the master serving the topic's slot).
  void subscribe(const std::string& topic) {
    if (shards) {
      if (RedisLink* s = shards->sub_link(shards->owner(cluster::key_slot(topic))); s && s->up())
        s->push_command({"SUBSCRIBE", topic});
      return;
    }
    if (sub) sub->push_command({"SUBSCRIBE", topic});
  }
  // The server a key lives on, for blocking last words at stop.
  std::optional<RedisAddress> address_of(const std::string& key) const {
    if (shards) return shards->address_of(cluster::key_slot(key));
    return server();
  }
};

}  // namespace rtpush
