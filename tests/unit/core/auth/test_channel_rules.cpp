// Channel permission rules: the channels-file parser (every error names
// where and why) and the one check, table-driven over rule x identity x
// action, claim prefixes, personal channels and the namespace fallback.
#include <cstdio>
#include <cstring>
#include <string>
#include <unistd.h>

#include "cmocka_cpp.h"
#include "auth/channel_rules.h"

using namespace rtpush::auth;

namespace {

// One namespace per rule for subscribe and publish alike, one mixed, and
// "" (the fallback) as `authenticated`.
const char* kRules = R"({"namespaces": {
  "open":   {"subscribe": "any",           "publish": "any"},
  "auth":   {"subscribe": "authenticated", "publish": "authenticated"},
  "tok":    {"subscribe": "token",         "publish": "token"},
  "closed": {"subscribe": "none",          "publish": "none"},
  "feed":   {"subscribe": "any",           "publish": "none"},
  "":       {"subscribe": "authenticated", "publish": "token"}
}})";

ChannelRules rules() {
  auto r = parse_channel_rules(kRules);
  if (!r.ok) fail_msg("%s", r.error.c_str());
  return r.rules;
}

Identity user(std::string sub, std::vector<std::string> channels = {}, std::vector<std::string> publish = {}) {
  Identity id;
  id.authenticated = true;
  id.user = std::move(sub);
  id.channels = std::move(channels);
  id.publish = std::move(publish);
  return id;
}

const Identity kAnon = Identity::anonymous();
const Identity kNoClaims = user("7");
const Identity kClaims = user("42", {"tok:a", "tok:pre*", "x"}, {"tok:p", "tok:out*", "y"});

constexpr auto S = Action::subscribe;
constexpr auto P = Action::publish;
constexpr auto OK = Decision::allowed;
constexpr auto NONE = Decision::forbidden_rule_none;
constexpr auto ANON = Decision::forbidden_anonymous;
constexpr auto CLAIM = Decision::forbidden_not_in_claim;
constexpr auto PERSONAL = Decision::forbidden_personal;

struct Case {
  const Identity* who;
  const char* channel;
  Action action;
  Decision expected;
};

void run(const ChannelRules& r, const Case* cases, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    const Case& c = cases[i];
    Decision got = check(r, *c.who, c.channel, c.action);
    if (got != c.expected)
      fail_msg("case %zu: %s %s by %s: got %s, expected %s", i, c.action == S ? "subscribe" : "publish", c.channel,
               c.who->authenticated ? c.who->user.c_str() : "anonymous", reason(got), reason(c.expected));
  }
}

}  // namespace

static void every_rule_for_every_identity_and_action(void**) {
  const Case cases[] = {
      // any: everybody
      {&kAnon, "open:x", S, OK}, {&kAnon, "open:x", P, OK},
      {&kNoClaims, "open:x", S, OK}, {&kNoClaims, "open:x", P, OK},
      {&kClaims, "open:x", S, OK}, {&kClaims, "open:x", P, OK},
      // authenticated: any valid token, claims or not
      {&kAnon, "auth:x", S, ANON}, {&kAnon, "auth:x", P, ANON},
      {&kNoClaims, "auth:x", S, OK}, {&kNoClaims, "auth:x", P, OK},
      {&kClaims, "auth:x", S, OK}, {&kClaims, "auth:x", P, OK},
      // token: `channels` for subscribe, `publish` for publish, never crossed
      {&kAnon, "tok:a", S, ANON}, {&kAnon, "tok:p", P, ANON},
      {&kNoClaims, "tok:a", S, CLAIM}, {&kNoClaims, "tok:p", P, CLAIM},
      {&kClaims, "tok:a", S, OK}, {&kClaims, "tok:p", P, OK},
      {&kClaims, "tok:p", S, CLAIM}, {&kClaims, "tok:a", P, CLAIM},
      {&kClaims, "tok:b", S, CLAIM}, {&kClaims, "tok:b", P, CLAIM},
      // none: nobody
      {&kAnon, "closed:x", S, NONE}, {&kAnon, "closed:x", P, NONE},
      {&kNoClaims, "closed:x", S, NONE}, {&kNoClaims, "closed:x", P, NONE},
      {&kClaims, "closed:x", S, NONE}, {&kClaims, "closed:x", P, NONE},
      // subscribe and publish are separate rules
      {&kAnon, "feed:x", S, OK}, {&kClaims, "feed:x", P, NONE},
  };
  run(rules(), cases, sizeof cases / sizeof cases[0]);
}

