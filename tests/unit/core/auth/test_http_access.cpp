// The HTTP API's guards and users endpoints (SPEC section 8): the api key
// (Authorization: Bearer), allowed-origins on every path, GET users/<user>
// and POST users/<user>/disconnect on the embedded presence (this node's
// sessions) and through a presence that shares users across nodes; the users
// registry itself.
#include <cstring>
#include <string>
#include <vector>

#include "cmocka_cpp.h"
#include "node_fixture.h"
#include "user_registry.h"

using namespace rtpush;

namespace {

// A presence sharing users across nodes: it records what the node
// registers, answers user_connections with `others` added (connections on
// other nodes), and carries a disconnect back to the listener as Redis
// would, when `shared` is on; otherwise it is the embedded one.
class UsersPresence final : public Presence {
 public:
  void set_listener(PresenceListener* l) override { listener_ = l; }
  void nodes(NodesDone done) override { done({}); }
  void local_connections(std::size_t) override {}

  void user_connected(const std::string& user, const UserConnection& c) override {
    registered.push_back({user, c});
  }
  void user_disconnected(const std::string& user, const std::string& id) override {
    for (auto it = registered.begin(); it != registered.end(); ++it)
      if (it->first == user && it->second.connection_id == id) {
        registered.erase(it);
        ++removed;
        return;
      }
    assert_true(false);  // removed what was never registered
  }
  void user_connections(const std::string& user, UsersDone done) override {
    if (!shared) return done(false, {});
    std::vector<UserConnection> out = others;
    for (const auto& [u, c] : registered)
      if (u == user) out.push_back(c);
    done(true, std::move(out));
  }
  void disconnect_user(const std::string& user, CarryDone done) override {
    if (!shared) return done(false);
    ++carried;
    listener_->on_disconnect_user(user);
    done(true);
  }

  bool shared = false;
  std::vector<UserConnection> others;
  std::vector<std::pair<std::string, UserConnection>> registered;
  int removed = 0;
  int carried = 0;

 private:
  PresenceListener* listener_ = nullptr;
};

struct World {
  FakeClocks clocks;
  UsersPresence* presence = nullptr;
  std::unique_ptr<Node> node;
  explicit World(auth::AuthSettings settings = {}) {
    OptionsResult parsed = parse_options({{"node-id", "n-1"}}, "test-node");
    assert_true(parsed.ok);
    auto b = std::make_unique<MemoryBroker>(100, [this] { return clocks.wall; });
    auto p = std::make_unique<UsersPresence>();
    presence = p.get();
    node = std::make_unique<Node>(parsed.options, std::move(b), clocks.clocks(), nullptr, Logger::to_stderr(),
                                  std::move(p));
    node->set_auth(std::move(settings));
  }
  Session* connect_as(FakeConnection* c, const std::string& user) {
    Session* s = open_session(*node, c);
    auth::Identity who;
    who.authenticated = true;
    who.user = user;
    s->set_identity(std::move(who), std::nullopt);
    node->presence().user_authenticated(s);
    return s;
  }
  HttpResponse got;
  int run(const char* method, const char* path, std::string authorization = {}, const char* origin = nullptr,
          std::string body = {}) {
    HttpRequest r;
    r.method = method;
    r.path = path;
    r.body = std::move(body);
    r.authorization = std::move(authorization);
    r.has_origin = origin != nullptr;
    if (origin) r.origin = origin;
    got = HttpResponse{};
    got.status = -1;
    HttpApi(*node).handle(r, [&](HttpResponse resp) { got = std::move(resp); });
    return got.status;
  }
  bool body_has(const char* s) const { return strstr(got.body.c_str(), s) != nullptr; }
  bool has_header(const char* name, const char* value) const {
    for (const auto& [n, v] : got.headers)
      if (n == name && v == value) return true;
    return false;
  }
};

auth::AuthSettings with_key(std::string key) {
  auth::AuthSettings a;
  a.api_key = std::move(key);
  return a;
}

cJSON* parse(const std::string& body) {
  cJSON* j = cJSON_ParseWithLength(body.data(), body.size());
  assert_non_null(j);
  return j;
}

}  // namespace

