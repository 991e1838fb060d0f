// Redis Cluster's key hash, the slot map read from CLUSTER SLOTS, and MOVED /
// ASK redirects (core/redis/cluster_slots.h). The replies are the exact bytes
// Redis 7.0 servers sent (captured once from a cluster started by hand).
#include <string>

#include "cluster_slots.h"
#include "cmocka_cpp.h"
#include "resp_reply.h"

using namespace rtpush::cluster;

namespace {

// CLUSTER SLOTS from `redis-cli --cluster create` of 6 nodes with
// --cluster-replicas 1 (Redis 7.0.15): three ranges, a master and a replica each.
const char* const kThreeMastersThreeReplicas =
    "*3\r\n"
    "*4\r\n:0\r\n:5460\r\n"
    "*4\r\n$9\r\n127.0.0.1\r\n:31701\r\n$40\r\nf7dedb90407efaaa01f117a8a6772ad125eb7522\r\n*0\r\n"
    "*4\r\n$9\r\n127.0.0.1\r\n:31704\r\n$40\r\ne5c520a66260644253fc4fc2112651478e8f68d6\r\n*0\r\n"
    "*4\r\n:5461\r\n:10922\r\n"
    "*4\r\n$9\r\n127.0.0.1\r\n:31702\r\n$40\r\ncf2c8d92c26fbd25177506e9dae983773dc5e418\r\n*0\r\n"
    "*4\r\n$9\r\n127.0.0.1\r\n:31705\r\n$40\r\n179e98f4fe9928303ebbf240ba0c1f4cc3b946c8\r\n*0\r\n"
    "*4\r\n:10923\r\n:16383\r\n"
    "*4\r\n$9\r\n127.0.0.1\r\n:31703\r\n$40\r\n2c3c2af8ff30eecacc3f8588e9498b8f54077b5e\r\n*0\r\n"
    "*4\r\n$9\r\n127.0.0.1\r\n:31706\r\n$40\r\n4ca6e4dff05b7af36fddd662481788ef4415eb17\r\n*0\r\n";

// The same Redis with cluster-preferred-endpoint-type unknown-endpoint (a
// null host) and hostname without hostnames ("?"); 3 masters, no replicas.
const char* const kNullHosts =
    "*3\r\n"
    "*3\r\n:0\r\n:5460\r\n*4\r\n$-1\r\n:23811\r\n$40\r\nc53ac24919391823e3180de5f77b7ebfc22d60f5\r\n"
    "*2\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n"
    "*3\r\n:5461\r\n:10922\r\n*4\r\n$-1\r\n:23812\r\n$40\r\n6ff42ee73c617dd2983ae7ee96c697d120ca6736\r\n"
    "*2\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n"
    "*3\r\n:10923\r\n:16383\r\n*4\r\n$-1\r\n:23813\r\n$40\r\nc16e8eacf87c019cde5bfcec7e211b7a7e31ec96\r\n"
    "*2\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n";
const char* const kQuestionMarkHosts =
    "*3\r\n"
    "*3\r\n:0\r\n:5460\r\n*4\r\n$1\r\n?\r\n:23811\r\n$40\r\nc53ac24919391823e3180de5f77b7ebfc22d60f5\r\n"
    "*2\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n"
    "*3\r\n:5461\r\n:10922\r\n*4\r\n$1\r\n?\r\n:23812\r\n$40\r\n6ff42ee73c617dd2983ae7ee96c697d120ca6736\r\n"
    "*2\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n"
    "*3\r\n:10923\r\n:16383\r\n*4\r\n$1\r\n?\r\n:23813\r\n$40\r\nc16e8eacf87c019cde5bfcec7e211b7a7e31ec96\r\n"
    "*2\r\n$2\r\nip\r\n$9\r\n127.0.0.1\r\n";

const Node kAsked{"10.0.0.9", 31701, ""};

std::optional<SlotMap> map_of(const char* resp, std::string* why) {
  ReplyPtr reply = resp_reply(resp);
  assert_non_null(reply.get());
  return SlotMap::from_cluster_slots(reply.get(), kAsked, why);
}

SlotMap valid_map(const char* resp) {
  std::string why;
  auto map = map_of(resp, &why);
  if (!map) fail_msg("not a valid map: %s", why.c_str());
  return *map;
}

// A range in RESP: [first, last, [host, port, id]].
std::string range(const std::string& first, const std::string& last, int port) {
  return "*3\r\n:" + first + "\r\n:" + last + "\r\n*3\r\n$9\r\n127.0.0.1\r\n:" + std::to_string(port) +
         "\r\n$2\r\nid\r\n";
}

}  // namespace

