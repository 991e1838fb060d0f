// config_refusal: the option and path a refused configuration is about,
// from the option the refusal names (ConfigError), never from its text.
#include <string>

#include "cmocka_cpp.h"
#include "config_refusal.h"

using namespace rtpush;

static void names_the_option_and_its_file(void**) {
  const OptionList given = {{"node-id", "a"}, {"channels-file", "/etc/rtpush/ch.json"}, {"redis", "redis://x"}};
  ConfigRefusal r =
      config_refusal({"channels-file", "channels-file /etc/rtpush/ch.json: namespace chat: \"maybe\""}, given);
  assert_string_equal(r.option.c_str(), "channels-file");
  assert_string_equal(r.path.c_str(), "/etc/rtpush/ch.json");
  r = config_refusal({"redis", "redis: \"redis://x\" is not a redis://host:port[/db] URL"}, given);
  assert_string_equal(r.option.c_str(), "redis");
  assert_true(r.path.empty());  // not a file
  r = config_refusal({"node-id", "node-id must not be empty"}, given);
  assert_string_equal(r.option.c_str(), "node-id");
}

// A refusal about no option, or about one the vhost did not give, names
// none: no guess ("the context has ...", an option absent from the vhost),
// and the text is never read for one.
static void no_option_when_none_is_named(void**) {
  const OptionList given = {{"history-size", "x"}};
  assert_true(config_refusal({"", "the context has 2 service threads"}, given).option.empty());
  assert_true(config_refusal({"auth", "auth: required needs jwt-secret-file"}, given).option.empty());
  assert_true(config_refusal({"", "history-size: \"x\" is not a whole number"}, given).option.empty());
  assert_true(config_refusal({}, given).option.empty());
  assert_string_equal(
      config_refusal({"history-size", "history-size: \"x\" is not a whole number"}, given).option.c_str(),
      "history-size");
}

// The last value given is the one the vhost used, and the path shown.
static void the_last_value_given_is_the_path(void**) {
  const OptionList given = {{"api-key-file", "/etc/a"}, {"api-key-file", "/etc/b"}};
  const ConfigRefusal r = config_refusal({"api-key-file", "api-key-file /etc/b: empty"}, given);
  assert_string_equal(r.option.c_str(), "api-key-file");
  assert_string_equal(r.path.c_str(), "/etc/b");
}

// What parse_options refuses comes back named, end to end.
static void parse_refusals_name_their_option(void**) {
  const OptionList given = {{"history-size", "1"}, {"channels-file", ""}};
  const OptionsResult parsed = parse_options(given, "n");
  assert_false(parsed.ok);
  const ConfigRefusal r = config_refusal(parsed.error, given);
  assert_string_equal(r.option.c_str(), "channels-file");
  assert_string_equal(r.path.c_str(), "");
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(names_the_option_and_its_file),
      cmocka_unit_test(no_option_when_none_is_named),
      cmocka_unit_test(the_last_value_given_is_the_path),
      cmocka_unit_test(parse_refusals_name_their_option),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
