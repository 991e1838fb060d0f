// Server-Sent Events in the core (SPEC section 9): the request's channel
// and resume point (Last-Event-ID over since), admission (origin, token,
// auth required, namespace rules) as HTTP statuses, and a listener that is
// replayed, fanned out to with one shared frame, pinged and never timed out.
#include <cstring>
#include <string>

#include "cmocka_cpp.h"
#include "node_fixture.h"
#include "sse_frame.h"

using namespace rtpush;

namespace {

using World = MemoryNode;

SseRequest get(const std::string& path) {
  SseRequest r;
  r.path = path;
  return r;
}

// The events queued to a listener, as text.
std::vector<std::string> events(Session* s) {
  std::vector<std::string> out;
  while (!s->queue().empty()) {
    out.emplace_back(s->queue().front()->view());
    s->queue().pop();
  }
  return out;
}

bool starts(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

}  // namespace

static void target_channel_and_resume_point(void**) {
  SseTarget t = parse_sse_target(get("sse/news"));
  assert_int_equal(t.http_status, 0);
  assert_string_equal(t.channel.c_str(), "news");
  assert_false(t.since.has_value());

  SseRequest r = get("/sse/chat:room1");
  r.since = "5-1";
  t = parse_sse_target(r);
  assert_int_equal(t.http_status, 0);
  assert_true(*t.since == (StreamId{5, 1}));

  // EventSource reconnects to the same URL (its own since still there) and
  // adds Last-Event-ID: the header is newer.
  r.last_event_id = "9-0";
  t = parse_sse_target(r);
  assert_true(*t.since == (StreamId{9, 0}));
}

static void target_refusals_are_400(void**) {
  for (const char* bad : {"sse/", "sse/a b", "sse/a\x01", "ssex/news", "health"})
    assert_int_equal(parse_sse_target(get(bad)).http_status, 400);
  SseRequest r = get("sse/news");
  r.since = "yesterday";
  assert_int_equal(parse_sse_target(r).http_status, 400);
  r.since = "1-0";
  r.last_event_id = "1-0-0";
  const SseTarget t = parse_sse_target(r);
  assert_int_equal(t.http_status, 400);
  assert_non_null(strstr(t.reason.c_str(), "Last-Event-ID"));
}

static void admission_statuses(void**) {
  World w;
  auth::AuthSettings a;
  a.rules.namespaces["private"] = auth::NamespaceRules{auth::Rule::none, auth::Rule::none};
  a.rules.namespaces["members"] = auth::NamespaceRules{auth::Rule::authenticated, auth::Rule::none};
  a.allowed_origins = {"https://app.example.com"};
  w.node->set_auth(std::move(a));
  assert_int_equal(w.node->admit_sse(get("sse/news")).http_status, 0);
  assert_int_equal(w.node->admit_sse(get("sse/private:x")).http_status, 403);
  assert_int_equal(w.node->admit_sse(get("sse/members:x")).http_status, 401);  // a token would open it
  assert_int_equal(w.node->admit_sse(get("sse/a b")).http_status, 400);
  SseRequest r = get("sse/news");
  r.origin = "https://evil.example";
  assert_int_equal(w.node->admit_sse(r).http_status, 403);
  r.origin = "https://app.example.com";
  assert_int_equal(w.node->admit_sse(r).http_status, 0);
  r.token = "not-a-jwt";  // no key configured: no token can be accepted
  assert_int_equal(w.node->admit_sse(r).http_status, 401);
  assert_non_null(strstr(w.node->reports().metrics_text().c_str(), "rtpush_requests_refused_total{code=\"FORBIDDEN\"} 2"));
}

static void auth_required_needs_the_token_in_the_request(void**) {
  World w;
  auth::AuthSettings a;
  a.required = true;
  w.node->set_auth(std::move(a));
  assert_int_equal(w.node->admit_sse(get("sse/news")).http_status, 401);
}

static void listener_is_replayed_then_live(void**) {
  World w;
  FakeConnection pc, lc;
  Session* pub = open_session(*w.node, &pc);
  const std::string id1 = publish_id(*w.node, pub, "news", "1");
  const std::string id2 = publish_id(*w.node, pub, "news", "2");
  SseRequest r = get("sse/news");
  r.last_event_id = id1;
  Session* s = w.node->open_sse(&lc, w.node->admit_sse(r));
  assert_int_equal(static_cast<int>(s->encoding()), static_cast<int>(Encoding::Sse));
  std::vector<std::string> got = events(s);
  assert_int_equal(got.size(), 2);  // no connection_established: the stream starts with subscribed
  assert_true(starts(got[0], "event: subscribed\ndata: {\"type\":\"subscribed\",\"channel\":\"news\""));
  assert_non_null(strstr(got[0].c_str(), "\"recovered\":true"));
  assert_true(starts(got[1], "id: " + id2 + "\nevent: message\ndata: {\"type\":\"message\""));
  const std::string id3 = publish_id(*w.node, pub, "news", "3");
  got = events(s);
  assert_int_equal(got.size(), 1);
  assert_true(starts(got[0], "id: " + id3 + "\nevent: message\n"));
  assert_non_null(strstr(w.node->reports().metrics_text().c_str(), "rtpush_sse_connections_active 1"));
  w.node->close(s);
}

static void fan_out_shares_one_sse_frame(void**) {
  World w;
  FakeConnection pc, a, b;
  Session* pub = open_session(*w.node, &pc);
  Session* s1 = w.node->open_sse(&a, w.node->admit_sse(get("sse/news")));
  Session* s2 = w.node->open_sse(&b, w.node->admit_sse(get("sse/news")));
  events(s1);
  events(s2);
  publish_id(*w.node, pub, "news", "{\"x\":1}");
  assert_int_equal(s1->queue().size(), 1);
  assert_ptr_equal(s1->queue().front().get(), s2->queue().front().get());
}

static void slow_listener_closed_at_the_bound(void**) {
  World w(OptionList{{"send-queue-bytes", "1024"}});
  FakeConnection pc, lc;
  Session* pub = open_session(*w.node, &pc);
  Session* s = w.node->open_sse(&lc, w.node->admit_sse(get("sse/news")));
  for (int i = 0; i < 40 && !s->closing(); ++i) publish_id(*w.node, pub, "news", "\"" + std::string(100, 'x') + "\"");
  assert_true(s->closing());
  assert_int_equal(lc.closes, 1);
  assert_non_null(strstr(w.node->reports().metrics_text().c_str(), "rtpush_slow_consumers_total 1"));
}

static void heartbeat_timeout_spares_listeners(void**) {
  World w(OptionList{{"heartbeat-secs", "1"}, {"heartbeat-timeout-secs", "2"}});
  FakeConnection lc;
  Session* s = w.node->open_sse(&lc, w.node->admit_sse(get("sse/news")));
  events(s);
  w.clocks.steady += 1500;
  w.node->tick();
  assert_true(s->ping_due());  // the writer sends `: ping`
  s->ping_sent();
  w.clocks.steady += 60'000;
  w.node->tick();
  assert_false(s->closing());
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(target_channel_and_resume_point),
      cmocka_unit_test(target_refusals_are_400),
      cmocka_unit_test(admission_statuses),
      cmocka_unit_test(auth_required_needs_the_token_in_the_request),
      cmocka_unit_test(listener_is_replayed_then_live),
      cmocka_unit_test(fan_out_shares_one_sse_frame),
      cmocka_unit_test(slow_listener_closed_at_the_bound),
      cmocka_unit_test(heartbeat_timeout_spares_listeners),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
