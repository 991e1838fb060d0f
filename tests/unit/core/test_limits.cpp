// Per-connection bounds: the publish-rate token bucket, the by-channel index
// of a session's subscriptions, max-channels-per-connection, publish-rate in
// the node, receive-timeout-secs for fragmented messages, the refused
// metric, label escaping and connection ids.
#include <algorithm>
#include <cstring>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "cmocka_cpp.h"
#include "hub.h"
#include "node_fixture.h"
#include "token_bucket.h"

using namespace rtpush;

namespace {

struct World : MemoryNode {
  using MemoryNode::MemoryNode;
  Session* connect(FakeConnection* c) { return open_session(*node, c); }
};

std::string subscribe_frame(const std::string& channel) {
  return R"({"type":"subscribe","channel":")" + channel + "\"}";
}

std::string metrics_text(Node& node) {
  std::string body;
  HttpApi(node).handle(HttpRequest{"GET", "metrics", "", false, {}, false, {}}, [&](HttpResponse r) { body = r.body; });
  return body;
}

}  // namespace

static void token_bucket_bursts_then_refills(void**) {
  TokenBucket b;
  std::int64_t now = 5'000'000;
  for (int i = 0; i < 5; ++i) assert_true(b.take(5, now));  // burst = the rate
  assert_false(b.take(5, now));
  assert_false(b.take(5, now + 199));  // a token takes 200 ms at 5/s
  assert_true(b.take(5, now + 200));
  assert_false(b.take(5, now + 200));
  // A refused take spends nothing: after a full second the whole burst is back.
  now += 1200;
  for (int i = 0; i < 5; ++i) assert_true(b.take(5, now));
  assert_false(b.take(5, now));
  // Steady 5/s goes through for ever.
  for (int i = 1; i <= 50; ++i) assert_true(b.take(5, now + i * 200));
  // Rate 1: one at a time, one a second.
  TokenBucket one;
  assert_true(one.take(1, 0));
  assert_false(one.take(1, 999));
  assert_true(one.take(1, 1000));
}

static void byte_bucket_bursts_then_refills(void**) {
  ByteBucket b;
  std::int64_t now = 5'000'000;
  // rate 1000 B/s, burst 2000 B.
  assert_true(b.take(2000, 1000, 2000, now));
  assert_false(b.take(1, 1000, 2000, now));
  ByteBucket c;
  assert_true(c.take(1500, 1000, 2000, now));
  assert_true(c.take(500, 1000, 2000, now));
  assert_true(c.take(100, 1000, 2000, now + 100));   // 100 ms refilled 100 bytes
  assert_false(c.take(1, 1000, 2000, now + 100));
  // Steady at the rate goes through for ever, in pieces of any size.
  ByteBucket d;
  assert_true(d.take(2000, 1000, 2000, now));
  for (int i = 1; i <= 1000; ++i) assert_true(d.take(1, 1000, 2000, now + i));
  // A slow rate still refills (thousandths of a byte per ms).
  ByteBucket e;
  assert_true(e.take(10, 10, 10, now));
  assert_false(e.take(1, 10, 10, now + 50));
  ByteBucket f;
  assert_true(f.take(10, 10, 10, now));
  for (int i = 1; i <= 100; ++i) assert_true(f.take(0, 10, 10, now + i));
  assert_true(f.take(1, 10, 10, now + 100));  // 100 ms at 10 B/s: one byte
}

