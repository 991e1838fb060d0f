#include "auth/channel_rules.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>

#include <cjson/cJSON.h>

#include "json_text.h"

namespace rtpush::auth {

const char* error_code(Decision d) { return d == Decision::allowed ? "" : "FORBIDDEN"; }

const char* reason(Decision d) {
  switch (d) {
    case Decision::allowed: return "allowed";
    case Decision::forbidden_rule_none: return "namespace rule is none";
    case Decision::forbidden_anonymous: return "namespace needs a token";
    case Decision::forbidden_not_in_claim: return "channel not in the token's claim";
    case Decision::forbidden_personal: return "personal channel of other users";
  }
  return "unknown";
}

NamespaceRules ChannelRules::rules_for(std::string_view name_space) const {
  if (auto it = namespaces.find(name_space); it != namespaces.end()) return it->second;
  if (auto it = namespaces.find(std::string_view{}); it != namespaces.end()) return it->second;
  return {};
}

std::string_view namespace_of(std::string_view channel) {
  auto colon = channel.find(':');
  return colon == std::string_view::npos ? std::string_view{} : channel.substr(0, colon);
}

bool claim_entry_matches(std::string_view entry, std::string_view channel) {
  if (!entry.empty() && entry.back() == '*') {
    entry.remove_suffix(1);
    return channel.substr(0, entry.size()) == entry;
  }
  return entry == channel;
}

bool personal_channel_admits(std::string_view channel, std::string_view user) {
  auto hash = channel.find('#');
  if (hash == std::string_view::npos || user.empty()) return false;
  std::string_view list = channel.substr(hash + 1);
  while (true) {
    auto comma = list.find(',');
    if (list.substr(0, comma) == user) return true;
    if (comma == std::string_view::npos) return false;
    list.remove_prefix(comma + 1);
  }
}

static bool claim_lists(const std::vector<std::string>& claim, std::string_view channel) {
  for (const auto& entry : claim)
    if (claim_entry_matches(entry, channel)) return true;
  return false;
}

Decision check(const ChannelRules& rules, const Identity& who, std::string_view channel, Action action) {
  NamespaceRules ns = rules.rules_for(namespace_of(channel));
  Rule rule = action == Action::subscribe ? ns.subscribe : ns.publish;
  switch (rule) {
    case Rule::none: return Decision::forbidden_rule_none;
    case Rule::any: break;
    case Rule::authenticated:
      if (!who.authenticated) return Decision::forbidden_anonymous;
      break;
    case Rule::token:
      if (!who.authenticated) return Decision::forbidden_anonymous;
      if (!claim_lists(action == Action::subscribe ? who.channels : who.publish, channel))
        return Decision::forbidden_not_in_claim;
      break;
  }
  // Personal channels: only the listed users read them, and only they may
  // write into them over WebSocket (else user 99 could write into 42's
  // direct messages). A server pushes to a user through the HTTP API or
  // the CLI, which this check does not govern.
  if (channel.find('#') != std::string_view::npos && !(who.authenticated && personal_channel_admits(channel, who.user)))
    return Decision::forbidden_personal;
  return Decision::allowed;
}

namespace {

struct JsonDeleter {
  void operator()(cJSON* j) const { cJSON_Delete(j); }
};

ChannelRulesResult failure(std::string error) {
  ChannelRulesResult r;
  r.error = std::move(error);
  return r;
}

std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

// The first key that appears twice among an object's members, or nullptr.
// cJSON keeps both and finds the first: which one the operator meant is
// unknown, so a duplicate is an error.
const char* duplicate_key(const cJSON* object) {
  for (const cJSON* a = object->child; a; a = a->next)
    for (const cJSON* b = a->next; b; b = b->next)
      if (std::strcmp(a->string, b->string) == 0) return a->string;
  return nullptr;
}

bool parse_rule(const cJSON* value, Rule* out) {
  if (!cJSON_IsString(value)) return false;
  static const struct { const char* name; Rule rule; } names[] = {
      {"any", Rule::any}, {"authenticated", Rule::authenticated}, {"token", Rule::token}, {"none", Rule::none}};
  for (const auto& n : names)
    if (std::strcmp(value->valuestring, n.name) == 0) {
      *out = n.rule;
      return true;
    }
  return false;
}

// One namespace's object; `where` is "namespaces.NAME" for the errors.
std::string parse_namespace(const cJSON* object, const std::string& where, NamespaceRules* out) {
  if (!cJSON_IsObject(object)) return where + ": must be an object {\"subscribe\": RULE, \"publish\": RULE}";
  if (const char* dup = duplicate_key(object)) return where + ": duplicate key " + quoted(dup);
  bool seen_subscribe = false, seen_publish = false;
  for (const cJSON* m = object->child; m; m = m->next) {
    std::string key = m->string;
    Rule* rule = nullptr;
    if (key == "subscribe") {
      rule = &out->subscribe;
      seen_subscribe = true;
    } else if (key == "publish") {
      rule = &out->publish;
      seen_publish = true;
    } else {
      return where + ": unknown key " + quoted(key) + " (subscribe, publish)";
    }
    if (!cJSON_IsString(m)) return where + "." + key + ": must be a string (any, authenticated, token, none)";
    if (!parse_rule(m, rule))
      return where + "." + key + ": unknown rule " + quoted(m->valuestring) + " (any, authenticated, token, none)";
  }
  if (!seen_subscribe) return where + ": missing \"subscribe\"";
  if (!seen_publish) return where + ": missing \"publish\"";
  return {};
}

}  // namespace

ChannelRulesResult parse_channel_rules(std::string_view text) {
  // The strict reader first: cJSON accepts trailing bytes and bad UTF-8.
  if (const char* why = json_strict(text, nullptr, 8)) return failure(std::string("not JSON: ") + why);
  // cJSON cuts a string at \u0000: a name would silently become another.
  if (text.find("\\u0000") != std::string_view::npos) return failure("a name or rule holds \\u0000");
  std::unique_ptr<cJSON, JsonDeleter> root(cJSON_ParseWithLength(text.data(), text.size()));
  if (!root) return failure("not JSON");
  if (!cJSON_IsObject(root.get())) return failure("must be a JSON object {\"namespaces\": {...}}");
  if (const char* dup = duplicate_key(root.get())) return failure("duplicate key " + quoted(dup));
  const cJSON* namespaces = nullptr;
  for (const cJSON* m = root->child; m; m = m->next) {
    if (std::strcmp(m->string, "namespaces") != 0) return failure("unknown key " + quoted(m->string) + " (namespaces)");
    namespaces = m;
  }
  if (!namespaces) return failure("missing \"namespaces\"");
  if (!cJSON_IsObject(namespaces)) return failure("namespaces: must be an object {\"NAME\": {...}, ...}");
  if (const char* dup = duplicate_key(namespaces)) return failure("namespaces: duplicate namespace " + quoted(dup));
  ChannelRulesResult r;
  for (const cJSON* m = namespaces->child; m; m = m->next) {
    std::string name = m->string;
    std::string where = "namespaces." + quoted(name);
    if (name.find(':') != std::string::npos)
      return failure(where + ": a namespace name cannot contain ':' (a channel's namespace ends at its first ':')");
    NamespaceRules rules;
    if (auto error = parse_namespace(m, where, &rules); !error.empty()) return failure(std::move(error));
    r.rules.namespaces.emplace(std::move(name), rules);
  }
  r.ok = true;
  return r;
}

ChannelRulesResult load_channel_rules(const std::string& path) {
  constexpr std::streamoff kMaxBytes = 1 << 20;
  std::ifstream in(path, std::ios::binary);
  if (!in) return failure("channels-file " + path + ": cannot open: " + std::strerror(errno));
  in.seekg(0, std::ios::end);
  std::streamoff size = in.tellg();
  if (size < 0) return failure("channels-file " + path + ": cannot read");
  if (size > kMaxBytes) return failure("channels-file " + path + ": larger than 1 MiB");
  in.seekg(0);
  std::string text(static_cast<std::size_t>(size), '\0');
  if (!in.read(text.data(), size)) return failure("channels-file " + path + ": cannot read");
  auto r = parse_channel_rules(text);
  if (!r.ok) r.error = "channels-file " + path + ": " + r.error;
  return r;
}

}  // namespace rtpush::auth
