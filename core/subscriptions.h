// Subscriptions: a connection's subscribe and unsubscribe requests, and the
// end of a subscription however it comes (unsubscribe, a refresh's claims
// no longer allowing it, the connection closing). A subscribe is validated
// (channel, `since`), authorized (Access) and bounded
// (max-channels-per-connection), then made in the Hub and handed to the
// Replayer, which this part owns and serves as its host; the broker watches
// a channel while it has local subscribers.
//
// The fan-out itself is not here: Hub::fan_out (hub.h), called by the Node
// for each live message.
//
// Service thread only.
#pragma once
#include <string>
#include <string_view>

#include "access.h"
#include "broker.h"
#include "hub.h"
#include "metrics.h"
#include "options.h"
#include "persistence.h"
#include "replayer.h"
#include "session_table.h"
#include "wire.h"

namespace rtpush {

class Subscriptions final : private ReplayHost {
 public:
  // Holds references: the Node's members, which outlive it. `persistence`
  // may be null.
  Subscriptions(const Options& options, SessionTable& sessions, const Access& access, Hub& hub, Broker& broker,
                Persistence* persistence, Metrics& metrics);
  Subscriptions(const Subscriptions&) = delete;
  Subscriptions& operator=(const Subscriptions&) = delete;

  // A subscribe request (a WebSocket frame, or an SSE listener's GET made
  // into one): answered `subscribed` and replayed, or refused with an error.
  void subscribe(Session* s, const ClientRequest& req);
  // An unsubscribe request: answered `unsubscribed` whether it held one.
  void unsubscribe(Session* s, const ClientRequest& req);
  // After a refresh (auth, same sub): ends each subscription the new claims
  // no longer permit with `unsubscribed` and reason FORBIDDEN.
  void end_forbidden(Session* s);
  // The connection is closing: every subscription of it ends.
  void drop_all(Session* s);

  // The transport wrote some of the session's queue (Replayer::written).
  void written(Session* s) { replayer_.written(s); }
  // Every second: subscribes a backend has not answered (Replayer::tick).
  void tick(std::int64_t now_ms) { replayer_.tick(now_ms); }
  const ReplayBudget& replay_budget() const { return replayer_.budget(); }

 private:
  // ReplayHost.
  Session* find(std::uint64_t serial) const override { return sessions_.find(serial); }
  void send(Session* s, const ServerFrame& frame) override { sessions_.send(s, frame); }
  void send_error(Session* s, ErrorCode code, std::string_view message, std::string_view ref) override {
    sessions_.send_error(s, code, message, ref);
  }
  void send_unsubscribed(Session* s, std::string_view channel) override;
  // Removes a subscription; the broker stops watching a channel left empty.
  void drop_subscription(Subscription* sub) override;

  const Options& options_;
  SessionTable& sessions_;
  const Access& access_;
  Hub& hub_;
  Broker& broker_;
  // After everything it reads from; holds the replays and their budget.
  Replayer replayer_;
};

}  // namespace rtpush
