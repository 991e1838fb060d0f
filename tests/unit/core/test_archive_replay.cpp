// Archive replay through the persistence seam, with a fake Persistence whose
// answers the test releases (as PostgreSQL answers later, from the I/O
// thread): a `since` older than the hot history waits for settle(), then
// reads archive pages, then the hot history, then what arrived live; a
// backend failing before or during the replay ends it with UNAVAILABLE.
#include <cstring>
#include <deque>
#include <string>
#include <vector>

#include "cmocka_cpp.h"
#include "node_fixture.h"
#include "persistence.h"

using namespace rtpush;

namespace {

// Keeps every accepted message as its archive; settle() and read_page()
// answer when the test says so.
class FakePersistence final : public Persistence {
 public:
  struct Read {
    std::string channel;
    StreamId after, before;
    std::size_t limit = 0, max_bytes = 0;
    PageDone done;
  };
  void accept(const Message& m) override { archive.push_back(std::make_shared<Message>(m)); }
  void settle(Settled done) override { settles.push_back(std::move(done)); }
  void read_page(const std::string& channel, StreamId after, StreamId before, std::size_t limit,
                 std::size_t max_bytes, PageDone done) override {
    reads.push_back({channel, after, before, limit, max_bytes, std::move(done)});
  }
  BackendState state() const override { return BackendState::Up; }
  StoreStats stats() const override { return {}; }
  std::uint64_t local_backlog() const override { return backlog; }
  std::uint64_t local_backlog_bytes() const override { return 0; }

  void answer_settle(bool ok) {
    auto s = std::move(settles);
    for (auto& d : s) d(ok);
  }
  // Answers the oldest read with at most `count` archived messages of its range.
  void answer_read(std::size_t count) {
    Read r = std::move(reads.front());
    reads.pop_front();
    std::vector<MessagePtr> page;
    bool more = false;
    for (const MessagePtr& m : archive) {
      if (m->channel != r.channel || !(r.after < m->id) || !(m->id < r.before)) continue;
      if (page.size() == count || page.size() == r.limit) {
        more = true;
        break;
      }
      auto copy = std::make_shared<Message>(*m);  // read back: a copy, without frames
      copy->frames = {};
      page.push_back(std::move(copy));
    }
    r.done(true, std::move(page), more);
  }
  void fail_read() {
    Read r = std::move(reads.front());
    reads.pop_front();
    r.done(false, {}, false);
  }

  std::vector<MessagePtr> archive;
  std::vector<Settled> settles;
  std::deque<Read> reads;
  std::uint64_t backlog = 0;
};

struct World {
  FakeClocks clocks;
  FakePersistence* persistence = nullptr;
  std::unique_ptr<Node> node;
  FakeConnection pc, sc;
  Session* publisher = nullptr;
  Session* subscriber = nullptr;
  std::vector<std::string> ids;  // published, in order

  explicit World(OptionList opts = {{"history-size", "3"}}) {
    Options o = parse_options(opts, "test-node").options;
    auto p = std::make_unique<FakePersistence>();
    persistence = p.get();
    node = std::make_unique<Node>(o, std::make_unique<MemoryBroker>(o.history_size, [this] { return clocks.wall; }),
                                  clocks.clocks(), std::move(p));
    publisher = open(&pc);
    subscriber = open(&sc);
  }
  Session* open(FakeConnection* c) {
    Session* s = node->open(c, Encoding::Json);
    Sent hello;
    drain(s, &hello);
    return s;
  }
  void publish(int n) {
    for (int i = 0; i < n; ++i) {
      ++clocks.wall;
      say(*node, publisher, "{\"type\":\"publish\",\"channel\":\"c\",\"data\":" + std::to_string(ids.size()) + "}");
      Sent out;
      drain(publisher, &out);
      assert_int_equal(out.size(), 1);
      assert_string_equal(out.type(0), "published");
      ids.push_back(out.str(0, "id"));
    }
  }
  void subscribe_since(std::size_t i) {
    say(*node, subscriber, "{\"type\":\"subscribe\",\"channel\":\"c\",\"since\":\"" + ids[i] + "\"}");
  }
};

// The ids of the `message` frames from `from` on.
std::vector<std::string> message_ids(const Sent& out, std::size_t from) {
  std::vector<std::string> v;
  for (std::size_t i = from; i < out.size(); ++i)
    if (!strcmp(out.type(i), "message")) v.push_back(out.str(i, "id"));
  return v;
}

}  // namespace

