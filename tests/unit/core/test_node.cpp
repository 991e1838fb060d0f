// The node end to end without a server: sessions, fan-out, replay, the seam,
// heartbeats, message size, slow consumers.
#include <cstring>
#include <string>

#include "cmocka_cpp.h"
#include "node_fixture.h"

using namespace rtpush;

namespace {

struct World {
  FakeClocks clocks;
  std::unique_ptr<Node> node;
  DeferredBroker* deferred = nullptr;
  explicit World(OptionList opts = {}, bool defer = false) {
    Options o = parse_options(opts, "test-node").options;
    std::unique_ptr<Broker> b;
    if (defer) {
      auto d = std::make_unique<DeferredBroker>(o.history_size, [this] { return clocks.wall; });
      deferred = d.get();
      b = std::move(d);
    } else {
      b = std::make_unique<MemoryBroker>(o.history_size, [this] { return clocks.wall; });
    }
    node = std::make_unique<Node>(o, std::move(b), clocks.clocks());
  }
  Session* connect(FakeConnection* c) { return open_session(*node, c); }
  std::string publish(Session* s, const std::string& channel, const std::string& data) {
    return publish_id(*node, s, channel, data);
  }
};

}  // namespace

static void connection_established_first(void**) {
  World w(OptionList{{"heartbeat-secs", "7"}, {"node-id", "n-1"}});
  FakeConnection c;
  Session* s = w.node->open(&c, Encoding::Json);
  Sent out;
  drain(s, &out);
  assert_int_equal(out.size(), 1);
  assert_string_equal(out.type(0), "connection_established");
  assert_string_equal(out.str(0, "node"), "n-1");
  assert_string_equal(out.str(0, "connection_id"), s->id().c_str());
  assert_int_equal(cJSON_GetNumberValue(out.get(0, "heartbeat_interval")), 7);
  assert_true(cJSON_GetNumberValue(out.get(0, "timestamp")) > 1.6e9);
  assert_true(c.writes >= 1);
  assert_int_equal(w.node->connection_count(), 1);
  w.node->close(s);
  assert_int_equal(w.node->connection_count(), 0);
}

static void fan_out_shares_one_frame(void**) {
  World w;
  FakeConnection cs[3], cp;
  Session* subs[3];
  for (int i = 0; i < 3; ++i) {
    subs[i] = w.connect(&cs[i]);
    say(*w.node, subs[i], R"({"type":"subscribe","channel":"news"})");
    Sent ack;
    drain(subs[i], &ack);
    assert_string_equal(ack.type(0), "subscribed");
    assert_true(cJSON_IsNull(ack.get(0, "position")));
    assert_null(ack.get(0, "recovered"));
  }
  Session* pub = w.connect(&cp);
  say(*w.node, pub, R"({"type":"publish","channel":"news","data":{"a":[1,2]},"ref":{"k":1}})");
  // The very same bytes sit in every subscriber's queue.
  const void* bytes = subs[0]->queue().front()->data();
  for (Session* s : subs) assert_ptr_equal(s->queue().front()->data(), bytes);
  assert_int_equal(subs[0]->queue().front().use_count(), 3 + 1);  // 3 queues + the message's cache
  Sent got, ack;
  drain(subs[1], &got);
  drain(pub, &ack);
  assert_string_equal(got.type(0), "message");
  assert_string_equal(got.str(0, "channel"), "news");
  char* data = cJSON_PrintUnformatted(got.get(0, "data"));
  assert_string_equal(data, "{\"a\":[1,2]}");
  cJSON_free(data);
  assert_string_equal(ack.type(0), "published");
  assert_string_equal(ack.str(0, "id"), got.str(0, "id"));
  assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(ack.get(0, "ref"), "k")), 1);
  assert_int_equal(pub->queue().size(), 0);  // the publisher is not subscribed
}

