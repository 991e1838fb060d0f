#include "metrics.h"

#include <cstdarg>
#include <cstdio>

#include "build_info.h"
#include "persistence.h"
#include "process_stats.h"
#include "redis/redis_topology_state.h"

namespace rtpush {

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
  return out;
}

const char* build_version() { return RTPUSH_BUILD_VERSION; }

const char* auth_failure_name(AuthFailure f) {
  switch (f) {
    case AuthFailure::NoKey: return "no_key";
    case AuthFailure::UserMismatch: return "user_mismatch";
    case AuthFailure::Unauthenticated: return "unauthenticated";
    case AuthFailure::AuthTimeout: return "auth_timeout";
    case AuthFailure::ConnectionExpired: return "connection_expired";
    case AuthFailure::ForeignOrigin: return "origin";
    case AuthFailure::ApiKey: return "api_key";
    case AuthFailure::kCount: break;
  }
  return "unknown";
}

void Histogram::observe(double seconds) {
  std::size_t i = 0;
  while (i < kBounds.size() && seconds > kBounds[i]) ++i;
  ++counts_[i];
  sum_ += seconds;
  ++count_;
}

namespace {

void line(std::string* out, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void line(std::string* out, const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  int n = std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n > 0) out->append(buf, static_cast<std::size_t>(n) < sizeof buf ? n : sizeof buf - 1);
}

void header(std::string* out, const char* name, const char* type, const char* help) {
  line(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void counter(std::string* out, const char* name, const char* help, std::uint64_t v) {
  header(out, name, "counter", help);
  line(out, "%s %llu\n", name, static_cast<unsigned long long>(v));
}

void gauge(std::string* out, const char* name, const char* help, double v) {
  header(out, name, "gauge", help);
  line(out, "%s %.17g\n", name, v);
}

void counter_f(std::string* out, const char* name, const char* help, double v) {
  header(out, name, "counter", help);
  line(out, "%s %.17g\n", name, v);
}

unsigned long long ull(std::uint64_t v) { return static_cast<unsigned long long>(v); }

// The PostgreSQL writer's block: rows, batches, errors, backlog and lag, the
// rows-per-batch histogram (integer bounds, kBatchBuckets), and the rows
// replays read back (`replay_rows`).
void render_pg(std::string* out, const StoreStats& st, bool up, std::uint64_t replay_rows) {
  header(out, "rtpush_pg_up", "gauge", "PostgreSQL reachable (1) or not (0).");
  line(out, "rtpush_pg_up %d\n", up ? 1 : 0);
  counter(out, "rtpush_pg_rows_written_total", "Rows committed to rtpush_messages.", st.rows_written);
  counter(out, "rtpush_pg_batches_total", "Batches committed.", st.batches);
  counter(out, "rtpush_pg_write_errors_total", "Batch writes that failed (and were retried).", st.write_errors);
  header(out, "rtpush_pg_backlog_rows", "gauge", "Rows accepted, not yet committed.");
  line(out, "rtpush_pg_backlog_rows %llu\n", ull(st.backlog));
  header(out, "rtpush_pg_backlog_bytes", "gauge", "Payload bytes of the rows accepted, not yet committed.");
  line(out, "rtpush_pg_backlog_bytes %llu\n", ull(st.backlog_bytes));
  header(out, "rtpush_pg_lag_seconds", "gauge", "Age of the oldest row not yet committed.");
  line(out, "rtpush_pg_lag_seconds %.3f\n", st.lag_seconds);
  counter(out, "rtpush_pg_dead_letters_total", "Rows PostgreSQL refused, written to rtpush_dead_letters.",
          st.dead_letters);
  header(out, "rtpush_pg_batch_rows", "histogram", "Rows per committed batch.");
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < st.batch_buckets.size(); ++i) {
    cumulative += st.batch_buckets[i];
    if (i < kBatchBuckets.size())
      line(out, "rtpush_pg_batch_rows_bucket{le=\"%llu\"} %llu\n", ull(kBatchBuckets[i]), ull(cumulative));
    else
      line(out, "rtpush_pg_batch_rows_bucket{le=\"+Inf\"} %llu\n", ull(cumulative));
  }
  line(out, "rtpush_pg_batch_rows_sum %llu\n", ull(st.rows_written));
  line(out, "rtpush_pg_batch_rows_count %llu\n", ull(st.batches));
  counter(out, "rtpush_pg_replay_rows_total",
          "Messages read back from PostgreSQL for replays past the hot history.", replay_rows);
}

// Prometheus' standard process metrics (the names its own client libraries
// use), so stock dashboards and alerts work on a node.
void render_process(std::string* out, const ProcessStats& p) {
  counter_f(out, "process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", p.cpu_seconds);
  gauge(out, "process_resident_memory_bytes", "Resident memory size in bytes.", p.resident_bytes);
  gauge(out, "process_virtual_memory_bytes", "Virtual memory size in bytes.", p.virtual_bytes);
  gauge(out, "process_open_fds", "Number of open file descriptors.", p.open_fds);
  gauge(out, "process_max_fds", "Maximum number of open file descriptors.", p.max_fds);
  gauge(out, "process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
        p.start_time_seconds);
}

// The Redis block (SPEC section 12): one rtpush_redis_up per shard ("0" for
// one Redis or a Sentinel master, "FIRST-LAST" slots for a Cluster shard),
// the failovers followed, and the redirects by kind, both kinds always (0
// included) so a rate() has a series before the first one.
void render_redis(std::string* out, const RedisTopologyState& redis) {
  header(out, "rtpush_redis_up", "gauge", "Redis shard with a reachable master (1) or not (0), by shard.");
  for (const RedisTopologyState::Shard& s : redis.shards())
    *out += "rtpush_redis_up{shard=\"" + escape_label_value(s.label) + "\"} " + (s.up ? "1\n" : "0\n");
  counter(out, "rtpush_redis_failovers_total", "Redis master changes this node followed.", redis.failovers());
  header(out, "rtpush_redis_redirects_total", "counter", "Redis Cluster redirects followed, by kind.");
  line(out, "rtpush_redis_redirects_total{kind=\"moved\"} %llu\n", ull(redis.moved()));
  line(out, "rtpush_redis_redirects_total{kind=\"ask\"} %llu\n", ull(redis.ask()));
}

}  // namespace

void Histogram::render(std::string* out, const char* name, const char* help) const {
  header(out, name, "histogram", help);
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < kBounds.size(); ++i) {
    cumulative += counts_[i];
    line(out, "%s_bucket{le=\"%g\"} %llu\n", name, kBounds[i], static_cast<unsigned long long>(cumulative));
  }
  cumulative += counts_[kBounds.size()];
  line(out, "%s_bucket{le=\"+Inf\"} %llu\n", name, static_cast<unsigned long long>(cumulative));
  line(out, "%s_sum %.9f\n", name, sum_);
  line(out, "%s_count %llu\n", name, static_cast<unsigned long long>(count_));
}