static void bearer_header_forms(void**) {
  assert_true(bearer_matches("Bearer s3cret", "s3cret"));
  assert_true(bearer_matches("bearer s3cret", "s3cret"));
  assert_true(bearer_matches("BEARER s3cret", "s3cret"));
  assert_false(bearer_matches("Bearer  s3cret", "s3cret"));  // one space
  assert_false(bearer_matches("Bearer s3cret ", "s3cret"));
  assert_false(bearer_matches("Bearer s3cre", "s3cret"));
  assert_false(bearer_matches("Bearer s3cretX", "s3cret"));
  assert_false(bearer_matches("Bearer S3CRET", "s3cret"));  // the key is exact
  assert_false(bearer_matches("Basic s3cret", "s3cret"));
  assert_false(bearer_matches("Bearers3cret", "s3cret"));
  assert_false(bearer_matches("s3cret", "s3cret"));
  assert_false(bearer_matches("Bearer ", ""));
  assert_false(bearer_matches("", "s3cret"));
}

static void api_key_guards_all_but_health_and_metrics(void**) {
  World w(with_key("k-123"));
  const char* guarded[][2] = {{"GET", "nodes"}, {"POST", "publish/news"}, {"GET", "users/42"},
                              {"POST", "users/42/disconnect"}, {"GET", "publish/news"}};
  for (const auto& [method, path] : guarded) {
    for (const char* bad : {"", "Bearer wrong", "Basic k-123", "Bearer k-1234", "k-123"}) {
      assert_int_equal(w.run(method, path, bad, nullptr, "1"), 401);
      cJSON* j = parse(w.got.body);
      assert_true(cJSON_IsString(cJSON_GetObjectItem(j, "error")));
      cJSON_Delete(j);
      assert_true(w.has_header("WWW-Authenticate", "Bearer"));
      assert_string_equal(w.got.content_type.c_str(), "application/json");
    }
  }
  assert_int_equal(w.run("GET", "nodes", "Bearer k-123"), 200);
  assert_int_equal(w.run("GET", "nodes", "bearer k-123"), 200);
  assert_int_equal(w.run("POST", "publish/news", "Bearer k-123", nullptr, "{\"a\":1}"), 200);
  assert_int_equal(w.run("GET", "users/42", "Bearer k-123"), 200);
  assert_int_equal(w.run("POST", "users/42/disconnect", "Bearer k-123"), 200);
  assert_int_equal(w.run("GET", "publish/news", "Bearer k-123"), 405);  // past the key, the method
  // Open to monitoring, with or without a (even wrong) key.
  assert_int_equal(w.run("GET", "health"), 200);
  assert_int_equal(w.run("GET", "metrics"), 200);
  assert_int_equal(w.run("GET", "metrics", "Bearer wrong"), 200);
  assert_int_equal(w.run("GET", "nope"), 404);
  // Only the one accepted publish went out; each refused request counted.
  assert_int_equal(w.run("GET", "metrics"), 200);
  assert_true(w.body_has("rtpush_messages_published_total{source=\"http\"} 1\n"));
  assert_true(w.body_has("rtpush_auth_failures_total{reason=\"api_key\"} 25\n"));
  assert_true(w.body_has("rtpush_auth_failures_total{reason=\"origin\"} 0\n"));
}

static void no_key_api_open(void**) {
  World w;
  assert_int_equal(w.run("GET", "nodes"), 200);
  assert_int_equal(w.run("POST", "publish/news", "Basic whatever", nullptr, "1"), 200);
  assert_int_equal(w.run("GET", "users/42"), 200);
}

static void origins(void**) {
  auth::AuthSettings a;
  a.allowed_origins = {"https://app.example.com", "http://localhost:3000"};
  World w(std::move(a));
  // Refused on every path, health and metrics too.
  for (const char* path : {"health", "metrics", "nodes", "publish/x", "users/42", "users/42/disconnect", "nope"}) {
    assert_int_equal(w.run("POST", path, {}, "https://evil.example", "1"), 403);
    assert_true(w.body_has("\"error\":"));
  }
  assert_int_equal(w.run("GET", "health", {}, "https://app.example.com.evil"), 403);
  assert_int_equal(w.run("GET", "health", {}, "https://app.example.com/"), 403);
  assert_int_equal(w.run("GET", "health", {}, "null"), 403);
  assert_int_equal(w.run("GET", "health", {}, ""), 403);
  assert_int_equal(w.run("GET", "health", {}, "https://app.example.com"), 200);
  assert_int_equal(w.run("GET", "health", {}, "HTTPS://App.Example.COM"), 200);
  assert_int_equal(w.run("POST", "publish/x", {}, "http://localhost:3000", "1"), 200);
  assert_int_equal(w.run("POST", "publish/x", {}, nullptr, "1"), 200);  // no Origin: not a browser
  assert_int_equal(w.run("GET", "metrics"), 200);
  assert_true(w.body_has("rtpush_auth_failures_total{reason=\"origin\"} 11\n"));
  // Without allowed-origins, any origin.
  World open;
  assert_int_equal(open.run("GET", "health", {}, "https://evil.example"), 200);
}

