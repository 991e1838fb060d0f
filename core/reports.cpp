#include "reports.h"

#include <optional>

#include "process_stats.h"
#include "redis/redis_topology_state.h"

namespace rtpush {

Reports::Health Reports::health() const {
  Health h;
  h.redis = broker_.state();
  if (const RedisTopologyState* topology = broker_.redis_topology()) {
    h.redis_shards_down = topology->down();
    if (!h.redis_shards_down.empty()) h.redis = BackendState::Down;
  }
  h.postgres = persistence_ ? persistence_->state() : BackendState::Off;
  h.connections = sessions_.size();
  return h;
}

std::string Reports::metrics_text() const {
  Gauges g;
  g.connections_active = sessions_.size();
  g.channels_active = hub_.channel_count();
  for (const auto& [serial, s] : sessions_.all()) {
    g.send_queue_bytes += s->queue().bytes();
    if (s->encoding() == Encoding::Sse) ++g.sse_connections_active;
  }
  if (const std::optional<HistoryStats> h = broker_.history_stats()) {
    g.has_history = true;
    g.history_bytes = h->bytes;
    g.history_channels = h->channels;
  }
  g.replay_bytes = replay_budget_.held();
  g.replays_waiting = replay_budget_.waiting();
  StoreStats pg;
  if (persistence_) {
    pg = persistence_->stats();
    g.pg = &pg;
    g.pg_up = persistence_->state() == BackendState::Up;
  }
  g.redis = broker_.redis_topology();
  const std::optional<ProcessStats> process = read_process_stats();
  if (process) g.process = &*process;
  return metrics_.render(options_.node_id, g);
}

}  // namespace rtpush
