// libFuzzer target: an HTTP publish body (POST publish/<channel>) through a
// whole Node on the embedded broker, with a subscriber of each encoding, so
// the body is validated, published, fanned out and encoded three ways. The
// first input byte gives the length of the path after "publish/" (the
// channel, as the client spells it); that many bytes follow, then the body.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "http_api.h"
#include "fuzz_node.h"
#include "node.h"

using namespace rtpush;

namespace {
struct World {
  fuzz::NullConnection conn;
  std::unique_ptr<Node> node = fuzz::small_node();
  Session* subs[3] = {};
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static World w;
  if (size == 0) return 0;
  // {"type":"subscribe","channel":"c"} in JSON, MessagePack, Protocol Buffers.
  static const std::string kSubscribe[] = {
      R"({"type":"subscribe","channel":"c"})",
      std::string("\x82\xa4type\xa9subscribe\xa7" "channel\xa1" "c"),
      std::string("\x0a\x09subscribe\x12\x01" "c"),
  };
  for (int e = 0; e < 3; ++e) {  // fresh sessions every run: memory stays flat
    if (w.subs[e]) w.node->close(w.subs[e]);
    w.subs[e] = w.node->open(&w.conn, static_cast<Encoding>(e));
    w.node->receive(w.subs[e], kSubscribe[e], true, true, e != 0);
  }
  const std::size_t path_len = std::min<std::size_t>(data[0] % 64, size - 1);
  HttpRequest req;
  req.method = "POST";
  req.path = "publish/" + std::string(reinterpret_cast<const char*>(data + 1), path_len);
  req.body.assign(reinterpret_cast<const char*>(data + 1 + path_len), size - 1 - path_len);
  HttpApi(*w.node).handle(req, [](HttpResponse r) {
    if (r.status < 200 || r.status > 599) __builtin_trap();
  });
  for (Session* s : w.subs)
    while (!s->queue().empty()) s->queue().pop();
  return 0;
}
