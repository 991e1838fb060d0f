// The options table (option_table.h), row by row: each option's kind, range
// and member, its refusals and its default, driven by the table itself so a
// new row is tested without a new test.
#include <climits>
#include <cstring>
#include <set>
#include <string>
#include <variant>

#include "cmocka_cpp.h"
#include "option_table.h"

using namespace rtpush;

namespace {

// The number `spec`'s member holds in `o`.
std::size_t number_of(const OptionSpec& spec, const Options& o) {
  if (auto size = std::get_if<std::size_t Options::*>(&spec.member)) return o.**size;
  return o.*std::get<unsigned Options::*>(spec.member);
}

const std::string& text_of(const OptionSpec& spec, const Options& o) {
  return o.*std::get<std::string Options::*>(spec.member);
}

OptionsResult parse_one(const OptionSpec& spec, const std::string& value) {
  return parse_options({{spec.name, value}}, "default-node");
}

// Refused, naming the option, with exactly `cause`; false (and a line) if not.
bool refused(const OptionSpec& spec, const std::string& value, const std::string& cause) {
  const OptionsResult r = parse_one(spec, value);
  if (!r.ok && r.error.option == spec.name && r.error.cause == cause) return true;
  print_error("%s=\"%s\": ok=%d option \"%s\" cause \"%s\", expected \"%s\"\n", spec.name, value.c_str(), r.ok,
              r.error.option.c_str(), r.error.cause.c_str(), cause.c_str());
  return false;
}

}  // namespace

