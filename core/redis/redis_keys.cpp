#include "redis_keys.h"

#include <array>
#include <string_view>

#include "cluster_slots.h"
#include "redis_scripts.h"

namespace rtpush {

namespace {

constexpr int kSlotsPerBucket = cluster::kSlots / RedisKeys::kClusterBuckets;  // 256
static_assert(kSlotsPerBucket * RedisKeys::kClusterBuckets == cluster::kSlots);
constexpr std::string_view kRtpush = "rtpush:";
const char* const kPresenceTag = "{presence}";

// tag(b) for every bucket, searched once: k runs until a "{b<b>-<k>}" hashes
// into the middle quarter of the bucket's range (one k in 256 does, so a few
// thousand at most). The middle, not anywhere in the range: a bucket a shard
// boundary cuts goes to the shard that owns its middle, i.e. most of its
// channels, and the 64 buckets split as the slots do (21/22/21 over
// redis-cli's 0-5460, 5461-10922, 10923-16383; anywhere in the range gave
// 22/20/22, buckets 21 and 42 falling on the boundaries' far sides).
constexpr int kMiddleFirst = kSlotsPerBucket * 3 / 8;  // 96: [b*256+96, b*256+159]
constexpr int kMiddleLast = kSlotsPerBucket * 5 / 8 - 1;
const std::array<std::string, RedisKeys::kClusterBuckets>& bucket_tags() {
  static const auto tags = [] {
    std::array<std::string, RedisKeys::kClusterBuckets> t;
    for (int b = 0; b < RedisKeys::kClusterBuckets; ++b) {
      for (int k = 0;; ++k) {
        std::string tag = "{b" + std::to_string(b) + "-" + std::to_string(k) + "}";
        const int offset = cluster::key_slot(tag) - b * kSlotsPerBucket;
        if (offset >= kMiddleFirst && offset <= kMiddleLast) {
          t[static_cast<std::size_t>(b)] = std::move(tag);
          break;
        }
      }
    }
    return t;
  }();
  return tags;
}

// A single-Redis name ("rtpush:stream:") with `tag` after "rtpush:"
// ("rtpush:{b3-7}:stream:"): the cluster names are today's, tagged.
std::string tagged(std::string_view single_name, const std::string& tag) {
  single_name.remove_prefix(kRtpush.size());
  return std::string(kRtpush) + tag + ":" + std::string(single_name);
}

}  // namespace

RedisKeys RedisKeys::single() { return RedisKeys(false); }
RedisKeys RedisKeys::cluster() { return RedisKeys(true); }
bool RedisKeys::clustered() const { return clustered_; }

int RedisKeys::bucket(const std::string& channel) const {
  return clustered_ ? (cluster::crc16(channel) & (cluster::kSlots - 1)) / kSlotsPerBucket : 0;
}

int RedisKeys::buckets() const { return clustered_ ? kClusterBuckets : 1; }

std::string RedisKeys::tag(int bucket) const {
  if (!clustered_ || bucket < 0 || bucket >= kClusterBuckets) return "";
  return bucket_tags()[static_cast<std::size_t>(bucket)];
}

std::string RedisKeys::channel_key(const char* single_prefix, const std::string& channel) const {
  if (!clustered_) return single_prefix + channel;
  return tagged(single_prefix, tag(bucket(channel))) + channel;
}

std::string RedisKeys::bucket_key(const char* single_name, int bucket) const {
  return clustered_ ? tagged(single_name, tag(bucket)) : single_name;
}

std::string RedisKeys::presence_key(const char* single_name) const {
  return clustered_ ? tagged(single_name, kPresenceTag) : single_name;
}

std::string RedisKeys::stream(const std::string& channel) const { return channel_key(redis::kStreamPrefix, channel); }
std::string RedisKeys::trimmed(const std::string& channel) const { return channel_key(redis::kTrimmedPrefix, channel); }
std::string RedisKeys::bytes(const std::string& channel) const { return channel_key(redis::kBytesPrefix, channel); }
std::string RedisKeys::live(const std::string& channel) const { return channel_key(redis::kLivePrefix, channel); }

std::string RedisKeys::epoch(int bucket) const { return bucket_key(redis::kEpochKey, bucket); }
std::string RedisKeys::config(int bucket) const { return bucket_key(redis::kConfigKey, bucket); }
std::string RedisKeys::persist(int bucket) const { return bucket_key(redis::kPersistKey, bucket); }

std::string RedisKeys::nodes() const { return presence_key(redis::kNodesKey); }
std::string RedisKeys::node_info() const { return presence_key(redis::kNodeInfoKey); }
std::string RedisKeys::user_prefix() const { return presence_key(redis::kUserPrefix); }
std::string RedisKeys::node_conns_prefix() const { return presence_key(redis::kNodeConnsPrefix); }
std::string RedisKeys::node_gen_prefix() const { return presence_key(redis::kNodeGenPrefix); }
std::string RedisKeys::control_topic() const { return presence_key(redis::kControlTopic); }

const char* RedisKeys::publish_command() const { return clustered_ ? "SPUBLISH" : "PUBLISH"; }
const char* RedisKeys::subscribe_command() const { return clustered_ ? "SSUBSCRIBE" : "SUBSCRIBE"; }
const char* RedisKeys::unsubscribe_command() const { return clustered_ ? "SUNSUBSCRIBE" : "UNSUBSCRIBE"; }

}  // namespace rtpush
