// The HTTP API of spec section 5: health, metrics, nodes, publish/<channel>.
#include <algorithm>
#include <cstdio>
#include <string>

#include "json_codec.h"
#include "json_text.h"
#include "payload_size.h"
#include "node.h"

namespace rtpush {

namespace {

HttpResponse json_error(int status, std::string_view message) {
  HttpResponse r;
  r.status = status;
  r.body = "{\"error\":";
  json_append_string(&r.body, message);
  r.body += "}";
  return r;
}

std::string seconds_text(double t) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", t);
  return buf;
}

}  // namespace

HttpResponse Node::http_health() const {
  const BackendState redis = broker_->state();
  const BackendState postgres = store_ ? store_->state() : BackendState::Off;
  const bool degraded = redis == BackendState::Down || postgres == BackendState::Down;
  HttpResponse r;
  r.status = degraded ? 503 : 200;
  r.body = degraded ? "{\"status\":\"degraded\",\"node\":" : "{\"status\":\"healthy\",\"node\":";
  json_append_string(&r.body, options_.node_id);
  r.body += ",\"connections\":" + std::to_string(sessions_.size());
  r.body += std::string(",\"redis\":\"") + backend_state_name(redis) + "\"";
  r.body += std::string(",\"postgres\":\"") + backend_state_name(postgres) + "\"}";
  return r;
}

void Node::http_nodes(HttpRespond respond) {
  // Every live node from the broker's registry (this node's own entry with
  // its live count); on the embedded broker, or with Redis down, just this one.
  broker_->nodes([this, respond](std::vector<NodeInfo> nodes) {
    auto self = std::find_if(nodes.begin(), nodes.end(), [&](const NodeInfo& n) { return n.node == options_.node_id; });
    if (self == nodes.end()) nodes.push_back(NodeInfo{options_.node_id, 0, 0});
    self = std::find_if(nodes.begin(), nodes.end(), [&](const NodeInfo& n) { return n.node == options_.node_id; });
    self->connections = sessions_.size();
    self->last_seen = now_seconds();
    HttpResponse r;
    r.body = "{\"nodes\":[";
    for (std::size_t i = 0; i < nodes.size(); ++i) {
      if (i) r.body += ",";
      r.body += "{\"node\":";
      json_append_string(&r.body, nodes[i].node);
      r.body += ",\"connections\":" + std::to_string(nodes[i].connections);
      r.body += ",\"last_seen\":" + seconds_text(nodes[i].last_seen) + "}";
    }
    r.body += "]}";
    respond(std::move(r));
  });
}