// Names are unique, [a-z0-9-], and each kind has the member type it writes.
static void rows_are_well_formed(void**) {
  std::set<std::string> seen;
  for (const OptionSpec& s : option_table()) {
    assert_true(seen.insert(s.name).second);
    for (const char* c = s.name; *c; ++c) assert_true((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-');
    assert_ptr_equal(find_option(s.name), &s);
    switch (s.kind) {
      case OptionKind::Number:
        assert_true(std::holds_alternative<std::size_t Options::*>(s.member) ||
                    std::holds_alternative<unsigned Options::*>(s.member));
        assert_true(s.min <= s.max);
        // An unsigned member holds every value the range lets through.
        if (std::holds_alternative<unsigned Options::*>(s.member)) assert_true(s.max <= UINT_MAX);
        break;
      case OptionKind::Choice:
        assert_true(std::holds_alternative<bool Options::*>(s.member));
        assert_non_null(s.false_word);
        assert_non_null(s.true_word);
        break;
      case OptionKind::Origins:
        assert_true(std::holds_alternative<std::vector<std::string> Options::*>(s.member));
        break;
      default:
        assert_true(std::holds_alternative<std::string Options::*>(s.member));
    }
  }
  assert_null(find_option("histroy-size"));
  assert_null(find_option(""));
}

// Every number: both ends accepted and read; one past either end, a sign,
// a fraction, a space, empty: refused by name with the range.
static void numbers_at_and_past_their_bounds(void**) {
  bool failed = false;
  for (const OptionSpec& s : option_table()) {
    if (s.kind != OptionKind::Number) continue;
    for (std::size_t v : {s.min, s.max, s.min + (s.max - s.min) / 2}) {
      const OptionsResult r = parse_one(s, std::to_string(v));
      if (!r.ok || number_of(s, r.options) != v) {
        print_error("%s=%zu: ok=%d read %zu\n", s.name, v, r.ok, r.ok ? number_of(s, r.options) : 0);
        failed = true;
      }
    }
    const std::string range = " is not a whole number from " + std::to_string(s.min) + " to " + std::to_string(s.max);
    std::vector<std::string> bad = {std::to_string(s.max + 1), "", "-1", "1.5", " 1", "1 ", "+1", "x", "0x10",
                                    "99999999999999999999999"};
    if (s.min > 0) bad.push_back(std::to_string(s.min - 1));
    for (const std::string& v : bad)
      if (!refused(s, v, std::string(s.name) + ": \"" + v + "\"" + range)) failed = true;
  }
  assert_false(failed);
}

// The defaults are Options' initializers: parse_options() starts from
// them, each number's is within its range and reads back as itself, each
// choice is off, and the texts are unset (node-id's is the one given).
static void defaults_are_options_initializers(void**) {
  const Options initial;
  const Options unset = parse_options({}, "default-node").options;
  bool failed = false;
  for (const OptionSpec& s : option_table()) {
    if (s.kind == OptionKind::Number) {
      const std::size_t def = number_of(s, initial);
      const OptionsResult r = parse_one(s, std::to_string(def));
      if (number_of(s, unset) != def || !r.ok || number_of(s, r.options) != def) {
        print_error("%s: default %zu, unset %zu, within %zu to %zu\n", s.name, def, number_of(s, unset), s.min,
                    s.max);
        failed = true;
      }
    } else if (s.kind == OptionKind::Choice) {
      if (initial.*std::get<bool Options::*>(s.member) || unset.*std::get<bool Options::*>(s.member)) {
        print_error("%s: on by default\n", s.name);
        failed = true;
      }
    } else if (s.kind == OptionKind::Origins) {
      assert_true(unset.allowed_origins.empty());
    } else if (!s.default_doc && (!text_of(s, initial).empty() || !text_of(s, unset).empty())) {
      print_error("%s: not unset by default\n", s.name);
      failed = true;
    }
  }
  assert_string_equal(unset.node_id.c_str(), "default-node");
  assert_non_null(find_option("node-id")->default_doc);
  assert_false(failed);
}

// Text that must not be empty (the files, node-id, the expected claims):
// read as given, refused empty by name.
static void non_empty_texts(void**) {
  bool failed = false;
  for (const OptionSpec& s : option_table()) {
    if (s.kind != OptionKind::NonEmpty && s.kind != OptionKind::File) continue;
    const OptionsResult r = parse_one(s, "/etc/x y");
    if (!r.ok || text_of(s, r.options) != "/etc/x y") failed = true;
    if (!refused(s, "", std::string(s.name) + " must not be empty")) failed = true;
  }
  assert_false(failed);
  // Plain text: anything, empty included (unset).
  for (const OptionSpec& s : option_table()) {
    if (s.kind != OptionKind::Text) continue;
    for (const char* v : {"", "host=db user=u"}) {
      const OptionsResult r = parse_one(s, v);
      assert_true(r.ok);
      assert_string_equal(text_of(s, r.options).c_str(), v);
    }
  }
}

// Choices: exactly one of the two words, the last one given wins.
static void choices_are_one_of_two_words(void**) {
  bool failed = false;
  for (const OptionSpec& s : option_table()) {
    if (s.kind != OptionKind::Choice) continue;
    const auto flag = std::get<bool Options::*>(s.member);
    assert_true(parse_one(s, s.true_word).options.*flag);
    assert_false(parse_one(s, s.false_word).options.*flag);
    assert_false(parse_options({{s.name, s.true_word}, {s.name, s.false_word}}, "d").options.*flag);
    const std::string upper = std::string(1, static_cast<char>(s.true_word[0] - 'a' + 'A')) + (s.true_word + 1);
    for (const std::string& v : {std::string(), upper, std::string(s.true_word) + " ", std::string("1")})
      if (!refused(s, v, std::string(s.name) + ": \"" + v + "\" is neither " + s.false_word + " nor " + s.true_word))
        failed = true;
  }
  assert_false(failed);
}

// redis: parsed once, at option time. Not redis://... at all is refused
// here; a redis:// URL malformed past its scheme is kept with why, for
// Vhost::build to refuse.
static void redis_url_is_parsed_once(void**) {
  OptionsResult r = parse_options({{"redis", "redis://10.0.0.2:6380/3"}}, "d");
  assert_true(r.ok);
  assert_true(r.options.redis_url.has_value());
  assert_string_equal(r.options.redis_url->single().host.c_str(), "10.0.0.2");
  assert_int_equal(r.options.redis_url->single().port, 6380);
  assert_int_equal(r.options.redis_url->db, 3);
  assert_true(r.options.redis_error.empty());

  r = parse_options({{"redis", "127.0.0.1:6379"}}, "d");
  assert_false(r.ok);
  assert_string_equal(r.error.option.c_str(), "redis");
  // The value is not echoed: a URL may hold a password.
  assert_string_equal(r.error.cause.c_str(),
                      "redis: the redis URL must be redis://[user:password@]host:port[/db], "
                      "redis+sentinel://[user:password@]host:port,.../MASTER[/db] or "
                      "redis+cluster://[user:password@]host:port,...");
  r = parse_options({{"redis", "redis+sentinel://:s3cret@h:26379"}}, "d");
  assert_true(r.ok);
  assert_false(r.options.redis_url.has_value());
  assert_null(strstr(r.options.redis_error.c_str(), "s3cret"));
  r = parse_options({{"redis", "redis+sentinel://u:pw@a:1,b:2/mymaster/2"}, {"redis-sentinel-password", "sp"}}, "d");
  assert_true(r.ok && r.options.redis_url.has_value());
  assert_string_equal(r.options.redis_url->sentinel_password.c_str(), "sp");
  assert_string_equal(r.options.redis_url->master.c_str(), "mymaster");

  r = parse_options({{"redis", "redis://h:99999"}}, "d");
  assert_true(r.ok);
  assert_false(r.options.redis_url.has_value());
  assert_string_equal(r.options.redis_error.c_str(), "bad port in the redis URL");

  // Checked after the other options: a bad one among them is the refusal.
  r = parse_options({{"redis", "x"}, {"history-size", "x"}}, "d");
  assert_string_equal(r.error.option.c_str(), "history-size");
  // The last value given is the URL; empty is the embedded broker.
  r = parse_options({{"redis", "x"}, {"redis", ""}}, "d");
  assert_true(r.ok);
  assert_false(r.options.redis_url.has_value());
  assert_true(r.options.redis.empty());
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(rows_are_well_formed),
      cmocka_unit_test(numbers_at_and_past_their_bounds),
      cmocka_unit_test(defaults_are_options_initializers),
      cmocka_unit_test(non_empty_texts),
      cmocka_unit_test(choices_are_one_of_two_words),
      cmocka_unit_test(redis_url_is_parsed_once),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
