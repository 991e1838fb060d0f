// Who a connection is (SPEC section 8) through the node's public face: the
// handshake (origin, token), the auth frame (authenticate, refresh, another
// user, refused), `auth required` and its 10 s, expiry, and what is counted
// and logged. Tokens are HS256, minted here at the fake wall clock's time.
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "cmocka_cpp.h"
#include "mint.h"
#include "node_fixture.h"

using namespace rtpush;

namespace {

const char* const kSecret = "node-auth-test-secret";
constexpr double kNow = 1'700'000'000;  // FakeClocks' wall clock, in seconds

struct World {
  FakeClocks clocks;
  std::vector<std::string> log;
  std::unique_ptr<Node> node;
  // `keys` false: no jwt-*-file, so no token can be verified.
  explicit World(OptionList opts = {}, bool keys = true, auth::ChannelRules rules = {}) {
    Options o = parse_options(opts, "test-node").options;
    auto broker = std::make_unique<MemoryBroker>(o.history_size, [this] { return clocks.wall; });
    node = std::make_unique<Node>(o, std::move(broker), clocks.clocks(), nullptr,
                                  Logger(LogLevel::Info, [this](LogLevel, std::string_view line) {
                                    log.emplace_back(line);
                                  }));
    auth::AuthSettings a;
    if (keys) {
      auth::TokenConfig config;
      config.hs256_secret = kSecret;
      config.leeway_secs = o.jwt_leeway_secs;  // as load_auth_settings() does
      std::string why;
      a.verifier = auth::TokenVerifier::create(config, &why);
      assert_non_null(a.verifier.get());
    }
    a.rules = std::move(rules);
    a.required = o.auth_required;
    a.allowed_origins = o.allowed_origins;
    node->set_auth(std::move(a));
  }
  std::uint64_t failures(const char* reason) const {
    const std::string text = node->reports().metrics_text();
    const std::string key = std::string("rtpush_auth_failures_total{reason=\"") + reason + "\"} ";
    const std::size_t at = text.find(key);
    assert_true(at != std::string::npos);
    return std::stoull(text.substr(at + key.size()));
  }
  bool logged(const std::string& part) const {
    for (const auto& l : log)
      if (l.find(part) != std::string::npos) return true;
    return false;
  }
};

std::string token(const std::string& sub, std::optional<double> exp = kNow + 3600,
                  const std::string& extra = "") {
  std::string claims = "{\"sub\":\"" + sub + "\"";
  if (exp) claims += ",\"exp\":" + std::to_string(static_cast<long long>(*exp));
  return mint_hs256(kSecret, claims + extra + "}");
}

std::string auth_frame(const std::string& t) { return "{\"type\":\"auth\",\"token\":\"" + t + "\"}"; }

// `s` was told UNAUTHORIZED with `message` and is closing with 1008.
void assert_unauthorized(Session* s, const FakeConnection& c, const char* message) {
  Sent out;
  drain(s, &out);
  assert_int_equal(out.size(), 1);
  assert_string_equal(out.type(0), "error");
  assert_string_equal(out.str(0, "code"), "UNAUTHORIZED");
  assert_string_equal(out.str(0, "message"), message);
  assert_true(s->closing());
  assert_int_equal(s->close_code(), 1008);
  assert_int_equal(c.closes, 1);
}

void assert_open(Session* s) { assert_false(s->closing()); }

}  // namespace

static void origins_are_checked_at_the_handshake(void**) {
  World w(OptionList{{"allowed-origins", "https://app.example.com, http://localhost:8080"}});
  const std::string good = "https://app.example.com", upper = "HTTPS://APP.Example.COM",
                    port = "http://localhost:8080", foreign = "https://evil.example",
                    path = "https://app.example.com/", null_origin = "null";
  assert_int_equal(w.node->admit(nullptr, nullptr).http_status, 0);  // not a browser
  assert_int_equal(w.node->admit(&good, nullptr).http_status, 0);
  assert_int_equal(w.node->admit(&upper, nullptr).http_status, 0);
  assert_int_equal(w.node->admit(&port, nullptr).http_status, 0);
  for (const std::string* o : {&foreign, &path, &null_origin}) {
    Admission a = w.node->admit(o, nullptr);
    assert_int_equal(a.http_status, 403);
    assert_string_equal(a.reason.c_str(), "origin not allowed");
    assert_false(a.authenticated);
  }
  // The origin is checked before the token: a good token does not open it.
  const std::string t = token("42");
  assert_int_equal(w.node->admit(&foreign, &t).http_status, 403);
  assert_int_equal(w.failures("origin"), 4);

  World any;  // no allowed-origins: any origin
  assert_int_equal(any.node->admit(&foreign, nullptr).http_status, 0);
}