static void replay_since_then_live(void**) {
  World w(OptionList{{"history-size", "100"}});
  FakeConnection cp, cs;
  Session* pub = w.connect(&cp);
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(w.publish(pub, "c", std::to_string(i)));
  Session* s = w.connect(&cs);
  say(*w.node, s, "{\"type\":\"subscribe\",\"channel\":\"c\",\"since\":\"" + ids[1] + "\"}");
  w.publish(pub, "c", "5");
  Sent out;
  drain(s, &out);
  assert_int_equal(out.size(), 1 + 3 + 1);
  assert_string_equal(out.type(0), "subscribed");
  assert_string_equal(out.str(0, "position"), ids[4].c_str());
  assert_true(cJSON_IsTrue(out.get(0, "recovered")));
  for (int i = 0; i < 4; ++i) {
    assert_string_equal(out.type(1 + i), "message");
    assert_int_equal(cJSON_GetNumberValue(out.get(1 + i, "data")), 2 + i);
  }
}

static void recovered_false_past_history(void**) {
  World w(OptionList{{"history-size", "3"}});
  FakeConnection cp, cs;
  Session* pub = w.connect(&cp);
  std::vector<std::string> ids;
  for (int i = 0; i < 6; ++i) ids.push_back(w.publish(pub, "c", std::to_string(i)));
  Session* s = w.connect(&cs);
  say(*w.node, s, "{\"type\":\"subscribe\",\"channel\":\"c\",\"since\":\"" + ids[0] + "\"}");
  Sent out;
  drain(s, &out);
  assert_int_equal(out.size(), 1 + 3);  // subscribed, then what is retained: 3, 4, 5
  assert_string_equal(out.type(0), "subscribed");
  assert_true(cJSON_IsFalse(out.get(0, "recovered")));
  assert_int_equal(cJSON_GetNumberValue(out.get(1, "data")), 3);
  // From the oldest evicted id on, nothing is missing.
  FakeConnection c2;
  Session* s2 = w.connect(&c2);
  say(*w.node, s2, "{\"type\":\"subscribe\",\"channel\":\"c\",\"since\":\"" + ids[2] + "\"}");
  Sent out2;
  drain(s2, &out2);
  assert_int_equal(out2.size(), 1 + 3);
  assert_string_equal(out2.type(0), "subscribed");
  assert_true(cJSON_IsTrue(out2.get(0, "recovered")));
  // An id from before this broker started: its history is gone.
  FakeConnection c3;
  Session* s3 = w.connect(&c3);
  say(*w.node, s3, R"({"type":"subscribe","channel":"c","since":"1000-0"})");
  Sent out3;
  drain(s3, &out3);
  assert_true(out3.size() >= 1);
  assert_string_equal(out3.type(0), "subscribed");
  assert_true(cJSON_IsFalse(out3.get(0, "recovered")));
}

// The seam: history is answered late; messages published meanwhile arrive
// once each, in order, after the replayed ones.
static void seam_without_gap_or_duplicate(void**) {
  World w(OptionList{{"history-size", "1000"}}, /*defer=*/true);
  FakeConnection cp, cs;
  Session* pub = w.connect(&cp);
  std::vector<std::string> ids;
  for (int i = 0; i < 10; ++i) ids.push_back(w.publish(pub, "c", std::to_string(i)));
  Session* s = w.connect(&cs);
  say(*w.node, s, "{\"type\":\"subscribe\",\"channel\":\"c\",\"since\":\"" + ids[3] + "\"}");
  assert_int_equal(w.deferred->pending(), 1);
  for (int i = 10; i < 15; ++i) w.publish(pub, "c", std::to_string(i));  // parked
  assert_int_equal(s->queue().size(), 0);
  w.deferred->release();  // history now holds 4..14, overlapping the parked 10..14
  for (int i = 15; i < 17; ++i) w.publish(pub, "c", std::to_string(i));
  Sent out;
  drain(s, &out);
  assert_string_equal(out.type(0), "subscribed");
  assert_int_equal(out.size(), 1 + 13);  // 4..16, each once
  for (int i = 0; i < 13; ++i) assert_int_equal(cJSON_GetNumberValue(out.get(1 + i, "data")), 4 + i);
}

