// Where every key rtpush uses lives (redis_scripts.h says what each holds).
//
// One Redis or a Sentinel master: today's names, exactly (rolling upgrades
// share a Redis with older nodes). Redis Cluster: a script may only touch keys
// of one slot, so every key a channel's publish script touches carries the
// hash tag of the channel's *bucket*: the channel's stream, trimmed, bytes and
// live topic (a shard channel: SSUBSCRIBE/SPUBLISH) and the bucket's epoch,
// config and persist. A bucket is the channel's own slot range / 256, and its
// tag hashes into that range, so a bucket lives on the shard that owns its
// channels' own slots, and the 64 buckets spread over the shards as evenly as
// the slots do. The presence keys (nodes, users, control) share the tag
// "{presence}": one slot.
//
// A plain value; any thread (the tag table is built once, thread-safely).
#pragma once
#include <string>

namespace rtpush {

class RedisKeys {
 public:
  static constexpr int kClusterBuckets = 64;
  static RedisKeys single();  // one Redis or a Sentinel master: today's names
  static RedisKeys cluster();  // Redis Cluster
  bool clustered() const;
  // 0 when single; cluster: (crc16(channel) & 16383) >> 8, i.e. 0..63 (the channel's own slot range / 256)
  int bucket(const std::string& channel) const;
  int buckets() const;  // 1 or kClusterBuckets
  // The bucket's hash tag (cluster only, "" when single): "{b<bucket>-<k>}" with
  // the smallest k >= 0 whose key_slot lies in the middle quarter of the
  // bucket's range, [bucket*256+96, bucket*256+159] (so within [bucket*256,
  // bucket*256+255]; the middle so a bucket a shard boundary cuts goes where
  // most of its channels are). Computed once (static table). "" too for a
  // bucket outside 0..buckets()-1.
  std::string tag(int bucket) const;
  // A channel's keys. single: "rtpush:stream:C", "rtpush:trimmed:C",
  // "rtpush:bytes:C", "rtpush:live:C". cluster: "rtpush:" + tag + ":stream:" + C
  // (and :trimmed:, :bytes:, :live:), tag = tag(bucket(C)).
  std::string stream(const std::string& channel) const;
  std::string trimmed(const std::string& channel) const;
  std::string bytes(const std::string& channel) const;
  std::string live(const std::string& channel) const;
  // `bucket` is 0..buckets()-1 (bucket(channel)).
  // Per bucket in cluster, global when single ("rtpush:epoch", "rtpush:config",
  // "rtpush:persist"): cluster "rtpush:{T}:epoch", "rtpush:{T}:config", "rtpush:{T}:persist".
  std::string epoch(int bucket) const;
  std::string config(int bucket) const;
  std::string persist(int bucket) const;
  // Presence: single "rtpush:nodes", "rtpush:node-info", "rtpush:user:",
  // "rtpush:node-conns:", "rtpush:node-gen:", "rtpush:control"; cluster the
  // same with "{presence}:" after "rtpush:".
  std::string nodes() const;
  std::string node_info() const;
  std::string user_prefix() const;
  std::string node_conns_prefix() const;
  std::string node_gen_prefix() const;
  std::string control_topic() const;
  const char* publish_command() const;      // "PUBLISH" / "SPUBLISH"
  const char* subscribe_command() const;    // "SUBSCRIBE" / "SSUBSCRIBE"
  const char* unsubscribe_command() const;  // "UNSUBSCRIBE" / "SUNSUBSCRIBE"

 private:
  explicit RedisKeys(bool clustered) : clustered_(clustered) {}
  // From today's name in redis_scripts.h: as it is when single, tagged
  // ("rtpush:" + tag + ":" + the rest) in cluster.
  std::string channel_key(const char* single_prefix, const std::string& channel) const;
  std::string bucket_key(const char* single_name, int bucket) const;
  std::string presence_key(const char* single_name) const;

  bool clustered_;
};

}  // namespace rtpush
