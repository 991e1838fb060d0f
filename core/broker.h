// Broker: where messages are published, numbered, retained and carried to
// every node. The embedded MemoryBroker is one node only; a Redis broker
// shares channels between nodes. Calls and callbacks happen on the service
// thread; a broker with its own I/O thread hands results back to it.
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "message.h"

namespace rtpush {

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
  std::vector<MessagePtr> messages;  // retained messages with id > since, oldest first
  std::string reason;                // when !ok
  // For a node that replays beyond the hot history from its archive
  // (PostgreSQL): when set, an archive fed with this broker's messages holds
  // every message with an id at or above it (Redis: from persist-from;
  // embedded: from this node's start). `messages` holds everything retained
  // after `since`, so the archive's part is what comes before the first.
  std::optional<StreamId> archive_floor;
};

// What a broker holds in this node's memory for replay (metrics).
struct HistoryStats {
  std::size_t bytes = 0;     // messages and channel bookkeeping (see docs/limits.md)
  std::size_t channels = 0;  // channels with a log held
};

struct NodeInfo {
  std::string node;
  std::size_t connections = 0;
  double last_seen = 0;
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
  using NodesDone = std::function<void(std::vector<NodeInfo>)>;

  virtual ~Broker() = default;
  virtual void set_listener(BrokerListener* listener) = 0;

  // Numbers, retains and delivers a message. `done` runs once the message is
  // accepted (or refused); live delivery reaches the listener separately.
  virtual void publish(const std::string& channel, Payload payload, PublishDone done) = 0;

  // The channel's position and, when `since` is set, what came after it.
  // Live messages that arrive before `done` runs still reach the listener:
  // the hub parks them (see hub.h), so none is lost at the seam.
  virtual void history(const std::string& channel, std::optional<StreamId> since,
                       HistoryDone done) = 0;

  // The node has gained its first / lost its last local subscriber of a
  // channel: a distributed broker listens only to watched channels.
  virtual void watch(const std::string& channel, bool on) = 0;

  // What `health` reports as "redis".
  virtual BackendState state() const = 0;

  // Every live node sharing this broker (GET nodes); empty when that cannot
  // be known (the node then lists itself).
  virtual void nodes(NodesDone done) { done({}); }
  // This node's connection count, for the registry other nodes read.
  virtual void local_connections(std::size_t) {}

  // History held in this node's memory; nullopt when it lives elsewhere
  // (Redis). May first drop what is past its time, hence not const.
  virtual std::optional<HistoryStats> history_stats() { return std::nullopt; }
  // Called about once a second on the service thread: drop what is past
  // history-ttl-secs even when nothing is published or read.
  virtual void expire() {}
};

}  // namespace rtpush