static void claim_entries_match_exactly_or_by_trailing_star_prefix(void**) {
  const Case cases[] = {
      {&kClaims, "tok:pre", S, OK},           // "tok:pre*": the prefix itself
      {&kClaims, "tok:prefix", S, OK},
      {&kClaims, "tok:pre:deep:er", S, OK},
      {&kClaims, "tok:pr", S, CLAIM},         // shorter than the prefix
      {&kClaims, "tok:Pre", S, CLAIM},        // case matters
      {&kClaims, "tok:a2", S, CLAIM},         // "tok:a" is exact, no prefix
      {&kClaims, "tok:outbox", P, OK},
      {&kClaims, "tok:outbox", S, CLAIM},
  };
  run(rules(), cases, sizeof cases / sizeof cases[0]);
  assert_true(claim_entry_matches("*", "anything:at all"));
  assert_true(claim_entry_matches("*", ""));
  assert_true(claim_entry_matches("a*b", "a*b"));   // a '*' not at the end is a plain character
  assert_false(claim_entry_matches("a*b", "axb"));
  assert_false(claim_entry_matches("", "a"));
  assert_true(claim_entry_matches("", ""));
}

static void personal_channels_admit_only_their_users(void**) {
  const Identity u42 = user("42");
  const Identity u7 = user("7");
  const Identity u4 = user("4");
  const Identity u427 = user("42,7");
  const Identity empty_sub = user("");
  const Case cases[] = {
      {&u42, "open:notify#42", S, OK},
      {&u7, "open:notify#42", S, PERSONAL},
      {&u4, "open:notify#42", S, PERSONAL},     // a prefix of a listed user is not that user
      {&kAnon, "open:notify#42", S, PERSONAL},
      {&u42, "open:dm#42,7", S, OK},
      {&u7, "open:dm#42,7", S, OK},
      {&u4, "open:dm#42,7", S, PERSONAL},
      {&u427, "open:dm#42,7", S, PERSONAL},     // the list is split, not compared whole
      {&u42, "open:x#", S, PERSONAL},           // empty list: nobody
      {&empty_sub, "open:x#", S, PERSONAL},
      {&empty_sub, "open:dm#42,,7", S, PERSONAL},  // an empty entry names nobody
      {&u7, "open:dm#42,,7", S, OK},
      {&u42, "open:a#b#42", S, PERSONAL},       // the list starts after the first '#'
      {&u42, "open:a#42#b", S, PERSONAL},
      // on top of the namespace rule: a listed user is still refused by it
      {&u42, "closed:notify#42", S, NONE},
      {&u42, "tok:notify#42", S, CLAIM},
      {&kClaims, "tok:pre#42", S, OK},
      {&kClaims, "tok:pre#7", S, PERSONAL},
      // the "" namespace (authenticated) governs a channel without ':'
      {&u42, "notify#42", S, OK},
      {&kAnon, "notify#42", S, ANON},
      // publishing to a personal channel: its listed users only, on top of
      // the namespace rule (SPEC section 8; issue 20: user 99 wrote into
      // dm#42,7)
      {&u42, "open:notify#42", P, OK},
      {&u7, "open:dm#42,7", P, OK},
      {&u7, "open:notify#42", P, PERSONAL},
      {&u4, "open:dm#42,7", P, PERSONAL},
      {&kAnon, "open:notify#42", P, PERSONAL},
      {&u7, "feed:notify#42", P, NONE},
      {&u42, "feed:notify#42", P, NONE},
  };
  run(rules(), cases, sizeof cases / sizeof cases[0]);
  assert_false(personal_channel_admits("no-hash", "42"));
  assert_false(personal_channel_admits("x#", ""));
}

