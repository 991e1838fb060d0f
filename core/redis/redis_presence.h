// RedisPresence: the node registry and users' connections shared by every
// node on one Redis, on the links of this node's RedisBroker (it is their
// RedisLinks::Tenant; they connect, fail and come back together). Called
// on the service thread; all Redis I/O runs on the IoThread (IoSide) and
// results reach the service thread through IoThread::deliver().
//
// The registry: every heartbeat (RedisBroker's timer, 5 s) writes this node
// into rtpush:nodes with its connection count and prunes nodes silent for
// 30 s, with their users. Users' connections: each registration is written
// to Redis (hashes per user and per node) and kept in a local copy
// (redis_users.h) that is written again after a reconnect, so the registry
// heals; reads skip (and delete) entries of nodes that are no longer live,
// so a crashed node's connections are not reported. A disconnect is a
// PUBLISH on rtpush:control, which every node's subscriber connection
// listens to. A node that is cut off from Redis when it is sent misses it
// (its own users stay connected). See redis_scripts.h for keys and scripts.
//
// Lifetime: it borrows the broker's links, so it is destroyed after the
// broker (whose stop lets it drop this node's registrations first) and is
// not called once the broker is gone.
#pragma once
#include <memory>
#include <string>

#include "io_thread.h"
#include "logger.h"
#include "presence.h"

namespace rtpush {

class RedisBroker;

class RedisPresence final : public Presence {
 public:
  // `broker`: whose links it uses (attached on the I/O thread). `log`: a
  // failed cleanup at stop.
  RedisPresence(RedisBroker& broker, std::string node_id, IoThread* io, Logger log = Logger::to_stderr());
  // Waits for what it posted to the I/O thread (the broker's stop has
  // already said its last words for it).
  ~RedisPresence() override;

  void set_listener(PresenceListener* listener) override { listener_ = listener; }
  void nodes(NodesDone done) override;
  void local_connections(std::size_t n) override;
  void user_connected(const std::string& user, const UserConnection& c) override;
  void user_disconnected(const std::string& user, const std::string& connection_id) override;
  void user_connections(const std::string& user, UsersDone done) override;
  void disconnect_user(const std::string& user, CarryDone done) override;

  struct IoSide;  // the I/O thread's side: the registrations, the registry

 private:
  IoThread* io_;
  PresenceListener* listener_ = nullptr;  // service thread
  std::unique_ptr<IoSide> io_side_;       // used on the I/O thread only (but for its atomics)
};

}  // namespace rtpush
