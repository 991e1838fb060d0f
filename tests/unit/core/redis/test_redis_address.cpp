// The `redis` option's three URL forms (SPEC section 12), shared by the
// nodes and rtpush-publish: what each gives, what is refused and why, and
// that a password never shows in an error or in redacted().
#include <cstring>
#include <string>

#include "cmocka_cpp.h"
#include "redis_address.h"

using rtpush::RedisTopology;
using rtpush::RedisUrl;

static void parses_one_redis(void**) {
  std::string why;
  auto u = RedisUrl::parse("redis://10.1.2.3:6380/4", &why);
  assert_true(u.has_value());
  assert_true(u->topology == RedisTopology::Single);
  assert_string_equal(u->single().host.c_str(), "10.1.2.3");
  assert_int_equal(u->single().port, 6380);
  assert_int_equal(u->single().db, 4);
  assert_string_equal(u->single().host_port().c_str(), "10.1.2.3:6380");
  assert_true(u->single().password.empty() && u->single().user.empty());
  u = RedisUrl::parse("redis://cache.internal", &why);
  assert_true(u && u->single().host == "cache.internal" && u->single().port == 6379 && u->db == 0);
  u = RedisUrl::parse("redis://127.0.0.1:7000", &why);
  assert_true(u && u->single().port == 7000 && u->db == 0);
  u = RedisUrl::parse("redis://[::1]:7001/2", &why);
  assert_true(u && u->single().host == "::1" && u->single().port == 7001 && u->db == 2);
}

static void parses_credentials(void**) {
  std::string why;
  auto u = RedisUrl::parse("redis://alice:s3cret@h:1/2", &why);
  assert_true(u.has_value());
  assert_string_equal(u->single().user.c_str(), "alice");
  assert_string_equal(u->single().password.c_str(), "s3cret");
  // As redis-cli -u: a password alone is the default user's.
  u = RedisUrl::parse("redis://:pw@h:1", &why);
  assert_true(u && u->user.empty() && u->password == "pw");
  u = RedisUrl::parse("redis://pw@h:1", &why);
  assert_true(u && u->user.empty() && u->password == "pw");
  // Percent-escapes, and '@' or '/' or ':' inside the password.
  u = RedisUrl::parse("redis://bob:p%40ss:w/rd@h:1/3", &why);
  assert_true(u.has_value());
  assert_string_equal(u->password.c_str(), "p@ss:w/rd");
  assert_int_equal(u->db, 3);
  u = RedisUrl::parse("redis://bob:a@b@h:1", &why);
  assert_true(u && u->password == "a@b" && u->hosts[0].host == "h");
}

static void parses_sentinel_and_cluster(void**) {
  std::string why;
  auto u = RedisUrl::parse("redis+sentinel://u:p@10.0.0.1:26379,10.0.0.2,10.0.0.3:26381/mymaster/5", &why);
  assert_true(u.has_value());
  assert_true(u->topology == RedisTopology::Sentinel);
  assert_int_equal(u->hosts.size(), 3);
  assert_int_equal(u->hosts[1].port, 26379);  // the sentinels' default port
  assert_int_equal(u->hosts[2].port, 26381);
  assert_string_equal(u->master.c_str(), "mymaster");
  assert_int_equal(u->db, 5);
  // A master's address gets the URL's credentials and database; a sentinel
  // only the sentinel password.
  u->sentinel_password = "sp";
  assert_true(u->server("10.9.9.9", 6390).password == "p" && u->server("10.9.9.9", 6390).db == 5);
  assert_true(u->sentinel(u->hosts[0]).password == "sp" && u->sentinel(u->hosts[0]).user.empty() &&
              u->sentinel(u->hosts[0]).db == 0);
  u = RedisUrl::parse("redis+sentinel://s1:1/m", &why);
  assert_true(u && u->db == 0 && u->master == "m");

  u = RedisUrl::parse("redis+cluster://:pw@127.0.0.1:7000,127.0.0.1:7001", &why);
  assert_true(u.has_value());
  assert_true(u->topology == RedisTopology::Cluster);
  assert_int_equal(u->hosts.size(), 2);
  assert_int_equal(u->hosts[1].port, 7001);
  assert_string_equal(u->password.c_str(), "pw");
  u = RedisUrl::parse("redis+cluster://seed", &why);
  assert_true(u && u->hosts[0].port == 6379);
}

static void rejects_bad_urls_with_a_reason(void**) {
  for (const char* bad :
       {"127.0.0.1:6379", "http://x:1", "redis://", "redis://:6379", "redis://h:0", "redis://h:70000",
        "redis://h:port", "redis://h:1/x", "redis://h/-1", "", "redis://a:1,b:2", "redis://h:1?db=2",
        "redis://u:@h:1", "redis://u:%4@h:1", "redis://h:", "redis+sentinel://a:1,b:2",
        "redis+sentinel://a:1/", "redis+sentinel://a:1/m/", "redis+sentinel://a:1/m/x", "redis+cluster://a:1/0",
        "redis+cluster://a:1,,b:2", "redis+cluster://", "redis://[::1"}) {
    std::string why;
    assert_false(RedisUrl::parse(bad, &why).has_value());
    assert_true(why.size() > 5);
  }
}

// SPEC 12: a password never appears in an error or in what is logged.
static void never_shows_the_password(void**) {
  for (const char* url : {"redis://user:Hunter2pw@h:1/x", "http://user:Hunter2pw@h:1", "redis://Hunter2pw@:1",
                          "redis+sentinel://Hunter2pw@a:1", "redis+cluster://u:Hunter2pw@a:1/2"}) {
    std::string why;
    assert_false(RedisUrl::parse(url, &why).has_value());
    assert_null(strstr(why.c_str(), "Hunter2pw"));
  }
  std::string why;
  auto u = RedisUrl::parse("redis+sentinel://al%20ice:Hunter2pw@a:1,b:2/m/3", &why);
  assert_true(u.has_value());
  assert_string_equal(u->redacted().c_str(), "redis+sentinel://al%20ice:***@a:1,b:2/m/3");
  u = RedisUrl::parse("redis://:Hunter2pw@h", &why);
  assert_string_equal(u->redacted().c_str(), "redis://:***@h:6379");
  u = RedisUrl::parse("redis+cluster://h:1,[::1]:2", &why);
  assert_string_equal(u->redacted().c_str(), "redis+cluster://h:1,[::1]:2");
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(parses_one_redis),
      cmocka_unit_test(parses_credentials),
      cmocka_unit_test(parses_sentinel_and_cluster),
      cmocka_unit_test(rejects_bad_urls_with_a_reason),
      cmocka_unit_test(never_shows_the_password),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
