// Permissions through a Node (SPEC section 8, "Namespaces" and "Personal
// channels"): every rule for subscribe and publish, anonymous and token
// identities, `*` claims, personal channels, and what a refusal must not do
// (no subscription, no position, no message, nothing published, an existing
// subscription untouched), counted as refused FORBIDDEN.
#include <cstring>
#include <string>
#include <vector>

#include "cmocka_cpp.h"
#include "node_fixture.h"

using namespace rtpush;
using auth::Rule;

namespace {

struct World {
  FakeClocks clocks;
  std::unique_ptr<Node> node;
  explicit World(auth::ChannelRules rules, OptionList opts = {{"history-size", "10"}}) {
    OptionsResult parsed = parse_options(opts, "test-node");
    assert_true(parsed.ok);
    auto broker = std::make_unique<MemoryBroker>(parsed.options.history_size, [this] { return clocks.wall; });
    node = std::make_unique<Node>(parsed.options, std::move(broker), clocks.clocks());
    auth::AuthSettings settings;
    settings.rules = std::move(rules);
    node->set_auth(std::move(settings));
  }
  Session* connect(FakeConnection* c) { return open_session(*node, c); }
  // A session authenticated as `user` with these claims, as the auth frame
  // or handshake would leave it.
  Session* connect_as(FakeConnection* c, const std::string& user, std::vector<std::string> channels = {},
                      std::vector<std::string> publish = {}) {
    Session* s = connect(c);
    auth::Identity who;
    who.authenticated = true;
    who.user = user;
    who.channels = std::move(channels);
    who.publish = std::move(publish);
    s->set_identity(std::move(who), std::nullopt);
    node->presence().user_authenticated(s);
    return s;
  }
};

auth::ChannelRules rules_of(std::initializer_list<std::pair<const char*, auth::NamespaceRules>> list) {
  auth::ChannelRules r;
  for (const auto& [name, ns] : list) r.namespaces[name] = ns;
  return r;
}

std::string subscribe_frame(const std::string& channel, const std::string& extra = "") {
  return R"({"type":"subscribe","channel":")" + channel + "\"" + extra + ",\"ref\":9}";
}

// Subscribes `s` to `channel`: true when `subscribed` came, false when
// error FORBIDDEN came (and then nothing else did).
bool try_subscribe(Node& node, Session* s, const std::string& channel) {
  say(node, s, subscribe_frame(channel));
  Sent out;
  drain(s, &out);
  assert_true(out.size() >= 1);
  if (!strcmp(out.type(0), "subscribed")) return true;
  assert_string_equal(out.type(0), "error");
  assert_string_equal(out.str(0, "code"), "FORBIDDEN");
  assert_int_equal(cJSON_GetNumberValue(out.get(0, "ref")), 9);
  assert_int_equal(out.size(), 1);
  return false;
}

// Publishes from `s`: true when `published` came (maybe after the message
// itself, when `s` is subscribed), false when FORBIDDEN (and nothing else).
bool try_publish(Node& node, Session* s, const std::string& channel) {
  say(node, s, R"({"type":"publish","channel":")" + channel + R"(","data":1,"ref":9})");
  Sent out;
  drain(s, &out);
  for (std::size_t i = 0; i < out.size(); ++i)
    if (!strcmp(out.type(i), "published")) return true;
  assert_int_equal(out.size(), 1);
  assert_string_equal(out.type(0), "error");
  assert_string_equal(out.str(0, "code"), "FORBIDDEN");
  return false;
}

std::string metrics_text(Node& node) {
  std::string body;
  HttpRequest r;
  r.method = "GET";
  r.path = "metrics";
  HttpApi(node).handle(r, [&](HttpResponse resp) { body = resp.body; });
  return body;
}

}  // namespace

// Each rule, for each action, against an anonymous connection, a token
// without claims, and a token whose claims list the channel by prefix.
static void every_rule_for_every_identity(void**) {
  struct Row {
    Rule rule;
    bool anonymous, token_no_claim, token_claim;
  };
  const Row rows[] = {
      {Rule::any, true, true, true},
      {Rule::authenticated, false, true, true},
      {Rule::token, false, false, true},
      {Rule::none, false, false, false},
  };
  for (const Row& row : rows) {
    for (auth::Action action : {auth::Action::subscribe, auth::Action::publish}) {
      auth::NamespaceRules ns;  // the other action stays `any`
      (action == auth::Action::subscribe ? ns.subscribe : ns.publish) = row.rule;
      World w(rules_of({{"ns", ns}}));
      FakeConnection ca, cb, cc;
      Session* anon = w.connect(&ca);
      Session* bare = w.connect_as(&cb, "u1");
      // The claim for this action only: `token` reads `channels` for
      // subscribe and `publish` for publish, never the other.
      Session* claimed = action == auth::Action::subscribe ? w.connect_as(&cc, "u2", {"ns:ro*"}, {"ns:room"})
                                                           : w.connect_as(&cc, "u2", {"ns:room"}, {"ns:ro*"});
      auto attempt = [&](Session* s, const char* channel) {
        return action == auth::Action::subscribe ? try_subscribe(*w.node, s, channel) : try_publish(*w.node, s, channel);
      };
      assert_int_equal(attempt(anon, "ns:room"), row.anonymous);
      assert_int_equal(attempt(bare, "ns:room"), row.token_no_claim);
      assert_int_equal(attempt(claimed, "ns:room"), row.token_claim);
      assert_int_equal(attempt(claimed, "ns:roof:x"), row.token_claim);  // "ns:ro*" is a prefix
      // Outside the claim only `any` and `authenticated` let it through.
      assert_int_equal(attempt(claimed, "ns:other"), row.rule == Rule::any || row.rule == Rule::authenticated);
      // Another namespace, not in the file, with no "" entry: open.
      assert_true(attempt(anon, "elsewhere:x"));
    }
  }
}

