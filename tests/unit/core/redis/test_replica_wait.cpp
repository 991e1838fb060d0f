// redis-wait-replicas (SPEC 12): a publish is answered once a WAIT sent
// after its reply confirms enough replicas; one WAIT in flight covers every
// publish before it, those that come meanwhile wait for the next; fewer
// replicas or a lost link answer "not confirmed".
#include <functional>
#include <string>
#include <vector>

#include "cmocka_cpp.h"
#include "replica_wait.h"

using rtpush::ReplicaWait;

namespace {

struct FakeLink {
  std::vector<std::vector<std::string>> sent;
  std::vector<std::function<void(redisReply*)>> waiting;
  ReplicaWait::Send send() {
    return [this](const std::vector<std::string>& args, std::function<void(redisReply*)> cb) {
      sent.push_back(args);
      waiting.push_back(std::move(cb));
    };
  }
  void answer(long long replicas) {
    redisReply r{};
    r.type = REDIS_REPLY_INTEGER;
    r.integer = replicas;
    auto cb = std::move(waiting.front());
    waiting.erase(waiting.begin());
    cb(&r);
  }
  void lose() {
    auto cb = std::move(waiting.front());
    waiting.erase(waiting.begin());
    cb(nullptr);
  }
};

}  // namespace

static void disabled_answers_at_once(void**) {
  FakeLink link;
  ReplicaWait wait(0, 500, link.send());
  int ok = 0;
  wait.after_reply([&](bool confirmed, long long) { ok += confirmed; });
  assert_int_equal(ok, 1);
  assert_int_equal(link.sent.size(), 0);
}

static void one_wait_covers_a_burst_and_the_next_covers_the_rest(void**) {
  FakeLink link;
  ReplicaWait wait(1, 250, link.send());
  std::vector<int> answered;
  for (int i = 0; i < 3; ++i) wait.after_reply([&, i](bool ok, long long) { if (ok) answered.push_back(i); });
  assert_int_equal(link.sent.size(), 1);  // the first reply sent one WAIT; the next two wait for its answer
  assert_true((link.sent[0] == std::vector<std::string>{"WAIT", "1", "250"}));
  link.answer(1);  // covers publish 0 only: 1 and 2 came after it was sent
  assert_int_equal(answered.size(), 1);
  assert_int_equal(link.sent.size(), 2);  // one WAIT for both of the others
  wait.after_reply([&](bool ok, long long) { if (ok) answered.push_back(3); });
  assert_int_equal(link.sent.size(), 2);
  link.answer(2);
  assert_int_equal(answered.size(), 3);
  assert_int_equal(link.sent.size(), 3);
  link.answer(1);
  assert_int_equal(answered.size(), 4);
  assert_int_equal(wait.waits_sent(), 3);
}

static void too_few_replicas_or_no_reply_is_not_confirmed(void**) {
  FakeLink link;
  ReplicaWait wait(2, 500, link.send());
  long long told = 99;
  bool result = true;
  wait.after_reply([&](bool ok, long long n) { result = ok, told = n; });
  link.answer(1);
  assert_false(result);
  assert_int_equal(told, 1);
  wait.after_reply([&](bool ok, long long n) { result = ok, told = n; });
  link.lose();
  assert_false(result);
  assert_int_equal(told, -1);
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(disabled_answers_at_once),
      cmocka_unit_test(one_wait_covers_a_burst_and_the_next_covers_the_rest),
      cmocka_unit_test(too_few_replicas_or_no_reply_is_not_confirmed),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
