// Redis Cluster's slot map, written here on plain hiredis (0.14 has no cluster
// support): which master serves a key, from a CLUSTER SLOTS reply, kept right
// between refreshes by the MOVED redirects the nodes answer with.
//
// Everything here is a plain value. A SlotMap is used by one thread at a time
// (its owner's, the cluster link on the I/O thread); the free functions are
// pure and any thread may call them.
#pragma once
#include <hiredis/hiredis.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rtpush::cluster {

inline constexpr int kSlots = 16384;

// CRC16-CCITT (XMODEM: polynomial 0x1021, initial 0, not reflected), the
// Redis Cluster spec's key hash: crc16("123456789") == 0x31C3.
std::uint16_t crc16(std::string_view bytes);

// The slot of a key, 0..16383. A hash tag (from the first '{' to the next '}',
// when not empty) is hashed instead of the whole key, so "{user1000}.following"
// and "{user1000}.followers" share a slot.
int key_slot(std::string_view key);

struct Node {
  std::string host;  // "" or "?": not known (Redis's unknown endpoint, see host_unknown())
  int port = 0;
  std::string id;    // the node's 40-character id; "" when not given (MOVED, ASK)
  // "host:port" as Redis writes it, IPv6 too ("::1:6381").
  std::string host_port() const;
  // Redis says "reach it at the host you asked, on this port": "" (the
  // unknown-endpoint type; a null endpoint in CLUSTER SLOTS), or "?" (the
  // hostname type, for a node with no hostname).
  bool host_unknown() const { return host.empty() || host == "?"; }
};

struct Shard {  // one slot range as CLUSTER SLOTS lists it
  int first = 0, last = 0;
  Node master;
  std::vector<Node> replicas;
  std::string label() const;  // "FIRST-LAST", the metric label rtpush_redis_up{shard}
};

class SlotMap {
 public:
  // A CLUSTER SLOTS reply (hiredis redisReply*). A node whose host is "" or "?"
  // (or null) is reached at `asked`'s host (Redis's "unknown endpoint"). nullopt
  // and *why (naming the problem) for a reply that is not a valid map: not an
  // array, a range that is not [first, last, master, replicas...] with
  // 0 <= first <= last <= 16383, a node that is not [host, port(, id, ...)] with
  // port 1..65535, ranges that overlap. Slots no range covers are allowed
  // (CLUSTERDOWN case): shard_of() is null for them.
  static std::optional<SlotMap> from_cluster_slots(const redisReply* reply, const Node& asked, std::string* why);
  const Shard* shard_of(int slot) const;     // null: no master covers it (or slot outside 0..16383)
  const std::vector<Shard>& shards() const;  // ordered by first slot, never overlapping
  bool covers_all() const;
  std::vector<Node> masters() const;         // distinct host:port, in shard order
  // A MOVED redirect: `slot` is now served by `to` until the next refresh.
  // Its range is split around it ([first, slot-1], [slot, slot], [slot+1,
  // last]); the new one-slot range takes the id and replicas `to` has as the
  // master of another range (none when it has none), and joins a neighbouring
  // range `to` serves too, so slots migrated one by one stay one range.
  // A slot outside 0..16383 is ignored. `to` has a known host: for
  // Node::host_unknown() the caller puts the host of the node that redirected.
  // Ranges split this way show in label() ("12182-12182") until the next
  // refresh.
  void moved(int slot, const Node& to);

 private:
  std::vector<Shard> shards_;
};

struct Redirect {
  enum class Kind { Moved, Ask } kind = Kind::Moved;
  int slot = 0;
  Node to;  // id ""; host "" or "?" when unknown (Node::host_unknown(): the node that answered)
};
// "MOVED 3999 127.0.0.1:6381" / "ASK 3999 127.0.0.1:6381" (as hiredis gives
// error text); IPv6 "::1:6381" style host with last ':' as separator; slot
// 0..16383, port 1..65535, single spaces; nullopt for anything else.
std::optional<Redirect> parse_redirect(std::string_view error_text);

}  // namespace rtpush::cluster
