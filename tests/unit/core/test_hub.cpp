// The hub on its own: subscribe/unsubscribe bookkeeping under churn, one
// encode per message, parked messages while a subscription is pending; and
// the Replayer's state machine over it: replays longer than a send queue,
// paged from an archive.
#include <algorithm>
#include <cstring>
#include <random>
#include <vector>

#include "cmocka_cpp.h"
#include "hub.h"
#include "node_fixture.h"
#include "replayer.h"

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
// The ms of every message frame in the queue, popping them (the "writer").
std::vector<std::uint64_t> drain(Session& s) {
  std::vector<std::uint64_t> got;
  while (!s.queue().empty()) {
    const std::string text(s.queue().front()->view());
    const auto at = text.find("\"id\":\"");
    if (at != std::string::npos) got.push_back(std::stoull(text.substr(at + 6)));
    s.queue().pop();
  }
  return got;
}

// The Replayer over a hub alone: no node and no backend (the tests hand it
// the pages a backend would read).
struct NoHost final : ReplayHost {
  Session* find(std::uint64_t) const override { return nullptr; }
  void send(Session*, const ServerFrame&) override {}
  void send_error(Session*, ErrorCode, std::string_view, std::string_view) override {}
  void send_unsubscribed(Session*, std::string_view) override {}
  void drop_subscription(Subscription*) override {}
};
struct Replaying {
  explicit Replaying(Hub& hub) : replayer(hub, host, metrics, broker, Options{}) {}
  NoHost host;
  Metrics metrics;
  MemoryBroker broker{16, [] { return std::uint64_t{0}; }};
  Replayer replayer;

  // The replay of `history` for a replay that fits the queue: begin, one pump.
  FanOutStats go_live(Subscription* sub, std::vector<MessagePtr> history) {
    FanOutStats stats;
    replayer.begin(sub, std::move(history));
    replayer.pump(sub, &stats);
    return stats;
  }
};

std::vector<MessagePtr> range(std::uint64_t from, std::uint64_t to) {  // ms from..to inclusive
  std::vector<MessagePtr> v;
  for (std::uint64_t ms = from; ms <= to; ++ms) v.push_back(message("c", ms, std::to_string(ms)));
  return v;
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
    hub.subscribe(sessions.back().get(), "d")->live = true;  // a second channel each: the session's own list churns too
    Subscription* s = hub.subscribe(sessions.back().get(), "c");
    s->live = true;
    subs.push_back(s);
  }
  assert_null(hub.subscribe(sessions[0].get(), "c"));  // one subscription per channel
  std::mt19937 rng(7);
  std::shuffle(subs.begin(), subs.end(), rng);
  std::vector<Session*> gone, kept;
  for (int i = 0; i < 700; ++i) {
    gone.push_back(subs[i]->session);
    assert_false(hub.unsubscribe(subs[i]));
  }
  subs.erase(subs.begin(), subs.begin() + 700);
  for (Subscription* s : subs) kept.push_back(s->session);
  assert_int_equal(hub.subscriber_count("c"), 300);
  // Every index the swap-removals fixed up still finds its subscription,
  // from the channel's side and from the session's.
  for (Subscription* s : subs) {
    assert_ptr_equal(s->channel->subscribers[s->index], s);
    assert_ptr_equal(hub.find(s->session, "c"), s);
  }
  for (Session* s : gone) assert_null(hub.find(s, "c"));
  for (auto& s : sessions) assert_non_null(hub.find(s.get(), "d"));
  FanOutStats st = hub.fan_out(message("c", 5, "1"));
  assert_int_equal(st.delivered, 300);
  // Exactly the remaining 300 sessions got it, once each; the others nothing.
  for (Session* s : kept) assert_int_equal(s->queue().size(), 1);
  for (Session* s : gone) assert_int_equal(s->queue().size(), 0);
  for (std::size_t i = 0; i + 1 < subs.size(); ++i) assert_false(hub.unsubscribe(subs[i]));
  assert_true(hub.unsubscribe(subs.back()));  // the last one removes the channel
  assert_int_equal(hub.channel_count(), 1);   // "d" is still there
  for (auto& s : sessions) assert_int_equal(s->subscriptions().size(), 1);
  assert_int_equal(slow, 0);
  for (auto& s : sessions) hub.unsubscribe(hub.find(s.get(), "d"));
  assert_int_equal(hub.channel_count(), 0);
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