HttpResponse Node::http_metrics() const {
  Gauges g;
  g.connections_active = sessions_.size();
  g.channels_active = hub_.channel_count();
  for (const auto& [serial, s] : sessions_) g.send_queue_bytes += s->queue().bytes();
  if (const std::optional<HistoryStats> h = broker_->history_stats()) {
    g.has_history = true;
    g.history_bytes = h->bytes;
    g.history_channels = h->channels;
  }
  g.replay_bytes = budget_.held();
  g.replays_waiting = budget_.waiting();
  HttpResponse r;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  r.body = metrics_.render(options_.node_id, g);
  if (store_) {
    const StoreStats st = store_->stats();
    char buf[1280];
    std::snprintf(buf, sizeof buf,
                  "# HELP rtpush_pg_up PostgreSQL reachable (1) or not (0).\n# TYPE rtpush_pg_up gauge\nrtpush_pg_up %d\n"
                  "# HELP rtpush_pg_rows_written_total Rows committed to rtpush_messages.\n# TYPE rtpush_pg_rows_written_total counter\nrtpush_pg_rows_written_total %llu\n"
                  "# HELP rtpush_pg_batches_total Batches committed.\n# TYPE rtpush_pg_batches_total counter\nrtpush_pg_batches_total %llu\n"
                  "# HELP rtpush_pg_write_errors_total Batch writes that failed (and were retried).\n# TYPE rtpush_pg_write_errors_total counter\nrtpush_pg_write_errors_total %llu\n"
                  "# HELP rtpush_pg_backlog_rows Rows accepted, not yet committed.\n# TYPE rtpush_pg_backlog_rows gauge\nrtpush_pg_backlog_rows %llu\n"
                  "# HELP rtpush_pg_lag_seconds Age of the oldest row not yet committed.\n# TYPE rtpush_pg_lag_seconds gauge\nrtpush_pg_lag_seconds %.3f\n"
                  "# HELP rtpush_pg_dead_letters_total Rows PostgreSQL refused, written to rtpush_dead_letters.\n# TYPE rtpush_pg_dead_letters_total counter\nrtpush_pg_dead_letters_total %llu\n",
                  store_->state() == BackendState::Up ? 1 : 0, static_cast<unsigned long long>(st.rows_written),
                  static_cast<unsigned long long>(st.batches), static_cast<unsigned long long>(st.write_errors),
                  static_cast<unsigned long long>(st.backlog), st.lag_seconds,
                  static_cast<unsigned long long>(st.dead_letters));
    r.body += buf;
    r.body += "# HELP rtpush_pg_batch_rows Rows per committed batch.\n# TYPE rtpush_pg_batch_rows histogram\n";
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < st.batch_buckets.size(); ++i) {
      cumulative += st.batch_buckets[i];
      const std::string le = i < kBatchBuckets.size() ? std::to_string(kBatchBuckets[i]) : "+Inf";
      r.body += "rtpush_pg_batch_rows_bucket{le=\"" + le + "\"} " + std::to_string(cumulative) + "\n";
    }
    r.body += "rtpush_pg_batch_rows_sum " + std::to_string(st.rows_written) + "\n";
    r.body += "rtpush_pg_batch_rows_count " + std::to_string(st.batches) + "\n";
    r.body += "# HELP rtpush_pg_replay_rows_total Messages read back from PostgreSQL for replays past the hot history.\n"
              "# TYPE rtpush_pg_replay_rows_total counter\nrtpush_pg_replay_rows_total " +
              std::to_string(metrics_.archive_rows) + "\n";
  }
  return r;
}

void Node::http_publish(const HttpRequest& req, std::string_view channel, HttpRespond respond) {
  if (req.body_too_large || req.body.size() > options_.max_message_bytes) {
    respond(json_error(413, "body is larger than max-message-bytes (" + std::to_string(options_.max_message_bytes) + ")"));
    return;
  }
  if (!valid_channel(channel)) {
    respond(json_error(400, kInvalidChannelMessage));
    return;
  }
  Payload payload;
  if (const char* why = json_strict(req.body, &payload.bytes)) {
    respond(json_error(400, std::string("body is not valid JSON: ") + why));
    return;
  }
  if (const char* form = payload_oversize(payload, options_.max_message_bytes)) {
    respond(json_error(413, oversize_reason(form, options_.max_message_bytes)));
    return;
  }
  if (std::string full = backlog_full(); !full.empty()) {
    ++metrics_.publish_failed;
    respond(json_error(503, full));
    return;
  }
  broker_->publish(std::string(channel), std::move(payload), [this, respond](const PublishResult& r) {
    if (!r.ok) {
      ++metrics_.publish_failed;
      respond(json_error(503, r.reason.empty() ? "broker unavailable" : r.reason));
      return;
    }
    ++metrics_.published_http;
    accepted(*r.message);
    HttpResponse ok;
    ok.body = "{\"channel\":";
    json_append_string(&ok.body, r.message->channel);
    ok.body += ",\"id\":\"" + r.message->id_text + "\"}";
    respond(std::move(ok));
  });
}

void Node::handle_http(const HttpRequest& req, HttpRespond respond) {
  ++metrics_.http_requests;
  std::string_view path = req.path;
  while (!path.empty() && path.front() == '/') path.remove_prefix(1);
  const bool get = req.method == "GET" || req.method == "HEAD";
  constexpr std::string_view kPublish = "publish/";

  if (path == "health" || path == "metrics" || path == "nodes") {
    if (!get) return respond(json_error(405, "use GET"));
    if (path == "health") return respond(http_health());
    if (path == "metrics") return respond(http_metrics());
    return http_nodes(std::move(respond));
  }
  if (path.substr(0, kPublish.size()) == kPublish || path == "publish") {
    if (req.method != "POST") return respond(json_error(405, "use POST"));
    return http_publish(req, path.size() > kPublish.size() ? path.substr(kPublish.size()) : std::string_view(), std::move(respond));
  }
  respond(json_error(404, "no such endpoint; try health, metrics, nodes or publish/<channel>"));
}

}  // namespace rtpush