// receive-bytes-per-sec: every byte counts as it arrives (fragments and
// pongs), the burst is twice max-message-bytes, and past it the session is
// closed with 1008 and the transport told to stop reading (false).
static void receive_rate_closes_1008(void**) {
  World w(OptionList{{"receive-bytes-per-sec", "10000"}, {"max-message-bytes", "4096"}});
  FakeConnection cn, cq;
  Session* s = w.connect(&cn);
  Session* quiet = w.connect(&cq);
  const std::string hb = R"({"type":"heartbeat"})";
  // The burst, 8192 bytes, in fragments, pongs and whole messages, at one instant.
  assert_true(w.node->receive(s, std::string(2000, ' '), true, false, false));
  assert_true(w.node->receive(s, std::string(2000 - hb.size(), ' ') + hb, false, true, false));
  assert_true(w.node->pong(s, 125));
  assert_true(w.node->receive(s, std::string(4000 - hb.size(), ' ') + hb, true, true, false));
  assert_false(s->closing());
  // 100 ms refill 1000 bytes.
  w.clocks.steady += 100;
  assert_true(w.node->receive(s, std::string(1000 - hb.size(), ' ') + hb, true, true, false));
  assert_false(s->closing());
  assert_false(w.node->pong(s, 125));
  assert_true(s->closing());
  assert_int_equal(s->close_code(), 1008);
  assert_true(s->receive_refused());
  assert_false(w.node->receive(s, hb, true, true, false));  // nothing more is read
  assert_false(quiet->closing());
  assert_true(w.node->receive(quiet, hb, true, true, false));
  assert_non_null(strstr(metrics_text(*w.node).c_str(), "rtpush_connections_closed_total{reason=\"receive_rate\"} 1\n"));
}

// A session's first subscription is held inline, the second makes an array,
// and the list stays right through 0 -> 1 -> 2 -> 1 -> 0 -> 1.
static void subscriptions_from_one_to_two_and_back(void**) {
  Hub hub([](Session*) {});
  FakeConnection conn;
  Session a(1, "a", Encoding::Json, &conn, 1 << 20, 0);
  for (int round = 0; round < 2; ++round) {
    Subscription* x = hub.subscribe(&a, "x");
    assert_int_equal(a.subscriptions().size(), 1);
    assert_ptr_equal(a.subscriptions().front(), x);
    Subscription* y = hub.subscribe(&a, "y");
    assert_int_equal(a.subscriptions().size(), 2);
    assert_ptr_equal(hub.find(&a, "x"), x);
    assert_ptr_equal(hub.find(&a, "y"), y);
    hub.unsubscribe(x);
    assert_int_equal(a.subscriptions().size(), 1);
    assert_ptr_equal(a.subscriptions()[0], y);
    assert_int_equal(y->session_index, 0);
    assert_null(hub.find(&a, "x"));
    std::size_t seen = 0;
    for (Subscription* s : a.subscriptions()) seen += (s == y);
    assert_int_equal(seen, 1);
    hub.unsubscribe(y);
    assert_true(a.subscriptions().empty());
  }
  assert_int_equal(hub.channel_count(), 0);
}

static void session_index_survives_churn(void**) {
  Hub hub([](Session*) {});
  FakeConnection conn;
  Session a(1, "a", Encoding::Json, &conn, 1 << 20, 0), b(2, "b", Encoding::Json, &conn, 1 << 20, 0);
  std::vector<Subscription*> subs;
  for (int i = 0; i < 2000; ++i) {
    subs.push_back(hub.subscribe(&a, "c" + std::to_string(i)));
    if (i % 2 == 0) hub.subscribe(&b, "c" + std::to_string(i));
  }
  assert_null(hub.subscribe(&a, "c7"));  // one subscription per channel and session
  std::mt19937 rng(11);
  std::shuffle(subs.begin(), subs.end(), rng);
  for (int i = 0; i < 1500; ++i) hub.unsubscribe(subs[i]);
  subs.erase(subs.begin(), subs.begin() + 1500);
  assert_int_equal(a.subscriptions().size(), 500);
  // Every remaining one is found by name, sits where its index says, and
  // the removed ones are gone; b is untouched.
  std::set<std::string> left;
  for (Subscription* s : subs) left.insert(s->channel->name);
  for (int i = 0; i < 2000; ++i) {
    const std::string name = "c" + std::to_string(i);
    Subscription* found = hub.find(&a, name);
    assert_true((found != nullptr) == (left.count(name) == 1));
    if (found) {
      assert_ptr_equal(a.subscriptions()[found->session_index], found);
      assert_ptr_equal(found->session, &a);
    }
    Subscription* fb = hub.find(&b, name);
    assert_true((fb != nullptr) == (i % 2 == 0));
  }
  for (std::size_t i = 0; i < b.subscriptions().size(); ++i) assert_int_equal(b.subscriptions()[i]->session_index, i);
  while (!a.subscriptions().empty()) hub.unsubscribe(a.subscriptions().back());
  while (!b.subscriptions().empty()) hub.unsubscribe(b.subscriptions().front());
  assert_null(hub.find(&a, "c1"));
  assert_int_equal(hub.channel_count(), 0);
}