static void namespace_is_before_the_first_colon_with_fallback_to_empty(void**) {
  assert_true(namespace_of("chat:room1") == "chat");
  assert_true(namespace_of("chat:room:1") == "chat");
  assert_true(namespace_of("room1") == "");
  assert_true(namespace_of(":x") == "");
  const Case cases[] = {
      // "" is authenticated / token
      {&kAnon, "room1", S, ANON},
      {&kNoClaims, "room1", S, OK},
      {&kClaims, "y", P, OK},
      {&kClaims, "room1", P, CLAIM},
      // an unlisted namespace gets the rules of ""
      {&kAnon, "elsewhere:x", S, ANON},
      {&kClaims, "elsewhere:x", P, CLAIM},
      {&kAnon, ":x", S, ANON},
      // "open:x" is in "open", "opens:x" and "ope:x" are not
      {&kAnon, "opens:x", S, ANON},
      {&kAnon, "ope:x", S, ANON},
      {&kAnon, "open", S, ANON},               // no ':': namespace ""
  };
  run(rules(), cases, sizeof cases / sizeof cases[0]);
}

static void without_an_empty_namespace_unlisted_ones_are_open(void**) {
  auto r = parse_channel_rules(R"({"namespaces": {"closed": {"subscribe": "none", "publish": "none"}}})");
  assert_true(r.ok);
  const Case cases[] = {
      {&kAnon, "room1", S, OK}, {&kAnon, "room1", P, OK},
      {&kAnon, "other:x", S, OK}, {&kAnon, "other:x", P, OK},
      {&kAnon, "closed:x", S, NONE},
  };
  run(r.rules, cases, sizeof cases / sizeof cases[0]);
  // An empty file of rules, and no rules at all: everything open.
  auto empty = parse_channel_rules(R"({"namespaces": {}})");
  assert_true(empty.ok);
  assert_int_equal(check(empty.rules, kAnon, "a:b", P), OK);
  assert_int_equal(check(ChannelRules{}, kAnon, "a:b", P), OK);
}

static void every_refusal_is_forbidden(void**) {
  for (Decision d : {NONE, ANON, CLAIM, PERSONAL}) {
    assert_false(allowed(d));
    assert_string_equal(error_code(d), "FORBIDDEN");
  }
  assert_true(allowed(OK));
  assert_string_equal(error_code(OK), "");
}

static void parse_errors_say_where_and_why(void**) {
  struct Bad {
    const char* text;
    const char* error_has;
  } bad[] = {
      {"", "not JSON"},
      {"{", "not JSON"},
      {"{\"namespaces\": {}} x", "not JSON"},
      {"{'namespaces': {}}", "not JSON"},
      {"[]", "must be a JSON object"},
      {"\"any\"", "must be a JSON object"},
      {"{}", "missing \"namespaces\""},
      {R"({"namespace": {}})", "unknown key \"namespace\""},
      {R"({"namespaces": {}, "extra": 1})", "unknown key \"extra\""},
      {R"({"namespaces": {}, "namespaces": {}})", "duplicate key \"namespaces\""},
      {R"({"namespaces": []})", "namespaces: must be an object"},
      {R"({"namespaces": null})", "namespaces: must be an object"},
      {R"({"namespaces": {"chat": "any"}})", "namespaces.\"chat\": must be an object"},
      {R"({"namespaces": {"chat": {"subscribe": "anyone", "publish": "any"}}})",
       "namespaces.\"chat\".subscribe: unknown rule \"anyone\""},
      {R"({"namespaces": {"chat": {"subscribe": "any", "publish": "Token"}}})",
       "namespaces.\"chat\".publish: unknown rule \"Token\""},
      {R"({"namespaces": {"chat": {"subscribe": 1, "publish": "any"}}})",
       "namespaces.\"chat\".subscribe: must be a string"},
      {R"({"namespaces": {"chat": {"subscribe": "any", "publish": null}}})",
       "namespaces.\"chat\".publish: must be a string"},
      {R"({"namespaces": {"chat": {"subscribe": ["any"], "publish": "any"}}})",
       "namespaces.\"chat\".subscribe: must be a string"},
      {R"({"namespaces": {"chat": {"subscribe": "any", "publish": "any", "history": "any"}}})",
       "namespaces.\"chat\": unknown key \"history\""},
      {R"({"namespaces": {"chat": {"subscribe": "any"}}})", "namespaces.\"chat\": missing \"publish\""},
      {R"({"namespaces": {"chat": {"publish": "any"}}})", "namespaces.\"chat\": missing \"subscribe\""},
      {R"({"namespaces": {"chat": {"subscribe": "any", "subscribe": "none", "publish": "any"}}})",
       "namespaces.\"chat\": duplicate key \"subscribe\""},
      {R"({"namespaces": {"chat": {"subscribe": "any", "publish": "any"},
                          "chat": {"subscribe": "none", "publish": "none"}}})",
       "duplicate namespace \"chat\""},
      {R"({"namespaces": {"chat:x": {"subscribe": "any", "publish": "any"}}})", "cannot contain ':'"},
      {R"({"namespaces": {"chat\u0000x": {"subscribe": "any", "publish": "any"}}})", "\\u0000"},
  };
  for (const auto& b : bad) {
    auto r = parse_channel_rules(b.text);
    if (r.ok) fail_msg("accepted: %s", b.text);
    if (!strstr(r.error.c_str(), b.error_has))
      fail_msg("for %s: error \"%s\" lacks \"%s\"", b.text, r.error.c_str(), b.error_has);
  }
}

