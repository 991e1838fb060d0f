// What an operator reads of a Redis deployment (SPEC section 12): GET
// metrics' rtpush_redis_* block and GET health, from the shards and counters
// a Redis broker keeps (RedisTopologyState), through a real Node and HttpApi.
// The broker here is the embedded one that says it has Redis: no
// redis-server is needed to show what each shard's state turns into.
#include <cstring>
#include <memory>
#include <string>

#include "cmocka_cpp.h"
#include "node_fixture.h"
#include "redis/redis_topology_state.h"

using namespace rtpush;

namespace {

// A MemoryBroker that reports a Redis link's state and a deployment's shards.
class TopologyBroker final : public Broker {
 public:
  TopologyBroker(BackendState* link, const RedisTopologyState* topology)
      : inner_(10, [] { return std::uint64_t{1'700'000'000'000ULL}; }), link_(link), topology_(topology) {}
  void set_listener(BrokerListener* l) override { inner_.set_listener(l); }
  using Broker::publish;
  void publish(const std::string& c, Payload p, std::string u, PublishDone d) override {
    inner_.publish(c, std::move(p), std::move(u), std::move(d));
  }
  void history(const std::string& c, std::optional<StreamId> since, std::size_t page, HistoryDone d) override {
    inner_.history(c, since, page, std::move(d));
  }
  void watch(const std::string&, bool) override {}
  BackendState state() const override { return *link_; }
  const RedisTopologyState* redis_topology() const override { return topology_; }

 private:
  MemoryBroker inner_;
  BackendState* link_;
  const RedisTopologyState* topology_;
};

struct RedisNode {
  FakeClocks clocks;
  BackendState link = BackendState::Up;
  RedisTopologyState topology;
  std::unique_ptr<Node> node;
  RedisNode() {
    OptionsResult parsed = parse_options({{"node-id", "n-1"}}, "test-node");
    assert_true(parsed.ok);
    node = std::make_unique<Node>(parsed.options, std::make_unique<TopologyBroker>(&link, &topology), clocks.clocks());
  }
  HttpResponse get(const char* path) {
    HttpResponse got;
    HttpRequest r{"GET", path, "", false, {}, false, {}};
    HttpApi(*node).handle(r, [&](HttpResponse resp) { got = std::move(resp); });
    return got;
  }
};

const char* const kCluster[] = {"0-5460", "5461-10922", "10923-16383"};

void three_shards(RedisTopologyState* t, bool second_up) {
  t->set_shards({{kCluster[0], true}, {kCluster[1], second_up}, {kCluster[2], true}});
}

}  // namespace

// One rtpush_redis_up per shard, the failovers, and both redirect kinds,
// with their HELP and TYPE, right after rtpush_build_info.
static void metrics_name_every_shard(void**) {
  RedisNode w;
  three_shards(&w.topology, false);
  w.topology.count_failover();
  w.topology.count_failover();
  for (int i = 0; i < 3; ++i) w.topology.count_redirect(false);
  w.topology.count_redirect(true);
  const std::string text = w.get("metrics").body;
  const std::string want =
      "# HELP rtpush_redis_up Redis shard with a reachable master (1) or not (0), by shard.\n"
      "# TYPE rtpush_redis_up gauge\n"
      "rtpush_redis_up{shard=\"0-5460\"} 1\n"
      "rtpush_redis_up{shard=\"5461-10922\"} 0\n"
      "rtpush_redis_up{shard=\"10923-16383\"} 1\n"
      "# HELP rtpush_redis_failovers_total Redis master changes this node followed.\n"
      "# TYPE rtpush_redis_failovers_total counter\n"
      "rtpush_redis_failovers_total 2\n"
      "# HELP rtpush_redis_redirects_total Redis Cluster redirects followed, by kind.\n"
      "# TYPE rtpush_redis_redirects_total counter\n"
      "rtpush_redis_redirects_total{kind=\"moved\"} 3\n"
      "rtpush_redis_redirects_total{kind=\"ask\"} 1\n"
      "# HELP rtpush_connections_active ";
  const std::size_t at = text.find("# HELP rtpush_redis_up ");
  assert_true(at != std::string::npos);
  assert_true(text.compare(at - 2, 2, "1\n") == 0);  // after rtpush_build_info's line
  assert_string_equal(text.substr(at, want.size()).c_str(), want.c_str());
}

