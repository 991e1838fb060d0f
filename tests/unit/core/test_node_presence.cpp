// NodePresence (core/node_presence.h) over a Presence that records what it
// is told: the connection count the registry shows other nodes follows the
// session table, GET nodes lists this node with its live count whether the
// Presence knows it or not, and EmbeddedPresence never claims to share.
#include <string>
#include <vector>

#include "cmocka_cpp.h"
#include "node_fixture.h"

using namespace rtpush;

namespace {

class RecordingPresence final : public Presence {
 public:
  void set_listener(PresenceListener* l) override { listener = l; }
  void nodes(NodesDone done) override { done(known); }
  void local_connections(std::size_t n) override { counts.push_back(n); }
  void user_connected(const std::string&, const UserConnection&) override {}
  void user_disconnected(const std::string&, const std::string&) override {}
  void user_connections(const std::string&, UsersDone done) override { done(false, {}); }
  void disconnect_user(const std::string&, CarryDone done) override { done(false); }

  PresenceListener* listener = nullptr;
  std::vector<NodeInfo> known;      // what nodes() answers
  std::vector<std::size_t> counts;  // every local_connections()
};

struct World {
  FakeClocks clocks;
  RecordingPresence* presence = nullptr;
  std::unique_ptr<Node> node;
  World() {
    OptionsResult parsed = parse_options({{"node-id", "n-1"}}, "test-node");
    assert_true(parsed.ok);
    auto b = std::make_unique<MemoryBroker>(100, [this] { return clocks.wall; });
    auto p = std::make_unique<RecordingPresence>();
    presence = p.get();
    node = std::make_unique<Node>(parsed.options, std::move(b), clocks.clocks(), nullptr, Logger::none(),
                                  std::move(p));
  }
  std::vector<NodeInfo> nodes() {
    std::vector<NodeInfo> got;
    bool done = false;
    node->presence().nodes([&](std::vector<NodeInfo> v) { got = std::move(v), done = true; });
    assert_true(done);
    return got;
  }
};

}  // namespace

static void the_registry_count_follows_the_sessions(void**) {
  World w;
  assert_non_null(w.presence->listener);  // NodePresence listens
  FakeConnection c1, c2;
  Session* a = open_session(*w.node, &c1);
  open_session(*w.node, &c2);
  w.node->close(a);
  assert_int_equal(w.presence->counts.size(), 3);
  assert_int_equal(w.presence->counts[0], 1);
  assert_int_equal(w.presence->counts[1], 2);
  assert_int_equal(w.presence->counts[2], 1);
}

static void nodes_lists_this_one_alone_when_nothing_is_known(void**) {
  World w;
  FakeConnection c;
  open_session(*w.node, &c);
  std::vector<NodeInfo> got = w.nodes();
  assert_int_equal(got.size(), 1);
  assert_string_equal(got[0].node.c_str(), "n-1");
  assert_int_equal(got[0].connections, 1);
  assert_true(got[0].last_seen == 1'700'000'000.0);
}

static void nodes_takes_this_ones_count_and_time_from_here(void**) {
  World w;
  w.presence->known = {NodeInfo{"n-2", 7, 1'699'999'999.5}, NodeInfo{"n-1", 40, 1'699'999'990.0}};
  FakeConnection c;
  open_session(*w.node, &c);
  std::vector<NodeInfo> got = w.nodes();
  assert_int_equal(got.size(), 2);
  assert_string_equal(got[0].node.c_str(), "n-2");
  assert_int_equal(got[0].connections, 7);
  assert_string_equal(got[1].node.c_str(), "n-1");
  assert_int_equal(got[1].connections, 1);
  assert_true(got[1].last_seen == 1'700'000'000.0);
}

static void the_embedded_presence_shares_nothing(void**) {
  EmbeddedPresence p;
  bool shared = true, carried = true, listed = false;
  std::vector<NodeInfo> nodes{NodeInfo{"x", 1, 1}};
  p.user_connections("u", [&](bool s, std::vector<UserConnection> v) { shared = s, listed = v.empty(); });
  p.disconnect_user("u", [&](bool c) { carried = c; });
  p.nodes([&](std::vector<NodeInfo> v) { nodes = std::move(v); });
  assert_false(shared);
  assert_true(listed);
  assert_false(carried);
  assert_true(nodes.empty());
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(the_registry_count_follows_the_sessions),
      cmocka_unit_test(nodes_lists_this_one_alone_when_nothing_is_known),
      cmocka_unit_test(nodes_takes_this_ones_count_and_time_from_here),
      cmocka_unit_test(the_embedded_presence_shares_nothing),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
