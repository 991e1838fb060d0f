// The HTTP API (http_api.h; docs/protocol.md "HTTP API").
#include "http_api.h"

#include <cstdio>
#include <string>
#include <vector>

#include "json_codec.h"
#include "json_text.h"
#include "payload_size.h"

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

HttpResponse HttpApi::health() const {
  const Node::Health h = node_.health();
  const bool degraded = h.redis == BackendState::Down || h.postgres == BackendState::Down;
  HttpResponse r;
  r.status = degraded ? 503 : 200;
  r.body = degraded ? "{\"status\":\"degraded\",\"node\":" : "{\"status\":\"healthy\",\"node\":";
  json_append_string(&r.body, node_.node_id());
  r.body += ",\"connections\":" + std::to_string(h.connections);
  r.body += std::string(",\"redis\":\"") + backend_state_name(h.redis) + "\"";
  r.body += std::string(",\"postgres\":\"") + backend_state_name(h.postgres) + "\"}";
  return r;
}

void HttpApi::nodes(Respond respond) {
  node_.nodes([respond = std::move(respond)](std::vector<NodeInfo> nodes) {
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

HttpResponse HttpApi::metrics() const {
  HttpResponse r;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  r.body = node_.metrics_text();
  return r;
}

void HttpApi::publish(const HttpRequest& req, std::string_view channel, Respond respond) {
  const std::size_t max_bytes = node_.options().max_message_bytes;
  if (req.body_too_large || req.body.size() > max_bytes) {
    respond(json_error(413, "body is larger than max-message-bytes (" + std::to_string(max_bytes) + ")"));
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
  if (const char* form = payload_oversize(payload, max_bytes)) {
    respond(json_error(413, oversize_reason(form, max_bytes)));
    return;
  }
  node_.publish_http(std::string(channel), std::move(payload), [respond = std::move(respond)](const PublishResult& r) {
    if (!r.ok) {
      respond(json_error(503, r.reason.empty() ? "broker unavailable" : r.reason));
      return;
    }
    HttpResponse ok;
    ok.body = "{\"channel\":";
    json_append_string(&ok.body, r.message->channel);
    ok.body += ",\"id\":\"" + r.message->id_text + "\"}";
    respond(std::move(ok));
  });
}

void HttpApi::handle(const HttpRequest& req, Respond respond) {
  node_.count_http_request();
  std::string_view path = req.path;
  while (!path.empty() && path.front() == '/') path.remove_prefix(1);
  const bool get = req.method == "GET" || req.method == "HEAD";
  constexpr std::string_view kPublish = "publish/";

  if (path == "health" || path == "metrics" || path == "nodes") {
    if (!get) return respond(json_error(405, "use GET"));
    if (path == "health") return respond(health());
    if (path == "metrics") return respond(metrics());
    return nodes(std::move(respond));
  }
  if (path.substr(0, kPublish.size()) == kPublish || path == "publish") {
    if (req.method != "POST") return respond(json_error(405, "use POST"));
    return publish(req, path.size() > kPublish.size() ? path.substr(kPublish.size()) : std::string_view(), std::move(respond));
  }
  respond(json_error(404, "no such endpoint; try health, metrics, nodes or publish/<channel>"));
}

}  // namespace rtpush
