// Publisher: the one pipeline of every publish, whichever door it came in
// by (a WebSocket publish frame, POST publish/<channel>; next, ingest):
//
//   validate (channel, the body's JSON, max-message-bytes in every encoding)
//   -> authorize (the namespace rules, for a connection's identity)
//   -> rate (the connection's publish-rate)
//   -> backlog bound (pg-backlog-rows/-bytes while PostgreSQL is behind)
//   -> broker (numbered, retained, fanned out) -> persistence -> outcome
//
// As centrifuge's Node.Publish -> Broker.Publish(ch, data, opts): a request
// in, an explicit outcome out. The doors only turn the outcome into their
// answer (an error frame, an HTTP status); this file counts the publish
// metrics (published, failed), the doors the error and refusal metrics of
// their answer.
//
// Service thread only.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "access.h"
#include "broker.h"
#include "clocks.h"
#include "logger.h"
#include "message.h"
#include "metrics.h"
#include "options.h"
#include "persistence.h"
#include "session.h"

namespace rtpush {

struct PublishRequest {
  std::string channel;
  Payload data;  // the payload as decoded (WebSocket)
  // The HTTP API's body, still JSON text: checked after the channel and
  // parsed into `data` (null: `data` is already decoded).
  const std::string* json_body = nullptr;
  // The WebSocket connection publishing: its identity is checked against
  // the rules and becomes the message's `user`, its publish-rate is spent.
  // Null: the HTTP API (trusted by its api key), attributed to no one.
  Session* from = nullptr;
};

enum class PublishStatus : std::uint8_t {
  Published,       // `message` is the numbered message
  InvalidChannel,  // 400 / INVALID_CHANNEL
  InvalidJson,     // the HTTP body is not JSON: 400
  TooLarge,        // past max-message-bytes in some encoding: 413 / MESSAGE_TOO_LARGE (and 1009)
  Forbidden,       // the rules refuse the connection's identity: FORBIDDEN
  RateLimited,     // the connection's publish-rate: RATE_LIMITED
  Unavailable,     // PostgreSQL is behind, or the broker refused: 503 / UNAVAILABLE
};

struct PublishOutcome {
  PublishStatus status = PublishStatus::Unavailable;
  // Why, when refused: the error frame's message or the HTTP error's text
  // (for a broker's refusal, its reason as it gave it, maybe empty).
  std::string message;
  MessagePtr published;  // when Published
};

class Publisher {
 public:
  // `persistence` may be null. Holds references: the Node's members,
  // which outlive it.
  Publisher(const Options& options, const Access& access, Broker& broker, Persistence* persistence, Metrics& metrics,
            const Logger& log, const Clocks& clocks)
      : options_(options), access_(access), broker_(broker), persistence_(persistence), metrics_(metrics), log_(log),
        clocks_(clocks) {}
  Publisher(const Publisher&) = delete;
  Publisher& operator=(const Publisher&) = delete;

  // `done` runs exactly once: at once when refused before the broker, else
  // when the broker answers (maybe later; the request's session may be gone
  // by then: the door looks it up again).
  using Done = std::function<void(const PublishOutcome&)>;
  void publish(PublishRequest request, Done done);

 private:
  // pg-backlog-rows rows wait for PostgreSQL in this node's memory
  // (Persistence::local_backlog()), or their payloads and this one's
  // `payload_bytes` would be past pg-backlog-bytes: the reason a publish is
  // refused. Empty when it may go on. (With Redis the publish script bounds
  // the hand-off Stream instead.) Logs when refusing begins and when it ends.
  std::string backlog_full(std::size_t payload_bytes);

  const Options& options_;
  const Access& access_;
  Broker& broker_;
  Persistence* persistence_;
  Metrics& metrics_;
  const Logger& log_;
  const Clocks& clocks_;
  std::string backlog_refusing_;  // the limit backlog_full() refused by last time (logged); empty: none
};

}  // namespace rtpush
