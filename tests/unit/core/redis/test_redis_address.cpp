// redis://host:port[/db] parsing, shared by the nodes and rtpush-publish.
#include <string>

#include "cmocka_cpp.h"
#include "redis_address.h"

using rtpush::RedisAddress;

static void parses_the_forms(void**) {
  std::string why;
  auto a = RedisAddress::parse("redis://10.1.2.3:6380/4", &why);
  assert_true(a.has_value());
  assert_string_equal(a->host.c_str(), "10.1.2.3");
  assert_int_equal(a->port, 6380);
  assert_int_equal(a->db, 4);
  assert_string_equal(a->host_port().c_str(), "10.1.2.3:6380");
  a = RedisAddress::parse("redis://cache.internal", &why);
  assert_true(a && a->host == "cache.internal" && a->port == 6379 && a->db == 0);
  a = RedisAddress::parse("redis://127.0.0.1:7000", &why);
  assert_true(a && a->port == 7000 && a->db == 0);
}

static void rejects_bad_urls_with_a_reason(void**) {
  for (const char* bad : {"127.0.0.1:6379", "http://x:1", "redis://", "redis://:6379", "redis://h:0",
                          "redis://h:70000", "redis://h:port", "redis://h:1/x", "redis://h/-1", ""}) {
    std::string why;
    assert_false(RedisAddress::parse(bad, &why).has_value());
    assert_true(why.size() > 5);
  }
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(parses_the_forms),
      cmocka_unit_test(rejects_bad_urls_with_a_reason),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
