// libFuzzer target: the HTTP API's guards (allowed-origins, api-key-file)
// and the users endpoints, through a whole Node on the embedded broker with
// an API key and allowed origins set. Input: a method selector byte, then
// three length-prefixed fields (path, Authorization, Origin; one length
// byte each, a missing field empty), the rest is the body. Every header
// value and path reaches the parsers as a client could send it.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "fuzz_field.h"
#include "fuzz_node.h"
#include "http_api.h"
#include "node.h"

using namespace rtpush;

namespace {

std::unique_ptr<Node> guarded_node() {
  std::unique_ptr<Node> node = fuzz::small_node();
  auth::AuthSettings settings;
  settings.api_key = "k3y-for-fuzzing";
  settings.allowed_origins = {"https://app.example.com", "http://localhost:8080"};
  node->set_auth(std::move(settings));
  return node;
}

}  // namespace

using fuzz::field;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static std::unique_ptr<Node> node = guarded_node();
  if (size == 0) return 0;
  static const char* kMethods[] = {"GET", "POST", "HEAD", "PUT"};
  const std::uint8_t* p = data;
  const std::uint8_t* end = data + size;
  HttpRequest req;
  const std::uint8_t sel = *p++;
  req.method = kMethods[sel & 3];
  req.path = field(p, end);
  req.authorization = field(p, end);
  req.has_origin = (sel & 4) != 0;
  req.origin = field(p, end);
  req.body.assign(reinterpret_cast<const char*>(p), static_cast<std::size_t>(end - p));
  HttpApi(*node).handle(req, [](HttpResponse r) {
    if (r.status < 200 || r.status > 599) __builtin_trap();
  });
  return 0;
}
