// config_refusal: the option and path a refused configuration is about,
// from the refusal texts as the parsers write them.
#include <string>

#include "cmocka_cpp.h"
#include "config_refusal.h"

using namespace rtpush;

static void names_the_option_and_its_file(void**) {
  const OptionList given = {{"node-id", "a"}, {"channels-file", "/etc/rtpush/ch.json"}, {"redis", "redis://x"}};
  ConfigRefusal r = config_refusal("channels-file /etc/rtpush/ch.json: namespace chat: \"maybe\"", given);
  assert_string_equal(r.option.c_str(), "channels-file");
  assert_string_equal(r.path.c_str(), "/etc/rtpush/ch.json");
  r = config_refusal("redis: \"redis://x\" is not a redis://host:port[/db] URL", given);
  assert_string_equal(r.option.c_str(), "redis");
  assert_true(r.path.empty());  // not a file
  r = config_refusal("node-id must not be empty", given);
  assert_string_equal(r.option.c_str(), "node-id");
}

// A text that does not begin with an option the vhost gave names none: no
// guess ("the context has ...", an option absent from the vhost).
static void no_option_when_none_is_named(void**) {
  const OptionList given = {{"history-size", "x"}};
  assert_true(config_refusal("the context has 2 service threads", given).option.empty());
  assert_true(config_refusal("auth: required needs jwt-secret-file", given).option.empty());
  assert_true(config_refusal("history-size", given).option.empty());  // nothing after: not the form
  assert_true(config_refusal("", given).option.empty());
  assert_string_equal(config_refusal("history-size: \"x\" is not a whole number", given).option.c_str(), "history-size");
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(names_the_option_and_its_file),
      cmocka_unit_test(no_option_when_none_is_named),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