static void a_handshake_token_authenticates_the_connection(void**) {
  World w;
  const std::string t = token("42", kNow + 60, R"(,"channels":["news"],"publish":["chat:*"])");
  Admission a = w.node->admit(nullptr, &t);
  assert_int_equal(a.http_status, 0);
  assert_true(a.authenticated);
  assert_string_equal(a.claims.user.c_str(), "42");
  FakeConnection c;
  Session* s = w.node->open(&c, Encoding::Json, &a);
  assert_true(s->identity().authenticated);
  assert_string_equal(s->identity().user.c_str(), "42");
  assert_int_equal(s->identity().channels.size(), 1);
  assert_string_equal(s->identity().publish[0].c_str(), "chat:*");
  assert_true(s->expires().has_value());
  assert_true(*s->expires() == kNow + 60);
  Sent hello;
  drain(s, &hello);
  assert_string_equal(hello.type(0), "connection_established");

  // Without a token: anonymous, as before.
  FakeConnection c2;
  Admission anon = w.node->admit(nullptr, nullptr);
  assert_false(anon.authenticated);
  Session* s2 = w.node->open(&c2, Encoding::Json, &anon);
  assert_false(s2->identity().authenticated);
}

static void a_refused_handshake_token_is_401_counted_and_logged_without_its_text(void**) {
  World w;
  const std::string forged = mint_hs256("another-secret", R"({"sub":"42"})");
  const std::string expired = token("42", kNow - 1);
  const std::string garbage = "not-a-token";
  struct { const std::string* token; const char* reason; } cases[] = {
      {&forged, "bad_signature"}, {&expired, "expired"}, {&garbage, "malformed"}};
  for (const auto& k : cases) {
    Admission a = w.node->admit(nullptr, k.token);
    assert_int_equal(a.http_status, 401);
    assert_string_equal(a.reason.c_str(), (std::string("token refused: ") + k.reason).c_str());
    assert_false(a.authenticated);
    assert_int_equal(w.failures(k.reason), 1);
    assert_true(w.logged(std::string("event=auth_refused reason=") + k.reason + " "));
  }
  for (const auto& l : w.log) {
    assert_null(strstr(l.c_str(), forged.c_str()));
    assert_null(strstr(l.c_str(), forged.substr(forged.rfind('.') + 1).c_str()));  // not even the signature
  }

  // A vhost without keys refuses every token: nobody could check it.
  World nokeys({}, false);
  const std::string t = token("42");
  Admission a = nokeys.node->admit(nullptr, &t);
  assert_int_equal(a.http_status, 401);
  assert_string_equal(a.reason.c_str(), "token refused: no_key");
  assert_int_equal(nokeys.failures("no_key"), 1);
}

// The auth_refused line says what was refused: a WebSocket handshake or a
// GET sse/<channel> (same origin and token checks, docs/operations.md).
static void a_refusal_names_the_request_it_refused(void**) {
  World ws(OptionList{{"allowed-origins", "https://app.example.com"}});
  const std::string foreign = "https://evil.example", garbage = "not-a-token";
  assert_int_equal(ws.node->admit(&foreign, nullptr).http_status, 403);
  assert_int_equal(ws.node->admit(nullptr, &garbage).http_status, 401);
  assert_true(ws.logged("event=auth_refused reason=origin on=\"a WebSocket handshake\""));
  assert_true(ws.logged("event=auth_refused reason=malformed on=\"a WebSocket handshake\""));

  World sse(OptionList{{"allowed-origins", "https://app.example.com"}});
  SseRequest req;
  req.path = "sse/news";
  req.origin = foreign;
  assert_int_equal(sse.node->admit_sse(req).http_status, 403);
  req.origin.reset();
  req.token = garbage;
  assert_int_equal(sse.node->admit_sse(req).http_status, 401);
  assert_true(sse.logged("event=auth_refused reason=origin on=\"a Server-Sent Events request\""));
  assert_true(sse.logged("event=auth_refused reason=malformed on=\"a Server-Sent Events request\""));
  assert_false(sse.logged("WebSocket"));
}

