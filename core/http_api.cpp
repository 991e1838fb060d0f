// The HTTP API (http_api.h; docs/protocol.md "HTTP API").
#include "http_api.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <cstdio>
#include <string>
#include <vector>

#include "json_codec.h"
#include "json_text.h"
#include "node.h"
#include "publisher.h"

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

char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  return true;
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

// Paths that need the api key when there is one (SPEC section 8): all but
// health and metrics, which monitoring reads without credentials.
bool needs_api_key(std::string_view path) {
  return path == "nodes" || path == "publish" || starts_with(path, "publish/") || path == "users" ||
         starts_with(path, "users/");
}

HttpResponse unauthorized(std::string_view why) { return http_error(401, why); }

}  // namespace

HttpResponse http_error(int status, std::string_view message) {
  HttpResponse r = json_error(status, message);
  if (status == 401) r.headers.emplace_back("WWW-Authenticate", "Bearer");
  return r;
}

bool bearer_matches(std::string_view authorization, std::string_view key) {
  constexpr std::string_view kScheme = "bearer ";
  if (key.empty() || authorization.size() <= kScheme.size() ||
      !iequals(authorization.substr(0, kScheme.size()), kScheme))
    return false;
  const std::string_view given = authorization.substr(kScheme.size());
  // Digests of both, compared in constant time: neither the position of the
  // first differing byte nor the key's length shows in the timing.
  unsigned char a[SHA256_DIGEST_LENGTH], b[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(given.data()), given.size(), a);
  SHA256(reinterpret_cast<const unsigned char*>(key.data()), key.size(), b);
  return CRYPTO_memcmp(a, b, sizeof a) == 0;
}

HttpApi::HttpApi(Node& node)
    : node_(node),
      access_(node.access()),
      publisher_(node.publisher()),
      reports_(node.reports()),
      presence_(node.presence()) {}

HttpResponse HttpApi::health() const {
  const Reports::Health h = reports_.health();
  const bool degraded = h.redis == BackendState::Down || h.postgres == BackendState::Down;
  HttpResponse r;
  r.status = degraded ? 503 : 200;
  r.body = degraded ? "{\"status\":\"degraded\",\"node\":" : "{\"status\":\"healthy\",\"node\":";
  json_append_string(&r.body, node_.node_id());
  r.body += ",\"connections\":" + std::to_string(h.connections);
  r.body += std::string(",\"redis\":\"") + backend_state_name(h.redis) + "\"";
  r.body += std::string(",\"postgres\":\"") + backend_state_name(h.postgres) + "\"";
  // Only while some are down, so a healthy answer stays SPEC section 5's.
  if (!h.redis_shards_down.empty()) {
    r.body += ",\"redis_shards_down\":[";
    for (std::size_t i = 0; i < h.redis_shards_down.size(); ++i) {
      if (i) r.body += ",";
      json_append_string(&r.body, h.redis_shards_down[i]);
    }
    r.body += "]";
  }
  r.body += "}";
  return r;
}

