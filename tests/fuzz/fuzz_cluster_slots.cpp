// libFuzzer target: the Redis Cluster slot map (core/redis/cluster_slots.h)
// on whatever a server could send. The bytes go through hiredis's reader, and
// every reply it makes through SlotMap::from_cluster_slots: a refusal names a
// reason; a map keeps its promises (ranges ordered, inside 0..16383, never
// overlapping; shard_of() answers each range; masters() distinct) and keeps
// them through MOVED redirects, after each of which every slot's master is
// the one a plain 16384-entry table says. The error and status texts, and the
// raw bytes, go through parse_redirect, whose answers must print back to
// themselves. The same replies, as a sentinel or a ROLE could send them, go
// through sentinel_replies.h: an address has a host and a port in range, a
// failure says why; string payloads through parse_switch_master.
#include <hiredis/hiredis.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "cluster_slots.h"
#include "sentinel_replies.h"

using namespace rtpush::cluster;

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

// hiredis 0.14 callocs a "*N" array's N pointers before any element arrives
// (later versions cap N): a huge N is an allocation failure of hiredis's,
// not something of ours to find, so such inputs are left out.
bool declares_huge_arrays(std::string_view bytes) {
  for (std::size_t at = bytes.find('*'); at != std::string_view::npos; at = bytes.find('*', at + 1)) {
    std::size_t i = at + 1, digits = 0;
    while (i < bytes.size() && bytes[i] >= '0' && bytes[i] <= '9') ++i, ++digits;
    if (digits > 4) return true;  // 10000 or more
  }
  return false;
}

void check_redirect(std::string_view text) {
  auto r = parse_redirect(text);
  if (!r) return;
  check(r->slot >= 0 && r->slot < kSlots && r->to.port >= 1 && r->to.port <= 65535 && r->to.id.empty());
  const std::string again =
      std::string(r->kind == Redirect::Kind::Moved ? "MOVED " : "ASK ") + std::to_string(r->slot) + " " + r->to.host_port();
  auto same = parse_redirect(again);
  check(same && same->kind == r->kind && same->slot == r->slot && same->to.host == r->to.host &&
        same->to.port == r->to.port);
}

// Every promise of shards(), shard_of(), covers_all() and masters().
void check_map(const SlotMap& map) {
  int covered = 0, last = -1;
  for (const Shard& s : map.shards()) {
    check(s.first > last && s.first <= s.last && s.last < kSlots);
    check(s.master.port >= 1 && s.master.port <= 65535 && !s.master.host_unknown());
    check(map.shard_of(s.first) == &s && map.shard_of(s.last) == &s);
    if (s.first > 0 && s.first - 1 > last) check(map.shard_of(s.first - 1) == nullptr);
    covered += s.last - s.first + 1;
    last = s.last;
  }
  check(map.covers_all() == (covered == kSlots));
  check(map.shard_of(-1) == nullptr && map.shard_of(kSlots) == nullptr);
  const auto masters = map.masters();
  for (std::size_t i = 0; i < masters.size(); ++i)
    for (std::size_t j = 0; j < i; ++j) check(masters[i].host_port() != masters[j].host_port());
}

// The port serving each slot, 0 for none, as the map says.
std::array<int, kSlots> ports_of(const SlotMap& map) {
  std::array<int, kSlots> ports{};
  for (const Shard& s : map.shards())
    for (int slot = s.first; slot <= s.last; ++slot) ports[static_cast<std::size_t>(slot)] = s.master.port;
  return ports;
}

// Slots moved to ports 1..3 of "m", picked by the input's bytes; the map must
// answer as the table does, moved slot by moved slot.
void check_moves(SlotMap map, std::string_view bytes) {
  auto model = ports_of(map);
  for (std::size_t i = 0; i + 2 < bytes.size() && i < 24; i += 3) {
    const int slot = ((static_cast<unsigned char>(bytes[i]) << 8) | static_cast<unsigned char>(bytes[i + 1])) % (kSlots + 2) - 1;
    const int port = 1 + static_cast<unsigned char>(bytes[i + 2]) % 3;
    map.moved(slot, Node{"m", port, ""});
    if (slot >= 0 && slot < kSlots) {
      model[static_cast<std::size_t>(slot)] = port;
      check(map.shard_of(slot) && map.shard_of(slot)->master.port == port);
    }
    check_map(map);
    check(ports_of(map) == model);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  check_redirect(bytes);
  (void)rtpush::parse_switch_master(std::string(bytes));
  if (declares_huge_arrays(bytes)) return 0;
  redisReader* reader = redisReaderCreate();
  check(reader != nullptr);
  if (redisReaderFeed(reader, bytes.data(), bytes.size()) == REDIS_OK) {
    const Node asked{"asked", 7000, ""};
    for (int replies = 0; replies < 16; ++replies) {
      void* got = nullptr;
      if (redisReaderGetReply(reader, &got) != REDIS_OK || got == nullptr) break;
      auto* reply = static_cast<redisReply*>(got);
      if (reply->type == REDIS_REPLY_ERROR || reply->type == REDIS_REPLY_STATUS || reply->type == REDIS_REPLY_STRING)
        check_redirect(std::string_view(reply->str, reply->len));
      const rtpush::SentinelAnswer answer = rtpush::sentinel_master_answer(reply);
      if (answer.kind == rtpush::SentinelAnswer::Address)
        check(!answer.master.host.empty() && answer.master.port >= 1 && answer.master.port <= 65535);
      if (answer.kind == rtpush::SentinelAnswer::Failed) check(!answer.why.empty());
      (void)rtpush::role_of(reply);
      if (reply->type == REDIS_REPLY_STRING) {
        if (auto sw = rtpush::parse_switch_master(std::string(reply->str, reply->len)))
          check(sw->to.port >= 1 && sw->to.port <= 65535 && sw->from.port >= 1 && sw->from.port <= 65535);
      }
      std::string why;
      auto map = SlotMap::from_cluster_slots(reply, asked, &why);
      if (map) {
        check(why.empty());
        check_map(*map);
        check_moves(*map, bytes);
      } else {
        check(!why.empty());
      }
      freeReplyObject(reply);
    }
  }
  redisReaderFree(reader);
  return 0;
}
