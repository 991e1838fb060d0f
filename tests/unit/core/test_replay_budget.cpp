// Replays in flight (replay-memory-bytes): the budget on its own, then the
// node with a broker that copies its history out in pages (as Redis does):
// the bound holds with several replays at once, waiting replays resume in
// their order, a message bigger than the budget still goes through, and the
// seams stay exact at page boundaries.
#include <algorithm>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "cmocka_cpp.h"
#include "node_fixture.h"
#include "replay_budget.h"

using namespace rtpush;

namespace {

// A broker that copies its history out, like RedisBroker: history() answers
// at once with a first page of at most `page_bytes`; read_history() answers
// when answer() is called, reading the history *then* (so trimming while a
// replay waits shows as a gap).
class PagedBroker final : public Broker {
 public:
  PagedBroker(std::size_t history, std::function<std::uint64_t()> clock) : inner_(history, std::move(clock)) {}
  void set_listener(BrokerListener* l) override { inner_.set_listener(l); }
  using Broker::publish;
  void publish(const std::string& c, Payload p, std::string u, PublishDone d) override {
    inner_.publish(c, std::move(p), std::move(u), std::move(d));
  }
  void history(const std::string& c, std::optional<StreamId> since, std::size_t page_bytes, HistoryDone d) override {
    HistoryResult h = inner_.read(c, since);
    std::vector<MessagePtr> all = std::move(h.messages);
    h.copied = true;
    if (since && page_bytes > 0) {
      HistoryPage first = cut(all, page_bytes);
      h.messages = std::move(first.messages);
      h.more = first.more;
    } else {
      h.more = !all.empty();
    }
    d(std::move(h));
  }
  void read_history(const std::string& c, StreamId after, std::size_t page_bytes, PageDone d) override {
    reads.push_back(c);
    pending_.push_back([this, c, after, page_bytes, d] {
      HistoryResult h = inner_.read(c, after);
      HistoryPage p = cut(h.messages, page_bytes);
      p.gap = !h.recovered;
      d(std::move(p));
    });
  }
  void watch(const std::string&, bool) override {}
  BackendState state() const override { return BackendState::Up; }

  // Answers the reads asked so far; how many.
  std::size_t answer() {
    auto p = std::move(pending_);
    for (auto& f : p) f();
    return p.size();
  }
  std::vector<std::string> reads;  // channels, in the order pages were asked for

 private:
  static HistoryPage cut(const std::vector<MessagePtr>& all, std::size_t cap) {
    HistoryPage p;
    p.ok = true;
    std::size_t bytes = 0;
    for (const MessagePtr& m : all) {
      const std::size_t size = message_bytes(*m);
      if (!p.messages.empty() && bytes + size > cap) break;
      auto copy = std::make_shared<Message>(*m);  // a copy, as read from Redis
      copy->frames = {};
      p.messages.push_back(std::move(copy));
      bytes += size;
    }
    p.more = p.messages.size() < all.size();
    return p;
  }
  MemoryBroker inner_;
  std::vector<std::function<void()>> pending_;
};

struct World {
  FakeClocks clocks;
  PagedBroker* broker = nullptr;
  std::unique_ptr<Node> node;
  explicit World(OptionList opts) {
    Options o = parse_options(opts, "test-node").options;
    auto b = std::make_unique<PagedBroker>(o.history_size, [this] { return clocks.wall; });
    broker = b.get();
    node = std::make_unique<Node>(o, std::move(b), clocks.clocks());
  }
  Session* connect(FakeConnection* c) { return open_session(*node, c); }
  std::string publish(Session* s, const std::string& channel, const std::string& data) {
    // A second between publishes keeps the publisher within
    // receive-bytes-per-sec (the replays here take no time of their own).
    clocks.steady += 1000;
    return publish_id(*node, s, channel, data);
  }
  void subscribe(Session* s, const std::string& channel, const std::string& since) {
    say(*node, s, "{\"type\":\"subscribe\",\"channel\":\"" + channel + "\",\"since\":\"" + since + "\"}");
  }
  const ReplayBudget& budget() const { return node->replay_budget(); }
};

// A JSON string of about `n` bytes.
std::string blob(std::size_t n, int tag) { return "\"" + std::to_string(tag) + std::string(n, 'x') + "\""; }

// The writer: takes everything queued (frames, as JSON) and tells the node.
// How many frames it took.
std::size_t write_out(Node& node, Session* s, Sent* out) {
  const std::size_t before = out->size();
  drain(s, out);
  node.written(s);
  return out->size() - before;
}

std::vector<std::string> message_ids(const Sent& out) {
  std::vector<std::string> ids;
  for (std::size_t i = 0; i < out.size(); ++i)
    if (!strcmp(out.type(i), "message")) ids.push_back(out.str(i, "id"));
  return ids;
}

}  // namespace

