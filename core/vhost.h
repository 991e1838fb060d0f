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
#pragma once
#include <functional>
#include <memory>
#include <string>

#include "io_thread.h"
#include "logger.h"
#include "node.h"
#include "options.h"

namespace rtpush {

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
                                      std::string* error);
  ~Vhost();
  Vhost(const Vhost&) = delete;
  Vhost& operator=(const Vhost&) = delete;

  Node& node() { return *node_; }
  // The core's I/O thread, or null (embedded broker, no PostgreSQL).
  IoThread* io() { return io_.get(); }

 private:
  Vhost() = default;
  std::unique_ptr<IoThread> io_;  // declared first: destroyed last
  std::unique_ptr<Node> node_;
};

}  // namespace rtpush