// permessage-deflate connections share one compressed frame per encoding;
// the others keep sharing the plain one; a short message goes plain to all.
static void compresses_once_per_encoding_for_deflate_sessions(void**) {
  Hub hub([](Session*) {});
  FakeConnection conn;
  Session a(1, "a", Encoding::Json, &conn, 1 << 20, 0), b(2, "b", Encoding::Json, &conn, 1 << 20, 0),
      plain(3, "p", Encoding::Json, &conn, 1 << 20, 0), mp(4, "m", Encoding::MsgPack, &conn, 1 << 20, 0);
  for (Session* s : {&a, &b, &mp}) s->set_deflate(true);
  for (Session* s : {&a, &b, &plain, &mp}) hub.subscribe(s, "c")->live = true;
  std::string big = "{\"text\":\"";
  while (big.size() < 1000) big += "the same words again and again ";
  big += "\"}";
  MessagePtr m = message("c", 10, big);
  assert_int_equal(hub.fan_out(m).delivered, 4);
  const FrameRef& json = m->frames[static_cast<std::size_t>(Encoding::Json)];
  const FrameRef& zjson = m->deflated[static_cast<std::size_t>(Encoding::Json)];
  assert_true(zjson && zjson->compressed() && zjson->size() < json->size());
  assert_ptr_equal(a.queue().front().get(), zjson.get());
  assert_ptr_equal(b.queue().front().get(), zjson.get());
  assert_ptr_equal(plain.queue().front().get(), json.get());
  const FrameRef& zmp = m->deflated[static_cast<std::size_t>(Encoding::MsgPack)];
  assert_true(zmp && zmp->compressed() && zmp->binary());
  assert_ptr_equal(mp.queue().front().get(), zmp.get());
  assert_false(static_cast<bool>(m->deflated[static_cast<std::size_t>(Encoding::Protobuf)]));

  MessagePtr small = message("c", 11, "{\"x\":1}");
  hub.fan_out(small);
  const FrameRef& sj = small->frames[static_cast<std::size_t>(Encoding::Json)];
  assert_ptr_equal(small->deflated[static_cast<std::size_t>(Encoding::Json)].get(), sj.get());
  assert_ptr_equal(a.queue().at(1).get(), sj.get());
  assert_false(a.queue().at(1)->compressed());
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
  Replaying rp(hub);
  FanOutStats st = rp.go_live(sub, history);
  assert_int_equal(st.delivered, 4);  // 3, 4, 5, 6
  const char* want[] = {"3", "4", "5", "6"};
  for (const char* w : want) {
    assert_non_null(strstr(std::string(s.queue().front()->view()).c_str(), (std::string("\"data\":") + w).c_str()));
    s.queue().pop();
  }
  assert_true(sub->live);
  assert_true(sub->parked.empty());
}

// A history far larger than the queue: it goes out in steps, each stopped by
// backpressure, resumed once the writer drained the queue; nothing dropped.
static void replay_longer_than_the_queue_streams_as_it_drains(void**) {
  int slow = 0;
  Hub hub([&](Session*) { ++slow; });
  FakeConnection conn;
  Session s(1, "s", Encoding::Json, &conn, 2000, 0);  // about 30 frames
  Subscription* sub = hub.subscribe(&s, "c");
  Replaying rp(hub);
  rp.replayer.begin(sub, range(1, 500));
  hub.fan_out(message("c", 501, "501"));  // live while replaying: parked
  std::vector<std::uint64_t> got;
  int steps = 0;
  for (;;) {
    FanOutStats st;
    const ReplayStep step = rp.replayer.pump(sub, &st);
    ++steps;
    assert_true(step == ReplayStep::Blocked || step == ReplayStep::Live);
    auto part = drain(s);
    got.insert(got.end(), part.begin(), part.end());
    if (step == ReplayStep::Live) break;
    if (steps == 3) hub.fan_out(message("c", 502, "502"));
  }
  assert_true(steps > 10);
  assert_int_equal(slow, 0);
  assert_int_equal(got.size(), 502);
  for (std::size_t i = 0; i < got.size(); ++i) assert_int_equal(got[i], i + 1);
  assert_true(sub->live);
  assert_null(rp.replayer.find(sub));
}

