// Who may subscribe to and publish on which channel: the namespace rules of
// a vhost's `channels-file` and the one permission check every path calls
// (WebSocket subscribe and publish, replay, the coming SSE endpoint), so that
// no path can grant what another refuses. docs/protocol.md, "Namespaces and
// permissions (channels-file)".
//
// Pure: no I/O but load_channel_rules() (at vhost init), no lws types. The
// check runs at subscribe and publish, never per delivery.
#pragma once
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace rtpush::auth {

enum class Rule {
  any,            // anonymous connections too
  authenticated,  // any valid token
  token,          // only channels the token's `channels` (subscribe) / `publish` (publish) claim lists
  none,           // nobody
};

enum class Action { subscribe, publish };

// The outcome of check(). Every refusal is answered with error FORBIDDEN;
// the kinds tell logs and metrics why.
enum class Decision {
  allowed,
  forbidden_rule_none,      // the namespace's rule is `none`
  forbidden_anonymous,      // `authenticated` or `token` rule, no valid token
  forbidden_not_in_claim,   // `token` rule, the channel is not in the token's claim
  forbidden_personal,       // a `#` channel whose user list does not name this user (subscribe and publish)
};

inline bool allowed(Decision d) { return d == Decision::allowed; }
// "FORBIDDEN" for every refusal, "" for allowed: the wire error code.
const char* error_code(Decision d);
// A short reason for logs and the `reason` of a refusal metric.
const char* reason(Decision d);

struct NamespaceRules {
  Rule subscribe = Rule::any;
  Rule publish = Rule::any;
};

struct ChannelRules {
  // By namespace name; std::less<> so a lookup takes a string_view.
  std::map<std::string, NamespaceRules, std::less<>> namespaces;
  // A namespace not listed: the rules of "" when listed, else any/any.
  NamespaceRules rules_for(std::string_view name_space) const;
};

// Who asks. Anonymous unless a valid token authenticated the connection;
// then the token's `sub` and its `channels` and `publish` claims (absent
// claims: empty lists).
struct Identity {
  bool authenticated = false;
  std::string user;
  std::vector<std::string> channels;  // may subscribe to, in `token` namespaces
  std::vector<std::string> publish;   // may publish on, in `token` namespaces

  static Identity anonymous() { return {}; }
};

// The part of `channel` before its first ':', "" when it has none.
std::string_view namespace_of(std::string_view channel);

// True when `entry` names `channel`: equal, or `entry` ends in '*' and
// `channel` starts with what precedes it.
bool claim_entry_matches(std::string_view entry, std::string_view channel);

// True when `user` is one of the comma-separated users after the first '#'
// of `channel`. An empty list (`x#`) or an empty user names nobody.
bool personal_channel_admits(std::string_view channel, std::string_view user);

// The one permission check: may `who` do `action` on `channel`?
Decision check(const ChannelRules& rules, const Identity& who, std::string_view channel, Action action);

struct ChannelRulesResult {
  bool ok = false;
  ChannelRules rules;
  std::string error;  // when !ok: where in the file and why
};

// Parses the text of a channels-file:
// {"namespaces": {"NAME": {"subscribe": RULE, "publish": RULE}, ...}}.
// Strict: not JSON, not an object, a missing or unknown key, a duplicate
// key, a value of the wrong type, an unknown rule, a namespace name with
// ':' (no channel could be in it) are each an error saying where.
ChannelRulesResult parse_channel_rules(std::string_view text);

// Reads `path` (at most 1 MiB) and parses it; the error names the file.
ChannelRulesResult load_channel_rules(const std::string& path);

}  // namespace rtpush::auth
