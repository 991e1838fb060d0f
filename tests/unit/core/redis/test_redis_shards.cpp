// RedisShards' routing against two fake cluster nodes on this test's own
// libev loop (no Redis needed): the map from CLUSTER SLOTS, a MOVED followed
// to a master never seen before (counted, the map updated), an ASK answered
// through ASKING (counted, the map unchanged), TRYAGAIN sent again, and a
// command that keeps being redirected given up after kMaxRedirects, and
// CLUSTERDOWN: down until CLUSTER INFO says the cluster is ok.
#include "cmocka_cpp.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cluster_slots.h"
#include "ev_loop.h"
#include "free_port.h"
#include "redis_shards.h"

using namespace rtpush;

namespace {

std::string bulk(const std::string& s) { return "$" + std::to_string(s.size()) + "\r\n" + s + "\r\n"; }

// A fake Redis speaking just enough RESP: each command (an array of bulk
// strings) is answered by `answer`, given the previous command on the same
// connection (for ASKING).
struct FakeNode {
  using Answer = std::function<std::string(const std::vector<std::string>& cmd, const std::vector<std::string>& prev)>;
  struct Conn {
    ev_io io{};
    FakeNode* node = nullptr;
    std::string in;
    std::vector<std::string> prev;
  };
  struct ev_loop* loop;
  int port = 0, fd = -1;
  ev_io accept_io{};
  Answer answer;
  std::vector<std::unique_ptr<Conn>> conns;
  std::map<std::string, int> seen;  // command name -> count

  FakeNode(struct ev_loop* l, Answer a) : loop(l), answer(std::move(a)) {
    fd = bind_loopback(&port);
    listen(fd, 16);
    ev_io_init(&accept_io, &FakeNode::on_accept, fd, EV_READ);
    accept_io.data = this;
    ev_io_start(loop, &accept_io);
  }
  ~FakeNode() {
    ev_io_stop(loop, &accept_io);
    for (auto& c : conns) {
      ev_io_stop(loop, &c->io);
      close(c->io.fd);
    }
    close(fd);
  }
  static void on_accept(struct ev_loop* loop, ev_io* w, int) {
    auto* self = static_cast<FakeNode*>(w->data);
    const int c = accept(w->fd, nullptr, nullptr);
    if (c < 0) return;
    auto conn = std::make_unique<Conn>();
    conn->node = self;
    ev_io_init(&conn->io, &FakeNode::on_read, c, EV_READ);
    conn->io.data = conn.get();
    ev_io_start(loop, &conn->io);
    self->conns.push_back(std::move(conn));
  }
  // One complete command from the front of `in`, or false.
  static bool parse(std::string& in, std::vector<std::string>* cmd) {
    std::size_t pos = 0;
    auto line = [&](std::string* out) {
      const std::size_t end = in.find("\r\n", pos);
      if (end == std::string::npos) return false;
      *out = in.substr(pos, end - pos);
      pos = end + 2;
      return true;
    };
    std::string head;
    if (!line(&head) || head.empty() || head[0] != '*') return false;
    const int n = std::stoi(head.substr(1));
    cmd->clear();
    for (int i = 0; i < n; ++i) {
      std::string len;
      if (!line(&len)) return false;
      const std::size_t size = std::stoul(len.substr(1));
      if (in.size() < pos + size + 2) return false;
      cmd->push_back(in.substr(pos, size));
      pos += size + 2;
    }
    in.erase(0, pos);
    return true;
  }
  static void on_read(struct ev_loop* loop, ev_io* w, int) {
    auto* conn = static_cast<Conn*>(w->data);
    char buf[4096];
    const ssize_t n = read(w->fd, buf, sizeof buf);
    if (n <= 0) {
      ev_io_stop(loop, w);
      return;
    }
    conn->in.append(buf, static_cast<std::size_t>(n));
    std::vector<std::string> cmd;
    while (parse(conn->in, &cmd)) {
      conn->node->seen[cmd[0]]++;
      std::string out;
      if (cmd[0] == "PING") out = "+PONG\r\n";
      else if (cmd[0] == "CLIENT" || cmd[0] == "ASKING") out = "+OK\r\n";
      else if (cmd[0] == "SUBSCRIBE") out = "*3\r\n" + bulk("subscribe") + bulk(cmd[1]) + ":1\r\n";
      else out = conn->node->answer(cmd, conn->prev);
      conn->prev = cmd;
      (void)!write(w->fd, out.data(), out.size());
    }
  }
};

// CLUSTER SLOTS: every slot on `port`.
std::string all_slots_on(int port) {
  return "*1\r\n*3\r\n:0\r\n:16383\r\n*3\r\n" + bulk("127.0.0.1") + ":" + std::to_string(port) + "\r\n" +
         bulk("0123456789012345678901234567890123456789");
}

// CLUSTER SLOTS after `slot` moved from `a` to `b`.
std::string moved_map(int a, int b, int slot) {
  auto range = [](int first, int last, int port) {
    return "*3\r\n:" + std::to_string(first) + "\r\n:" + std::to_string(last) + "\r\n*2\r\n" + bulk("127.0.0.1") +
           ":" + std::to_string(port) + "\r\n";
  };
  return "*3\r\n" + range(0, slot - 1, a) + range(slot, slot, b) + range(slot + 1, 16383, a);
}

struct Rig {
  struct ev_loop* loop = ev_loop_new(EVFLAG_AUTO);
  RedisTopologyState topology;
  std::unique_ptr<FakeNode> a, b;
  std::unique_ptr<RedisShards> shards;
  bool up = false;