static void crc16_is_the_spec_s(void**) {
  assert_int_equal(crc16("123456789"), 0x31C3);
  assert_int_equal(crc16(""), 0);
}

static void key_slot_agrees_with_redis(void**) {
  // `redis-cli cluster keyslot` on Redis 7.0.15.
  assert_int_equal(key_slot("foo"), 12182);
  assert_int_equal(key_slot("bar"), 5061);
  assert_int_equal(key_slot("hello"), 866);
  assert_int_equal(key_slot("123456789"), 12739);
  assert_int_equal(key_slot("a"), 15495);
  assert_int_equal(key_slot(""), 0);
  assert_int_equal(key_slot("room-0"), 8214);
  assert_int_equal(key_slot("room-1"), 12343);
  assert_int_equal(key_slot("room-299"), 6558);
  assert_int_equal(key_slot("{presence}"), 15428);
  assert_int_equal(key_slot("rtpush:{b3-0}:stream:c"), 11942);
}

static void hash_tags_as_the_spec_says(void**) {
  assert_int_equal(key_slot("{user1000}.following"), 3443);
  assert_int_equal(key_slot("{user1000}.followers"), 3443);
  assert_int_equal(key_slot("foo{}{bar}"), 8363);  // an empty tag: the whole key
  assert_int_equal(key_slot("foo{}{bar}"), crc16("foo{}{bar}") & 16383);
  assert_int_equal(key_slot("foo{{bar}}zap"), 4015);  // hashes "{bar"
  assert_int_equal(key_slot("foo{{bar}}zap"), key_slot("{bar"));
  assert_int_equal(key_slot("foo{{bar}}zap"), crc16("{bar") & 16383);
  assert_int_equal(key_slot("foo{bar}{zap}"), 5061);  // hashes "bar"
  assert_int_equal(key_slot("foo{bar}{zap}"), key_slot("bar"));
  assert_int_equal(key_slot("foo{bar"), crc16("foo{bar") & 16383);  // no '}': the whole key
  assert_int_equal(key_slot("foo}bar{"), crc16("foo}bar{") & 16383);
}

static void reads_three_masters_with_replicas(void**) {
  SlotMap map = valid_map(kThreeMastersThreeReplicas);
  const auto& shards = map.shards();
  assert_int_equal(shards.size(), 3);
  assert_string_equal(shards[0].label().c_str(), "0-5460");
  assert_string_equal(shards[1].label().c_str(), "5461-10922");
  assert_string_equal(shards[2].label().c_str(), "10923-16383");
  assert_string_equal(shards[0].master.host_port().c_str(), "127.0.0.1:31701");
  assert_string_equal(shards[0].master.id.c_str(), "f7dedb90407efaaa01f117a8a6772ad125eb7522");
  assert_int_equal(shards[0].replicas.size(), 1);
  assert_string_equal(shards[0].replicas[0].host_port().c_str(), "127.0.0.1:31704");
  assert_string_equal(shards[2].replicas[0].id.c_str(), "4ca6e4dff05b7af36fddd662481788ef4415eb17");
  assert_true(map.covers_all());
  assert_string_equal(map.shard_of(key_slot("foo"))->master.host_port().c_str(), "127.0.0.1:31703");
  assert_string_equal(map.shard_of(key_slot("bar"))->master.host_port().c_str(), "127.0.0.1:31701");
  assert_string_equal(map.shard_of(0)->label().c_str(), "0-5460");
  assert_string_equal(map.shard_of(5460)->label().c_str(), "0-5460");
  assert_string_equal(map.shard_of(5461)->label().c_str(), "5461-10922");
  assert_string_equal(map.shard_of(16383)->label().c_str(), "10923-16383");
  assert_null(map.shard_of(-1));
  assert_null(map.shard_of(16384));
  auto masters = map.masters();
  assert_int_equal(masters.size(), 3);
  assert_string_equal(masters[0].host_port().c_str(), "127.0.0.1:31701");
  assert_string_equal(masters[1].host_port().c_str(), "127.0.0.1:31702");
  assert_string_equal(masters[2].host_port().c_str(), "127.0.0.1:31703");
}