void HttpApi::nodes(Respond respond) {
  presence_.nodes([respond = std::move(respond)](std::vector<NodeInfo> nodes) {
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
  r.body = reports_.metrics_text();
  return r;
}

void HttpApi::publish(const HttpRequest& req, std::string_view channel, Respond respond) {
  // The transport's bound on the body, before anything is read of it (as a
  // WebSocket frame's is); the rest is the Publisher's.
  const std::size_t max_bytes = node_.options().max_message_bytes;
  if (req.body_too_large || req.body.size() > max_bytes) {
    respond(json_error(413, "body is larger than max-message-bytes (" + std::to_string(max_bytes) + ")"));
    return;
  }
  PublishRequest p;
  p.channel = std::string(channel);
  p.json_body = &req.body;
  publisher_.publish(std::move(p), [respond = std::move(respond)](const PublishOutcome& o) {
    switch (o.status) {
      case PublishStatus::Published: {
        HttpResponse ok;
        ok.body = "{\"channel\":";
        json_append_string(&ok.body, o.published->channel);
        ok.body += ",\"id\":\"" + o.published->id_text + "\"}";
        return respond(std::move(ok));
      }
      case PublishStatus::InvalidChannel:
      case PublishStatus::InvalidJson:
        return respond(json_error(400, o.message));
      case PublishStatus::TooLarge: return respond(json_error(413, o.message));
      case PublishStatus::Forbidden:    // a connection's refusals: not the HTTP API's
      case PublishStatus::RateLimited:
      case PublishStatus::Unavailable:
        return respond(json_error(503, o.message.empty() ? "broker unavailable" : o.message));
    }
  });
}

// users/<user> (GET) and users/<user>/disconnect (POST); `rest` is what
// follows "users/". A user id ending in "/disconnect" can only be listed
// through its connections' own means: the suffix always names the action.
void HttpApi::users(std::string_view rest, const HttpRequest& req, Respond respond) {
  constexpr std::string_view kDisconnect = "/disconnect";
  const bool disconnect =
      rest.size() >= kDisconnect.size() && rest.substr(rest.size() - kDisconnect.size()) == kDisconnect;
  const std::string user(disconnect ? rest.substr(0, rest.size() - kDisconnect.size()) : rest);
  if (user.empty()) return respond(json_error(400, "no user: use users/<user> or users/<user>/disconnect"));
  if (disconnect) {
    if (req.method != "POST") return respond(json_error(405, "use POST"));
    presence_.disconnect_user(user, [user, respond = std::move(respond)](std::size_t n) {
      HttpResponse r;
      r.body = "{\"user\":";
      json_append_string(&r.body, user);
      r.body += ",\"disconnected\":" + std::to_string(n) + "}";
      respond(std::move(r));
    });
    return;
  }
  if (req.method != "GET" && req.method != "HEAD") return respond(json_error(405, "use GET"));
  presence_.users(user, [user, respond = std::move(respond)](std::vector<UserConnection> list) {
    HttpResponse r;
    r.body = "{\"user\":";
    json_append_string(&r.body, user);
    r.body += ",\"connections\":[";
    for (std::size_t i = 0; i < list.size(); ++i) {
      if (i) r.body += ",";
      r.body += "{\"connection_id\":";
      json_append_string(&r.body, list[i].connection_id);
      r.body += ",\"node\":";
      json_append_string(&r.body, list[i].node);
      r.body += ",\"connected_at\":" + seconds_text(list[i].connected_at) + "}";
    }
    r.body += "]}";
    respond(std::move(r));
  });
}

void HttpApi::handle(const HttpRequest& req, Respond respond) {
  node_.count_http_request();
  std::string_view path = req.path;
  while (!path.empty() && path.front() == '/') path.remove_prefix(1);
  const bool get = req.method == "GET" || req.method == "HEAD";
  constexpr std::string_view kPublish = "publish/";
  constexpr std::string_view kUsers = "users/";

  // A browser's request from a page of another origin: refused before
  // anything, so a page cannot use a visitor's browser (or its network
  // position) against the API. Requests without Origin are not browsers'.
  if (req.has_origin && !access_.http_origin_allowed(req.origin))
    return respond(json_error(403, "origin not allowed (allowed-origins)"));
  const std::string& api_key = access_.settings().api_key;
  if (!api_key.empty() && needs_api_key(path)) {
    const bool sent = !req.authorization.empty();
    if (!sent || !bearer_matches(req.authorization, api_key)) {
      access_.count_api_key_refused();
      return respond(sent ? unauthorized("wrong api key, or not Authorization: Bearer <api key>")
                          : unauthorized("this endpoint needs Authorization: Bearer <api key>"));
    }
  }

  if (path == "health" || path == "metrics" || path == "nodes") {
    if (!get) return respond(json_error(405, "use GET"));
    if (path == "health") return respond(health());
    if (path == "metrics") return respond(metrics());
    return nodes(std::move(respond));
  }
  if (starts_with(path, kPublish) || path == "publish") {
    if (req.method != "POST") return respond(json_error(405, "use POST"));
    return publish(req, path.size() > kPublish.size() ? path.substr(kPublish.size()) : std::string_view(), std::move(respond));
  }
  // GET sse/<channel> is a stream, answered by the plugin (sse_stream.h)
  // before it reaches here; any other method is not.
  if (is_sse_path(path)) return respond(json_error(405, "use GET (a Server-Sent Events stream)"));
  if (path == "users" || starts_with(path, kUsers))
    return users(path.size() > kUsers.size() ? path.substr(kUsers.size()) : std::string_view(), req, std::move(respond));
  respond(json_error(404, "no such endpoint; try health, metrics, nodes, publish/<channel>, sse/<channel>, users/<user> "
                          "or users/<user>/disconnect"));
}

}  // namespace rtpush