static void settle_then_pages_then_hot_history_then_live(void**) {
  World w;
  w.publish(10);  // the broker keeps the last 3; every one was accepted by the persistence
  assert_int_equal(w.persistence->archive.size(), 10);
  w.subscribe_since(0);
  Sent none;
  drain(w.subscriber, &none);
  assert_int_equal(none.size(), 0);  // nothing before the archive has settled
  assert_int_equal(w.persistence->settles.size(), 1);
  assert_int_equal(w.persistence->reads.size(), 0);  // no page read before it settles
  w.publish(1);  // live while the replay waits: parked, delivered after the history
  w.persistence->answer_settle(true);

  // The archive's part: after `since`, before the first message the hot history holds.
  assert_int_equal(w.persistence->reads.size(), 1);
  assert_string_equal(w.persistence->reads.front().after.str().c_str(), w.ids[0].c_str());
  assert_string_equal(w.persistence->reads.front().before.str().c_str(), w.ids[7].c_str());
  w.persistence->answer_read(3);
  Sent first;
  drain(w.subscriber, &first);
  assert_true(first.size() >= 1);
  assert_string_equal(first.type(0), "subscribed");  // with the first page
  assert_true(cJSON_IsTrue(first.get(0, "recovered")));
  assert_true(message_ids(first, 1) == std::vector<std::string>(w.ids.begin() + 1, w.ids.begin() + 4));

  assert_int_equal(w.persistence->reads.size(), 1);  // the next page, after the last one delivered
  assert_string_equal(w.persistence->reads.front().after.str().c_str(), w.ids[3].c_str());
  w.persistence->answer_read(100);
  Sent rest;
  drain(w.subscriber, &rest);
  assert_true(message_ids(rest, 0) == std::vector<std::string>(w.ids.begin() + 4, w.ids.end()));
  assert_int_equal(w.persistence->reads.size(), 0);

  w.publish(1);  // live after the replay
  Sent live;
  drain(w.subscriber, &live);
  assert_int_equal(live.size(), 1);
  assert_string_equal(live.str(0, "id"), w.ids.back().c_str());
}

static void settle_failure_is_unavailable(void**) {
  World w;
  w.publish(10);
  w.subscribe_since(0);
  w.persistence->answer_settle(false);
  Sent out;
  drain(w.subscriber, &out);
  assert_int_equal(out.size(), 1);
  assert_string_equal(out.type(0), "error");
  assert_string_equal(out.str(0, "code"), "UNAVAILABLE");
  assert_int_equal(w.persistence->reads.size(), 0);
  w.publish(1);  // the subscribe failed: nothing more reaches it
  Sent after;
  drain(w.subscriber, &after);
  assert_int_equal(after.size(), 0);
}

// What the subscriber got: `frames` frames, the first error UNAVAILABLE.
static void unavailable(World& w, std::size_t frames, Sent* out) {
  drain(w.subscriber, out);
  assert_int_equal(out->size(), frames);
  assert_string_equal(out->type(0), "error");
  assert_string_equal(out->str(0, "code"), "UNAVAILABLE");
}

// The subscription is gone: a new message does not reach it.
static void nothing_more_arrives(World& w) {
  w.publish(1);
  Sent after;
  drain(w.subscriber, &after);
  assert_int_equal(after.size(), 0);
}

// Issue 20: a backend that never answers (settle, or the first page) must
// not leave a subscribe unanswered: UNAVAILABLE within the bound, and a late
// answer changes nothing.
static void expect_unavailable_after_the_bound(World& w) {
  w.node->tick();  // the bound starts counting
  w.clocks.steady += Replayer::kAnswerMs - 1000;
  w.node->tick();
  Sent early;
  drain(w.subscriber, &early);
  assert_int_equal(early.size(), 0);  // still within it
  w.clocks.steady += 2000;
  w.node->tick();
  Sent out;
  unavailable(w, 1, &out);
}

