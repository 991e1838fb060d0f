// Users' connections across nodes on a real Redis (RedisPresence on its
// RedisBroker's links, core/redis/): two of them with their own I/O threads
// stand for two nodes. Starts its own redis-server on a free port; fails when
// there is none on PATH (a skip would let CTest report these paths as tested).
#include <arpa/inet.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "cmocka_cpp.h"
#include "free_port.h"
#include "io_thread.h"
#include "redis_broker.h"
#include "redis_presence.h"
#include "redis_scripts.h"
#include "redis_users.h"

extern char** environ;

using namespace rtpush;

namespace {

int g_port = 0;
pid_t g_redis = -1;


// One command on its own connection: how the test looks at Redis.
struct Reply {
  redisReply* r = nullptr;
  ~Reply() {
    if (r) freeReplyObject(r);
  }
};
std::unique_ptr<Reply> call(const std::vector<std::string>& args) {
  redisContext* c = redisConnect("127.0.0.1", g_port);
  auto out = std::make_unique<Reply>();
  if (c && !c->err) {
    std::vector<const char*> argv;
    std::vector<std::size_t> lens;
    for (const auto& a : args) argv.push_back(a.data()), lens.push_back(a.size());
    out->r = static_cast<redisReply*>(redisCommandArgv(c, static_cast<int>(args.size()), argv.data(), lens.data()));
  }
  if (c) redisFree(c);
  return out;
}

bool until(const std::function<bool()>& ready, double secs, std::vector<IoThread*> ios) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(secs);
  while (std::chrono::steady_clock::now() < end) {
    for (IoThread* io : ios) io->drain();
    if (ready()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

struct Recorder : PresenceListener {
  std::vector<std::string> disconnected;
  void on_disconnect_user(const std::string& user) override { disconnected.push_back(user); }
};

// A node: its I/O thread, its broker and presence, what its listener heard.
struct TestNode {
  std::string id;
  IoThread io{nullptr};
  Recorder heard;
  std::unique_ptr<RedisPresence> presence;  // after the broker (on its links)
  std::unique_ptr<RedisBroker> broker;
  explicit TestNode(std::string node_id, int port = g_port) : id(std::move(node_id)) {
    RedisUrl a;
    a.hosts = {{"127.0.0.1", port}};
    broker = std::make_unique<RedisBroker>(a, id, 100, 0, &io, Logger::none());
    presence = std::make_unique<RedisPresence>(*broker, id, &io, Logger::none());
    presence->set_listener(&heard);
  }
  ~TestNode() {  // before the I/O thread: the broker, then the presence on its links
    broker.reset();
    presence.reset();
  }

  bool up() {
    return until([&] { return broker->state() == BackendState::Up; }, 10, {&io});
  }
  void connected(const std::string& user, const std::string& conn, double at) {
    UserConnection c;
    c.connection_id = conn;
    c.node = id;
    c.connected_at = at;
    presence->user_connected(user, c);
  }
  // user_connections, waited for.
  std::vector<UserConnection> list(const std::string& user, bool* shared = nullptr) {
    bool done = false, sh = false;
    std::vector<UserConnection> got;
    presence->user_connections(user, [&](bool s, std::vector<UserConnection> v) {
      done = true, sh = s, got = std::move(v);
    });
    assert_true(until([&] { return done; }, 5, {&io}));
    if (shared) *shared = sh;
    return got;
  }
};

std::size_t hlen(const std::string& key) {
  auto r = call({"HLEN", key});
  return r->r && r->r->type == REDIS_REPLY_INTEGER ? static_cast<std::size_t>(r->r->integer) : 0;
}

const std::string kUser = "alice smith\nline two";  // a sub with a space and a newline

int setup(void**) {
  if (system("command -v redis-server >/dev/null 2>&1") != 0) {
    std::fprintf(stderr, "redis-server is not on PATH: these tests need a real Redis; install redis-server\n");
    return -1;
  }
  g_port = free_port();
  const std::string port = std::to_string(g_port);
  const char* argv[] = {"redis-server", "--port", port.c_str(), "--bind", "127.0.0.1", "--save", "",
                        "--appendonly", "no", "--loglevel", "warning", nullptr};
  posix_spawn_file_actions_t quiet;
  posix_spawn_file_actions_init(&quiet);
  posix_spawn_file_actions_addopen(&quiet, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  const int spawned = posix_spawnp(&g_redis, "redis-server", &quiet, nullptr, const_cast<char**>(argv), environ);
  posix_spawn_file_actions_destroy(&quiet);
  if (spawned != 0) return -1;
  for (int i = 0; i < 500; ++i) {
    auto r = call({"PING"});
    if (r->r && r->r->type == REDIS_REPLY_STATUS) return 0;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return -1;
}

int teardown(void**) {
  if (g_redis > 0) {
    kill(g_redis, SIGTERM);
    waitpid(g_redis, nullptr, 0);
  }
  return 0;
}

int fresh(void**) {
  if (g_redis > 0) call({"FLUSHALL"});
  return 0;
}

}  // namespace

static void every_node_lists_a_users_connections_on_every_node(void**) {
  TestNode a("node-a"), b("node-b");
  assert_true(a.up() && b.up());
  a.connected(kUser, "c-a", 1700000000.5);
  b.connected(kUser, "c-b", 1700000001.25);
  b.connected("someone else", "c-x", 1);
  std::vector<UserConnection> got;
  bool shared = false;
  assert_true(until([&] { return (got = a.list(kUser, &shared)).size() == 2; }, 5, {}));
  assert_true(shared);
  for (const auto& c : got) {
    if (c.connection_id == "c-a") {
      assert_string_equal(c.node.c_str(), "node-a");
      assert_true(c.connected_at == 1700000000.5);
    } else {
      assert_string_equal(c.connection_id.c_str(), "c-b");
      assert_string_equal(c.node.c_str(), "node-b");
      assert_true(c.connected_at == 1700000001.25);
    }
  }
  b.presence->user_disconnected(kUser, "c-b");
  assert_true(until([&] { return a.list(kUser).size() == 1; }, 5, {}));
  assert_true(b.list("nobody").empty());
  assert_int_equal(hlen(std::string(redis::kNodeConnsPrefix) + "node-b"), 1);  // c-x only
}

static void a_disconnect_reaches_every_node_this_one_included(void**) {
  TestNode a("node-a"), b("node-b");
  assert_true(a.up() && b.up());
  // The control topic is subscribed once the link is up: PUBSUB shows both.
  assert_true(until([] {
    auto r = call({"PUBSUB", "NUMSUB", redis::kControlTopic});
    return r->r && r->r->elements == 2 && r->r->element[1]->integer == 2;
  }, 5, {}));
  bool carried = false, done = false;
  a.presence->disconnect_user(kUser, [&](bool c) { done = true, carried = c; });
  assert_true(until([&] { return done && a.heard.disconnected.size() == 1 && b.heard.disconnected.size() == 1; },
                    5, {&a.io, &b.io}));
  assert_true(carried);
  assert_true(a.heard.disconnected[0] == kUser && b.heard.disconnected[0] == kUser);
}

// A node that crashed never dropped its entries: once it is no longer live
// in rtpush:nodes they are not reported, and reading them deletes them.
static void a_dead_nodes_connections_are_not_listed(void**) {
  TestNode a("node-a");
  assert_true(a.up());
  a.connected(kUser, "c-a", 5);
  const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count();
  auto crashed = [&](const std::string& node, long long seen_ms, const std::string& conn) {
    call({"ZADD", redis::kNodesKey, std::to_string(seen_ms), node});
    call({"HSET", redis::kUserPrefix + kUser, conn, redis::user_entry(node, 3)});
    call({"HSET", redis::kNodeConnsPrefix + node, conn, kUser});
  };
  crashed("node-dead", now_ms - 31000, "c-dead");  // past the 30 s registry TTL
  crashed("node-live", now_ms - 1000, "c-live");   // another node, still beating
  std::vector<UserConnection> got;
  assert_true(until([&] { return (got = a.list(kUser)).size() == 2; }, 5, {}));
  for (const auto& c : got) assert_true(c.node == "node-a" || c.node == "node-live");
  assert_int_equal(hlen(redis::kUserPrefix + kUser), 2);  // c-dead deleted on the way
  assert_int_equal(hlen(std::string(redis::kNodeConnsPrefix) + "node-dead"), 0);
}

// The heartbeat's prune drops a dead node's users with it.
static void the_prune_drops_a_dead_nodes_users(void**) {
  call({"ZADD", redis::kNodesKey, "1000", "node-dead"});
  call({"HSET", redis::kNodeInfoKey, "node-dead", "2"});
  call({"HSET", redis::kUserPrefix + kUser, "c1", redis::user_entry("node-dead", 1), "c9",
        redis::user_entry("node-b", 1)});
  call({"HSET", redis::kUserPrefix + std::string("u2"), "c2", redis::user_entry("node-dead", 1)});
  call({"HSET", redis::kNodeConnsPrefix + std::string("node-dead"), "c1", kUser, "c2", "u2"});
  auto r = call({"EVAL", redis::kPruneNodesScript, "2", redis::kNodesKey, redis::kNodeInfoKey, "5000",
                 redis::kNodeConnsPrefix, redis::kUserPrefix});
  assert_true(r->r && r->r->type == REDIS_REPLY_INTEGER && r->r->integer == 1);
  assert_int_equal(hlen(redis::kUserPrefix + kUser), 1);  // node-b's stays
  assert_int_equal(hlen(redis::kUserPrefix + std::string("u2")), 0);
  assert_int_equal(hlen(redis::kNodeConnsPrefix + std::string("node-dead")), 0);
}

// After an outage the registry holds what is open on the node, no more
// (closed meanwhile) and no less (Redis lost its data).
static void the_registry_heals_after_an_outage(void**) {
  TestNode a("node-a");
  assert_true(a.up());
  a.connected(kUser, "c1", 1);
  a.connected(kUser, "c2", 2);
  assert_true(until([] { return hlen(redis::kUserPrefix + kUser) == 2; }, 5, {}));
  call({"FLUSHALL"});  // Redis lost everything (a restart without persistence)
  // A connection closed while the link was down (its HDEL never reached
  // Redis), written here as if it had been registered before.
  call({"HSET", redis::kUserPrefix + kUser, "c-gone", redis::user_entry("node-a", 0)});
  call({"HSET", redis::kNodeConnsPrefix + std::string("node-a"), "c-gone", kUser});
  call({"CLIENT", "KILL", "TYPE", "normal"});  // the node's links break and come back
  assert_true(until([] {
    auto r = call({"HGETALL", redis::kUserPrefix + kUser});
    return r->r && r->r->elements == 4 && hlen(redis::kNodeConnsPrefix + std::string("node-a")) == 2;
  }, 10, {&a.io}));
  std::vector<UserConnection> got = a.list(kUser);
  assert_int_equal(got.size(), 2);
  for (const auto& c : got) assert_true(c.connection_id == "c1" || c.connection_id == "c2");
}

// Redis lost its data while the links stayed up: the heartbeat finds the
// node missing from rtpush:nodes and writes its users again.
static void the_heartbeat_rewrites_what_redis_lost(void**) {
  TestNode a("node-a");
  assert_true(a.up());
  a.connected(kUser, "c1", 1);
  assert_true(until([] { return hlen(redis::kUserPrefix + kUser) == 1; }, 5, {}));
  call({"FLUSHALL"});
  assert_true(until([] { return hlen(redis::kUserPrefix + kUser) == 1; }, 8, {&a.io}));  // heartbeat: 5 s
  assert_int_equal(a.list(kUser).size(), 1);
}

static void a_clean_stop_drops_the_nodes_registrations(void**) {
  TestNode a("node-a");
  auto b = std::make_unique<TestNode>("node-b");
  assert_true(a.up() && b->up());
  a.connected(kUser, "c-a", 1);
  b->connected(kUser, "c-b", 1);
  b->connected("u2", "c-b2", 1);
  assert_true(until([] { return hlen(redis::kUserPrefix + kUser) == 2; }, 5, {}));
  b.reset();
  assert_int_equal(hlen(redis::kUserPrefix + kUser), 1);  // at once, not after the heartbeat lapses
  assert_int_equal(hlen(redis::kUserPrefix + std::string("u2")), 0);
  assert_int_equal(hlen(redis::kNodeConnsPrefix + std::string("node-b")), 0);
  assert_int_equal(a.list(kUser).size(), 1);
}

// Without Redis the presence says it cannot tell, so the node answers locally.
static void without_redis_the_node_answers_alone(void**) {
  TestNode a("node-a", free_port());  // nothing listens there
  a.connected(kUser, "c1", 1);
  bool shared = true;
  assert_true(a.list(kUser, &shared).empty());
  assert_false(shared);
  bool done = false, carried = true;
  a.presence->disconnect_user(kUser, [&](bool c) { done = true, carried = c; });
  assert_true(until([&] { return done; }, 5, {&a.io}));
  assert_false(carried);
  assert_true(a.heard.disconnected.empty());
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup(every_node_lists_a_users_connections_on_every_node, fresh),
      cmocka_unit_test_setup(a_disconnect_reaches_every_node_this_one_included, fresh),
      cmocka_unit_test_setup(a_dead_nodes_connections_are_not_listed, fresh),
      cmocka_unit_test_setup(the_prune_drops_a_dead_nodes_users, fresh),
      cmocka_unit_test_setup(the_registry_heals_after_an_outage, fresh),
      cmocka_unit_test_setup(the_heartbeat_rewrites_what_redis_lost, fresh),
      cmocka_unit_test_setup(a_clean_stop_drops_the_nodes_registrations, fresh),
      cmocka_unit_test_setup(without_redis_the_node_answers_alone, fresh),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
