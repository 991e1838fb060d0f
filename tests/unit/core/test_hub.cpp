// The hub on its own: subscribe/unsubscribe bookkeeping under churn, one
// encode per message, parked messages while a subscription is pending.
#include <algorithm>
#include <cstring>
#include <random>
#include <vector>

#include "cmocka_cpp.h"
#include "hub.h"
#include "node_fixture.h"

using namespace rtpush;

namespace {
MessagePtr message(const std::string& channel, std::uint64_t ms, const std::string& json) {
  auto m = std::make_shared<Message>();
  m->channel = channel;
  m->id = StreamId{ms, 0};
  m->id_text = m->id.str();
  m->payload = Payload{PayloadKind::Json, json};
  m->timestamp = 1.0;
  return m;
}
}  // namespace

static void churn_keeps_every_index_right(void**) {
  int slow = 0;
  Hub hub([&](Session*) { ++slow; });
  FakeConnection conn;
  std::vector<std::unique_ptr<Session>> sessions;
  std::vector<Subscription*> subs;
  for (int i = 0; i < 1000; ++i) {
    sessions.push_back(std::make_unique<Session>(i + 1, "s", Encoding::Json, &conn, 1 << 20, 0));
    Subscription* s = hub.subscribe(sessions.back().get(), "c");
    s->live = true;
    subs.push_back(s);
  }
  assert_null(hub.subscribe(sessions[0].get(), "c"));  // one subscription per channel
  std::mt19937 rng(7);
  std::shuffle(subs.begin(), subs.end(), rng);
  for (int i = 0; i < 700; ++i) assert_false(hub.unsubscribe(subs[i]));
  subs.erase(subs.begin(), subs.begin() + 700);
  assert_int_equal(hub.subscriber_count("c"), 300);
  FanOutStats st = hub.fan_out(message("c", 5, "1"));
  assert_int_equal(st.delivered, 300);
  // Exactly the remaining 300 got it, once.
  int with_frame = 0;
  for (auto& s : sessions) with_frame += static_cast<int>(s->queue().size());
  assert_int_equal(with_frame, 300);
  for (std::size_t i = 0; i + 1 < subs.size(); ++i) assert_false(hub.unsubscribe(subs[i]));
  assert_true(hub.unsubscribe(subs.back()));  // the last one removes the channel
  assert_int_equal(hub.channel_count(), 0);
  assert_int_equal(slow, 0);
}

static void encodes_once_and_skips_old_ids(void**) {
  Hub hub([](Session*) {});
  FakeConnection conn;
  Session a(1, "a", Encoding::Json, &conn, 1 << 20, 0), b(2, "b", Encoding::Json, &conn, 1 << 20, 0);
  for (Session* s : {&a, &b}) hub.subscribe(s, "c")->live = true;
  MessagePtr m = message("c", 10, "{\"x\":1}");
  hub.fan_out(m);
  const FrameRef& cached = m->frames[static_cast<std::size_t>(Encoding::Json)];
  assert_true(static_cast<bool>(cached));
  assert_ptr_equal(a.queue().front().get(), cached.get());
  assert_ptr_equal(b.queue().front().get(), cached.get());
  // The same message again (a replay overlapping live): not sent twice.
  FanOutStats st = hub.fan_out(m);
  assert_int_equal(st.delivered, 0);
  assert_int_equal(a.queue().size(), 1);
  // No subscribers of other encodings: nothing else encoded.
  assert_false(static_cast<bool>(m->frames[static_cast<std::size_t>(Encoding::MsgPack)]));
}

static void pending_subscription_parks_then_replays_in_order(void**) {
  Hub hub([](Session*) {});
  FakeConnection conn;
  Session s(1, "s", Encoding::Json, &conn, 1 << 20, 0);
  Subscription* sub = hub.subscribe(&s, "c");
  sub->last_sent = StreamId{2, 0};  // since = 2-0
  hub.fan_out(message("c", 5, "5"));
  hub.fan_out(message("c", 6, "6"));
  assert_int_equal(s.queue().size(), 0);  // parked, not sent
  // History overlaps the parked ones (5) and starts after since.
  std::vector<MessagePtr> history = {message("c", 3, "3"), message("c", 4, "4"), message("c", 5, "5")};
  FanOutStats st = hub.go_live(sub, history);
  assert_int_equal(st.delivered, 4);  // 3, 4, 5, 6
  const char* want[] = {"3", "4", "5", "6"};
  for (const char* w : want) {
    assert_non_null(strstr(std::string(s.queue().front()->view()).c_str(), (std::string("\"data\":") + w).c_str()));
    s.queue().pop();
  }
  assert_true(sub->live);
  assert_true(sub->parked.empty());
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(churn_keeps_every_index_right),
      cmocka_unit_test(encodes_once_and_skips_old_ids),
      cmocka_unit_test(pending_subscription_parks_then_replays_in_order),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
