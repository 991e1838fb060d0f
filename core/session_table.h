// SessionTable: every session of a node, by serial, and what is done to one
// whatever asked: find, send a frame (dropping a slow consumer), send an
// error, refuse a request over a limit, close a slow consumer or a
// too-large message, and the heartbeat sweep. The node's parts (Inbound,
// Subscriptions and its Replayer, Authentication, the publish door) hold a
// reference to it; it knows none of them.
//
// Touched on the lws service thread only.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "clocks.h"
#include "codec.h"
#include "logger.h"
#include "metrics.h"
#include "options.h"
#include "session.h"

namespace rtpush {

class SessionTable {
 public:
  using Map = std::unordered_map<std::uint64_t, std::unique_ptr<Session>>;

  // Holds references: all outlive it (the Node's members).
  SessionTable(const Options& options, Metrics& metrics, const Logger& log, const Clocks& clocks)
      : options_(options), metrics_(metrics), log_(log), clocks_(clocks) {}
  SessionTable(const SessionTable&) = delete;
  SessionTable& operator=(const SessionTable&) = delete;

  // A new session: a fresh serial and connection id, counted
  // (rtpush_connections_total), its first ping scheduled.
  Session* add(Connection* connection, Encoding encoding);
  // Frees the session (its subscriptions must be gone).
  void erase(Session* s) { sessions_.erase(s->serial()); }
  Session* find(std::uint64_t serial) const;
  std::size_t size() const { return sessions_.size(); }
  const Map& all() const { return sessions_; }

  // Encodes `frame` in the session's encoding and queues it; a queue past
  // send-queue-bytes closes the session as too slow.
  void send(Session* s, const ServerFrame& frame);
  // An error frame, counted by code.
  void send_error(Session* s, ErrorCode code, std::string_view message, std::string_view ref);
  // A request refused by a limit (LIMIT_EXCEEDED, RATE_LIMITED, FORBIDDEN):
  // error frame and rtpush_requests_refused_total.
  void refuse(Session* s, ErrorCode code, std::string_view message, std::string_view ref);
  // Closes a session whose queue overflowed (1008), counted and logged.
  void drop_slow(Session* s);
  // Closes a session whose message passed max-message-bytes (1009), counted.
  void close_too_big(Session* s);

  // Heartbeats at steady `now_ms`: pings due sessions, closes silent ones
  // (1001) and those with a fragmented message begun more than
  // receive-timeout-secs ago (1008).
  void tick(std::int64_t now_ms);

  // A random UUID (version 4 layout) from the kernel's CSPRNG.
  static std::string new_connection_id();

 private:
  const Options& options_;
  Metrics& metrics_;
  const Logger& log_;
  const Clocks& clocks_;
  std::uint64_t next_serial_ = 1;
  Map sessions_;
};

}  // namespace rtpush