static void star_claim_and_default_namespace(void**) {
  World w(rules_of({{"", {Rule::token, Rule::none}}, {"open", {Rule::any, Rule::any}}}));
  FakeConnection ca, cb, cc;
  Session* all = w.connect_as(&ca, "root", {"*"});
  Session* some = w.connect_as(&cb, "u", {"orders:42*"});
  Session* anon = w.connect(&cc);
  // Namespaces not listed get the rules of "", a channel without ':' is in "".
  assert_true(try_subscribe(*w.node, all, "orders:1"));
  assert_true(try_subscribe(*w.node, all, "plain"));
  assert_true(try_subscribe(*w.node, some, "orders:42"));
  assert_true(try_subscribe(*w.node, some, "orders:42:cart"));
  assert_false(try_subscribe(*w.node, some, "orders:4"));
  assert_false(try_subscribe(*w.node, anon, "orders:42"));
  assert_false(try_publish(*w.node, all, "orders:1"));  // "" publish: none
  assert_true(try_subscribe(*w.node, anon, "open:x"));
  assert_true(try_publish(*w.node, anon, "open:x"));
}

static void personal_channels(void**) {
  World w(rules_of({}));  // every namespace `any`: only the '#' list restricts
  FakeConnection c42, c7, c8, canon, cempty;
  Session* u42 = w.connect_as(&c42, "42");
  Session* u7 = w.connect_as(&c7, "7");
  Session* u8 = w.connect_as(&c8, "8");
  Session* anon = w.connect(&canon);
  Session* empty = w.connect_as(&cempty, "");
  assert_true(try_subscribe(*w.node, u42, "dm#42,7"));
  assert_true(try_subscribe(*w.node, u7, "dm#42,7"));
  assert_false(try_subscribe(*w.node, u8, "dm#42,7"));
  assert_false(try_subscribe(*w.node, anon, "dm#42,7"));
  assert_false(try_subscribe(*w.node, u42, "dm#420"));
  for (Session* s : {u42, u7, u8, anon, empty}) assert_false(try_subscribe(*w.node, s, "x#"));
  assert_false(try_subscribe(*w.node, empty, "dm#42,,7"));
  // Publishing to a personal channel over WebSocket: its listed users only
  // (a server pushes to a user through the HTTP API instead).
  for (Session* s : {u8, anon, empty}) assert_false(try_publish(*w.node, s, "dm#42,7"));
  Sent got;
  drain(u42, &got);
  assert_int_equal(got.size(), 0);
  assert_true(try_publish(*w.node, u7, "dm#42,7"));
  drain(u42, &got);
  assert_int_equal(got.size(), 1);
  assert_string_equal(got.type(0), "message");
  assert_string_equal(got.str(0, "user"), "7");  // the server-set publisher
}

// A refused subscribe leaks nothing: no `subscribed`, no position, no
// replayed message, and no live message afterwards.
static void refused_subscribe_leaks_nothing(void**) {
  World w(rules_of({{"secret", {Rule::token, Rule::any}}}));
  FakeConnection cp, cs;
  Session* pub = w.connect(&cp);
  const std::string first = publish_id(*w.node, pub, "secret:a", "1");
  publish_id(*w.node, pub, "secret:a", "2");
  assert_true(first.size() > 0);
  Session* s = w.connect_as(&cs, "u", {"secret:b"});
  say(*w.node, s, subscribe_frame("secret:a", ",\"since\":\"" + first + "\""));
  Sent out;
  drain(s, &out);
  assert_int_equal(out.size(), 1);
  assert_string_equal(out.type(0), "error");
  assert_string_equal(out.str(0, "code"), "FORBIDDEN");
  assert_string_equal(out.str(0, "message"),
                      "not allowed to subscribe to secret:a: channel not in the token's claim");
  assert_null(out.get(0, "position"));
  assert_int_equal(channels_active(*w.node), 0);  // no subscriber of secret:a (nor of any channel)
  assert_true(s->subscriptions().empty());
  assert_true(publish_id(*w.node, pub, "secret:a", "3").size() > 0);
  assert_true(s->queue().empty());
  assert_false(s->closing());
  assert_non_null(strstr(metrics_text(*w.node).c_str(), "rtpush_requests_refused_total{code=\"FORBIDDEN\"} 1\n"));
}