static void every_failure_reason_is_rendered_from_the_start(void**) {
  World w;
  for (const char* r : {"too_large", "malformed", "bad_header", "alg_none", "alg_not_allowed", "bad_signature",
                        "bad_claims", "bad_subject", "bad_time", "expired", "not_yet_valid", "wrong_audience",
                        "wrong_issuer", "no_key", "user_mismatch", "unauthenticated", "auth_timeout",
                        "connection_expired"})
    assert_int_equal(w.failures(r), 0);
  assert_null(strstr(w.node->reports().metrics_text().c_str(), "reason=\"none\""));
}

static void an_auth_frame_authenticates_then_refreshes(void**) {
  World w;
  FakeConnection c;
  Session* s = open_session(*w.node, &c);
  say(*w.node, s, auth_frame(token("42", kNow + 60)));
  Sent out;
  drain(s, &out);
  assert_int_equal(out.size(), 1);
  assert_string_equal(out.type(0), "authenticated");
  assert_string_equal(out.str(0, "user"), "42");
  assert_true(cJSON_GetNumberValue(out.get(0, "expires")) == kNow + 60);
  assert_true(s->identity().authenticated);

  // A refresh: same sub, new claims and a later exp.
  say(*w.node, s, auth_frame(token("42", kNow + 600, R"(,"channels":["a:*"])")));
  Sent again;
  drain(s, &again);
  assert_int_equal(again.size(), 1);
  assert_string_equal(again.type(0), "authenticated");
  assert_true(cJSON_GetNumberValue(again.get(0, "expires")) == kNow + 600);
  assert_int_equal(s->identity().channels.size(), 1);
  assert_string_equal(s->identity().channels[0].c_str(), "a:*");
  assert_true(*s->expires() == kNow + 600);

  // A token without exp: expires null, and the connection no longer expires.
  say(*w.node, s, auth_frame(token("42", std::nullopt)));
  Sent forever;
  drain(s, &forever);
  assert_string_equal(forever.type(0), "authenticated");
  assert_true(cJSON_IsNull(forever.get(0, "expires")));
  w.clocks.wall += 10'000'000;
  w.node->expire_auth();
  assert_open(s);
}

// A refresh whose claims no longer permit a subscribed channel ends that
// subscription with `unsubscribed` and reason FORBIDDEN, before the
// `authenticated` answer; what is still permitted keeps delivering.
static void a_narrowing_refresh_ends_what_it_no_longer_permits(void**) {
  auth::ChannelRules rules;
  rules.namespaces["orders"] = {auth::Rule::token, auth::Rule::token};
  World w({}, true, rules);
  FakeConnection c;
  Session* s = open_session(*w.node, &c);
  say(*w.node, s, auth_frame(token("42", kNow + 600, R"(,"channels":["orders:a","orders:b"])")));
  say(*w.node, s, R"({"type":"subscribe","channel":"orders:a"})");
  say(*w.node, s, R"({"type":"subscribe","channel":"orders:b"})");
  say(*w.node, s, R"({"type":"subscribe","channel":"news"})");
  Sent before;
  drain(s, &before);
  assert_int_equal(s->subscriptions().size(), 3);

  say(*w.node, s, auth_frame(token("42", kNow + 600, R"(,"channels":["orders:a"])")));
  Sent out;
  drain(s, &out);
  assert_int_equal(out.size(), 2);
  assert_string_equal(out.type(0), "unsubscribed");
  assert_string_equal(out.str(0, "channel"), "orders:b");
  assert_string_equal(out.str(0, "reason"), "FORBIDDEN");
  assert_string_equal(out.type(1), "authenticated");
  assert_int_equal(s->subscriptions().size(), 2);
  assert_open(s);

  // An unsubscribe the client asks for is answered without a reason.
  say(*w.node, s, R"({"type":"unsubscribe","channel":"orders:a"})");
  Sent mine;
  drain(s, &mine);
  assert_string_equal(mine.type(0), "unsubscribed");
  assert_null(mine.get(0, "reason"));
}

// jwt-leeway-secs: the expiry sweep closes a connection that long after
// its token's exp, not at exp.
static void the_expiry_sweep_honours_the_leeway(void**) {
  World w(OptionList{{"jwt-leeway-secs", "30"}});
  FakeConnection c;
  Session* s = open_session(*w.node, &c);
  say(*w.node, s, auth_frame(token("42", kNow + 60)));
  Sent out;
  drain(s, &out);
  assert_string_equal(out.type(0), "authenticated");
  assert_true(cJSON_GetNumberValue(out.get(0, "expires")) == kNow + 60);  // the token's own exp
  w.clocks.wall += 89'000;  // 29 s past exp
  w.node->expire_auth();
  assert_open(s);
  w.clocks.wall += 1'000;  // exp + 30 s
  w.node->expire_auth();
  assert_unauthorized(s, c, "token expired");
}

