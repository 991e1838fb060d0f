// What a sentinel's answers mean (SPEC section 12): the master's address,
// a master name it does not know, an error; +switch-master messages; and
// the cause a node logs when no sentinel names the master.
#include <cstring>
#include <string>

#include "cmocka_cpp.h"
#include "sentinel_replies.h"

using rtpush::MasterSwitch;
using rtpush::SentinelAnswer;
using rtpush::SentinelFailure;

namespace {

redisReply str(const char* s, int type = REDIS_REPLY_STRING) {
  redisReply r{};
  r.type = type;
  r.str = const_cast<char*>(s);
  r.len = std::strlen(s);
  return r;
}

}  // namespace

static void an_address_is_the_master(void**) {
  redisReply host = str("10.0.0.7"), port = str("6380");
  redisReply* elems[] = {&host, &port};
  redisReply arr{};
  arr.type = REDIS_REPLY_ARRAY;
  arr.elements = 2;
  arr.element = elems;
  SentinelAnswer a = rtpush::sentinel_master_answer(&arr);
  assert_int_equal(a.kind, SentinelAnswer::Address);
  assert_string_equal(a.master.host.c_str(), "10.0.0.7");
  assert_int_equal(a.master.port, 6380);
  redisReply bad_port = str("70000");
  elems[1] = &bad_port;
  assert_int_equal(rtpush::sentinel_master_answer(&arr).kind, SentinelAnswer::Failed);
}

static void nil_is_an_unknown_master_and_errors_say_why(void**) {
  redisReply nil{};
  nil.type = REDIS_REPLY_NIL;
  assert_int_equal(rtpush::sentinel_master_answer(&nil).kind, SentinelAnswer::UnknownMaster);
  redisReply err = str("NOAUTH Authentication required.", REDIS_REPLY_ERROR);
  SentinelAnswer a = rtpush::sentinel_master_answer(&err);
  assert_int_equal(a.kind, SentinelAnswer::Failed);
  assert_string_equal(a.why.c_str(), "NOAUTH Authentication required.");
  assert_int_equal(rtpush::sentinel_master_answer(nullptr).kind, SentinelAnswer::Failed);
  // An empty error still says why: an empty why would read as "knows no
  // such master" in no_master_cause().
  redisReply empty = str("", REDIS_REPLY_ERROR);
  a = rtpush::sentinel_master_answer(&empty);
  assert_int_equal(a.kind, SentinelAnswer::Failed);
  assert_false(a.why.empty());
}

static void switch_master_messages(void**) {
  auto s = rtpush::parse_switch_master("mymaster 127.0.0.1 7001 127.0.0.1 7002");
  assert_true(s.has_value());
  assert_string_equal(s->master.c_str(), "mymaster");
  assert_string_equal(s->from.host_port().c_str(), "127.0.0.1:7001");
  assert_string_equal(s->to.host_port().c_str(), "127.0.0.1:7002");
  assert_false(rtpush::parse_switch_master("mymaster 127.0.0.1 7001 127.0.0.1").has_value());
  assert_false(rtpush::parse_switch_master("mymaster 127.0.0.1 7001 127.0.0.1 x").has_value());
  assert_false(rtpush::parse_switch_master("mymaster a 1 b 2 extra").has_value());
}

static void causes_name_every_sentinel(void**) {
  assert_string_equal(rtpush::no_master_cause("m", {{"a:1", ""}, {"b:2", ""}}).c_str(),
                      "the sentinels know no master named m");
  assert_string_equal(
      rtpush::no_master_cause("m", {{"a:1", "Connection refused"}, {"b:2", "no answer within 500 ms"}}).c_str(),
      "no sentinel answered (a:1: Connection refused, b:2: no answer within 500 ms)");
  assert_string_equal(rtpush::no_master_cause("m", {{"a:1", ""}, {"b:2", "Connection refused"}}).c_str(),
                      "the sentinels that answered know no master named m; no answer from (b:2: Connection refused)");
}

static void role_is_the_first_element(void**) {
  redisReply role = str("slave");
  redisReply* elems[] = {&role};
  redisReply arr{};
  arr.type = REDIS_REPLY_ARRAY;
  arr.elements = 1;
  arr.element = elems;
  assert_string_equal(rtpush::role_of(&arr).c_str(), "slave");
  assert_true(rtpush::role_of(nullptr).empty());
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(an_address_is_the_master),
      cmocka_unit_test(nil_is_an_unknown_master_and_errors_say_why),
      cmocka_unit_test(switch_master_messages),
      cmocka_unit_test(causes_name_every_sentinel),
      cmocka_unit_test(role_is_the_first_element),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