// "Nothing else changes": a subscription held from before (a token with a
// wider claim, since refreshed) stays, and keeps delivering.
static void refused_resubscribe_keeps_old_subscription(void**) {
  World w(rules_of({{"secret", {Rule::token, Rule::any}}}));
  FakeConnection cp, cs;
  Session* pub = w.connect(&cp);
  Session* s = w.connect_as(&cs, "u", {"secret:*"});
  assert_true(try_subscribe(*w.node, s, "secret:a"));
  auth::Identity narrower = s->identity();
  narrower.channels = {"secret:b"};
  s->set_identity(narrower, std::nullopt);
  assert_false(try_subscribe(*w.node, s, "secret:a"));
  assert_int_equal(s->subscriptions().size(), 1);
  publish_id(*w.node, pub, "secret:a", "7");
  Sent got;
  drain(s, &got);
  assert_int_equal(got.size(), 1);
  assert_string_equal(got.type(0), "message");
}

// A refused publish reaches no subscriber and is not published at all (no
// id taken: the next accepted one follows the last accepted one in history).
static void refused_publish_reaches_nobody(void**) {
  World w(rules_of({{"news", {Rule::any, Rule::authenticated}}}));
  FakeConnection cs, ca, cu;
  Session* sub = w.connect(&cs);
  Session* anon = w.connect(&ca);
  Session* user = w.connect_as(&cu, "u");
  assert_true(try_subscribe(*w.node, sub, "news:x"));
  say(*w.node, anon, R"({"type":"publish","channel":"news:x","data":"leak","ref":3})");
  Sent refused;
  drain(anon, &refused);
  assert_int_equal(refused.size(), 1);
  assert_string_equal(refused.str(0, "code"), "FORBIDDEN");
  assert_string_equal(refused.str(0, "message"), "not allowed to publish to news:x: namespace needs a token");
  assert_int_equal(cJSON_GetNumberValue(refused.get(0, "ref")), 3);
  assert_true(sub->queue().empty());
  assert_true(try_publish(*w.node, user, "news:x"));
  Sent got;
  drain(sub, &got);
  assert_int_equal(got.size(), 1);
  assert_int_equal(cJSON_GetNumberValue(got.get(0, "data")), 1);
  // A late subscriber replaying from the start finds only the accepted one.
  FakeConnection cl;
  Session* late = w.connect(&cl);
  say(*w.node, late, subscribe_frame("news:x", ",\"since\":\"0-0\""));
  Sent replay;
  drain(late, &replay);
  assert_int_equal(replay.size(), 2);
  assert_string_equal(replay.type(1), "message");
  assert_int_equal(cJSON_GetNumberValue(replay.get(1, "data")), 1);
  const std::string m = metrics_text(*w.node);
  assert_non_null(strstr(m.c_str(), "rtpush_requests_refused_total{code=\"FORBIDDEN\"} 1\n"));
  assert_non_null(strstr(m.c_str(), "rtpush_messages_published_total{source=\"ws\"} 1\n"));
}

// A refused publish spends none of publish-rate.
static void refused_publish_spends_no_rate(void**) {
  World w(rules_of({{"ro", {Rule::any, Rule::none}}}), {{"publish-rate", "1"}});
  FakeConnection c;
  Session* s = w.connect(&c);
  for (int i = 0; i < 3; ++i) assert_false(try_publish(*w.node, s, "ro:x"));
  assert_true(try_publish(*w.node, s, "rw"));
}

// Without a channels-file everything is open, as before section 8.
static void no_rules_everything_open(void**) {
  World w(auth::ChannelRules{});
  FakeConnection c;
  Session* s = w.connect(&c);
  assert_true(try_subscribe(*w.node, s, "a:b"));
  assert_true(try_publish(*w.node, s, "a:b"));
  Sent self;
  drain(s, &self);
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(every_rule_for_every_identity),
      cmocka_unit_test(star_claim_and_default_namespace),
      cmocka_unit_test(personal_channels),
      cmocka_unit_test(refused_subscribe_leaks_nothing),
      cmocka_unit_test(refused_resubscribe_keeps_old_subscription),
      cmocka_unit_test(refused_publish_reaches_nobody),
      cmocka_unit_test(refused_publish_spends_no_rate),
      cmocka_unit_test(no_rules_everything_open),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
