// Broker: where messages are published, numbered, retained and carried to
// every node. The embedded MemoryBroker is one node only; a Redis broker
// shares channels between nodes. Which nodes and users are where is the
// Presence's (presence.h). Calls and callbacks happen on the service
// thread; a broker with its own I/O thread hands results back to it.
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "message.h"

namespace rtpush {

class RedisTopologyState;  // redis/redis_topology_state.h

enum class BackendState { Off, Up, Down };
const char* backend_state_name(BackendState s);  // "off" | "up" | "down"

struct PublishResult {
  bool ok = false;
  MessagePtr message;  // when ok
  std::string reason;  // when !ok (UNAVAILABLE)
};

struct HistoryResult {
  bool ok = false;
  std::optional<StreamId> position;  // newest id of the channel, if any
  bool recovered = true;             // false: some messages after `since` are retained nowhere
  // Retained messages with id > since, oldest first: the first page of them
  // (see Broker::history), or all of them.
  std::vector<MessagePtr> messages;
  // The broker may hold more after the last of `messages` (after `since`
  // when empty): read them with read_history().
  bool more = false;
  // `messages` were read for this replay (copies: they count against
  // replay-memory-bytes), not shared with the broker's own memory.
  bool copied = false;
  std::string reason;                // when !ok
  // For a node that replays beyond the hot history from its archive
  // (PostgreSQL): when set, an archive fed with this broker's messages holds
  // every message with an id at or above it (Redis: from persist-from;
  // embedded: from this node's start). The archive's part is what comes
  // before the first message retained after `since`.
  std::optional<StreamId> archive_floor;
};

// What a broker holds in this node's memory for replay (metrics).
struct HistoryStats {
  std::size_t bytes = 0;     // messages and channel bookkeeping (see docs/limits.md)
  std::size_t channels = 0;  // channels with a log held
};

// A further page of the retained history (Broker::read_history).
struct HistoryPage {
  bool ok = false;                   // false: the broker cannot answer now
  std::vector<MessagePtr> messages;  // oldest first, ids after the asked one
  bool more = false;                 // more may follow the last of them
  // Messages after the asked id were dropped from the history (trimmed)
  // before this read: the page does not continue the range without a gap.
  bool gap = false;
};

// Receives every live message of the channels this node watches.
class BrokerListener {
 public:
  virtual ~BrokerListener() = default;
  virtual void on_message(const MessagePtr& msg) = 0;
};

class Broker {
 public:
  using PublishDone = std::function<void(const PublishResult&)>;
  using HistoryDone = std::function<void(HistoryResult)>;
  using PageDone = std::function<void(HistoryPage)>;

  virtual ~Broker() = default;
  virtual void set_listener(BrokerListener* listener) = 0;

  // Numbers, retains and delivers a message. `done` runs once the message is
  // accepted (or refused); live delivery reaches the listener separately.
  // `user`: the `sub` of the authenticated WebSocket connection that
  // published it, empty otherwise; kept with the message (Message::user).
  virtual void publish(const std::string& channel, Payload payload, std::string user, PublishDone done) = 0;
  // An unattributed publish (HTTP API, CLI, tests).
  void publish(const std::string& channel, Payload payload, PublishDone done) {
    publish(channel, std::move(payload), std::string(), std::move(done));
  }

  // The channel's position and, when `since` is set, what came after it.
  // Live messages that arrive before `done` runs still reach the listener:
  // the hub parks them (see hub.h), so none is lost at the seam.
  // A broker that copies messages out of its backend (Redis) answers with a
  // first page of at most `page_bytes` (none when 0; at least one message
  // otherwise) and `more`; the rest is read with read_history() as the
  // client drains. One that shares its own memory answers with everything.
  virtual void history(const std::string& channel, std::optional<StreamId> since, std::size_t page_bytes,
                       HistoryDone done) = 0;

  // The next page of the retained history: messages after `after`, at most
  // `page_bytes` of them (and at least one) and a bounded count. Only after
  // a history() answer with `more`.
  virtual void read_history(const std::string&, StreamId, std::size_t, PageDone done) {
    HistoryPage p;
    p.ok = true;
    done(std::move(p));
  }

  // The node has gained its first / lost its last local subscriber of a
  // channel: a distributed broker listens only to watched channels.
  virtual void watch(const std::string& channel, bool on) = 0;

  // What `health` reports as "redis".
  virtual BackendState state() const = 0;
  // A Redis deployment's shards and counters (metrics, health); null for
  // a broker without Redis.
  virtual const RedisTopologyState* redis_topology() const { return nullptr; }

  // History held in this node's memory; nullopt when it lives elsewhere
  // (Redis). May first drop what is past its time, hence not const.
  virtual std::optional<HistoryStats> history_stats() { return std::nullopt; }
  // Called about once a second on the service thread: drop what is past
  // history-ttl-secs even when nothing is published or read.
  virtual void expire() {}
};

}  // namespace rtpush