static void an_auth_frame_for_another_user_closes(void**) {
  World w;
  FakeConnection c;
  Session* s = open_session(*w.node, &c);
  say(*w.node, s, auth_frame(token("42")));
  Sent ok;
  drain(s, &ok);
  say(*w.node, s, auth_frame(token("7")));
  assert_unauthorized(s, c, "token is for another user");
  assert_string_equal(s->identity().user.c_str(), "42");  // unchanged
  assert_int_equal(w.failures("user_mismatch"), 1);
}

static void a_refused_auth_frame_closes_and_never_echoes_the_token(void**) {
  World w;
  FakeConnection c;
  Session* s = open_session(*w.node, &c);
  const std::string expired = token("42", kNow - 10);
  say(*w.node, s, auth_frame(expired));
  assert_unauthorized(s, c, "token refused: expired");
  assert_false(s->identity().authenticated);
  assert_int_equal(w.failures("expired"), 1);
  assert_true(w.logged("event=auth_refused reason=expired on=\"connection " + s->id() + "\""));
  for (const auto& l : w.log) assert_null(strstr(l.c_str(), expired.c_str()));

  // A bad refresh closes an authenticated connection too.
  FakeConnection c2;
  Session* s2 = open_session(*w.node, &c2);
  say(*w.node, s2, auth_frame(token("42")));
  Sent ok;
  drain(s2, &ok);
  say(*w.node, s2, auth_frame(mint_hs256("wrong", R"({"sub":"42"})")));
  assert_unauthorized(s2, c2, "token refused: bad_signature");

  // Without a token at all.
  FakeConnection c3;
  Session* s3 = open_session(*w.node, &c3);
  say(*w.node, s3, "{\"type\":\"auth\"}");
  assert_unauthorized(s3, c3, "token refused: malformed");
}

static void optional_auth_lets_anonymous_connections_work(void**) {
  World w;
  FakeConnection c;
  Session* s = open_session(*w.node, &c);
  say(*w.node, s, R"({"type":"subscribe","channel":"news"})");
  Sent out;
  drain(s, &out);
  assert_string_equal(out.type(0), "subscribed");
  w.clocks.steady += 60'000;
  w.clocks.wall += 60'000;
  w.node->expire_auth();
  assert_open(s);
}

static void required_auth_refuses_everything_before_a_token(void**) {
  World w(OptionList{{"auth", "required"}});
  const char* requests[] = {R"({"type":"subscribe","channel":"news"})",
                            R"({"type":"publish","channel":"news","data":1})", R"({"type":"heartbeat"})",
                            R"({"type":"unsubscribe","channel":"news"})"};
  for (const char* r : requests) {
    FakeConnection c;
    Session* s = open_session(*w.node, &c);
    say(*w.node, s, r);
    assert_unauthorized(s, c, "authentication required: send auth with a valid token first");
    w.node->close(s);
  }
  assert_int_equal(w.failures("unauthenticated"), 4);

  // After a valid auth frame, requests go through.
  FakeConnection c;
  Session* s = open_session(*w.node, &c);
  say(*w.node, s, auth_frame(token("42")));
  say(*w.node, s, R"({"type":"subscribe","channel":"news"})");
  Sent out;
  drain(s, &out);
  assert_int_equal(out.size(), 2);
  assert_string_equal(out.type(0), "authenticated");
  assert_string_equal(out.type(1), "subscribed");

  // And after a handshake token, at once.
  const std::string t = token("7");
  Admission a = w.node->admit(nullptr, &t);
  FakeConnection c2;
  Session* s2 = w.node->open(&c2, Encoding::Json, &a);
  Sent hello;
  drain(s2, &hello);
  say(*w.node, s2, R"({"type":"subscribe","channel":"news"})");
  Sent out2;
  drain(s2, &out2);
  assert_string_equal(out2.type(0), "subscribed");
}

