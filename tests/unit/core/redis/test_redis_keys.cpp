// Where every key lives (core/redis/redis_keys.h): one Redis keeps today's
// names (older nodes share it during a rolling upgrade); in a Cluster every
// key a channel's publish script touches is in one slot, its bucket's, which
// lies in the channel's own slot range.
#include <cstdio>
#include <string>

#include "cluster_slots.h"
#include "cmocka_cpp.h"
#include "redis_keys.h"
#include "redis_scripts.h"

using rtpush::RedisKeys;
using rtpush::cluster::key_slot;
namespace redis = rtpush::redis;

namespace {
// The slots `redis-cli --cluster create` gives three masters.
const int kThreeWay[3][2] = {{0, 5460}, {5461, 10922}, {10923, 16383}};
int three_way_range(int slot) { return slot <= 5460 ? 0 : slot <= 10922 ? 1 : 2; }
}  // namespace

static void single_keeps_todays_names(void**) {
  const RedisKeys k = RedisKeys::single();
  assert_false(k.clustered());
  assert_int_equal(k.buckets(), 1);
  assert_int_equal(k.bucket("room-7"), 0);
  assert_string_equal(k.tag(0).c_str(), "");
  const std::string c = "news/{x}:1";
  assert_string_equal(k.stream(c).c_str(), (std::string(redis::kStreamPrefix) + c).c_str());
  assert_string_equal(k.trimmed(c).c_str(), (std::string(redis::kTrimmedPrefix) + c).c_str());
  assert_string_equal(k.bytes(c).c_str(), (std::string(redis::kBytesPrefix) + c).c_str());
  assert_string_equal(k.live(c).c_str(), (std::string(redis::kLivePrefix) + c).c_str());
  assert_string_equal(k.stream(c).c_str(), "rtpush:stream:news/{x}:1");
  assert_string_equal(k.epoch(0).c_str(), redis::kEpochKey);
  assert_string_equal(k.config(0).c_str(), redis::kConfigKey);
  assert_string_equal(k.persist(0).c_str(), redis::kPersistKey);
  assert_string_equal(k.nodes().c_str(), redis::kNodesKey);
  assert_string_equal(k.node_info().c_str(), redis::kNodeInfoKey);
  assert_string_equal(k.user_prefix().c_str(), redis::kUserPrefix);
  assert_string_equal(k.node_conns_prefix().c_str(), redis::kNodeConnsPrefix);
  assert_string_equal(k.node_gen_prefix().c_str(), redis::kNodeGenPrefix);
  assert_string_equal(k.control_topic().c_str(), redis::kControlTopic);
  assert_string_equal(k.publish_command(), "PUBLISH");
  assert_string_equal(k.subscribe_command(), "SUBSCRIBE");
  assert_string_equal(k.unsubscribe_command(), "UNSUBSCRIBE");
}

static void cluster_names(void**) {
  const RedisKeys k = RedisKeys::cluster();
  assert_true(k.clustered());
  assert_int_equal(k.buckets(), 64);
  const std::string c = "room-0";
  const int b = k.bucket(c);
  assert_int_equal(b, key_slot(c) / 256);  // a channel without braces: its own slot's range
  const std::string t = k.tag(b);
  assert_string_equal(k.stream(c).c_str(), ("rtpush:" + t + ":stream:room-0").c_str());
  assert_string_equal(k.trimmed(c).c_str(), ("rtpush:" + t + ":trimmed:room-0").c_str());
  assert_string_equal(k.bytes(c).c_str(), ("rtpush:" + t + ":bytes:room-0").c_str());
  assert_string_equal(k.live(c).c_str(), ("rtpush:" + t + ":live:room-0").c_str());
  assert_string_equal(k.epoch(b).c_str(), ("rtpush:" + t + ":epoch").c_str());
  assert_string_equal(k.config(b).c_str(), ("rtpush:" + t + ":config").c_str());
  assert_string_equal(k.persist(b).c_str(), ("rtpush:" + t + ":persist").c_str());
  assert_string_equal(k.nodes().c_str(), "rtpush:{presence}:nodes");
  assert_string_equal(k.node_info().c_str(), "rtpush:{presence}:node-info");
  assert_string_equal(k.user_prefix().c_str(), "rtpush:{presence}:user:");
  assert_string_equal(k.node_conns_prefix().c_str(), "rtpush:{presence}:node-conns:");
  assert_string_equal(k.node_gen_prefix().c_str(), "rtpush:{presence}:node-gen:");
  assert_string_equal(k.control_topic().c_str(), "rtpush:{presence}:control");
  assert_string_equal(k.publish_command(), "SPUBLISH");
  assert_string_equal(k.subscribe_command(), "SSUBSCRIBE");
  assert_string_equal(k.unsubscribe_command(), "SUNSUBSCRIBE");
  assert_string_equal(k.tag(-1).c_str(), "");
  assert_string_equal(k.tag(64).c_str(), "");
}