static void unknown_endpoints_are_the_asked_host(void**) {
  for (const char* resp : {kNullHosts, kQuestionMarkHosts}) {
    SlotMap map = valid_map(resp);
    assert_int_equal(map.shards().size(), 3);
    for (const Shard& s : map.shards()) {
      assert_string_equal(s.master.host.c_str(), "10.0.0.9");
      assert_true(s.replicas.empty());
    }
    assert_int_equal(map.shards()[1].master.port, 23812);
    assert_string_equal(map.shards()[1].master.id.c_str(), "6ff42ee73c617dd2983ae7ee96c697d120ca6736");
  }
  // An empty host (bulk "") too.
  SlotMap map = valid_map("*1\r\n*3\r\n:0\r\n:16383\r\n*2\r\n$0\r\n\r\n:7000\r\n");
  assert_string_equal(map.shards()[0].master.host_port().c_str(), "10.0.0.9:7000");
  assert_string_equal(map.shards()[0].master.id.c_str(), "");
}

static void uncovered_slots_have_no_shard(void**) {
  // A master failed with no replica to take over (CLUSTERDOWN): its range is gone.
  const std::string resp = "*2\r\n" + range("10923", "16383", 7002) + range("0", "5460", 7000);
  SlotMap map = valid_map(resp.c_str());
  assert_false(map.covers_all());
  assert_null(map.shard_of(5461));
  assert_null(map.shard_of(10922));
  assert_int_equal(map.shard_of(10923)->master.port, 7002);
  assert_string_equal(map.shards()[0].label().c_str(), "0-5460");  // ordered by first slot
  assert_int_equal(map.masters().size(), 2);
  // No slots assigned at all (a new cluster): an empty map, not an error.
  SlotMap none = valid_map("*0\r\n");
  assert_true(none.shards().empty());
  assert_false(none.covers_all());
  assert_null(none.shard_of(0));
}

static void a_master_with_several_ranges_is_one_master(void**) {
  // After resharding CLUSTER SLOTS lists every range of a master apart.
  const std::string resp = "*4\r\n" + range("0", "99", 7000) + range("100", "8000", 7001) + range("8001", "8001", 7000) +
                           range("8002", "16383", 7001);
  SlotMap map = valid_map(resp.c_str());
  assert_true(map.covers_all());
  assert_int_equal(map.shards().size(), 4);
  auto masters = map.masters();
  assert_int_equal(masters.size(), 2);
  assert_int_equal(masters[0].port, 7000);
  assert_int_equal(masters[1].port, 7001);
  assert_int_equal(map.shard_of(8001)->master.port, 7000);
}

static void malformed_replies_are_refused_with_a_reason(void**) {
  struct Case {
    std::string resp;
    const char* why;
  };
  const std::string node = "*2\r\n$1\r\nh\r\n:7000\r\n";
  const Case cases[] = {
      {"-ERR This instance has cluster support disabled\r\n", "cluster support disabled"},
      {"+OK\r\n", "not an array"},
      {":3\r\n", "not an array"},
      {"$-1\r\n", "not an array"},
      {"*1\r\n:0\r\n", "range 1 is an integer"},
      {"*1\r\n*2\r\n:0\r\n:10\r\n", "range 1 is an array of 2"},  // missing master
      {"*1\r\n*3\r\n:0\r\n:16384\r\n" + node, "0..16383"},
      {"*1\r\n*3\r\n:-1\r\n:10\r\n" + node, "0..16383"},
      {"*1\r\n*3\r\n$1\r\n0\r\n:10\r\n" + node, "0..16383"},
      {"*1\r\n*3\r\n:11\r\n:10\r\n" + node, "starts after it ends (11-10)"},
      {"*1\r\n*3\r\n:0\r\n:10\r\n$1\r\nh\r\n", "master is a string"},
      {"*1\r\n*3\r\n:0\r\n:10\r\n*1\r\n$1\r\nh\r\n", "master is an array of 1"},
      {"*1\r\n*3\r\n:0\r\n:10\r\n*2\r\n:1\r\n:7000\r\n", "host is an integer"},
      {"*1\r\n*3\r\n:0\r\n:10\r\n*2\r\n$1\r\nh\r\n$4\r\n7000\r\n", "port is a string"},
      {"*1\r\n*3\r\n:0\r\n:10\r\n*2\r\n$1\r\nh\r\n:0\r\n", "port is 0"},
      {"*1\r\n*3\r\n:0\r\n:10\r\n*2\r\n$1\r\nh\r\n:65536\r\n", "port is 65536"},
      {"*1\r\n*3\r\n:0\r\n:10\r\n*3\r\n$1\r\nh\r\n:7000\r\n:5\r\n", "id is an integer"},
      {"*1\r\n*4\r\n:0\r\n:10\r\n" + node + ":5\r\n", "replica 1 is an integer"},
      {"*2\r\n" + range("0", "100", 7000) + range("100", "200", 7001), "0-100 and 100-200 overlap"},
      {"*2\r\n" + range("50", "60", 7000) + range("0", "16383", 7001), "0-16383 and 50-60 overlap"},
  };
  for (const Case& c : cases) {
    std::string why;
    auto map = map_of(c.resp.c_str(), &why);
    if (map) fail_msg("accepted: %s", c.resp.c_str());
    if (why.find(c.why) == std::string::npos) fail_msg("why \"%s\" does not say \"%s\"", why.c_str(), c.why);
  }
  std::string why;
  assert_false(SlotMap::from_cluster_slots(nullptr, kAsked, &why).has_value());
  assert_true(why.size() > 5);
}

