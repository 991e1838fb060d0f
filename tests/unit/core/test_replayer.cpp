// The Replayer over a hub and a host of its own, without a Node: a history
// longer than the send queue streams as the transport drains it (written()),
// and a subscription removed mid-replay leaves no replay and no bytes behind.
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "cmocka_cpp.h"
#include "hub.h"
#include "memory_broker.h"
#include "node_fixture.h"
#include "replayer.h"

using namespace rtpush;

namespace {
// One session; the frames the Replayer sends besides messages are counted.
struct OneSessionHost final : ReplayHost {
  Session* session = nullptr;
  int subscribed = 0, errors = 0;
  Session* find(std::uint64_t serial) const override {
    return session && session->serial() == serial ? session : nullptr;
  }
  void send(Session*, const ServerFrame& f) override { subscribed += f.type == ServerFrameType::Subscribed; }
  void send_error(Session*, ErrorCode, std::string_view, std::string_view) override { ++errors; }
  void send_unsubscribed(Session*, std::string_view) override {}
  void drop_subscription(Subscription*) override {}
};

struct Rig {
  std::uint64_t now = 1'700'000'000'000ULL;
  Hub hub{[](Session*) {}};
  OneSessionHost host;
  Metrics metrics;
  MemoryBroker broker{1000, [this] { return ++now; }};
  Replayer replayer{hub, host, metrics, broker, Options{}};
  FakeConnection conn;
  Session s{1, "s", Encoding::Json, &conn, 2000, 0};  // about 30 frames
  std::string first_id;

  Rig() {
    host.session = &s;
    for (int i = 0; i < 300; ++i)
      broker.publish("c", Payload{PayloadKind::Json, std::to_string(i)}, [this](const PublishResult& r) {
        if (first_id.empty()) first_id = r.message->id_text;
      });
  }
  // Subscribes with since = the first message: 299 to replay.
  Subscription* subscribe() {
    Subscription* sub = hub.subscribe(&s, "c");
    const std::optional<StreamId> since = StreamId::parse(first_id);
    sub->last_sent = *since;
    replayer.start(&s, sub, since);
    return sub;
  }
  std::size_t drain() {
    std::size_t n = 0;
    while (!s.queue().empty()) {
      n += std::string(s.queue().front()->view()).find("\"type\":\"message\"") != std::string::npos;
      s.queue().pop();
    }
    return n;
  }
};
}  // namespace

static void written_resumes_a_replay_blocked_by_the_queue(void**) {
  Rig rig;
  Subscription* sub = rig.subscribe();
  assert_int_equal(rig.host.subscribed, 1);
  assert_true(rig.s.awaiting_drain());  // more than the queue holds
  assert_non_null(rig.replayer.find(sub));
  std::size_t got = 0;
  int rounds = 0;
  while (rig.replayer.find(sub) && rounds++ < 1000) {
    got += rig.drain();
    rig.replayer.written(&rig.s);
  }
  got += rig.drain();
  assert_true(rounds > 5);
  assert_int_equal(got, 299);
  assert_true(sub->live);
  assert_int_equal(rig.metrics.replayed, 299);
  assert_int_equal(rig.host.errors, 0);
}

static void forget_mid_replay_leaves_nothing(void**) {
  Rig rig;
  Subscription* sub = rig.subscribe();
  assert_non_null(rig.replayer.find(sub));
  rig.replayer.forget(sub);
  rig.hub.unsubscribe(sub);
  rig.replayer.wake();
  assert_int_equal(rig.replayer.replaying(), 0);
  assert_int_equal(rig.replayer.budget().held(), 0);
  assert_int_equal(rig.replayer.budget().waiting(), 0);
  rig.replayer.written(&rig.s);  // nothing left to resume
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(written_resumes_a_replay_blocked_by_the_queue),
      cmocka_unit_test(forget_mid_replay_leaves_nothing),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
