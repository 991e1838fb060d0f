// The pure part of the Redis users' registry (core/redis/redis_users.h):
// entry and control message formats, the users script's reply, and the
// commands that write a node's registrations again after an outage.
#include <map>
#include <set>
#include <string>
#include <vector>

#include "cmocka_cpp.h"
#include "redis_live_format.h"
#include "redis_scripts.h"
#include "redis_users.h"

using namespace rtpush::redis;

namespace {

// A reply tree built by hand, as hiredis would hand it over.
struct FakeReply {
  std::vector<std::string> strings;
  std::vector<redisReply> items;
  std::vector<redisReply*> pointers;
  redisReply top{};
  explicit FakeReply(std::vector<std::string> s) : strings(std::move(s)), items(strings.size()) {
    for (std::size_t i = 0; i < strings.size(); ++i) {
      items[i] = redisReply{};
      items[i].type = REDIS_REPLY_STRING;
      items[i].str = strings[i].data();
      items[i].len = strings[i].size();
      pointers.push_back(&items[i]);
    }
    top.type = REDIS_REPLY_ARRAY;
    top.elements = pointers.size();
    top.element = pointers.data();
  }
};

}  // namespace

static void an_entry_keeps_any_node_name(void**) {
  assert_string_equal(user_entry("node-b", 1700000000.25).c_str(), "1700000000.250\tnode-b");
  assert_true(user_entry("a\tb c", 1) == std::string("1.000\ta\tb c"));
}

static void disconnect_messages_carry_any_user_id(void**) {
  const std::vector<std::string> users = {"42", "alice smith", "line\nbreak", std::string("nul\0byte", 8), ""};
  for (const std::string& user : users) {
    auto back = parse_disconnect_message(disconnect_message(user));
    assert_true(back.has_value());
    assert_true(*back == user);
  }
  assert_false(parse_disconnect_message("reload-everything").has_value());
  assert_false(parse_disconnect_message("").has_value());
}

// The publish script's live payload after "<id> ": an optional
// "u<len>:<user>" (any bytes, a space included), then kind and data.
static void a_live_payload_carries_its_user(void**) {
  using rtpush::redis::split_live_user;
  std::string_view rest = "j{\"a\":1}", user;
  assert_true(split_live_user(&rest, &user));
  assert_true(rest == "j{\"a\":1}" && user.empty());
  rest = "u4:a b:j[1]";
  assert_true(split_live_user(&rest, &user));
  assert_true(user == "a b:" && rest == "j[1]");
  rest = "u0:b\x01";
  assert_true(split_live_user(&rest, &user));
  assert_true(user.empty() && rest == "b\x01");
  for (std::string_view bad : {"u", "u:", "u5:abc", "ux:j1", "u3", "u99999999999:j"}) {
    rest = bad;
    assert_false(split_live_user(&rest, &user));
  }
}

static void the_scripts_reply_reads_as_connections(void**) {
  FakeReply r({"c1", "node-a", "1700000000.500", "c2", "node b", "1700000001.000"});
  auto list = parse_user_connections(&r.top);
  assert_true(list.has_value());
  assert_int_equal(list->size(), 2);
  assert_string_equal((*list)[0].connection_id.c_str(), "c1");
  assert_string_equal((*list)[0].node.c_str(), "node-a");
  assert_true((*list)[0].connected_at == 1700000000.5);
  assert_string_equal((*list)[1].node.c_str(), "node b");

  FakeReply empty({});
  assert_true(parse_user_connections(&empty.top).has_value());
  assert_true(parse_user_connections(&empty.top)->empty());

  FakeReply ragged({"c1", "node-a"});  // not triples: a script of another build
  assert_false(parse_user_connections(&ragged.top).has_value());
  assert_false(parse_user_connections(nullptr).has_value());  // the link went down
  redisReply error{};
  error.type = REDIS_REPLY_ERROR;
  assert_false(parse_user_connections(&error).has_value());
}