static void heartbeats_ping_and_time_out(void**) {
  World w(OptionList{{"heartbeat-secs", "2"}, {"heartbeat-timeout-secs", "5"}});
  FakeConnection quiet, chatty;
  Session* q = w.connect(&quiet);
  Session* c = w.connect(&chatty);
  w.clocks.steady += 2000;
  w.node->tick();
  assert_true(q->ping_due() && c->ping_due());
  q->ping_sent();
  c->ping_sent();
  for (int i = 0; i < 2; ++i) {
    w.clocks.steady += 1000;
    w.node->pong(c);
    w.node->tick();
  }
  assert_false(q->closing());  // 4 s of silence
  w.clocks.steady += 1000;     // 5 s: the timeout
  w.node->pong(c);
  w.node->tick();
  assert_true(q->closing());
  assert_int_equal(q->close_code(), 1001);
  assert_int_equal(quiet.closes, 1);
  assert_false(c->closing());
}

static void message_size_is_checked_after_reassembly(void**) {
  World w(OptionList{{"max-message-bytes", "100"}});
  FakeConnection cn;
  Session* s = w.connect(&cn);
  // 3 fragments, 95 bytes in all: reassembled and handled.
  std::string hb = R"({"type":"heartbeat","pad":")" + std::string(95 - 29, 'x') + "\"}";
  assert_int_equal(hb.size(), 95);
  w.node->receive(s, hb.substr(0, 40), true, false, false);
  w.node->receive(s, hb.substr(40, 40), false, false, false);
  w.node->receive(s, hb.substr(80), false, true, false);
  Sent ok;
  drain(s, &ok);
  assert_string_equal(ok.type(0), "heartbeat_ack");
  assert_true(s->rx_buffer().capacity() < 32);  // the buffer went with the message
  // 180 bytes in 3 fragments: refused at once, closed 1009 when it ends.
  // (A second later: within receive-bytes-per-sec, whose burst is 200 here.)
  w.clocks.steady += 1000;
  w.node->receive(s, std::string(60, ' '), true, false, false);
  w.node->receive(s, std::string(60, ' '), false, false, false);
  Sent bad;
  drain(s, &bad);
  assert_string_equal(bad.type(0), "error");
  assert_string_equal(bad.str(0, "code"), "MESSAGE_TOO_LARGE");
  assert_false(s->closing());  // the peer is still sending this message
  assert_true(s->rx_buffer().capacity() < 32);  // and none of it is kept
  w.node->receive(s, std::string(60, ' '), false, true, false);
  assert_true(s->closing());
  assert_int_equal(s->close_code(), 1009);
  // A message that never ends is cut off after 16 x max-message-bytes,
  // even sent slowly enough for receive-bytes-per-sec (a fragment a ms).
  FakeConnection c2;
  Session* s2 = w.connect(&c2);
  w.node->receive(s2, std::string(101, ' '), true, false, false);
  for (int i = 0; i < 16; ++i) {  // 1600 dropped
    w.clocks.steady += 1;
    w.node->receive(s2, std::string(100, ' '), false, false, false);
  }
  assert_false(s2->closing());
  w.clocks.steady += 1;
  w.node->receive(s2, std::string(100, ' '), false, false, false);
  assert_true(s2->closing());
  assert_int_equal(s2->close_code(), 1009);
}

static void slow_consumer_closed_others_unaffected(void**) {
  World w(OptionList{{"send-queue-bytes", "4096"}});
  FakeConnection cslow, cfast, cp;
  Session* slow = w.connect(&cslow);
  Session* fast = w.connect(&cfast);
  Session* pub = w.connect(&cp);
  for (Session* s : {slow, fast}) {
    say(*w.node, s, R"({"type":"subscribe","channel":"c"})");
    Sent ack;
    drain(s, &ack);
  }
  const std::string data = "\"" + std::string(500, 'z') + "\"";
  int received = 0;
  for (int i = 0; i < 50; ++i) {
    w.publish(pub, "c", data);
    Sent got;
    drain(fast, &got);  // the fast one keeps up
    received += static_cast<int>(got.size());
  }
  assert_int_equal(received, 50);
  assert_true(slow->closing());
  assert_int_equal(slow->close_code(), 1008);
  assert_int_equal(slow->queue().bytes(), 0);  // its memory is given back
  assert_int_equal(w.node->metrics().slow_consumers, 1);
}

