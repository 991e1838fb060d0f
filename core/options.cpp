#include "options.h"

#include <unistd.h>

#include <charconv>
#include <string_view>
#include <variant>

#include "option_table.h"
#include "origin_list.h"

namespace rtpush {

namespace {

// Options lwsws itself reads from a protocol's block; not ours to reject.
bool lws_owned(const std::string& name) { return name == "default" || name == "status"; }

bool parse_size(const std::string& v, std::size_t min, std::size_t max, std::size_t* out) {
  std::size_t n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (v.empty() || ec != std::errc() || p != v.data() + v.size() || n < min || n > max) return false;
  *out = n;
  return true;
}

// One value of `spec`'s kind into its member of `o`; false with *error set
// when the value is not one the option takes. A redis URL is only kept
// here: parse_options() parses the last one given.
bool set_option(const OptionSpec& spec, const std::string& value, Options* o, ConfigError* error) {
  const std::string name = spec.name;
  error->option = name;
  switch (spec.kind) {
    case OptionKind::Number: {
      std::size_t n = 0;
      if (!parse_size(value, spec.min, spec.max, &n)) {
        error->cause = name + ": \"" + value + "\" is not a whole number from " + std::to_string(spec.min) +
                       " to " + std::to_string(spec.max);
        return false;
      }
      // The table's ranges keep every unsigned member's max within it
      // (test_option_table checks).
      if (auto size = std::get_if<std::size_t Options::*>(&spec.member)) o->**size = n;
      if (auto u = std::get_if<unsigned Options::*>(&spec.member)) o->**u = static_cast<unsigned>(n);
      return true;
    }
    case OptionKind::NonEmpty:
    case OptionKind::File:
      // Empty is a mistake (a template variable that was not filled), not
      // "unset": reading it as unset would quietly leave the vhost open.
      if (value.empty()) {
        error->cause = name + " must not be empty";
        return false;
      }
      o->*std::get<std::string Options::*>(spec.member) = value;
      return true;
    case OptionKind::Text:
    case OptionKind::RedisUrl:
      o->*std::get<std::string Options::*>(spec.member) = value;
      return true;
    case OptionKind::Choice:
      if (value != spec.false_word && value != spec.true_word) {
        error->cause = name + ": \"" + value + "\" is neither " + spec.false_word + " nor " + spec.true_word;
        return false;
      }
      o->*std::get<bool Options::*>(spec.member) = value == spec.true_word;
      return true;
    case OptionKind::Origins: {
      std::vector<std::string>& list = o->*std::get<std::vector<std::string> Options::*>(spec.member);
      list.clear();
      error->cause = parse_origins(value, &list);
      return error->cause.empty();
    }
  }
  return false;
}

}  // namespace

std::string default_node_id() {
  char host[256] = "localhost";
  gethostname(host, sizeof host - 1);
  host[sizeof host - 1] = '\0';
  return std::string(host) + ":" + std::to_string(getpid());
}

OptionsResult parse_options(const OptionList& values, const std::string& default_node) {
  OptionsResult r;
  Options& o = r.options;
  o.node_id = default_node;
  for (const auto& [name, value] : values) {
    const OptionSpec* spec = find_option(name);
    if (!spec) {
      if (!lws_owned(name)) r.warnings.push_back("unknown option \"" + name + "\" ignored");
      continue;
    }
    if (!set_option(*spec, value, &o, &r.error)) return r;
  }
  // The redis URL, parsed once. One that is not redis://... at all is
  // refused here, after every other option; one malformed past its scheme
  // is refused by Vhost::build (redis_error), as each always has been.
  if (!o.redis.empty()) {
    std::string why;
    o.redis_url = RedisUrl::parse(o.redis, &why);
    if (o.redis_url) o.redis_url->sentinel_password = o.redis_sentinel_password;
    if (!o.redis_url) {
      if (o.redis.rfind("redis://", 0) != 0 && o.redis.rfind("redis+sentinel://", 0) != 0 &&
          o.redis.rfind("redis+cluster://", 0) != 0) {
        r.error = {"redis", "redis: " + why};
        return r;
      }
      o.redis_error = std::move(why);
    }
  }
  r.error = {};
  r.ok = true;
  return r;
}

}  // namespace rtpush