// Archive pages, then the hot history (overlapping the last page), then the
// parked live messages: in order, no duplicate.
static void archive_pages_then_history_then_parked(void**) {
  Hub hub([](Session*) {});
  FakeConnection conn;
  Session s(1, "s", Encoding::Json, &conn, 1 << 20, 0);
  Subscription* sub = hub.subscribe(&s, "c");
  sub->last_sent = StreamId{10, 0};  // since
  hub.fan_out(message("c", 61, "61"));
  Replaying rp(hub);
  rp.replayer.begin(sub, range(50, 60), /*archive=*/true, StreamId{10, 0}, StreamId{50, 0});
  FanOutStats st;
  assert_int_equal(static_cast<int>(rp.replayer.pump(sub, &st)), static_cast<int>(ReplayStep::NeedPage));
  assert_int_equal(rp.replayer.find(sub)->read_to.ms, 10);
  rp.replayer.add_page(sub, range(11, 30), false);
  assert_int_equal(static_cast<int>(rp.replayer.pump(sub, &st)), static_cast<int>(ReplayStep::NeedPage));
  assert_int_equal(rp.replayer.find(sub)->read_to.ms, 30);
  rp.replayer.add_page(sub, range(31, 52), true);  // 50..52 also in the hot history
  assert_int_equal(static_cast<int>(rp.replayer.pump(sub, &st)), static_cast<int>(ReplayStep::Live));
  auto got = drain(s);
  assert_int_equal(got.size(), 51);  // 11..61
  for (std::size_t i = 0; i < got.size(); ++i) assert_int_equal(got[i], i + 11);
  assert_int_equal(st.replayed, 50);  // 11..60; 61 was live
}

// An empty archive range (since at or after the first hot message) skips
// the archive.
static void empty_archive_range_goes_straight_to_history(void**) {
  Hub hub([](Session*) {});
  FakeConnection conn;
  Session s(1, "s", Encoding::Json, &conn, 1 << 20, 0);
  Subscription* sub = hub.subscribe(&s, "c");
  Replaying rp(hub);
  rp.replayer.begin(sub, range(5, 6), true, StreamId{5, 0}, StreamId{5, 0});
  FanOutStats st;
  assert_int_equal(static_cast<int>(rp.replayer.pump(sub, &st)), static_cast<int>(ReplayStep::Live));
  assert_int_equal(drain(s).size(), 2);
}

// Live messages parked behind a replay are bounded: past kMaxParked the
// subscriber is closed as too slow instead of growing without limit.
static void parked_messages_are_bounded(void**) {
  int slow = 0;
  Hub hub([&](Session* s) {
    ++slow;
    s->close(kClosePolicy, "slow", true);
  });
  FakeConnection conn;
  Session s(1, "s", Encoding::Json, &conn, 1 << 20, 0);
  Subscription* sub = hub.subscribe(&s, "c");
  MessagePtr m = message("c", 1, "1");
  for (std::size_t i = 0; i < kMaxParked + 10; ++i) hub.fan_out(m);
  assert_int_equal(sub->parked.size(), kMaxParked);
  assert_int_equal(slow, 1);
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(churn_keeps_every_index_right),
      cmocka_unit_test(encodes_once_and_skips_old_ids),
      cmocka_unit_test(compresses_once_per_encoding_for_deflate_sessions),
      cmocka_unit_test(pending_subscription_parks_then_replays_in_order),
      cmocka_unit_test(replay_longer_than_the_queue_streams_as_it_drains),
      cmocka_unit_test(archive_pages_then_history_then_parked),
      cmocka_unit_test(empty_archive_range_goes_straight_to_history),
      cmocka_unit_test(parked_messages_are_bounded),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
