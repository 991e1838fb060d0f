// HttpApi: the HTTP API of a node (docs/protocol.md "HTTP API"): GET health,
// metrics and nodes, POST publish/<channel>. It checks and answers requests;
// what it reports and publishes it asks of the Node's public operations.
#pragma once
#include <functional>
#include <string>
#include <string_view>

#include "node.h"

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
};

class HttpApi {
 public:
  // It holds only the node, so it is cheap to make per request: answers that
  // come later keep the node (which outlives them), never the HttpApi.
  explicit HttpApi(Node& node) : node_(node) {}

  // `respond` runs exactly once, maybe later (a broker that answers
  // asynchronously); the caller must tolerate its connection being gone.
  using Respond = std::function<void(HttpResponse)>;
  void handle(const HttpRequest& request, Respond respond);

 private:
  HttpResponse health() const;
  void nodes(Respond respond);
  HttpResponse metrics() const;
  void publish(const HttpRequest& request, std::string_view channel, Respond respond);

  Node& node_;
};

}  // namespace rtpush
