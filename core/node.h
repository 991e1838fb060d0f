// Node: the core of one vhost, its composition root. It builds the parts
// and ties them together; each part holds references to what it uses:
//
//   SessionTable (session_table.h)  sessions, send, errors, heartbeats
//   Access (access.h)               origin, token, namespace decisions
//   Publisher (publisher.h)         the one publish pipeline (WS and HTTP)
//   Hub (hub.h)                     subscriptions and THE FAN-OUT PATH
//   Replayer (replayer.h)           history and archive before live
//   NodePresence (node_presence.h)  users' connections, disconnect, node list
//
// The transport reaches it through TransportPort (transport_port.h), the
// operator side through Vhost (vhost.h), the broker through BrokerListener,
// the presence (presence.h) through NodePresence.
// Everything here runs on the lws service thread.
//
// Where things happen:
//   client frame  -> receive() -> handle() -> subscribe()/publish()/...
//   publish       -> Publisher::publish() -> broker -> on_message() -> Hub::fan_out()
//   subscribe     -> Replayer::start() -> history, archive, parked, live
//   HTTP API      -> HttpApi (http_api.h) -> Publisher, NodePresence, and the reports here
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "access.h"
#include "auth/auth_settings.h"
#include "auth/token.h"
#include "broker.h"
#include "clocks.h"
#include "hub.h"
#include "logger.h"
#include "metrics.h"
#include "options.h"
#include "persistence.h"
#include "node_presence.h"
#include "presence.h"
#include "publisher.h"
#include "replay_budget.h"
#include "replayer.h"
#include "session.h"
#include "session_table.h"
#include "sse_request.h"
#include "transport_port.h"

namespace rtpush {

// The WebSocket close code of a graceful stop (RFC 6455's registry: Service
// Restart): the client should reconnect, to another node or this one later.
inline constexpr std::uint16_t kCloseServiceRestart = 1012;

class Node final : public TransportPort, public BrokerListener, private ReplayHost {
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
  // Identity and permissions (Vhost::build, from the options' files).
  // Before any connection opens. Without it: everything open, no tokens.
  void set_auth(auth::AuthSettings settings) { access_.set_settings(std::move(settings)); }
  const auth::AuthSettings& auth() const { return access_.settings(); }
  Access& access() { return access_; }
  Publisher& publisher() { return publisher_; }
  const std::string& node_id() const { return options_.node_id; }
  // Users' connections and the node list (GET users, disconnect, GET
  // nodes), for the HTTP API; tests authenticate a session without a token
  // through its user_authenticated().
  NodePresence& presence() { return node_presence_; }

  // TransportPort (transport_port.h). admit() with `on` saying what is
  // admitted in the refusal's log line.
  using Admission = rtpush::Admission;
  using SseAdmission = rtpush::SseAdmission;
  Admission admit(const std::string* origin, const std::string* token) override {
    return access_.admit(origin, token);
  }
  Session* open(Connection* connection, Encoding encoding, const Admission* admitted = nullptr) override;
  void close(Session* session) override;
  SseAdmission admit_sse(const SseRequest& request) override { return access_.admit_sse(request); }
  Session* open_sse(Connection* connection, SseAdmission admitted) override;  // node_sse.cpp
  bool receive(Session* session, std::string_view fragment, bool first, bool final, bool binary) override;
  bool pong(Session* session, std::size_t bytes = 0) override;
  void written(Session* session) override { replayer_.written(session); }
  void count_http_request() override { ++metrics_.http_requests; }

  // Heartbeats: pings due sessions and closes silent ones (1001), and
  // closes those with a fragmented message begun more than
  // receive-timeout-secs ago (1008). Call it about once a second. Runs
  // expire_auth() too.
  void tick();
  // Closes (UNAUTHORIZED, 1008) every connection whose token's exp has
  // passed ("token expired") and, with auth required, every one still
  // anonymous 10 s after it opened ("authentication timeout"). Costs what
  // is due, not a pass over the sessions: the plugin calls it every few
  // hundred ms so a connection closes within a second of its exp.
  void expire_auth();

  // What the HTTP API (http_api.h) asks of the node.
  struct Health {
    BackendState redis = BackendState::Off;
    BackendState postgres = BackendState::Off;
    std::size_t connections = 0;
  };
  Health health() const;
  // The Prometheus text of GET /metrics (rendered by metrics.cpp).
  std::string metrics_text() const;

  std::size_t connection_count() const { return sessions_.size(); }

