// Reports: what a node tells its operator over the HTTP API: GET health (the
// backends' states and the connection count) and GET metrics (the counters
// of Metrics with the gauges read here, rendered by metrics.cpp). It reads
// the other parts and changes nothing.
//
// Service thread only.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "broker.h"
#include "hub.h"
#include "metrics.h"
#include "options.h"
#include "persistence.h"
#include "replay_budget.h"
#include "session_table.h"

namespace rtpush {

class Reports {
 public:
  // Holds references: the Node's members, which outlive it. `persistence`
  // may be null.
  Reports(const Options& options, Broker& broker, const Persistence* persistence, const SessionTable& sessions,
          const Hub& hub, const ReplayBudget& replay_budget, const Metrics& metrics)
      : options_(options),
        broker_(broker),
        persistence_(persistence),
        sessions_(sessions),
        hub_(hub),
        replay_budget_(replay_budget),
        metrics_(metrics) {}
  Reports(const Reports&) = delete;
  Reports& operator=(const Reports&) = delete;

  struct Health {
    // Down while the broker's link is down or any Redis shard has no
    // reachable master (SPEC section 12).
    BackendState redis = BackendState::Off;
    std::vector<std::string> redis_shards_down;  // their labels ("0", "0-5460"), in the shards' order
    BackendState postgres = BackendState::Off;
    std::size_t connections = 0;
  };
  Health health() const;
  // The Prometheus text of GET /metrics.
  std::string metrics_text() const;

 private:
  const Options& options_;
  Broker& broker_;  // history_stats() is not const: Redis keeps what it last read
  const Persistence* persistence_;
  const SessionTable& sessions_;
  const Hub& hub_;
  const ReplayBudget& replay_budget_;
  const Metrics& metrics_;
};

}  // namespace rtpush