static void origin_before_api_key(void**) {
  auth::AuthSettings a = with_key("k");
  a.allowed_origins = {"https://app.example.com"};
  World w(std::move(a));
  assert_int_equal(w.run("GET", "nodes", "Bearer k", "https://evil.example"), 403);
  assert_int_equal(w.run("GET", "nodes", {}, "https://app.example.com"), 401);
  assert_int_equal(w.run("GET", "nodes", "Bearer k", "https://app.example.com"), 200);
}

static void users_and_disconnect_on_this_node(void**) {
  World w;
  FakeConnection c1, c2, c3, c4;
  Session* a1 = w.connect_as(&c1, "42");
  w.clocks.wall += 1500;
  Session* a2 = w.connect_as(&c2, "42");
  Session* b = w.connect_as(&c3, "7");
  Session* anon = open_session(*w.node, &c4);

  assert_int_equal(w.run("GET", "users/42"), 200);
  cJSON* j = parse(w.got.body);
  assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(j, "user")), "42");
  cJSON* list = cJSON_GetObjectItem(j, "connections");
  assert_int_equal(cJSON_GetArraySize(list), 2);
  bool seen1 = false, seen2 = false;
  for (cJSON* c = list->child; c; c = c->next) {
    const std::string id = cJSON_GetStringValue(cJSON_GetObjectItem(c, "connection_id"));
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(c, "node")), "n-1");
    const double at = cJSON_GetNumberValue(cJSON_GetObjectItem(c, "connected_at"));
    if (id == a1->id()) {
      seen1 = true;
      assert_true(at > 1'699'999'999.9 && at < 1'700'000'000.1);
    }
    if (id == a2->id()) {
      seen2 = true;
      assert_true(at > 1'700'000'001.4 && at < 1'700'000'001.6);
    }
  }
  assert_true(seen1 && seen2);
  cJSON_Delete(j);

  assert_int_equal(w.run("GET", "users/nobody"), 200);
  assert_string_equal(w.got.body.c_str(), "{\"user\":\"nobody\",\"connections\":[]}");
  assert_int_equal(w.run("GET", "users/a%22b\"c"), 200);  // the user id is escaped in the answer
  assert_true(w.body_has("\"user\":\"a%22b\\\"c\""));

  assert_int_equal(w.run("GET", "users/42/disconnect"), 405);
  assert_int_equal(w.run("POST", "users/42"), 405);
  assert_int_equal(w.run("GET", "users/"), 400);
  assert_int_equal(w.run("GET", "users"), 400);
  assert_int_equal(w.run("POST", "users//disconnect"), 400);
  assert_false(a1->closing());

  assert_int_equal(w.run("POST", "users/42/disconnect"), 200);
  assert_string_equal(w.got.body.c_str(), "{\"user\":\"42\",\"disconnected\":2}");
  for (Session* s : {a1, a2}) {
    Sent out;
    drain(s, &out);
    assert_int_equal(out.size(), 1);
    assert_string_equal(out.type(0), "error");
    assert_string_equal(out.str(0, "code"), "UNAUTHORIZED");
    assert_string_equal(out.str(0, "message"), "disconnected");
    assert_true(s->closing());
    assert_int_equal(s->close_code(), 1008);
  }
  assert_int_equal(c1.closes, 1);
  assert_int_equal(c2.closes, 1);
  assert_false(b->closing());
  assert_false(anon->closing());
  assert_true(b->queue().empty());
  // Gone from the list at once, before their transports report the close.
  assert_int_equal(w.run("GET", "users/42"), 200);
  assert_string_equal(w.got.body.c_str(), "{\"user\":\"42\",\"connections\":[]}");
  w.node->close(a1);
  w.node->close(a2);
  assert_int_equal(w.run("POST", "users/42/disconnect"), 200);
  assert_string_equal(w.got.body.c_str(), "{\"user\":\"42\",\"disconnected\":0}");

  // A session that closes leaves the list.
  assert_int_equal(w.run("GET", "users/7"), 200);
  assert_true(w.body_has(b->id().c_str()));
  w.node->close(b);
  assert_int_equal(w.run("GET", "users/7"), 200);
  assert_string_equal(w.got.body.c_str(), "{\"user\":\"7\",\"connections\":[]}");
  w.node->close(anon);
  assert_int_equal(w.presence->carried, 0);
}

