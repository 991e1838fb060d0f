// The blocking Redis connection the nodes (at shutdown) and rtpush-publish
// share: where nothing listens it fails fast with the text the CLI prints.
#include <string>

#include "cmocka_cpp.h"
#include "free_port.h"
#include "redis_blocking.h"
#include "redis_link.h"

using namespace rtpush;

static void unreachable_says_where_and_why(void**) {
  RedisAddress address;
  address.host = "127.0.0.1";
  address.port = free_port();
  std::string why;
  assert_null(blocking_connect(address, 1, &why).get());
  const std::string want = "cannot reach redis://127.0.0.1:" + std::to_string(address.port) + ": ";
  assert_string_equal(why.substr(0, want.size()).c_str(), want.c_str());
  assert_true(why.size() > want.size());  // hiredis's errstr follows
  // The shutdown commands over it: not sent, false.
  assert_false(blocking_commands(address, {{"PING"}}, 500));
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(unreachable_says_where_and_why),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
