// HttpExchange (core/http_exchange.h): what the rtpush protocol decides per
// HTTP request, pipelining included.
#include <string>

#include "cmocka_cpp.h"
#include "http_exchange.h"

using namespace rtpush;

namespace {

HttpExchange make(const char* method, const char* path) {
  HttpExchange ex;
  ex.request().method = method;
  ex.request().path = path;
  return ex;
}

}  // namespace

static void a_post_is_dispatched_once_its_body_is_in(void**) {
  HttpExchange ex = make("POST", "publish/a");
  assert_true(ex.begin(7, false) == HttpExchange::Start::ReadBody);
  ex.body("{\"n\":", 100);
  ex.body("1}", 100);
  assert_false(ex.complete());
  assert_true(ex.body_complete());
  assert_string_equal(ex.request().body.c_str(), "{\"n\":1}");
  assert_true(ex.complete());
  assert_false(ex.closes());  // keep-alive
  assert_true(ex.answer(HttpResponse{}));
  assert_false(ex.answer(HttpResponse{}));  // once
  assert_false(ex.closes());
}

static void a_repeated_completion_means_a_request_follows(void**) {
  // lws 4.1.6 reports the completion again while a pipelined request waits
  // behind this one: the answer then closes the connection, and reading
  // pauses only while that answer is not here.
  HttpExchange ex = make("POST", "publish/a");
  assert_true(ex.begin(2, false) == HttpExchange::Start::ReadBody);
  ex.body("{}", 100);
  assert_true(ex.body_complete());
  assert_false(ex.pause_reading());
  assert_false(ex.body_complete());
  assert_true(ex.closes());
  assert_true(ex.pause_reading());
  assert_true(ex.answer(HttpResponse{}));
  assert_false(ex.pause_reading());
  assert_true(ex.closes());
}

static void a_get_with_a_body_waits_for_it_and_one_without_does_not(void**) {
  HttpExchange with = make("GET", "health");
  assert_true(with.begin(5, false) == HttpExchange::Start::ReadBody);
  assert_false(with.complete());
  assert_true(with.body_complete());
  HttpExchange without = make("GET", "health");
  assert_true(without.begin(-1, false) == HttpExchange::Start::Dispatch);
  assert_true(without.complete());
  HttpExchange zero = make("GET", "health");  // lws reports no body for it
  assert_true(zero.begin(0, false) == HttpExchange::Start::Dispatch);
}

static void a_post_without_content_length_is_refused_with_411_and_closes(void**) {
  for (long long length : {-1LL, 5LL}) {
    HttpExchange ex = make("POST", "publish/a");
    assert_true(ex.begin(length, length > 0) == HttpExchange::Start::Refuse);
    assert_true(ex.has_answer());
    assert_int_equal(ex.response().status, 411);
    assert_true(ex.closes());
    ex.body("{}", 100);  // dropped
    assert_true(ex.request().body.empty());
    assert_false(ex.body_complete());
  }
}

static void a_body_past_the_bound_is_marked_and_dropped(void**) {
  HttpExchange ex = make("POST", "publish/a");
  ex.begin(12, false);
  ex.body("[1,2,", 8);
  ex.body("3,4,5]", 8);
  assert_true(ex.request().body_too_large);
  assert_string_equal(ex.request().body.c_str(), "[1,2,");
}

static void a_late_refusal_wins_only_when_nothing_answered(void**) {
  HttpExchange ex = make("POST", "publish/a");
  ex.begin(10, false);
  assert_true(ex.refuse(408, "slow"));
  assert_true(ex.closes());
  assert_false(ex.answer(HttpResponse{}));
  assert_int_equal(ex.response().status, 408);
  HttpExchange answered = make("GET", "health");
  answered.begin(-1, false);
  assert_true(answered.answer(HttpResponse{}));
  assert_false(answered.refuse(408, "slow"));
  assert_false(answered.closes());
}

// lws 4.1.6 handed a POST pipelined behind a body-less GET its own head as
// its body; lws patch 0013 ends that, and a body is what the client sent,
// whatever it begins with.
static void a_body_that_begins_like_a_request_line_is_a_body(void**) {
  HttpExchange ex = make("POST", "publish/b");
  ex.begin(7, false);
  ex.body("POST /p", 100);
  assert_true(ex.body_complete());
  assert_string_equal(ex.request().body.c_str(), "POST /p");
  assert_false(ex.closes());
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(a_post_is_dispatched_once_its_body_is_in),
      cmocka_unit_test(a_repeated_completion_means_a_request_follows),
      cmocka_unit_test(a_get_with_a_body_waits_for_it_and_one_without_does_not),
      cmocka_unit_test(a_post_without_content_length_is_refused_with_411_and_closes),
      cmocka_unit_test(a_body_past_the_bound_is_marked_and_dropped),
      cmocka_unit_test(a_late_refusal_wins_only_when_nothing_answered),
      cmocka_unit_test(a_body_that_begins_like_a_request_line_is_a_body),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
