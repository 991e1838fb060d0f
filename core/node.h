// Node: the core of one vhost, its composition root. It builds the parts,
// each holding references to what it uses, and ties them to the transport
// (TransportPort, transport_port.h) and the broker (BrokerListener):
//
//   SessionTable (session_table.h)    sessions, send, errors, heartbeats
//   Inbound (inbound.h)               fragments, max-message-bytes, receive rate
//   Access (access.h)                 origin, token and namespace decisions
//   Authentication (authentication.h) the auth frame, auth required, token expiry
//   Subscriptions (subscriptions.h)   subscribe, unsubscribe; owns the Replayer
//   Publisher (publisher.h)           the one publish pipeline (WS and HTTP)
//   Reports (reports.h)               GET health and GET metrics
//   Hub (hub.h)                       channels' subscribers and THE FAN-OUT PATH
//   NodePresence (node_presence.h)    users' connections, disconnect, node list
//                                     over the Presence (presence.h)
//
// Where things happen:
//   client frame  -> receive() -> Inbound -> handle() -> the part for its type
//   publish       -> Publisher::publish() -> broker -> on_message() -> Hub::fan_out()
//   subscribe     -> Subscriptions -> Replayer::start() -> history, archive, parked, live
//   HTTP API      -> HttpApi (http_api.h) -> Publisher, Access, Reports, NodePresence
//
// The plugins never see it: they use TransportPort and Vhost (vhost.h).
// Everything here runs on the lws service thread.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "access.h"
#include "authentication.h"
#include "broker.h"
#include "clocks.h"
#include "hub.h"
#include "inbound.h"
#include "logger.h"
#include "metrics.h"
#include "node_presence.h"
#include "options.h"
#include "persistence.h"
#include "presence.h"
#include "publisher.h"
#include "reports.h"
#include "session.h"
#include "session_table.h"
#include "subscriptions.h"
#include "transport_port.h"

namespace rtpush {

class Node final : public TransportPort, public BrokerListener, private MessageSink {
 public:
  // `persistence` (may be null) keeps messages past the hot history
  // (PostgreSQL) and reads them back for replays that reach past it. `log`:
  // what the node itself refuses for an operator's reason (pg-backlog-rows).
  // `presence` (null: EmbeddedPresence) knows the nodes and users' connections;
  // a RedisPresence uses the broker's links and goes after it.
  Node(Options options, std::unique_ptr<Broker> broker, Clocks clocks = Clocks::system(),
       std::unique_ptr<Persistence> persistence = nullptr, Logger log = Logger::to_stderr(),
       std::unique_ptr<Presence> presence = nullptr);
  ~Node() override;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  const Options& options() const override { return options_; }
  const std::string& node_id() const { return options_.node_id; }
  // Identity and permissions (Vhost::build, from the options' files).
  // Before any connection opens. Without it: everything open, no tokens.
  void set_auth(auth::AuthSettings settings) { access_.set_settings(std::move(settings)); }
  const auth::AuthSettings& auth() const { return access_.settings(); }
  // The parts the HTTP API uses.
  Access& access() { return access_; }
  Publisher& publisher() { return publisher_; }
  const Reports& reports() const { return reports_; }
  // Users' connections and the node list (GET users, disconnect, GET
  // nodes), for the HTTP API; tests authenticate a session without a token
  // through its user_authenticated().
  NodePresence& presence() { return node_presence_; }

  // TransportPort (transport_port.h).
  Admission admit(const std::string* origin, const std::string* token) override {
    return access_.admit(origin, token);
  }
  Session* open(Connection* connection, Encoding encoding, const Admission* admitted = nullptr) override;
  bool receive(Session* s, std::string_view fragment, bool first, bool final, bool binary) override {
    return inbound_.receive(s, fragment, first, final, binary);
  }
  bool pong(Session* s, std::size_t bytes = 0) override { return inbound_.pong(s, bytes); }
  void written(Session* s) override { subscriptions_.written(s); }
  void close(Session* s) override;
  void count_http_request() override { ++metrics_.http_requests; }
  SseAdmission admit_sse(const SseRequest& request) override { return access_.admit_sse(request); }
  Session* open_sse(Connection* connection, SseAdmission admitted) override;

  // About once a second: the broker's expiry, expire_auth(), replays a
  // backend has not answered, the heartbeats (SessionTable::tick).
  void tick();
  // Token expiry and the 10 s to authenticate (Authentication::expire): the
  // plugin calls it every few hundred ms so a connection closes within a
  // second of its exp.
  void expire_auth() { authentication_.expire(); }


  std::size_t connection_count() const { return sessions_.size(); }

  // Graceful stop (SIGTERM; docs/operations.md "Stopping a node"). Every
  // session is closed with 1012 (service restart) once its queued frames are
  // written, an SSE stream ends the same way, and a connection that opens
  // from now on (a handshake already under way) is closed at once; PostgreSQL
  // stops waiting for pg-flush-ms. Idempotent.
  void begin_stop();
  // done(true) once every message accepted so far is written to PostgreSQL
  // (or, with Redis, held by the hand-off and what this node took of it
  // committed), done(false) when that did not happen within `timeout_secs`.
  // Without PostgreSQL: done(true) at once. `done` may run later.
  void flush_persistence(double timeout_secs, std::function<void(bool)> done);
  // Rows accepted by this node that PostgreSQL does not have yet and that
  // only this process holds (the embedded broker's batch and backlog).
  std::uint64_t unwritten_rows() const { return persistence_ ? persistence_->local_backlog() : 0; }
  const Metrics& metrics() const { return metrics_; }
  const ReplayBudget& replay_budget() const { return subscriptions_.replay_budget(); }

  // BrokerListener: a live message of a watched channel.
  void on_message(const MessagePtr& msg) override;

 private:
  // MessageSink: a whole client message (from Inbound), decoded and handed
  // to the part for its type.
  void handle(Session* s, std::string_view bytes, bool binary) override;
  // The WebSocket door of the Publisher: the outcome as `published` or an
  // error frame.
  void publish(Session* s, ClientRequest& req);
  // What open() and open_sse() share: the session, counted, its heartbeat
  // scheduled, its identity set (Authentication::opened).
  Session* add_session(Connection* connection, Encoding encoding, const Admission* admitted);
  double now_seconds() const { return clocks_.now_seconds(); }

  Options options_;
  // Before the broker: a RedisPresence borrows its links, so it goes after it.
  std::unique_ptr<Presence> presence_;
  std::unique_ptr<Broker> broker_;
  std::unique_ptr<Persistence> persistence_;  // after the broker: stops before it
  Clocks clocks_;
  Logger log_;
  Metrics metrics_;
  // The parts, each after what it holds references to.
  Access access_;
  SessionTable sessions_;
  Hub hub_;
  Subscriptions subscriptions_;
  Authentication authentication_;
  Inbound inbound_;
  Publisher publisher_;
  Reports reports_;
  bool stopping_ = false;  // begin_stop() was called
  // Users' connections: after the session table it reads, listening to
  // presence_ until it goes.
  NodePresence node_presence_;
};

}  // namespace rtpush