static void each_tag_is_the_first_in_the_middle_of_its_buckets_range(void**) {
  const RedisKeys k = RedisKeys::cluster();
  for (int b = 0; b < RedisKeys::kClusterBuckets; ++b) {
    const std::string t = k.tag(b);
    const int slot = key_slot(t);
    if (slot < b * 256 || slot > b * 256 + 255) fail_msg("tag %s of bucket %d hashes to %d", t.c_str(), b, slot);
    assert_in_range(slot - b * 256, 96, 159);  // the middle quarter
    // "{b<bucket>-<k>}" with the smallest such k.
    const std::string head = "{b" + std::to_string(b) + "-";
    assert_int_equal(t.compare(0, head.size(), head), 0);
    assert_int_equal(t.back(), '}');
    const int kth = std::stoi(t.substr(head.size()));
    for (int smaller = 0; smaller < kth; ++smaller)
      assert_false(key_slot(head + std::to_string(smaller) + "}") - b * 256 >= 96 &&
                   key_slot(head + std::to_string(smaller) + "}") - b * 256 <= 159);
    assert_string_equal(k.tag(b).c_str(), t.c_str());  // the same each time
  }
  // Where data lives: every node version sharing a cluster must name the
  // same keys, so these never change.
  assert_string_equal(k.tag(0).c_str(), "{b0-372}");
  assert_string_equal(k.tag(3).c_str(), "{b3-161}");
  assert_string_equal(k.tag(21).c_str(), "{b21-772}");  // 5476: past 5460, with most of its slots
  assert_string_equal(k.tag(42).c_str(), "{b42-372}");  // 10903: before 10923, likewise
  assert_string_equal(k.tag(63).c_str(), "{b63-64}");
  assert_string_equal(k.stream("room-0").c_str(), "rtpush:{b32-244}:stream:room-0");
}

static void a_channels_keys_share_its_buckets_slot(void**) {
  const RedisKeys k = RedisKeys::cluster();
  // Braces in a channel name do not move its keys: the bucket's tag comes first.
  for (const std::string c : {"room-0", "room-299", "", "a", "{user1000}.following", "x}{y", "news/{x}:1", "{}"}) {
    const int b = k.bucket(c);
    assert_in_range(b, 0, 63);
    const int slot = key_slot(k.epoch(b));
    assert_int_equal(slot / 256, b);
    assert_int_equal(key_slot(k.config(b)), slot);
    assert_int_equal(key_slot(k.persist(b)), slot);
    assert_int_equal(key_slot(k.stream(c)), slot);
    assert_int_equal(key_slot(k.trimmed(c)), slot);
    assert_int_equal(key_slot(k.bytes(c)), slot);
    assert_int_equal(key_slot(k.live(c)), slot);
    assert_int_equal(b, (rtpush::cluster::crc16(c) & 16383) >> 8);
  }
}

static void presence_keys_share_one_slot(void**) {
  const RedisKeys k = RedisKeys::cluster();
  const int slot = key_slot("{presence}");
  for (const std::string& key : {k.nodes(), k.node_info(), k.user_prefix() + "alice", k.node_conns_prefix() + "n1",
                                 k.node_gen_prefix() + "n1", k.control_topic()})
    assert_int_equal(key_slot(key), slot);
}

static void buckets_spread_over_three_masters(void**) {
  const RedisKeys k = RedisKeys::cluster();
  int buckets[3] = {0, 0, 0};
  for (int b = 0; b < RedisKeys::kClusterBuckets; ++b) ++buckets[three_way_range(key_slot(k.tag(b)))];
  printf("64 buckets over %d-%d, %d-%d, %d-%d: %d / %d / %d\n", kThreeWay[0][0], kThreeWay[0][1], kThreeWay[1][0],
         kThreeWay[1][1], kThreeWay[2][0], kThreeWay[2][1], buckets[0], buckets[1], buckets[2]);
  assert_int_equal(buckets[0], 21);
  assert_int_equal(buckets[1], 22);
  assert_int_equal(buckets[2], 21);
  // The channels the tests use: each master gets some.
  int channels[3] = {0, 0, 0};
  for (int i = 0; i < 300; ++i) ++channels[three_way_range(key_slot(k.stream("room-" + std::to_string(i))))];
  printf("300 channels room-0..room-299 over the same: %d / %d / %d\n", channels[0], channels[1], channels[2]);
  for (int n : channels) assert_true(n > 0);
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(single_keeps_todays_names),
      cmocka_unit_test(cluster_names),
      cmocka_unit_test(each_tag_is_the_first_in_the_middle_of_its_buckets_range),
      cmocka_unit_test(a_channels_keys_share_its_buckets_slot),
      cmocka_unit_test(presence_keys_share_one_slot),
      cmocka_unit_test(buckets_spread_over_three_masters),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