static void channel_errors_echo_ref(void**) {
  World w;
  FakeConnection cn;
  Session* s = w.connect(&cn);
  const char* bad[] = {
      R"({"type":"subscribe","ref":7})", R"({"type":"subscribe","channel":"","ref":7})",
      R"({"type":"subscribe","channel":"a b","ref":7})", R"({"type":"publish","channel":"a\tb","data":1,"ref":7})",
      R"({"type":"unsubscribe","channel":5,"ref":7})",
  };
  for (const char* f : bad) {
    say(*w.node, s, f);
    Sent out;
    drain(s, &out);
    assert_int_equal(out.size(), 1);
    assert_string_equal(out.str(0, "code"), "INVALID_CHANNEL");
    assert_int_equal(cJSON_GetNumberValue(out.get(0, "ref")), 7);
  }
  std::string ok200(200, 'a'), bad201(201, 'a');
  say(*w.node, s, "{\"type\":\"subscribe\",\"channel\":\"" + ok200 + "\"}");
  say(*w.node, s, "{\"type\":\"subscribe\",\"channel\":\"" + bad201 + "\"}");
  Sent out;
  drain(s, &out);
  assert_string_equal(out.type(0), "subscribed");
  assert_string_equal(out.str(1, "code"), "INVALID_CHANNEL");
  assert_false(s->closing());
}

static void http_api(void**) {
  World w(OptionList{{"max-message-bytes", "64"}, {"node-id", "n-9"}});
  HttpResponse got;
  auto run = [&](const char* method, const char* path, std::string body, bool too_large = false) {
    HttpRequest r{method, path, std::move(body), too_large, {}, false, {}};
    HttpApi(*w.node).handle(r, [&](HttpResponse resp) { got = std::move(resp); });
    return got.status;
  };
  assert_int_equal(run("GET", "health", ""), 200);
  assert_non_null(strstr(got.body.c_str(), "\"status\":\"healthy\""));
  assert_non_null(strstr(got.body.c_str(), "\"redis\":\"off\""));
  assert_int_equal(run("POST", "publish/room-1", "{ \"x\" : 1 }"), 200);
  assert_non_null(strstr(got.body.c_str(), "\"channel\":\"room-1\""));
  assert_int_equal(run("POST", "/publish/room-1", "{nope"), 400);
  assert_int_equal(run("POST", "publish/a b", "1"), 400);
  assert_int_equal(run("POST", "publish/", "1"), 400);
  assert_int_equal(run("POST", "publish/c", std::string(65, '1')), 413);
  assert_int_equal(run("POST", "publish/c", "1", true), 413);
  assert_int_equal(run("GET", "publish/c", ""), 405);
  assert_int_equal(run("POST", "health", ""), 405);
  assert_int_equal(run("GET", "nope", ""), 404);
  assert_int_equal(run("GET", "nodes", ""), 200);
  assert_non_null(strstr(got.body.c_str(), "\"node\":\"n-9\""));
  assert_int_equal(run("GET", "metrics", ""), 200);
  assert_non_null(strstr(got.body.c_str(), "rtpush_messages_published_total{source=\"http\"} 1"));
  assert_non_null(strstr(got.body.c_str(), "rtpush_message_processing_seconds_bucket{le=\"+Inf\"}"));
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(connection_established_first),
      cmocka_unit_test(fan_out_shares_one_frame),
      cmocka_unit_test(replay_since_then_live),
      cmocka_unit_test(recovered_false_past_history),
      cmocka_unit_test(seam_without_gap_or_duplicate),
      cmocka_unit_test(heartbeats_ping_and_time_out),
      cmocka_unit_test(message_size_is_checked_after_reassembly),
      cmocka_unit_test(slow_consumer_closed_others_unaffected),
      cmocka_unit_test(channel_errors_echo_ref),
      cmocka_unit_test(http_api),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