// With a presence that shares users (Redis): each authenticated session is
// registered once and removed once, the list and the count are the
// broker's, and the disconnect goes through it (and back to this node).
static void users_through_a_sharing_presence(void**) {
  World w;
  w.presence->shared = true;
  w.presence->others = {UserConnection{"remote-1", "n-2", 1'699'999'000.25}};
  FakeConnection c1, c2, c3;
  Session* a = w.connect_as(&c1, "42");
  w.node->presence().user_authenticated(a);  // a refresh: registered once
  Session* anon = open_session(*w.node, &c2);
  w.node->presence().user_authenticated(anon);  // no identity: not a user's connection
  Session* b = w.connect_as(&c3, "7");
  assert_int_equal(w.presence->registered.size(), 2);
  assert_string_equal(w.presence->registered[0].first.c_str(), "42");
  assert_string_equal(w.presence->registered[0].second.connection_id.c_str(), a->id().c_str());
  assert_string_equal(w.presence->registered[0].second.node.c_str(), "n-1");
  assert_true(w.presence->registered[0].second.connected_at > 1.6e9);

  assert_int_equal(w.run("GET", "users/42"), 200);
  assert_true(w.body_has("{\"connection_id\":\"remote-1\",\"node\":\"n-2\",\"connected_at\":1699999000.250}"));
  assert_true(w.body_has(a->id().c_str()));

  assert_int_equal(w.run("POST", "users/42/disconnect"), 200);
  assert_string_equal(w.got.body.c_str(), "{\"user\":\"42\",\"disconnected\":2}");
  assert_int_equal(w.presence->carried, 1);
  assert_true(a->closing());
  assert_int_equal(a->close_code(), 1008);
  assert_false(b->closing());
  assert_int_equal(w.presence->removed, 1);  // at the disconnect, not again at close
  w.node->close(a);
  w.node->close(anon);
  assert_int_equal(w.presence->removed, 1);
  w.node->close(b);
  assert_int_equal(w.presence->removed, 2);
  assert_true(w.presence->registered.empty());

  // A disconnect another node sent reaches this node's sessions of the user.
  FakeConnection c4;
  Session* again = w.connect_as(&c4, "42");
  w.node->presence().on_disconnect_user("42");
  Sent out;
  drain(again, &out);
  assert_string_equal(out.str(0, "code"), "UNAUTHORIZED");
  assert_string_equal(out.str(0, "message"), "disconnected");
  assert_int_equal(again->close_code(), 1008);
  w.node->close(again);
}

static void registry_add_remove(void**) {
  UserRegistry r;
  assert_true(r.add("u", 1, UserConnection{"c1", "n", 1}));
  assert_true(r.add("u", 2, UserConnection{"c2", "n", 2}));
  assert_false(r.add("v", 2, UserConnection{"c2", "n", 2}));  // one user per serial
  assert_true(r.add("v", 3, UserConnection{"c3", "n", 3}));
  assert_int_equal(r.count("u"), 2);
  assert_int_equal(r.connections("v").size(), 1);
  assert_false(r.remove("v", 1));  // not v's
  assert_true(r.remove("u", 1));
  assert_false(r.remove("u", 1));
  assert_int_equal(r.serials("u").size(), 1);
  assert_true(r.remove("u", 2));
  assert_int_equal(r.users(), 1);  // u is forgotten
  assert_int_equal(r.size(), 1);
  assert_int_equal(r.count("nobody"), 0);
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(bearer_header_forms),
      cmocka_unit_test(api_key_guards_all_but_health_and_metrics),
      cmocka_unit_test(no_key_api_open),
      cmocka_unit_test(origins),
      cmocka_unit_test(origin_before_api_key),
      cmocka_unit_test(users_and_disconnect_on_this_node),
      cmocka_unit_test(users_through_a_sharing_presence),
      cmocka_unit_test(registry_add_remove),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