static void settle_never_answered_is_unavailable_within_the_bound(void**) {
  World w;
  w.publish(10);
  w.subscribe_since(0);
  expect_unavailable_after_the_bound(w);
  w.persistence->answer_settle(true);  // too late: no page is read, nothing is sent
  assert_int_equal(w.persistence->reads.size(), 0);
  nothing_more_arrives(w);
}

static void first_page_never_answered_is_unavailable_within_the_bound(void**) {
  World w;
  w.publish(10);
  w.subscribe_since(0);
  w.persistence->answer_settle(true);
  assert_int_equal(w.persistence->reads.size(), 1);
  expect_unavailable_after_the_bound(w);
  w.persistence->answer_read(5);  // too late
  nothing_more_arrives(w);
}

// A replay of 10 from the first: settled, its first page (2) sent with `subscribed`.
static void first_page_sent(World& w) {
  w.publish(10);
  w.subscribe_since(0);
  w.persistence->answer_settle(true);
  w.persistence->answer_read(2);
  Sent first;
  drain(w.subscriber, &first);
  assert_string_equal(first.type(0), "subscribed");
  assert_int_equal(message_ids(first, 1).size(), 2);
}

static void a_slow_replay_after_subscribed_is_not_cut(void**) {
  World w;
  first_page_sent(w);
  w.node->tick();
  w.clocks.steady += 2 * Replayer::kAnswerMs;  // its client's pace, or a slow page: not a missing answer
  w.node->tick();
  w.persistence->answer_read(100);
  Sent rest;
  drain(w.subscriber, &rest);
  assert_int_equal(message_ids(rest, 0).size(), 7);  // 3..6 from the archive, 7..9 hot
}

static void page_failure_mid_replay_is_unavailable_and_unsubscribed(void**) {
  World w;
  first_page_sent(w);
  w.persistence->fail_read();
  Sent out;
  unavailable(w, 2, &out);
  assert_string_equal(out.type(1), "unsubscribed");
  assert_string_equal(out.str(1, "channel"), "c");
  nothing_more_arrives(w);
}

static void within_hot_history_needs_no_archive(void**) {
  World w;
  w.publish(5);
  w.subscribe_since(2);  // the hot history holds 3 and 4
  assert_int_equal(w.persistence->settles.size(), 0);
  Sent out;
  drain(w.subscriber, &out);
  assert_string_equal(out.type(0), "subscribed");
  assert_true(message_ids(out, 1) == std::vector<std::string>(w.ids.begin() + 3, w.ids.end()));
}

static void local_backlog_at_the_bound_refuses_publish(void**) {
  World w({{"history-size", "3"}, {"pg-backlog-rows", "5"}});
  w.persistence->backlog = 5;
  say(*w.node, w.publisher, "{\"type\":\"publish\",\"channel\":\"c\",\"data\":1,\"ref\":\"r\"}");
  Sent out;
  drain(w.publisher, &out);
  assert_int_equal(out.size(), 1);
  assert_string_equal(out.str(0, "code"), "UNAVAILABLE");
  assert_int_equal(w.persistence->archive.size(), 0);
  w.persistence->backlog = 4;
  w.publish(1);
  assert_int_equal(w.persistence->archive.size(), 1);
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(settle_then_pages_then_hot_history_then_live),
      cmocka_unit_test(settle_failure_is_unavailable),
      cmocka_unit_test(page_failure_mid_replay_is_unavailable_and_unsubscribed),
      cmocka_unit_test(settle_never_answered_is_unavailable_within_the_bound),
      cmocka_unit_test(first_page_never_answered_is_unavailable_within_the_bound),
      cmocka_unit_test(a_slow_replay_after_subscribed_is_not_cut),
      cmocka_unit_test(within_hot_history_needs_no_archive),
      cmocka_unit_test(local_backlog_at_the_bound_refuses_publish),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