// ---- the budget alone ---------------------------------------------------

static void budget_reserves_waits_in_order_and_releases(void**) {
  ReplayBudget b(1000, 400);
  BudgetHold h1, h2, h3;
  assert_true(b.try_reserve(&h1));
  assert_true(b.try_reserve(&h2));
  assert_false(b.try_reserve(&h3));  // 800 + 400 > 1000
  std::vector<int> order;
  std::vector<BudgetHold> granted;
  for (int k = 1; k <= 3; ++k)
    b.wait(k, [&order, &granted, k](BudgetHold g) {
      order.push_back(k);
      granted.push_back(std::move(g));
    });
  b.cancel(2);
  assert_int_equal(b.waiting(), 2);
  h1.release(100);  // 700 held: still no room
  b.wake();
  assert_true(order.empty());
  BudgetHold fresh;
  assert_false(b.try_reserve(&fresh));  // others wait: no overtaking, even with room later
  h1 = BudgetHold();  // 400 held
  b.wake();
  assert_int_equal(order.size(), 1);
  assert_int_equal(order[0], 1);
  h2.resize(0);
  b.wake();
  assert_int_equal(order.size(), 2);
  assert_int_equal(order[1], 3);  // 2 was cancelled
  assert_int_equal(b.held(), 800);
  granted.clear();
  assert_int_equal(b.held(), 0);
}

static void page_never_larger_than_the_budget(void**) {
  ReplayBudget b(1000, 5000);
  assert_int_equal(b.page_bytes(), 1000);
  BudgetHold h;
  assert_true(b.try_reserve(&h));  // an empty budget always admits a page
  h.resize(3000);                  // the page held one message bigger than all of it
  BudgetHold other;
  assert_false(b.try_reserve(&other));
  h.release(3000);
  assert_true(b.try_reserve(&other));
}

// ---- the node -----------------------------------------------------------

// Six replays of 4 MB each, on their own channels, through a 1 MiB budget:
// at every step the node holds at most the budget; the ones past it wait,
// their first pages are read in the order they subscribed, and each gets its
// whole range, in order, each message once.
static void concurrent_replays_stay_within_the_budget_and_resume_in_order(void**) {
  World w(OptionList{{"history-size", "1000"}, {"replay-memory-bytes", "1048576"},
                     {"max-message-bytes", "200000"}, {"send-queue-bytes", "100000"}});
  const std::size_t limit = 1048576;
  FakeConnection cp;
  Session* pub = w.connect(&cp);
  const int kReplays = 6, kMessages = 200;
  std::vector<std::vector<std::string>> ids(kReplays);
  for (int c = 0; c < kReplays; ++c)
    for (int i = 0; i < kMessages; ++i) ids[c].push_back(w.publish(pub, "c" + std::to_string(c), blob(20000, i)));
  std::vector<FakeConnection> conns(kReplays);
  std::vector<Session*> subs;
  for (int c = 0; c < kReplays; ++c) {
    subs.push_back(w.connect(&conns[c]));
    w.subscribe(subs[c], "c" + std::to_string(c), ids[c][0]);
    assert_true(w.budget().held() <= limit);
  }
  std::vector<Sent> got(kReplays);
  std::size_t most_waiting = 0, most_held = 0;
  for (int step = 0; step < 100000; ++step) {
    std::size_t moved = 0;
    for (int c = 0; c < kReplays; ++c) {
      moved += write_out(*w.node, subs[c], &got[c]);
      most_held = std::max(most_held, w.budget().held());
      most_waiting = std::max(most_waiting, w.budget().waiting());
      assert_true(w.budget().held() <= limit);
    }
    if (w.broker->answer() == 0 && moved == 0) break;
    assert_true(w.budget().held() <= limit);
  }
  for (int c = 0; c < kReplays; ++c) {
    assert_string_equal(got[c].type(0), "subscribed");
    assert_true(cJSON_IsTrue(got[c].get(0, "recovered")));
    std::vector<std::string> want(ids[c].begin() + 1, ids[c].end());
    assert_true(message_ids(got[c]) == want);
  }
  assert_true(most_waiting >= 3);          // the budget did make some wait
  assert_true(most_held > limit / 2);      // and was used
  assert_int_equal(w.budget().held(), 0);  // everything given back
  assert_int_equal(w.budget().waiting(), 0);
  // The replays that found no room (c3..c5) read their first pages in the
  // order they subscribed.
  std::vector<std::string> firsts;
  for (const std::string& ch : w.broker->reads)
    if (std::find(firsts.begin(), firsts.end(), ch) == firsts.end()) firsts.push_back(ch);
  std::vector<std::string> late;
  for (const std::string& ch : firsts)
    if (ch == "c3" || ch == "c4" || ch == "c5") late.push_back(ch);
  assert_true((late == std::vector<std::string>{"c3", "c4", "c5"}));
}

