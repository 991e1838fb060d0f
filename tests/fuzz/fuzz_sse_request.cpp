// libFuzzer target: a GET sse/<channel> as the core judges it
// (Access::admit_sse, parse_sse_target) and, when admitted, the listener it
// opens (Node::open_sse: replay, subscribed event), through a whole Node on
// the embedded broker with a channels-file rule set and allowed-origins.
// Input: a selector byte (which of the optional fields are present), then
// five length-prefixed fields (path, since, Last-Event-ID, token, Origin;
// one length byte each, a missing field empty). Every event the listener is sent must be one
// well-formed event whose data line is JSON.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "fuzz_field.h"
#include "fuzz_node.h"
#include "fuzz_sse_event.h"
#include "node.h"

using namespace rtpush;

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

std::unique_ptr<Node> ruled_node() {
  std::unique_ptr<Node> node = fuzz::small_node();
  auth::AuthSettings settings;
  settings.rules.namespaces["private"] = auth::NamespaceRules{auth::Rule::none, auth::Rule::none};
  settings.allowed_origins = {"https://app.example.com"};
  node->set_auth(std::move(settings));
  return node;
}

void check_event(std::string_view e) {
  if (e == ": ping\n\n") return;
  check(fuzz::well_formed_sse_event(e));
}

}  // namespace

using fuzz::field;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static std::unique_ptr<Node> node = ruled_node();
  static fuzz::NullConnection conn;
  if (size == 0) return 0;
  const std::uint8_t* p = data;
  const std::uint8_t* end = data + size;
  const std::uint8_t sel = *p++;
  SseRequest req;
  req.path = field(p, end);
  std::string since = field(p, end), last = field(p, end), token = field(p, end), origin = field(p, end);
  if (sel & 1) req.since = since;
  if (sel & 2) req.last_event_id = last;
  if (sel & 4) req.token = token;
  if (sel & 8) req.origin = origin;
  const SseTarget t = parse_sse_target(req);
  check(t.http_status == 0 || t.http_status == 400);
  check(t.http_status != 0 || valid_channel(t.channel));
  SseAdmission a = node->admit_sse(req);
  check(a.http_status == 0 || a.http_status == 400 || a.http_status == 401 || a.http_status == 403);
  if (a.http_status) return 0;
  Session* s = node->open_sse(&conn, std::move(a));
  check(s->encoding() == Encoding::Sse);
  while (!s->queue().empty()) {
    check_event(s->queue().front()->view());
    s->queue().pop();
  }
  node->close(s);
  return 0;
}
