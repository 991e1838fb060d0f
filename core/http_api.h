// HttpApi: the HTTP API of a node (docs/protocol.md "HTTP API"): GET health,
// metrics and nodes, POST publish/<channel>, GET users/<user> and POST
// users/<user>/disconnect, behind allowed-origins and the api key (SPEC
// section 8). It checks and answers requests: publishing through the
// Publisher (publisher.h) and the origin and api key through Access
// (access.h); nodes and users through the node's presence (node_presence.h);
// health and metrics it asks of the Node's reports. Service thread only.
#pragma once
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "access.h"

namespace rtpush {

struct HttpRequest {
  std::string method;         // "GET", "POST", ...
  std::string path;           // relative to the mount, without leading '/'
  std::string body;
  bool body_too_large = false;  // the body passed max-message-bytes (and was cut)
  std::string authorization;    // the Authorization header as sent; empty when absent
  bool has_origin = false;      // an Origin header came (a browser)
  std::string origin;           // its value
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  // Further response headers, name and value, in order (a 401 carries
  // `WWW-Authenticate: Bearer`). The plugin writes each as sent.
  std::vector<std::pair<std::string, std::string>> headers;
};

// An error answer: {"error":MESSAGE}; a 401 carries `WWW-Authenticate:
// Bearer`. The HTTP API's own refusals and the SSE endpoint's (sse_stream.h).
HttpResponse http_error(int status, std::string_view message);

// True when `authorization` (an Authorization header's value) is
// `Bearer <key>`: the scheme in any case, one space, then exactly `key`,
// compared in constant time (of neither's length). `key` must not be empty.
bool bearer_matches(std::string_view authorization, std::string_view key);
class Node;
class NodePresence;
class Publisher;
class Reports;

class HttpApi {
 public:
  // It holds only references to the node and its parts, so it is cheap to
  // make per request: answers that come later keep the node (which
  // outlives them), never the HttpApi.
  explicit HttpApi(Node& node);

  // `respond` runs exactly once, maybe later (a broker that answers
  // asynchronously); the caller must tolerate its connection being gone.
  using Respond = std::function<void(HttpResponse)>;
  void handle(const HttpRequest& request, Respond respond);

 private:
  HttpResponse health() const;
  void nodes(Respond respond);
  HttpResponse metrics() const;
  void publish(const HttpRequest& request, std::string_view channel, Respond respond);
  void users(std::string_view rest, const HttpRequest& request, Respond respond);

  Node& node_;  // the options
  Access& access_;
  Publisher& publisher_;
  const Reports& reports_;
  NodePresence& presence_;  // nodes, users
};

}  // namespace rtpush