// One message larger than the whole budget: it still goes through (alone),
// and a replay waiting behind it completes after.
static void message_bigger_than_the_budget_goes_through(void**) {
  World w(OptionList{{"history-size", "100"}, {"replay-memory-bytes", "1048576"},
                     {"max-message-bytes", "3000000"}, {"send-queue-bytes", "4000000"}});
  FakeConnection cp, ca, cb;
  Session* pub = w.connect(&cp);
  std::vector<std::string> big = {w.publish(pub, "big", "0")};
  big.push_back(w.publish(pub, "big", blob(2000000, 1)));
  big.push_back(w.publish(pub, "big", "2"));
  std::vector<std::string> small = {w.publish(pub, "small", "0"), w.publish(pub, "small", "1")};
  Session* a = w.connect(&ca);
  Session* b = w.connect(&cb);
  w.subscribe(a, "big", big[0]);
  w.subscribe(b, "small", small[0]);
  Sent got_a, got_b;
  for (int step = 0; step < 1000; ++step) {
    const std::size_t moved = write_out(*w.node, a, &got_a) + write_out(*w.node, b, &got_b);
    if (w.broker->answer() == 0 && moved == 0) break;
  }
  assert_true((message_ids(got_a) == std::vector<std::string>{big[1], big[2]}));
  assert_true((message_ids(got_b) == std::vector<std::string>{small[1]}));
  assert_int_equal(w.budget().held(), 0);
}

// Page boundaries: history pages of three messages each, live messages
// published between every page read (parked), the stream id order exact:
// every id once, in order, the live ones after the history.
static void seams_exact_at_page_boundaries(void**) {
  World w(OptionList{{"history-size", "1000"}, {"replay-memory-bytes", "1048576"},
                     {"max-message-bytes", "300000"}, {"send-queue-bytes", "1048576"}});
  FakeConnection cp, cs;
  Session* pub = w.connect(&cp);
  std::vector<std::string> ids;
  for (int i = 0; i < 30; ++i) ids.push_back(w.publish(pub, "c", blob(90000, i)));
  Session* s = w.connect(&cs);
  w.subscribe(s, "c", ids[4]);
  Sent got;
  for (int step = 0; step < 100; ++step) {
    const std::size_t moved = write_out(*w.node, s, &got);
    ids.push_back(w.publish(pub, "c", std::to_string(step)));  // live while replaying: parked
    if (w.broker->answer() == 0 && moved == 0) break;
  }
  ids.push_back(w.publish(pub, "c", "\"after\""));
  write_out(*w.node, s, &got);
  assert_true(w.broker->reads.size() >= 8);  // 25 in pages of 3, and the live ones read as history
  std::vector<std::string> want(ids.begin() + 5, ids.end());
  assert_true(message_ids(got) == want);
  assert_int_equal(w.budget().held(), 0);
}

