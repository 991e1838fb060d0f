// Vhost: the core objects of one vhost, assembled from its Options, and
// their order of destruction. The plugin parses lws's options, builds one
// and keeps it; nothing here knows lws.
//
//   embedded broker            MemoryBroker          no I/O thread
//                              EmbeddedPresence
//   redis                      RedisBroker           on the I/O thread
//                              RedisPresence         on the broker's links
//   + postgres, embedded       PgDirectPersistence   on the I/O thread
//   + postgres, with redis     PgFedPersistence      on the I/O thread
//
// Destroyed: the Node (its persistence, then its broker, each closing its
// connections on the I/O thread, then its presence), then the I/O thread.
//
// What the plugin asks of its vhost's core: the connections' door
// (transport(), transport_port.h) and the operator's side below (timers,
// graceful stop, the HTTP API, options); never the Node itself. Service
// thread only, but build() and the destructor.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "http_api.h"
#include "io_thread.h"
#include "logger.h"
#include "options.h"
#include "transport_port.h"

namespace rtpush {

class Node;

class Vhost {
 public:
  // `wake` is how the I/O thread wakes the service thread (lws_cancel_service);
  // safe from any thread. `service_threads`: how many the context runs.
  // `make_log` gives the Logger every object of the vhost logs to, once the
  // I/O thread (or none) is known. Null with *error set when an option
  // cannot be used, or when there is more than one service thread: the core
  // relies on one (frames are reference-counted without atomics, the flush
  // list is thread_local, I/O results come back through one drain).
  using MakeLog = std::function<Logger(IoThread* io)>;
  static std::unique_ptr<Vhost> build(const Options& options, int service_threads, std::function<void()> wake,
                                      const MakeLog& make_log,
                                      ConfigError* error);
  ~Vhost();
  Vhost(const Vhost&) = delete;
  Vhost& operator=(const Vhost&) = delete;

  // The connections' door (the WebSocket and SSE plugins).
  TransportPort& transport();
  const Options& options() const;
  const std::string& node_id() const { return options().node_id; }

  // Timers. tick(): heartbeats, about once a second (Node::tick);
  // expire_auth(): token expiry and the 10 s to authenticate, every few
  // hundred ms on a vhost that accepts_tokens() (without a key nothing can
  // expire).
  void tick();
  void expire_auth();
  bool accepts_tokens() const;

  // One HTTP API request (http_api.h); `respond` runs once, maybe later.
  void handle_http(const HttpRequest& request, HttpApi::Respond respond);

  // Graceful stop (graceful_stop.h; docs/operations.md "Stopping a node"):
  // Node::begin_stop, flush_persistence and unwritten_rows.
  void begin_stop();
  void flush_persistence(double timeout_secs, std::function<void(bool)> done);
  std::uint64_t unwritten_rows() const;
  std::size_t connection_count() const;

  // The composition, for the tests that drive a whole node.
  Node& node() { return *node_; }
  // The core's I/O thread, or null (embedded broker, no PostgreSQL).
  IoThread* io() { return io_.get(); }

 private:
  Vhost() = default;
  std::unique_ptr<IoThread> io_;  // declared first: destroyed last
  std::unique_ptr<Node> node_;
};

}  // namespace rtpush