  void start(FakeNode::Answer on_a, FakeNode::Answer on_b) {
    b = std::make_unique<FakeNode>(loop, std::move(on_b));
    a = std::make_unique<FakeNode>(loop, std::move(on_a));
    std::string why;
    RedisUrl url = *RedisUrl::parse("redis+cluster://127.0.0.1:" + std::to_string(a->port), &why);
    RedisShards::Events events;
    events.up = [this] { up = true; };
    shards = std::make_unique<RedisShards>(loop, url, "test", events, &topology);
    shards->start();
    run_until([this] { return up; });
  }
  void run_until(const std::function<bool()>& done) {
    for (int i = 0; i < 2000 && !done(); ++i) ev_run(loop, EVRUN_ONCE | EVRUN_NOWAIT), usleep(1000);
    assert_true(done());
  }
  // The command's reply as text ("(nil)" for none, "ERR:..." for an error).
  std::string run(const std::vector<std::string>& args) {
    std::string got;
    bool answered = false;
    shards->command(RedisShards::slot_of_command(args), args, [&](redisReply* r) {
      answered = true;
      if (!r) got = "(nil)";
      else if (r->type == REDIS_REPLY_ERROR) got = "ERR:" + std::string(r->str, r->len);
      else got = std::string(r->str, r->len);
    });
    run_until([&] { return answered; });
    return got;
  }
  ~Rig() {
    shards.reset();
    a.reset();
    b.reset();
    ev_loop_destroy(loop);
  }
};

void map_from_the_seed_and_up(void**) {
  Rig rig;
  rig.start([&](auto& cmd, auto&) { return cmd[0] == "CLUSTER" ? all_slots_on(rig.a->port) : bulk("a"); },
            [](auto&, auto&) { return bulk("b"); });
  assert_true(rig.shards->up());
  assert_string_equal(rig.shards->owner(42).c_str(), ("127.0.0.1:" + std::to_string(rig.a->port)).c_str());
  assert_string_equal(rig.run({"GET", "k"}).c_str(), "a");
  const auto shards = rig.topology.shards();
  assert_int_equal(shards.size(), 1);
  assert_string_equal(shards[0].label.c_str(), "0-16383");
  assert_true(shards[0].up);
}

void moved_goes_to_a_new_master_and_updates_the_map(void**) {
  Rig rig;
  const int slot = cluster::key_slot("k");
  bool moved = false;
  rig.start(
      [&](auto& cmd, auto&) {
        if (cmd[0] == "CLUSTER") return moved ? moved_map(rig.a->port, rig.b->port, slot) : all_slots_on(rig.a->port);
        moved = true;
        return "-MOVED " + std::to_string(slot) + " 127.0.0.1:" + std::to_string(rig.b->port) + "\r\n";
      },
      [&](auto& cmd, auto&) {
        return cmd[0] == "CLUSTER" ? moved_map(rig.a->port, rig.b->port, slot) : bulk("b");
      });
  assert_string_equal(rig.run({"GET", "k"}).c_str(), "b");
  assert_int_equal(rig.topology.moved(), 1);
  assert_int_equal(rig.topology.ask(), 0);
  assert_string_equal(rig.shards->owner(slot).c_str(), ("127.0.0.1:" + std::to_string(rig.b->port)).c_str());
  // The next one goes straight there.
  assert_string_equal(rig.run({"GET", "k"}).c_str(), "b");
  assert_int_equal(rig.topology.moved(), 1);
}

void ask_sends_asking_and_keeps_the_map(void**) {
  Rig rig;
  const int slot = cluster::key_slot("k");
  rig.start(
      [&](auto& cmd, auto&) {
        if (cmd[0] == "CLUSTER") return all_slots_on(rig.a->port);
        return "-ASK " + std::to_string(slot) + " 127.0.0.1:" + std::to_string(rig.b->port) + "\r\n";
      },
      [](auto&, auto& prev) {
        return !prev.empty() && prev[0] == "ASKING" ? bulk("asked") : std::string("-ERR no ASKING\r\n");
      });
  assert_string_equal(rig.run({"EVAL", "return 1", "1", "k"}).c_str(), "asked");
  assert_int_equal(rig.topology.ask(), 1);
  assert_int_equal(rig.topology.moved(), 0);
  assert_int_equal(rig.b->seen["ASKING"], 1);
  assert_string_equal(rig.shards->owner(slot).c_str(), ("127.0.0.1:" + std::to_string(rig.a->port)).c_str());
}

void tryagain_is_sent_again(void**) {
  Rig rig;
  int tries = 0;
  rig.start(
      [&](auto& cmd, auto&) {
        if (cmd[0] == "CLUSTER") return all_slots_on(rig.a->port);
        return ++tries < 3 ? std::string("-TRYAGAIN Multiple keys request during rehashing of slot\r\n") : bulk("ok");
      },
      [](auto&, auto&) { return bulk("b"); });
  assert_string_equal(rig.run({"GET", "k"}).c_str(), "ok");
  assert_int_equal(tries, 3);
}

void endless_redirects_end(void**) {
  Rig rig;
  const int slot = cluster::key_slot("k");
  rig.start(
      [&](auto& cmd, auto&) {
        if (cmd[0] == "CLUSTER") return all_slots_on(rig.a->port);
        return "-MOVED " + std::to_string(slot) + " 127.0.0.1:" + std::to_string(rig.b->port) + "\r\n";
      },
      [&](auto& cmd, auto&) {
        if (cmd[0] == "CLUSTER") return std::string("-ERR not now\r\n");
        return "-MOVED " + std::to_string(slot) + " 127.0.0.1:" + std::to_string(rig.a->port) + "\r\n";
      });
  const std::string got = rig.run({"GET", "k"});
  assert_true(got.rfind("ERR:MOVED", 0) == 0);
  assert_int_equal(rig.topology.moved(), RedisShards::kMaxRedirects);
}

void clusterdown_is_down_until_cluster_info_says_ok(void**) {
  Rig rig;
  bool ok = false;
  rig.start(
      [&](auto& cmd, auto&) {
        if (cmd[0] == "CLUSTER" && cmd[1] == "SLOTS") return all_slots_on(rig.a->port);
        if (cmd[0] == "CLUSTER") return bulk(ok ? "cluster_state:ok\r\n" : "cluster_state:fail\r\n");
        return ok ? bulk("a") : std::string("-CLUSTERDOWN The cluster is down\r\n");
      },
      [](auto&, auto&) { return bulk("b"); });
  assert_string_equal(rig.run({"GET", "k"}).c_str(), "ERR:CLUSTERDOWN The cluster is down");
  assert_false(rig.shards->up());
  assert_true(rig.topology.shards()[0].up);  // its master is reachable: the cluster is what is down
  ok = true;
  rig.up = false;
  rig.run_until([&] { return rig.up; });  // the next tick asks CLUSTER INFO
  assert_string_equal(rig.run({"GET", "k"}).c_str(), "a");
}

void slot_of_a_command_is_its_first_key(void**) {
  assert_int_equal(RedisShards::slot_of_command({"EVAL", "x", "2", "{a}1", "b"}), cluster::key_slot("a"));
  assert_int_equal(RedisShards::slot_of_command({"evalsha", "x", "0"}), 0);
  assert_int_equal(RedisShards::slot_of_command({"HSET", "rtpush:{presence}:nodes", "f", "v"}),
                   cluster::key_slot("presence"));
  assert_int_equal(RedisShards::slot_of_command({"PING"}), 0);
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(map_from_the_seed_and_up),
      cmocka_unit_test(moved_goes_to_a_new_master_and_updates_the_map),
      cmocka_unit_test(ask_sends_asking_and_keeps_the_map),
      cmocka_unit_test(tryagain_is_sent_again),
      cmocka_unit_test(endless_redirects_end),
      cmocka_unit_test(clusterdown_is_down_until_cluster_info_says_ok),
      cmocka_unit_test(slot_of_a_command_is_its_first_key),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