static void local_users_count_adds_and_removes(void**) {
  LocalUsers u;
  u.add("42", "c1", 1);
  u.add("42", "c2", 2);
  u.add("7", "c3", 3);
  u.add("42", "c1", 1);  // the same connection again: still one
  assert_int_equal(u.size(), 3);
  assert_true(u.remove("42", "c1"));
  assert_false(u.remove("42", "c1"));
  assert_false(u.remove("nobody", "c2"));
  assert_false(u.remove("7", "c2"));  // another user's connection
  assert_int_equal(u.size(), 2);
  assert_true(u.remove("42", "c2") && u.remove("7", "c3"));
  assert_int_equal(u.size(), 0);
  assert_true(u.registration_commands("node-a").empty());
}

// Every registration is written, to both hashes, in bounded commands, and
// nothing else.
static void registration_commands_write_everything_in_bounded_chunks(void**) {
  LocalUsers u;
  const std::size_t many = 2 * LocalUsers::kFieldsPerCommand + 3;
  for (std::size_t i = 0; i < many; ++i) u.add("big user", "b" + std::to_string(i), 10);
  u.add("7", "s1", 20);
  std::map<std::string, std::map<std::string, std::string>> hashes;
  for (const auto& cmd : u.registration_commands("node-a")) {
    assert_true(cmd.size() >= 4 && cmd.size() % 2 == 0);
    assert_string_equal(cmd[0].c_str(), "HSET");
    assert_true((cmd.size() - 2) / 2 <= LocalUsers::kFieldsPerCommand);
    for (std::size_t i = 2; i < cmd.size(); i += 2) {
      assert_true(hashes[cmd[1]].emplace(cmd[i], cmd[i + 1]).second);  // each field once
    }
  }
  assert_int_equal(hashes.size(), 3);
  const auto& big = hashes[std::string(kUserPrefix) + "big user"];
  assert_int_equal(big.size(), many);
  assert_true(big.at("b0") == user_entry("node-a", 10));
  assert_true(hashes[std::string(kUserPrefix) + "7"].at("s1") == user_entry("node-a", 20));
  const auto& conns = hashes[std::string(kNodeConnsPrefix) + "node-a"];
  assert_int_equal(conns.size(), many + 1);
  assert_true(conns.at("s1") == "7" && conns.at("b5") == "big user");
}

// A stop removes exactly this process's registrations, from both hashes, in
// bounded commands: never the node's whole hash, which during a reload also
// holds the other lwsws child's (same node-id).
static void removal_commands_remove_exactly_what_was_registered(void**) {
  LocalUsers u;
  const std::size_t many = LocalUsers::kFieldsPerCommand + 2;
  for (std::size_t i = 0; i < many; ++i) u.add("big user", "b" + std::to_string(i), 10);
  u.add("7", "s1", 20);
  std::map<std::string, std::set<std::string>> removed;
  for (const auto& cmd : u.removal_commands("node-a")) {
    assert_true(cmd.size() >= 3);
    assert_string_equal(cmd[0].c_str(), "HDEL");
    assert_true(cmd.size() - 2 <= LocalUsers::kFieldsPerCommand);
    for (std::size_t i = 2; i < cmd.size(); ++i) assert_true(removed[cmd[1]].insert(cmd[i]).second);
  }
  assert_int_equal(removed.size(), 3);
  assert_int_equal(removed[std::string(kUserPrefix) + "big user"].size(), many);
  assert_true(removed[std::string(kUserPrefix) + "7"] == std::set<std::string>{"s1"});
  assert_int_equal(removed[std::string(kNodeConnsPrefix) + "node-a"].size(), many + 1);
  assert_true(LocalUsers{}.removal_commands("node-a").empty());
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(an_entry_keeps_any_node_name),
      cmocka_unit_test(disconnect_messages_carry_any_user_id),
      cmocka_unit_test(a_live_payload_carries_its_user),
      cmocka_unit_test(the_scripts_reply_reads_as_connections),
      cmocka_unit_test(local_users_count_adds_and_removes),
      cmocka_unit_test(registration_commands_write_everything_in_bounded_chunks),
      cmocka_unit_test(removal_commands_remove_exactly_what_was_registered),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