  // Graceful stop (SIGTERM; docs/operations.md "Stopping a node"). Every
  // session is closed with 1012 (service restart) once its queued frames are
  // written, an SSE stream ends the same way, and a connection that opens
  // from now on (a handshake already under way) is closed at once; PostgreSQL
  // stops waiting for pg-flush-ms. Idempotent.
  void begin_stop();
  bool stopping() const { return stopping_; }
  // done(true) once every message accepted so far is written to PostgreSQL
  // (or, with Redis, held by the hand-off and what this node took of it
  // committed), done(false) when that did not happen within `timeout_secs`.
  // Without PostgreSQL: done(true) at once. `done` may run later.
  void flush_persistence(double timeout_secs, std::function<void(bool)> done);
  // Rows accepted by this node that PostgreSQL does not have yet and that
  // only this process holds (the embedded broker's batch and backlog).
  std::uint64_t unwritten_rows() const { return persistence_ ? persistence_->local_backlog() : 0; }
  const Metrics& metrics() const { return metrics_; }
  const ReplayBudget& replay_budget() const { return replayer_.budget(); }

  // BrokerListener: a live message of a watched channel.
  void on_message(const MessagePtr& msg) override;

 private:
  void handle(Session* s, std::string_view bytes, bool binary);
  void subscribe(Session* s, ClientRequest& req);
  void unsubscribe(Session* s, const ClientRequest& req);
  // Removes a subscription; the broker stops watching a channel left empty.
  void drop_subscription(Subscription* sub) override;
  void send_unsubscribed(Session* s, std::string_view channel) override;
  void publish(Session* s, ClientRequest& req);
  // ReplayHost: the session table's.
  void send(Session* s, const ServerFrame& frame) override { sessions_.send(s, frame); }
  void send_error(Session* s, ErrorCode code, std::string_view message, std::string_view ref) override {
    sessions_.send_error(s, code, message, ref);
  }
  // Access::permits for a subscribe by this session's identity. Refused:
  // error FORBIDDEN, counted as refused, and false. Once per subscribe,
  // never per delivery.
  bool may_subscribe(Session* s, std::string_view channel, std::string_view ref);
  void close_too_big(Session* s);
  // Spends `bytes` of the session's receive-bytes-per-sec; false (and the
  // session closing, 1008) once it is over.
  bool within_receive_rate(Session* s, std::size_t bytes, std::int64_t now_ms);
  Session* find(std::uint64_t serial) const override { return sessions_.find(serial); }
  double now_seconds() const { return clocks_.now_seconds(); }

  // What open() and open_sse() share: the session, counted, its heartbeat
  // scheduled, its identity set (opened()).
  Session* add_session(Connection* connection, Encoding encoding, const Admission* admitted);

  // Identity (node_auth.cpp). An auth frame: authenticate, refresh, or
  // refuse (UNAUTHORIZED, 1008).
  void auth_request(Session* s, const ClientRequest& req);
  // open(): the handshake's identity, or the 10 s deadline under auth required.
  void opened(Session* s, const Admission* admitted);
  // auth required and `s` still anonymous: refuses `req` (UNAUTHORIZED,
  // 1008) and says true. False: it may go on.
  bool refused_anonymous(Session* s, const ClientRequest& req);
  // The connection is told why (error UNAUTHORIZED) and closed with 1008.
  void unauthorized(Session* s, std::string_view message, std::string_view ref);
  // After a refresh (auth, same sub): ends each subscription the new claims
  // no longer permit with `unsubscribed` and reason FORBIDDEN.
  void end_forbidden_subscriptions(Session* s);
  // Sets `s`'s identity from accepted claims and its expiry deadline.
  void set_identity(Session* s, auth::TokenClaims claims);
  // Takes `s` out of both deadline maps (close, authenticate, refresh).
  void forget_expiry(Session* s);
  void forget_auth_deadline(Session* s);

  Options options_;
  // Before the broker: a RedisPresence borrows its links, so it goes after it.
  std::unique_ptr<Presence> presence_;
  std::unique_ptr<Broker> broker_;
  std::unique_ptr<Persistence> persistence_;  // after the broker: stops before it
  Clocks clocks_;
  Logger log_;
  Metrics metrics_;
  Access access_;
  SessionTable sessions_;
  Hub hub_;
  // After everything it reads from; holds the replays and their budget.
  Replayer replayer_;
  Publisher publisher_;
  bool stopping_ = false;  // begin_stop() was called
  // Users' connections: after the session table it reads, listening to
  // presence_ until it goes.
  NodePresence node_presence_;
  // Deadlines, ordered so expire_auth() reads only what is due. Token
  // expiry by wall-clock ms (exp is a Unix time); the 10 s to authenticate
  // by steady ms (it must not move with the wall clock). Values: session
  // serials. Each session holds at most one entry in each, its key kept in
  // the Session (expiry_key, auth_deadline_key) so close() erases it.
  std::multimap<std::uint64_t, std::uint64_t> expiries_;
  std::multimap<std::int64_t, std::uint64_t> auth_deadlines_;
};

}  // namespace rtpush