static void a_file_is_read_and_its_errors_name_it(void**) {
  char path[] = "/tmp/rtpush_rules_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  const char good[] = R"({"namespaces": {"": {"subscribe": "token", "publish": "none"}}})";
  assert_int_equal(write(fd, good, sizeof good - 1), sizeof good - 1);
  close(fd);
  auto r = load_channel_rules(path);
  assert_true(r.ok);
  assert_int_equal(check(r.rules, kClaims, "x", S), OK);
  assert_int_equal(check(r.rules, kClaims, "x", P), NONE);

  FILE* f = fopen(path, "w");
  fputs("{\"namespaces\": {\"a\": {\"subscribe\": \"all\", \"publish\": \"any\"}}}", f);
  fclose(f);
  r = load_channel_rules(path);
  assert_false(r.ok);
  assert_non_null(strstr(r.error.c_str(), path));
  assert_non_null(strstr(r.error.c_str(), "unknown rule \"all\""));
  unlink(path);

  r = load_channel_rules(path);
  assert_false(r.ok);
  assert_non_null(strstr(r.error.c_str(), "cannot open"));
}

// conf/channels.json, the installed example, parses and means what
// docs/protocol.md says it does.
static void the_example_file_parses_and_means_what_the_docs_say(void**) {
  auto r = load_channel_rules(RTPUSH_EXAMPLE_CHANNELS_FILE);
  if (!r.ok) fail_msg("%s", r.error.c_str());
  const Identity u42 = user("42", {"orders:42*"}, {"orders:42:cart"});
  const Case cases[] = {
      {&kAnon, "news:today", S, OK}, {&u42, "news:today", P, NONE},
      {&kAnon, "chat:lobby", S, ANON}, {&u42, "chat:lobby", S, OK}, {&u42, "chat:lobby", P, OK},
      {&u42, "orders:42", S, OK}, {&u42, "orders:7", S, CLAIM}, {&u42, "orders:42:cart", P, OK},
      {&u42, "admin:x", S, NONE},
      {&u42, "notify#42", S, OK}, {&kNoClaims, "notify#42", S, PERSONAL}, {&kAnon, "notify#42", S, ANON},
      {&u42, "notify#42", P, NONE}, {&u42, "elsewhere:x", S, OK},
  };
  run(r.rules, cases, sizeof cases / sizeof cases[0]);
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(every_rule_for_every_identity_and_action),
      cmocka_unit_test(claim_entries_match_exactly_or_by_trailing_star_prefix),
      cmocka_unit_test(personal_channels_admit_only_their_users),
      cmocka_unit_test(namespace_is_before_the_first_colon_with_fallback_to_empty),
      cmocka_unit_test(without_an_empty_namespace_unlisted_ones_are_open),
      cmocka_unit_test(every_refusal_is_forbidden),
      cmocka_unit_test(parse_errors_say_where_and_why),
      cmocka_unit_test(a_file_is_read_and_its_errors_name_it),
      cmocka_unit_test(the_example_file_parses_and_means_what_the_docs_say),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