static void required_auth_gives_ten_seconds(void**) {
  World w(OptionList{{"auth", "required"}});
  FakeConnection slow, quick, handshake;
  Session* s_slow = open_session(*w.node, &slow);
  Session* s_quick = open_session(*w.node, &quick);
  const std::string t = token("7");
  Admission a = w.node->admit(nullptr, &t);
  Session* s_hs = w.node->open(&handshake, Encoding::Json, &a);
  Sent hello;
  drain(s_hs, &hello);

  w.clocks.steady += 9'999;
  say(*w.node, s_quick, auth_frame(token("42")));
  Sent ok;
  drain(s_quick, &ok);
  w.clocks.wall += 100'000;  // the deadline runs on the steady clock: a wall-clock jump changes nothing
  w.node->expire_auth();
  assert_open(s_slow);

  w.clocks.steady += 1;
  w.node->tick();  // tick() runs expire_auth() too
  assert_unauthorized(s_slow, slow, "authentication timeout");
  assert_open(s_quick);
  assert_open(s_hs);
  assert_int_equal(w.failures("auth_timeout"), 1);

  // Closed before its deadline: nothing left to fire.
  FakeConnection gone;
  Session* s_gone = open_session(*w.node, &gone);
  w.node->close(s_gone);
  w.clocks.steady += 20'000;
  w.node->expire_auth();
  assert_int_equal(w.failures("auth_timeout"), 1);
}

static void an_expired_token_closes_its_connection_unless_refreshed(void**) {
  World w;
  FakeConnection c, r, other;
  Session* s = open_session(*w.node, &c);
  Session* refreshed = open_session(*w.node, &r);
  Session* later = open_session(*w.node, &other);
  for (Session* x : {s, refreshed}) say(*w.node, x, auth_frame(token("42", kNow + 5)));
  say(*w.node, later, auth_frame(token("9", kNow + 50)));
  for (Session* x : {s, refreshed, later}) {
    Sent ok;
    drain(x, &ok);
  }

  w.clocks.wall += 4'000;
  say(*w.node, refreshed, auth_frame(token("42", kNow + 30)));
  Sent ok;
  drain(refreshed, &ok);

  w.clocks.wall += 999;  // 1 ms before exp
  w.node->expire_auth();
  assert_open(s);
  w.clocks.wall += 1;  // exp: the verifier's own "expired" instant
  w.node->expire_auth();
  assert_unauthorized(s, c, "token expired");
  assert_open(refreshed);  // its old exp passed: the refresh replaced it
  assert_open(later);
  assert_int_equal(w.failures("connection_expired"), 1);

  w.clocks.wall = static_cast<std::uint64_t>(kNow + 30) * 1000;
  w.node->expire_auth();
  assert_unauthorized(refreshed, r, "token expired");
  assert_open(later);
  assert_int_equal(w.failures("connection_expired"), 2);

  // A connection closed before its exp leaves nothing behind to fire.
  w.node->close(later);
  w.clocks.wall = static_cast<std::uint64_t>(kNow + 100) * 1000;
  w.node->expire_auth();
  assert_int_equal(w.failures("connection_expired"), 2);
}

static void a_handshake_token_expires_too(void**) {
  World w;
  const std::string t = token("42", kNow + 2);
  Admission a = w.node->admit(nullptr, &t);
  FakeConnection c;
  Session* s = w.node->open(&c, Encoding::Json, &a);
  Sent hello;
  drain(s, &hello);
  w.clocks.wall += 2'000;
  w.node->expire_auth();
  assert_unauthorized(s, c, "token expired");
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(origins_are_checked_at_the_handshake),
      cmocka_unit_test(a_handshake_token_authenticates_the_connection),
      cmocka_unit_test(a_refused_handshake_token_is_401_counted_and_logged_without_its_text),
      cmocka_unit_test(a_refusal_names_the_request_it_refused),
      cmocka_unit_test(every_failure_reason_is_rendered_from_the_start),
      cmocka_unit_test(an_auth_frame_authenticates_then_refreshes),
      cmocka_unit_test(an_auth_frame_for_another_user_closes),
      cmocka_unit_test(a_refused_auth_frame_closes_and_never_echoes_the_token),
      cmocka_unit_test(optional_auth_lets_anonymous_connections_work),
      cmocka_unit_test(required_auth_refuses_everything_before_a_token),
      cmocka_unit_test(required_auth_gives_ten_seconds),
      cmocka_unit_test(an_expired_token_closes_its_connection_unless_refreshed),
      cmocka_unit_test(a_handshake_token_expires_too),
      cmocka_unit_test(a_narrowing_refresh_ends_what_it_no_longer_permits),
      cmocka_unit_test(the_expiry_sweep_honours_the_leeway),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