// One Redis: shard "0", both redirect kinds at 0 (a rate() has its series
// before the first redirect).
static void one_redis_is_shard_0(void**) {
  RedisNode w;
  w.topology.set_shards({{"0", true}});
  const std::string text = w.get("metrics").body;
  assert_non_null(strstr(text.c_str(), "\nrtpush_redis_up{shard=\"0\"} 1\n"));
  assert_non_null(strstr(text.c_str(), "\nrtpush_redis_failovers_total 0\n"));
  assert_non_null(strstr(text.c_str(), "\nrtpush_redis_redirects_total{kind=\"moved\"} 0\n"));
  assert_non_null(strstr(text.c_str(), "\nrtpush_redis_redirects_total{kind=\"ask\"} 0\n"));
  w.topology.set_up("0", false);
  assert_non_null(strstr(w.get("metrics").body.c_str(), "\nrtpush_redis_up{shard=\"0\"} 0\n"));
}

// A label is escaped as the text format wants it.
static void shard_label_escaped(void**) {
  RedisTopologyState t;
  t.set_shards({{"a\"b\\c", true}});
  Gauges g;
  g.redis = &t;
  assert_non_null(strstr(Metrics{}.render("n", g).c_str(), "\nrtpush_redis_up{shard=\"a\\\"b\\\\c\"} 1\n"));
}

// Without redis no rtpush_redis_ line at all.
static void no_redis_block_without_redis(void**) {
  MemoryNode w;
  assert_null(strstr(w.node->reports().metrics_text().c_str(), "rtpush_redis_"));
}

// One shard down: 503, degraded, redis down, and which shard; all up again:
// 200 and the answer SPEC section 5 documents, with no extra field.
static void health_names_the_shards_down(void**) {
  RedisNode w;
  three_shards(&w.topology, false);
  HttpResponse r = w.get("health");
  assert_int_equal(r.status, 503);
  assert_string_equal(r.body.c_str(),
                      "{\"status\":\"degraded\",\"node\":\"n-1\",\"connections\":0,\"redis\":\"down\","
                      "\"postgres\":\"off\",\"redis_shards_down\":[\"5461-10922\"]}");
  w.topology.set_up(kCluster[0], false);
  r = w.get("health");
  assert_int_equal(r.status, 503);
  assert_non_null(strstr(r.body.c_str(), ",\"redis_shards_down\":[\"0-5460\",\"5461-10922\"]}"));
  w.topology.set_up(kCluster[0], true);
  w.topology.set_up(kCluster[1], true);
  r = w.get("health");
  assert_int_equal(r.status, 200);
  assert_string_equal(r.body.c_str(),
                      "{\"status\":\"healthy\",\"node\":\"n-1\",\"connections\":0,\"redis\":\"up\","
                      "\"postgres\":\"off\"}");
}

// The broker's own link down with every shard marked up (before a Cluster
// node has read its slot map, say) is still 503: either one says down.
static void health_down_while_the_link_is(void**) {
  RedisNode w;
  w.topology.set_shards({{"0", true}});
  w.link = BackendState::Down;
  HttpResponse r = w.get("health");
  assert_int_equal(r.status, 503);
  assert_non_null(strstr(r.body.c_str(), "\"redis\":\"down\""));
  assert_null(strstr(r.body.c_str(), "redis_shards_down"));
  w.link = BackendState::Up;
  assert_int_equal(w.get("health").status, 200);
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(metrics_name_every_shard),      cmocka_unit_test(one_redis_is_shard_0),
      cmocka_unit_test(shard_label_escaped),           cmocka_unit_test(no_redis_block_without_redis),
      cmocka_unit_test(health_names_the_shards_down),  cmocka_unit_test(health_down_while_the_link_is),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
