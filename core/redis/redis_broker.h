// RedisBroker: channels shared by every node on one Redis. Publish appends to
// the channel's Stream and announces it on pub/sub in one Lua script; a node
// listens only to channels it has local subscribers for; `since` replays from
// the Stream. All Redis I/O runs on the IoThread (hiredis async + libev);
// results reach the service thread through IoThread::deliver().
//
// Reconnects back off exponentially with jitter. After a reconnect every
// watched channel is backfilled from the last id this node delivered, so
// subscribers miss nothing and need not reconnect. See redis_scripts.h for
// keys and scripts.
//
// The links are shared with RedisPresence (redis_presence.h), which keeps
// the node registry and the users' connections on them (RedisLinks::Tenant).

#pragma once
#include <memory>
#include <optional>
#include <string>

#include "broker.h"
#include "io_thread.h"
#include "logger.h"
#include "redis_address.h"
#include "redis_links.h"
#include "redis_topology_state.h"

namespace rtpush {

// redis-wait-replicas and redis-wait-timeout-ms (replica_wait.h).
struct RedisWaitReplicas {
  int replicas = 0, timeout_ms = 500;
};

class RedisBroker final : public Broker {
 public:
  // history_ttl_secs: the channel's keys expire this long after its last
  // publish (0: never); the same value on every node.
  // `persist`: this node has PostgreSQL, with these pg-backlog-rows and
  // pg-backlog-bytes: its publishes switch persistence on themselves when
  // Redis forgot it (restart, FLUSHALL), and so does its every heartbeat,
  // so that no acknowledged publish skips the hand-off (redis_scripts.h).
  // `log`: outages (once, with hiredis's errstr) and recoveries.
  // history_channel_bytes: the payload bytes one channel's stream keeps.
  struct PersistCaps {
    std::size_t rows, bytes;
  };
  using WaitReplicas = RedisWaitReplicas;
  // A Sentinel URL: every link follows the master (redis_follow.h,
  // master_follower.h).
  RedisBroker(const RedisUrl& url, std::string node_id, std::size_t history_size, unsigned history_ttl_secs,
              IoThread* io, Logger log = Logger::to_stderr(), std::optional<PersistCaps> persist = std::nullopt,
              std::size_t history_channel_bytes = 67108864, WaitReplicas wait = {});
  // Lets the links' tenant say its last words (RedisPresence drops this
  // node's users' registrations: a short blocking command), closes the
  // connections on the I/O thread, waits.
  ~RedisBroker() override;

  void set_listener(BrokerListener* listener) override { listener_ = listener; }
  using Broker::publish;
  void publish(const std::string& channel, Payload payload, std::string user, PublishDone done) override;
  // Pages of at most `page_bytes`, read as the replay asks (read_history).
  void history(const std::string& channel, std::optional<StreamId> since, std::size_t page_bytes,
               HistoryDone done) override;
  void read_history(const std::string& channel, StreamId after, std::size_t page_bytes, PageDone done) override;
  void watch(const std::string& channel, bool on) override;
  BackendState state() const override;
  const RedisTopologyState* redis_topology() const override;

  // The links, for their tenant (RedisPresence) to attach to and use: on
  // the I/O thread only, while this broker lives.
  RedisLinks& links();

  struct IoSide;  // the I/O thread's side: the links, the channels' state

 private:
  IoThread* io_;
  BrokerListener* listener_ = nullptr;  // service thread
  std::unique_ptr<IoSide> io_side_;     // used on the I/O thread only (but for its atomics)
};

}  // namespace rtpush