static void moved_moves_one_slot(void**) {
  SlotMap map = valid_map(kThreeMastersThreeReplicas);
  const int foo = key_slot("foo");  // 12182, on 31703
  map.moved(foo, Node{"127.0.0.1", 31701, ""});
  assert_string_equal(map.shard_of(foo)->master.host_port().c_str(), "127.0.0.1:31701");
  // It took what CLUSTER SLOTS said about 31701.
  assert_string_equal(map.shard_of(foo)->master.id.c_str(), "f7dedb90407efaaa01f117a8a6772ad125eb7522");
  assert_string_equal(map.shard_of(foo)->replicas.at(0).host_port().c_str(), "127.0.0.1:31704");
  assert_string_equal(map.shard_of(foo)->label().c_str(), "12182-12182");
  assert_string_equal(map.shard_of(foo - 1)->label().c_str(), "10923-12181");
  assert_string_equal(map.shard_of(foo + 1)->label().c_str(), "12183-16383");
  assert_int_equal(map.shard_of(foo - 1)->master.port, 31703);
  assert_int_equal(map.shard_of(foo + 1)->master.port, 31703);
  assert_int_equal(map.shards().size(), 5);
  assert_true(map.covers_all());
  assert_int_equal(map.masters().size(), 3);

  // The next slot moving to the same master joins its range.
  map.moved(foo + 1, Node{"127.0.0.1", 31701, ""});
  assert_string_equal(map.shard_of(foo + 1)->label().c_str(), "12182-12183");
  assert_int_equal(map.shards().size(), 5);
  // A slot moving back to its neighbours' master joins them again.
  map.moved(foo, Node{"127.0.0.1", 31703, ""});
  map.moved(foo + 1, Node{"127.0.0.1", 31703, ""});
  assert_string_equal(map.shard_of(foo)->label().c_str(), "10923-16383");
  assert_int_equal(map.shards().size(), 3);

  // The first slot of a range, to its left neighbour's master: joins that range.
  map.moved(5461, Node{"127.0.0.1", 31701, ""});
  assert_string_equal(map.shard_of(5461)->label().c_str(), "0-5461");
  assert_string_equal(map.shard_of(5462)->label().c_str(), "5462-10922");

  // To a master the map does not know: no id, no replicas.
  map.moved(0, Node{"127.0.0.1", 31799, ""});
  assert_string_equal(map.shard_of(0)->label().c_str(), "0-0");
  assert_string_equal(map.shard_of(0)->master.id.c_str(), "");
  assert_true(map.shard_of(0)->replicas.empty());
  assert_string_equal(map.shard_of(1)->label().c_str(), "1-5461");
  assert_int_equal(map.masters().size(), 4);

  // Already there, or outside 0..16383: nothing changes.
  const auto before = map.shards().size();
  map.moved(5, Node{"127.0.0.1", 31701, ""});
  map.moved(16384, Node{"127.0.0.1", 31799, ""});
  map.moved(-1, Node{"127.0.0.1", 31799, ""});
  assert_int_equal(map.shards().size(), before);
}