static void channel_limit_refuses_past_it_resubscribe_free(void**) {
  World w(OptionList{{"max-channels-per-connection", "3"}});
  FakeConnection cn, cp;
  Session* s = w.connect(&cn);
  Session* pub = w.connect(&cp);
  for (const char* c : {"a", "b", "c"}) say(*w.node, s, subscribe_frame(c));
  say(*w.node, s, subscribe_frame("b"));  // again: replaces, not a 4th
  say(*w.node, s, R"({"type":"subscribe","channel":"d","ref":"r4"})");
  Sent out;
  drain(s, &out);
  assert_int_equal(out.size(), 5);
  for (int i = 0; i < 4; ++i) assert_string_equal(out.type(i), "subscribed");
  assert_string_equal(out.type(4), "error");
  assert_string_equal(out.str(4, "code"), "LIMIT_EXCEEDED");
  assert_string_equal(out.str(4, "ref"), "r4");
  assert_false(s->closing());
  assert_int_equal(s->subscriptions().size(), 3);
  assert_int_equal(channels_active(*w.node), 3);  // a, b and c: no subscriber of d
  // Nothing else changed: the three still deliver; after an unsubscribe
  // there is room again.
  for (const char* c : {"a", "b", "c", "d"})
    say(*w.node, pub, std::string(R"({"type":"publish","channel":")") + c + R"(","data":1})");
  Sent got;
  drain(s, &got);
  assert_int_equal(got.size(), 3);
  for (std::size_t i = 0; i < got.size(); ++i) assert_string_equal(got.type(i), "message");
  say(*w.node, s, R"({"type":"unsubscribe","channel":"a"})");
  say(*w.node, s, subscribe_frame("d"));
  Sent again;
  drain(s, &again);
  assert_string_equal(again.type(1), "subscribed");
  const std::string m = metrics_text(*w.node);
  assert_non_null(strstr(m.c_str(), "rtpush_requests_refused_total{code=\"LIMIT_EXCEEDED\"} 1\n"));
  assert_non_null(strstr(m.c_str(), "rtpush_requests_refused_total{code=\"RATE_LIMITED\"} 0\n"));
  assert_non_null(strstr(m.c_str(), "rtpush_requests_refused_total{code=\"FORBIDDEN\"} 0\n"));
}

static void publish_rate_refuses_over_it(void**) {
  World w(OptionList{{"publish-rate", "5"}});
  FakeConnection cn, cs, co;
  Session* p = w.connect(&cn);
  Session* other = w.connect(&co);
  Session* sub = w.connect(&cs);
  say(*w.node, sub, subscribe_frame("r"));
  Sent ack;
  drain(sub, &ack);
  for (int i = 0; i < 10; ++i)
    say(*w.node, p, R"({"type":"publish","channel":"r","data":)" + std::to_string(i) + R"(,"ref":)" + std::to_string(i) + "}");
  Sent out;
  drain(p, &out);
  assert_int_equal(out.size(), 10);
  for (int i = 0; i < 10; ++i) {
    assert_string_equal(out.type(i), i < 5 ? "published" : "error");
    if (i >= 5) {
      assert_string_equal(out.str(i, "code"), "RATE_LIMITED");
      assert_int_equal(cJSON_GetNumberValue(out.get(i, "ref")), i);
    }
  }
  Sent got;
  drain(sub, &got);
  assert_int_equal(got.size(), 5);  // nothing refused reached anyone
  assert_int_equal(cJSON_GetNumberValue(got.get(4, "data")), 4);
  // The rate is per connection: another one publishes meanwhile.
  say(*w.node, other, R"({"type":"publish","channel":"r","data":"o"})");
  Sent o;
  drain(other, &o);
  assert_string_equal(o.type(0), "published");
  w.clocks.steady += 1000;
  say(*w.node, p, R"({"type":"publish","channel":"r","data":10})");
  Sent later;
  drain(p, &later);
  assert_string_equal(later.type(0), "published");
  assert_int_equal(w.node->metrics().published_ws, 7);
  assert_non_null(strstr(metrics_text(*w.node).c_str(), "rtpush_requests_refused_total{code=\"RATE_LIMITED\"} 5\n"));
}

static void unfinished_fragmented_message_closed_1008(void**) {
  World w(OptionList{{"receive-timeout-secs", "2"}, {"heartbeat-secs", "1"}, {"heartbeat-timeout-secs", "60"}});
  FakeConnection cn, cq;
  Session* s = w.connect(&cn);
  Session* quick = w.connect(&cq);
  w.node->receive(s, std::string(5000, ' '), true, false, false);
  for (int i = 0; i < 3; ++i) {  // 1.5 s: more fragments and pongs, still in time
    w.clocks.steady += 500;
    w.node->receive(s, " ", false, false, false);
    w.node->pong(s);
    w.node->tick();
  }
  assert_false(s->closing());
  // A complete fragmented message resets the clock for the next one.
  w.node->receive(quick, "{\"type\":", true, false, false);
  w.clocks.steady += 400;
  w.node->receive(quick, "\"heartbeat\"}", false, true, false);
  w.clocks.steady += 100;  // s: 2 s since its message began
  w.node->pong(s);
  w.node->tick();
  assert_true(s->closing());
  assert_int_equal(s->close_code(), 1008);
  assert_true(s->rx_buffer().capacity() < 32);  // the reassembly buffer is freed
  assert_false(quick->closing());
  w.clocks.steady += 10000;
  w.node->pong(quick);
  w.node->tick();
  assert_false(quick->closing());
  assert_non_null(strstr(metrics_text(*w.node).c_str(), "rtpush_connections_closed_total{reason=\"receive_timeout\"} 1\n"));
}

static void node_id_escaped_in_metrics(void**) {
  World w(OptionList{{"node-id", "a\"b\\c\nd"}});
  const std::string m = metrics_text(*w.node);
  assert_non_null(strstr(m.c_str(), "rtpush_node_info{node=\"a\\\"b\\\\c\\nd\"} 1\n"));
  assert_string_equal(escape_label_value("plain:1").c_str(), "plain:1");
}

static void connection_ids_are_random_uuids(void**) {
  World w;
  FakeConnection cn;
  std::set<std::string> seen;
  for (int i = 0; i < 200; ++i) {
    Session* s = w.node->open(&cn, Encoding::Json);
    const std::string& id = s->id();
    assert_int_equal(id.size(), 36);
    assert_int_equal(id[14], '4');  // version 4
    assert_non_null(strchr("89ab", id[19]));  // RFC 4122 variant
    seen.insert(id);
  }
  assert_int_equal(seen.size(), 200);
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(token_bucket_bursts_then_refills),
      cmocka_unit_test(subscriptions_from_one_to_two_and_back),
      cmocka_unit_test(session_index_survives_churn),
      cmocka_unit_test(channel_limit_refuses_past_it_resubscribe_free),
      cmocka_unit_test(publish_rate_refuses_over_it),
      cmocka_unit_test(unfinished_fragmented_message_closed_1008),
      cmocka_unit_test(byte_bucket_bursts_then_refills),
      cmocka_unit_test(receive_rate_closes_1008),
      cmocka_unit_test(node_id_escaped_in_metrics),
      cmocka_unit_test(connection_ids_are_random_uuids),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
