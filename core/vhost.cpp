#include "vhost.h"

#include <malloc.h>

#include "memory_broker.h"
#include "pg_fed_persistence.h"
#include "node.h"
#include "pg_persistence.h"
#include "redis_address.h"
#include "redis_broker.h"
#include "redis_presence.h"

namespace rtpush {

std::unique_ptr<Vhost> Vhost::build(const Options& o, int service_threads, std::function<void()> wake,
                                    const MakeLog& make_log, ConfigError* error) {
  if (service_threads > 1) {
    *error = {"", "the context has " + std::to_string(service_threads) +
                      " service threads; rtpush runs on one (\"count-threads\": \"1\")"};
    return nullptr;
  }
  // The identity options' files first: a vhost that cannot read its keys
  // or rules must not start open to everyone.
  std::unique_ptr<auth::AuthSettings> auth = auth::load_auth_settings(o, error);
  if (!auth) return nullptr;
  std::unique_ptr<Vhost> v(new Vhost());
  const Clocks clocks = Clocks::system();
  // Redis and PostgreSQL I/O run on the core's own thread.
  if (!o.redis.empty() || !o.postgres.empty()) v->io_ = std::make_unique<IoThread>(wake);
  const Logger log = make_log(v->io_.get());
  std::unique_ptr<Broker> broker;
  std::unique_ptr<Presence> presence;  // null: the Node's EmbeddedPresence
  if (o.redis.empty()) {
    // history-memory-bytes bounds the node's memory only if freed history
    // goes back to the system. glibc raises its mmap threshold after the
    // first large free, then serves large blocks (payloads, frames) from
    // the heap, where the holes evicted messages leave stay resident (RSS
    // 81 MiB instead of 73 for a 64 MiB budget); a fixed threshold keeps
    // every large block mmapped and unmapped when freed. Process-wide.
    mallopt(M_MMAP_THRESHOLD, static_cast<int>(MemoryBroker::kLargeBlock));
    HistoryLimits limits;
    limits.memory_bytes = o.history_memory_bytes;
    limits.ttl_ms = std::uint64_t{o.history_ttl_secs} * 1000;
    limits.channel_bytes = o.history_channel_bytes;
    broker = std::make_unique<MemoryBroker>(o.history_size, clocks.wall_ms, limits);
  } else {
    // Parsed once, by parse_options.
    if (!o.redis_url) {
      *error = {"redis", "redis: " + o.redis_error};
      return nullptr;
    }
    std::optional<RedisBroker::PersistCaps> persist;
    if (!o.postgres.empty()) persist = RedisBroker::PersistCaps{o.pg_backlog_rows, o.pg_backlog_bytes};
    auto redis_broker = std::make_unique<RedisBroker>(*o.redis_url, o.node_id, o.history_size, o.history_ttl_secs,
                                                      v->io_.get(), log, persist, o.history_channel_bytes,
                                                      RedisBroker::WaitReplicas{static_cast<int>(o.redis_wait_replicas),
                                                                                static_cast<int>(o.redis_wait_timeout_ms)});
    // On the broker's links: the Node destroys it after the broker.
    presence = std::make_unique<RedisPresence>(*redis_broker, o.node_id, v->io_.get(), log);
    broker = std::move(redis_broker);
  }
  std::unique_ptr<Persistence> persistence;
  if (!o.postgres.empty()) {
    if (o.redis_url)
      persistence = std::make_unique<PgFedPersistence>(o.postgres, *o.redis_url, o.node_id, o.pg_batch_size,
                                                       o.pg_flush_ms, o.pg_backlog_rows, o.pg_backlog_bytes, v->io_.get(),
                                                       log);
    else
      persistence =
          std::make_unique<PgDirectPersistence>(o.postgres, o.pg_batch_size, o.pg_flush_ms, v->io_.get(), log);
  }
  v->node_ = std::make_unique<Node>(o, std::move(broker), clocks, std::move(persistence), log, std::move(presence));
  v->node_->set_auth(std::move(*auth));
  return v;
}

TransportPort& Vhost::transport() { return *node_; }
const Options& Vhost::options() const { return node_->options(); }
void Vhost::tick() { node_->tick(); }
void Vhost::expire_auth() { node_->expire_auth(); }
bool Vhost::accepts_tokens() const { return node_->auth().verifier != nullptr; }
void Vhost::handle_http(const HttpRequest& request, HttpApi::Respond respond) {
  HttpApi(*node_).handle(request, std::move(respond));
}
void Vhost::begin_stop() { node_->begin_stop(); }
void Vhost::flush_persistence(double timeout_secs, std::function<void(bool)> done) {
  node_->flush_persistence(timeout_secs, std::move(done));
}
std::uint64_t Vhost::unwritten_rows() const { return node_->unwritten_rows(); }
std::size_t Vhost::connection_count() const { return node_->connection_count(); }

Vhost::~Vhost() {
  node_.reset();  // its persistence and broker close their connections on the I/O thread
  io_.reset();    // then the thread; undrained results are dropped with it
}

}  // namespace rtpush