static void moved_covers_an_uncovered_slot(void**) {
  const std::string resp = "*2\r\n" + range("0", "99", 7000) + range("200", "16383", 7001);
  SlotMap map = valid_map(resp.c_str());
  map.moved(150, Node{"127.0.0.1", 7002, ""});
  assert_int_equal(map.shard_of(150)->master.port, 7002);
  assert_null(map.shard_of(149));
  assert_string_equal(map.shards()[1].label().c_str(), "150-150");
  map.moved(100, Node{"127.0.0.1", 7000, ""});  // joins 0-99
  assert_string_equal(map.shard_of(100)->label().c_str(), "0-100");
  map.moved(199, Node{"127.0.0.1", 7001, ""});  // joins 200-16383
  assert_string_equal(map.shard_of(199)->label().c_str(), "199-16383");
  // In an empty map too.
  SlotMap none = valid_map("*0\r\n");
  none.moved(16383, Node{"h", 1, ""});
  assert_int_equal(none.shard_of(16383)->master.port, 1);
  assert_int_equal(none.shards().size(), 1);
}

static void parses_redirects(void**) {
  auto r = parse_redirect("MOVED 3999 127.0.0.1:6381");
  assert_true(r && r->kind == Redirect::Kind::Moved && r->slot == 3999);
  assert_string_equal(r->to.host.c_str(), "127.0.0.1");
  assert_int_equal(r->to.port, 6381);
  r = parse_redirect("ASK 3999 127.0.0.1:6381");
  assert_true(r && r->kind == Redirect::Kind::Ask && r->slot == 3999 && r->to.port == 6381);
  r = parse_redirect("MOVED 0 ::1:6381");
  assert_true(r && r->slot == 0 && r->to.host == "::1" && r->to.port == 6381);
  r = parse_redirect("MOVED 16383 redis-2.internal:7000");
  assert_true(r && r->slot == 16383 && r->to.host == "redis-2.internal");
  // What Redis 7.0 sent with cluster-preferred-endpoint-type unknown-endpoint / hostname (none set).
  r = parse_redirect("MOVED 12182 :23813");
  assert_true(r && r->to.host.empty() && r->to.host_unknown() && r->to.port == 23813);
  r = parse_redirect("MOVED 12182 ?:23813");
  assert_true(r && r->to.host == "?" && r->to.host_unknown());
  for (const char* bad :
       {"", "MOVED", "MOVED ", "MOVED 3999", "MOVED 3999 ", "MOVED 3999 127.0.0.1", "MOVED 3999 127.0.0.1:",
        "MOVED 16384 h:1", "MOVED -1 h:1", "MOVED +1 h:1", "MOVED x h:1", "MOVED 1 h:0", "MOVED 1 h:65536",
        "MOVED 1 h:-1", "MOVED 1 h:1 ", "MOVED 1  h:1", "MOVED  1 h:1", "MOVED 1 h h:1", "moved 1 h:1",
        "ASKING 1 h:1", "ERR 1 h:1", "CLUSTERDOWN Hash slot not served", "MOVED 1 h\n:1",
        "MOVED 99999999999999999999 h:1", "MOVED 1 h:99999999999999999999"}) {
    if (parse_redirect(bad)) fail_msg("accepted \"%s\"", bad);
  }
  assert_false(parse_redirect(std::string_view("MOVED 1 h\0:1", 12)).has_value());
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(crc16_is_the_spec_s),
      cmocka_unit_test(key_slot_agrees_with_redis),
      cmocka_unit_test(hash_tags_as_the_spec_says),
      cmocka_unit_test(reads_three_masters_with_replicas),
      cmocka_unit_test(unknown_endpoints_are_the_asked_host),
      cmocka_unit_test(uncovered_slots_have_no_shard),
      cmocka_unit_test(a_master_with_several_ranges_is_one_master),
      cmocka_unit_test(malformed_replies_are_refused_with_a_reason),
      cmocka_unit_test(moved_moves_one_slot),
      cmocka_unit_test(moved_covers_an_uncovered_slot),
      cmocka_unit_test(parses_redirects),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