std::string Metrics::render(const std::string& node, const Gauges& g) const {
  std::string out;
  out.reserve(4096);
  header(&out, "rtpush_node_info", "gauge", "This node's name.");
  out += "rtpush_node_info{node=\"" + escape_label_value(node) + "\"} 1\n";
  header(&out, "rtpush_build_info", "gauge", "This build's version.");
  out += "rtpush_build_info{version=\"" + escape_label_value(build_version()) + "\"} 1\n";
  if (g.redis) render_redis(&out, *g.redis);
  gauge(&out, "rtpush_connections_active", "Open connections: WebSocket and Server-Sent Events.",
        static_cast<double>(g.connections_active));
  gauge(&out, "rtpush_sse_connections_active", "Of rtpush_connections_active, Server-Sent Events listeners.",
        static_cast<double>(g.sse_connections_active));
  counter(&out, "rtpush_connections_total", "WebSocket connections accepted.", connections_total);
  gauge(&out, "rtpush_channels_active", "Channels with local subscribers.", static_cast<double>(g.channels_active));
  gauge(&out, "rtpush_send_queue_bytes", "Bytes queued to all connections, not yet written.",
        static_cast<double>(g.send_queue_bytes));
  if (g.has_history) {
    gauge(&out, "rtpush_history_bytes", "Bytes of history held in memory for replay (bounded by history-memory-bytes).",
          static_cast<double>(g.history_bytes));
    gauge(&out, "rtpush_history_channels", "Channels whose history is held in memory (dropped history-ttl-secs after their last publish).",
          static_cast<double>(g.history_channels));
  }
  gauge(&out, "rtpush_replay_bytes", "Bytes of messages read for replays and not yet queued (at most replay-memory-bytes).",
        static_cast<double>(g.replay_bytes));
  gauge(&out, "rtpush_replays_waiting", "Replays waiting their turn for replay-memory-bytes.",
        static_cast<double>(g.replays_waiting));

  header(&out, "rtpush_messages_received_total", "counter", "Client frames received, by type.");
  static const char* kTypes[] = {"subscribe", "unsubscribe", "publish", "heartbeat", "auth", "invalid"};
  static_assert(std::size(kTypes) == std::tuple_size_v<decltype(received)>);
  for (std::size_t i = 0; i < received.size(); ++i)
    line(&out, "rtpush_messages_received_total{type=\"%s\"} %llu\n", kTypes[i],
         static_cast<unsigned long long>(received[i]));

  counter(&out, "rtpush_messages_delivered_total", "Message frames queued to subscribers (live and replayed).", delivered);
  counter(&out, "rtpush_messages_replayed_total", "Message frames sent from history on subscribe with since.", replayed);
  header(&out, "rtpush_messages_published_total", "counter", "Messages accepted by the broker, by source.");
  line(&out, "rtpush_messages_published_total{source=\"ws\"} %llu\n", static_cast<unsigned long long>(published_ws));
  line(&out, "rtpush_messages_published_total{source=\"http\"} %llu\n", static_cast<unsigned long long>(published_http));
  counter(&out, "rtpush_publish_failures_total", "Publishes the broker refused (UNAVAILABLE, HTTP 503).", publish_failed);
  counter(&out, "rtpush_slow_consumers_total", "Connections closed (1008) because their send queue passed send-queue-bytes.", slow_consumers);

  header(&out, "rtpush_connections_closed_total", "counter", "Connections the server closed, by reason.");
  static const char* kReasons[] = {"heartbeat_timeout", "slow_consumer", "message_too_large", "receive_timeout",
                                   "unauthorized", "receive_rate"};
  static_assert(std::size(kReasons) == static_cast<std::size_t>(CloseReason::kCount));
  for (std::size_t i = 0; i < closed.size(); ++i)
    line(&out, "rtpush_connections_closed_total{reason=\"%s\"} %llu\n", kReasons[i],
         static_cast<unsigned long long>(closed[i]));

  header(&out, "rtpush_errors_total", "counter", "Error frames sent to clients, by code.");
  for (std::size_t i = 0; i < errors.size(); ++i)
    line(&out, "rtpush_errors_total{code=\"%s\"} %llu\n", error_code_name(static_cast<ErrorCode>(i)),
         static_cast<unsigned long long>(errors[i]));

  header(&out, "rtpush_requests_refused_total", "counter", "Client requests refused by a permission or a limit, by code.");
  for (std::size_t i = 0; i < refused.size(); ++i)
    line(&out, "rtpush_requests_refused_total{code=\"%s\"} %llu\n", error_code_name(kRefusedCodes[i]),
         static_cast<unsigned long long>(refused[i]));

  // Every reason from the start, at 0: a dashboard's rate() needs the series
  // before the first failure.
  header(&out, "rtpush_auth_failures_total", "counter",
         "Refused tokens (handshake and auth frame) and connections closed for authentication, by reason.");
  for (std::size_t i = 1; i < tokens_refused.size(); ++i)
    line(&out, "rtpush_auth_failures_total{reason=\"%s\"} %llu\n",
         auth::token_refusal_name(static_cast<auth::TokenRefusal>(i)), ull(tokens_refused[i]));
  for (std::size_t i = 0; i < auth_failed.size(); ++i)
    line(&out, "rtpush_auth_failures_total{reason=\"%s\"} %llu\n", auth_failure_name(static_cast<AuthFailure>(i)),
         ull(auth_failed[i]));

  counter(&out, "rtpush_http_requests_total", "HTTP API requests.", http_requests);
  processing.render(&out, "rtpush_message_processing_seconds", "Time to handle one client frame, decode to done (fan-out included).");
  if (g.pg) render_pg(&out, *g.pg, g.pg_up, archive_rows);
  if (g.process) render_process(&out, *g.process);
  return out;
}

}  // namespace rtpush
