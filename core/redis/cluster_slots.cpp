#include "cluster_slots.h"

#include <algorithm>
#include <array>
#include <charconv>

namespace rtpush::cluster {

namespace {

constexpr std::array<std::uint16_t, 256> crc16_table() {
  std::array<std::uint16_t, 256> t{};
  for (int i = 0; i < 256; ++i) {
    auto c = static_cast<std::uint16_t>(i << 8);
    for (int b = 0; b < 8; ++b) c = static_cast<std::uint16_t>((c & 0x8000) ? (c << 1) ^ 0x1021 : c << 1);
    t[static_cast<std::size_t>(i)] = c;
  }
  return t;
}
constexpr auto kCrc16Table = crc16_table();

// Decimal digits only (from_chars alone would take "-0"), within [lo, hi].
bool to_int(std::string_view s, int lo, int hi, int* out) {
  if (s.empty() || s.size() > 9 || s.find_first_not_of("0123456789") != std::string_view::npos) return false;
  int v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  if (v < lo || v > hi) return false;
  *out = v;
  return true;
}

std::string type_name(int type) {
  switch (type) {
    case REDIS_REPLY_STRING: return "a string";
    case REDIS_REPLY_ARRAY: return "an array";
    case REDIS_REPLY_INTEGER: return "an integer";
    case REDIS_REPLY_NIL: return "null";
    case REDIS_REPLY_STATUS: return "a status";
    case REDIS_REPLY_ERROR: return "an error";
  }
  return "type " + std::to_string(type);
}

// [host, port(, id(, metadata...))]: a null, "" or "?" host is `asked`'s.
bool read_node(const redisReply* r, const Node& asked, Node* out, std::string* why, const std::string& what) {
  if (r->type != REDIS_REPLY_ARRAY || r->elements < 2) {
    *why = what + " is " + (r->type == REDIS_REPLY_ARRAY ? "an array of " + std::to_string(r->elements) : type_name(r->type)) +
           ", not [host, port, id]";
    return false;
  }
  const redisReply* host = r->element[0];
  const redisReply* port = r->element[1];
  if (host->type != REDIS_REPLY_STRING && host->type != REDIS_REPLY_NIL) {
    *why = what + "'s host is " + type_name(host->type) + ", not a string";
    return false;
  }
  if (port->type != REDIS_REPLY_INTEGER || port->integer < 1 || port->integer > 65535) {
    *why = what + "'s port is " +
           (port->type == REDIS_REPLY_INTEGER ? std::to_string(port->integer) : type_name(port->type)) +
           ", not an integer in 1..65535";
    return false;
  }
  Node n;
  if (host->type == REDIS_REPLY_STRING) n.host.assign(host->str, host->len);
  if (n.host_unknown()) n.host = asked.host;
  n.port = static_cast<int>(port->integer);
  if (r->elements >= 3) {
    const redisReply* id = r->element[2];
    if (id->type != REDIS_REPLY_STRING) {
      *why = what + "'s id is " + type_name(id->type) + ", not a string";
      return false;
    }
    n.id.assign(id->str, id->len);
  }
  *out = std::move(n);
  return true;
}

bool read_slot(const redisReply* r, int* out) {
  if (r->type != REDIS_REPLY_INTEGER || r->integer < 0 || r->integer >= kSlots) return false;
  *out = static_cast<int>(r->integer);
  return true;
}

bool read_shard(const redisReply* r, const Node& asked, Shard* out, std::string* why, const std::string& what) {
  if (r->type != REDIS_REPLY_ARRAY || r->elements < 3) {
    *why = what + " is " + (r->type == REDIS_REPLY_ARRAY ? "an array of " + std::to_string(r->elements) : type_name(r->type)) +
           ", not [first, last, master, replicas...]";
    return false;
  }
  Shard s;
  if (!read_slot(r->element[0], &s.first) || !read_slot(r->element[1], &s.last)) {
    *why = what + "'s first or last slot is not an integer in 0..16383";
    return false;
  }
  if (s.first > s.last) {
    *why = what + " starts after it ends (" + s.label() + ")";
    return false;
  }
  if (!read_node(r->element[2], asked, &s.master, why, what + " (" + s.label() + ")'s master")) return false;
  for (std::size_t i = 3; i < r->elements; ++i) {
    Node replica;
    if (!read_node(r->element[i], asked, &replica, why, what + " (" + s.label() + ")'s replica " + std::to_string(i - 2)))
      return false;
    s.replicas.push_back(std::move(replica));
  }
  *out = std::move(s);
  return true;
}

}  // namespace

std::uint16_t crc16(std::string_view bytes) {
  std::uint16_t crc = 0;
  for (unsigned char c : bytes) crc = static_cast<std::uint16_t>((crc << 8) ^ kCrc16Table[((crc >> 8) ^ c) & 0xff]);
  return crc;
}

int key_slot(std::string_view key) {
  if (auto open = key.find('{'); open != std::string_view::npos) {
    auto close = key.find('}', open + 1);
    if (close != std::string_view::npos && close > open + 1) key = key.substr(open + 1, close - open - 1);
  }
  return crc16(key) & (kSlots - 1);
}

std::string Node::host_port() const { return host + ":" + std::to_string(port); }

std::string Shard::label() const { return std::to_string(first) + "-" + std::to_string(last); }

std::optional<SlotMap> SlotMap::from_cluster_slots(const redisReply* reply, const Node& asked, std::string* why) {
  if (!reply) {
    *why = "no CLUSTER SLOTS reply";
    return std::nullopt;
  }
  if (reply->type == REDIS_REPLY_ERROR) {
    *why = "CLUSTER SLOTS failed: " + std::string(reply->str, reply->len);
    return std::nullopt;
  }
  if (reply->type != REDIS_REPLY_ARRAY) {
    *why = "the CLUSTER SLOTS reply is " + type_name(reply->type) + ", not an array";
    return std::nullopt;
  }
  SlotMap map;
  map.shards_.reserve(reply->elements);
  for (std::size_t i = 0; i < reply->elements; ++i) {
    Shard s;
    if (!read_shard(reply->element[i], asked, &s, why, "CLUSTER SLOTS range " + std::to_string(i + 1))) return std::nullopt;
    map.shards_.push_back(std::move(s));
  }
  std::stable_sort(map.shards_.begin(), map.shards_.end(), [](const Shard& a, const Shard& b) { return a.first < b.first; });
  for (std::size_t i = 1; i < map.shards_.size(); ++i) {
    if (map.shards_[i].first <= map.shards_[i - 1].last) {
      *why = "CLUSTER SLOTS ranges " + map.shards_[i - 1].label() + " and " + map.shards_[i].label() + " overlap";
      return std::nullopt;
    }
  }
  return map;
}

const Shard* SlotMap::shard_of(int slot) const {
  // The last range starting at or before `slot`: it holds the slot or none does.
  auto after = std::upper_bound(shards_.begin(), shards_.end(), slot, [](int s, const Shard& sh) { return s < sh.first; });
  if (after == shards_.begin()) return nullptr;
  const Shard& s = *(after - 1);
  return slot <= s.last ? &s : nullptr;
}

const std::vector<Shard>& SlotMap::shards() const { return shards_; }

bool SlotMap::covers_all() const {
  int covered = 0;
  for (const Shard& s : shards_) covered += s.last - s.first + 1;
  return covered == kSlots;
}

std::vector<Node> SlotMap::masters() const {
  std::vector<Node> out;
  for (const Shard& s : shards_) {
    const std::string hp = s.master.host_port();
    if (std::none_of(out.begin(), out.end(), [&](const Node& n) { return n.host_port() == hp; })) out.push_back(s.master);
  }
  return out;
}

void SlotMap::moved(int slot, const Node& to) {
  if (slot < 0 || slot >= kSlots) return;
  const std::string to_hp = to.host_port();
  if (const Shard* now = shard_of(slot); now && now->master.host_port() == to_hp) return;
  Shard piece;
  piece.first = piece.last = slot;
  piece.master = to;
  for (const Shard& s : shards_) {
    if (s.master.host_port() == to_hp) {  // what CLUSTER SLOTS said about `to`
      if (piece.master.id.empty()) piece.master.id = s.master.id;
      piece.replicas = s.replicas;
      break;
    }
  }
  // Cut `slot` out of its range (if any), then put the piece in its place.
  std::vector<Shard> next;
  next.reserve(shards_.size() + 2);
  std::size_t at = 0;  // where the piece goes in `next`
  bool placed = false;
  for (Shard& s : shards_) {
    if (!placed && slot < s.first) {
      at = next.size();
      placed = true;
    }
    if (s.first <= slot && slot <= s.last) {
      if (s.first < slot) {
        Shard left = s;
        left.last = slot - 1;
        next.push_back(std::move(left));
      }
      at = next.size();
      placed = true;
      if (slot < s.last) {
        Shard right = std::move(s);
        right.first = slot + 1;
        next.push_back(std::move(right));
      }
      continue;
    }
    next.push_back(std::move(s));
  }
  if (!placed) at = next.size();
  next.insert(next.begin() + static_cast<std::ptrdiff_t>(at), std::move(piece));
  // Join the neighbours `to` serves, right then left, so `at` stays valid.
  if (at + 1 < next.size() && next[at + 1].first == slot + 1 && next[at + 1].master.host_port() == to_hp) {
    next[at + 1].first = slot;
    next.erase(next.begin() + static_cast<std::ptrdiff_t>(at));
  }
  if (at > 0 && next[at - 1].last == slot - 1 && next[at - 1].master.host_port() == to_hp) {
    next[at - 1].last = next[at].last;
    next.erase(next.begin() + static_cast<std::ptrdiff_t>(at));
  }
  shards_ = std::move(next);
}

std::optional<Redirect> parse_redirect(std::string_view text) {
  Redirect r;
  if (text.substr(0, 6) == "MOVED ") {
    r.kind = Redirect::Kind::Moved;
    text.remove_prefix(6);
  } else if (text.substr(0, 4) == "ASK ") {
    r.kind = Redirect::Kind::Ask;
    text.remove_prefix(4);
  } else {
    return std::nullopt;
  }
  const auto space = text.find(' ');
  if (space == std::string_view::npos || !to_int(text.substr(0, space), 0, kSlots - 1, &r.slot)) return std::nullopt;
  const std::string_view endpoint = text.substr(space + 1);
  const auto colon = endpoint.rfind(':');
  if (colon == std::string_view::npos || !to_int(endpoint.substr(colon + 1), 1, 65535, &r.to.port)) return std::nullopt;
  const std::string_view host = endpoint.substr(0, colon);
  // A host is printable ASCII without spaces (an IP, or a hostname Redis
  // checked for letters, digits, '-' and '.'): anything else is not Redis's.
  if (std::any_of(host.begin(), host.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u <= ' ' || u >= 0x7f;
      }))
    return std::nullopt;
  r.to.host = std::string(host);
  return r;
}

}  // namespace rtpush::cluster
