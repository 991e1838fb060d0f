// The core factory: a vhost's objects from its options, and what it refuses
// (a context with more than one service thread; a malformed redis URL).
#include <string>

#include "cmocka_cpp.h"
#include "vhost.h"

using namespace rtpush;

static Options options(OptionList values) { return parse_options(values, "test-node").options; }
static Logger none(IoThread*) { return Logger::none(); }

static void embedded_needs_no_io_thread(void**) {
  std::string why;
  auto v = Vhost::build(options({}), 1, [] {}, none, &why);
  assert_non_null(v.get());
  assert_null(v->io());
  assert_int_equal(v->node().connection_count(), 0);
  assert_string_equal(v->node().node_id().c_str(), "test-node");
}

static void more_than_one_service_thread_is_refused(void**) {
  std::string why;
  auto v = Vhost::build(options({}), 2, [] {}, none, &why);
  assert_null(v.get());
  assert_true(why.find("2 service threads") != std::string::npos);
  assert_true(why.find("count-threads") != std::string::npos);
}

static void malformed_redis_url_is_refused(void**) {
  std::string why;
  auto v = Vhost::build(options({{"redis", "redis://localhost:99999"}}), 1, [] {}, none, &why);
  assert_null(v.get());
  assert_true(why.rfind("redis: ", 0) == 0);
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(embedded_needs_no_io_thread),
      cmocka_unit_test(more_than_one_service_thread_is_refused),
      cmocka_unit_test(malformed_redis_url_is_refused),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