// SPEC 17: three replays whose clients stop reading (their queues full)
// hold pages of the whole budget; a fourth replay still completes at once
// (they give their unsent pages back while it waits), and the stalled ones,
// once their clients read, get their whole range, in order, each once.
static void stalled_replays_give_their_pages_back(void**) {
  World w(OptionList{{"history-size", "1000"}, {"replay-memory-bytes", "1048576"},
                     {"max-message-bytes", "200000"}, {"send-queue-bytes", "100000"}});
  FakeConnection cp, cd;
  Session* pub = w.connect(&cp);
  std::vector<std::string> ids;
  for (int i = 0; i < 60; ++i) ids.push_back(w.publish(pub, "big", blob(20000, i)));
  std::vector<FakeConnection> conns(3);
  std::vector<Session*> stalled;
  for (FakeConnection& c : conns) {
    stalled.push_back(w.connect(&c));
    w.subscribe(stalled.back(), "big", ids[0]);
  }
  while (w.broker->answer() > 0) {  // pages read, nobody writes: they stall
  }
  Session* d = w.connect(&cd);
  w.subscribe(d, "big", ids[54]);
  Sent got_d;
  for (int step = 0; step < 100; ++step)
    if (write_out(*w.node, d, &got_d) + w.broker->answer() == 0) break;
  assert_true(message_ids(got_d) == std::vector<std::string>(ids.begin() + 55, ids.end()));
  std::vector<Sent> got(stalled.size());
  for (int step = 0; step < 10000; ++step) {
    std::size_t moved = 0;
    for (std::size_t i = 0; i < stalled.size(); ++i) moved += write_out(*w.node, stalled[i], &got[i]);
    if (w.broker->answer() == 0 && moved == 0) break;
  }
  for (const Sent& g : got) assert_true(message_ids(g) == std::vector<std::string>(ids.begin() + 1, ids.end()));
  assert_int_equal(w.budget().held(), 0);
}

// A replay that waits its turn while more than history-size messages are
// published has lost part of its range: it is told (UNAVAILABLE, then
// unsubscribed), never left with a silent gap.
static void trimmed_while_waiting_is_an_error_not_a_gap(void**) {
  World w(OptionList{{"history-size", "10"}, {"replay-memory-bytes", "1048576"},
                     {"max-message-bytes", "600000"}, {"send-queue-bytes", "1000000"}});
  FakeConnection cp, ca, cb;
  Session* pub = w.connect(&cp);
  std::vector<std::string> a_ids, b_ids;
  for (int i = 0; i < 10; ++i) a_ids.push_back(w.publish(pub, "a", blob(300000, i)));
  for (int i = 0; i < 10; ++i) b_ids.push_back(w.publish(pub, "b", std::to_string(i)));
  Session* a = w.connect(&ca);
  Session* b = w.connect(&cb);
  w.subscribe(a, "a", a_ids[0]);  // takes the budget: a page is 600 KB of 1 MiB
  w.subscribe(b, "b", b_ids[0]);  // no room: announced, waits
  Sent got_b;
  drain(b, &got_b);
  assert_string_equal(got_b.type(0), "subscribed");
  assert_true(cJSON_IsTrue(got_b.get(0, "recovered")));
  assert_true(w.budget().waiting() >= 1);
  for (int i = 0; i < 20; ++i) w.publish(pub, "b", std::to_string(100 + i));  // trims b past its since
  Sent got_a;
  for (int step = 0; step < 1000; ++step) {
    const std::size_t moved = write_out(*w.node, a, &got_a) + write_out(*w.node, b, &got_b);
    if (w.broker->answer() == 0 && moved == 0) break;
  }
  std::vector<std::string> types;
  for (std::size_t i = 1; i < got_b.size(); ++i)
    if (strcmp(got_b.type(i), "message") != 0) types.push_back(got_b.type(i));
  assert_true((types == std::vector<std::string>{"error", "unsubscribed"}));
  for (std::size_t i = 1; i < got_b.size(); ++i)
    if (!strcmp(got_b.type(i), "error")) assert_string_equal(got_b.str(i, "code"), "UNAVAILABLE");
  std::vector<std::string> want_a(a_ids.begin() + 1, a_ids.end());
  assert_true(message_ids(got_a) == want_a);
  assert_int_equal(w.budget().held(), 0);
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(budget_reserves_waits_in_order_and_releases),
      cmocka_unit_test(page_never_larger_than_the_budget),
      cmocka_unit_test(concurrent_replays_stay_within_the_budget_and_resume_in_order),
      cmocka_unit_test(message_bigger_than_the_budget_goes_through),
      cmocka_unit_test(seams_exact_at_page_boundaries),
      cmocka_unit_test(trimmed_while_waiting_is_an_error_not_a_gap),
      cmocka_unit_test(stalled_replays_give_their_pages_back),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
