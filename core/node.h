// Node: the core of one vhost. The plugins hand it connections, client
// frames, pongs, timer ticks and HTTP requests; it owns the sessions, the hub,
// the broker and the metrics. Everything here runs on the lws service thread.
//
// Where things happen:
//   client frame  -> receive() -> handle() -> subscribe()/publish()/...
//   publish       -> broker_->publish() -> on_message() -> hub_.fan_out()
//   subscribe     -> broker_->history() -> on_history() -> replay (replay.cpp)
//   HTTP API      -> handle_http() (http_api.cpp)
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "broker.h"
#include "hub.h"
#include "metrics.h"
#include "options.h"
#include "persist_feed.h"
#include "pg_archive.h"
#include "pg_store.h"
#include "replay_budget.h"
#include "session.h"

namespace rtpush {

struct HttpRequest {
  std::string method;         // "GET", "POST", ...
  std::string path;           // relative to the mount, without leading '/'
  std::string body;
  bool body_too_large = false;  // the body passed max-message-bytes (and was cut)
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

struct Clocks {
  std::function<std::int64_t()> steady_ms;  // heartbeats
  std::function<std::uint64_t()> wall_ms;   // ids and timestamps
  static Clocks system();
};

class Node final : public BrokerListener {
 public:
  // `store` (may be null) writes messages to PostgreSQL: fed by `feed` (the
  // Redis hand-off) when there is one, else by this node as it accepts them.
  // `archive` reads them back for replays past the hot history.
  Node(Options options, std::unique_ptr<Broker> broker, Clocks clocks = Clocks::system(),
       std::unique_ptr<PgStore> store = nullptr, std::unique_ptr<PersistFeed> feed = nullptr,
       std::unique_ptr<PgArchive> archive = nullptr);
  ~Node() override;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  const Options& options() const { return options_; }
  const std::string& node_id() const { return options_.node_id; }

  // A WebSocket connection was established; sends connection_established.
  Session* open(Connection* connection, Encoding encoding);
  // The connection is gone (whoever closed it). Frees the session.
  void close(Session* session);

  // One fragment of a client message, in order. A message is handled when
  // its final fragment arrives; past max-message-bytes it is refused with
  // MESSAGE_TOO_LARGE, and closed with 1009 once that message has ended.
  void receive(Session* session, std::string_view fragment, bool first, bool final, bool binary);
  void pong(Session* session);
  // The transport wrote some of the session's queue: a replay waiting for
  // room (Session::awaiting_drain()) resumes once it is down to a quarter.
  void written(Session* session);

  // Heartbeats: pings due sessions and closes silent ones (1001), and
  // closes those with a fragmented message begun more than
  // receive-timeout-secs ago (1008). Call it about once a second.
  void tick();

  // The HTTP API. `respond` runs exactly once, maybe later (a broker that
  // answers asynchronously); the caller must tolerate its wsi being gone.
  using HttpRespond = std::function<void(HttpResponse)>;
  void handle_http(const HttpRequest& request, HttpRespond respond);

  std::size_t connection_count() const { return sessions_.size(); }
  const Metrics& metrics() const { return metrics_; }
  Hub& hub() { return hub_; }
  const ReplayBudget& replay_budget() const { return budget_; }

  // BrokerListener: a live message of a watched channel.
  void on_message(const MessagePtr& msg) override;

 private:
  void handle(Session* s, std::string_view bytes, bool binary);
  void subscribe(Session* s, ClientRequest& req);
  void unsubscribe(Session* s, const ClientRequest& req);
  // Replay (replay.cpp)
  static constexpr std::size_t kArchivePage = 1000;               // rows per archive page, at most
  static constexpr std::size_t kReplayPageMinBytes = 256 * 1024;  // bytes per page, at least
  static std::size_t replay_page_bytes(const Options& o);
  void on_history(std::uint64_t serial, const std::string& channel, std::uint64_t sub_id,
                  std::optional<StreamId> since, HistoryResult h);
  void start_replay(Session* s, Subscription* sub, std::optional<StreamId> since, HistoryResult& h, bool archive);
  void announce(Session* s, Subscription* sub, bool with_since, std::optional<StreamId> position, bool recovered);
  void pump_replay(Session* s, Subscription* sub);
  void fetch_page(Session* s, Subscription* sub);
  void read_page(Session* s, Subscription* sub, BudgetHold grant);
  void on_page(std::uint64_t serial, const std::string& channel, std::uint64_t sub_id, std::size_t reserved, bool ok,
               std::vector<MessagePtr> page, bool more, bool gap);
  Subscription* find_sub(std::uint64_t serial, const std::string& channel, std::uint64_t sub_id) const;
  void replay_unavailable(Subscription* sub, bool started);
  void replay_stopped(Subscription* sub, bool started, const std::string& why);
  // Removes a subscription; the broker stops watching a channel left empty.
  void drop_subscription(Subscription* sub);
  void send_unsubscribed(Session* s, std::string_view channel);
  void publish(Session* s, ClientRequest& req);
  void send(Session* s, const ServerFrame& frame);
  void send_error(Session* s, ErrorCode code, std::string_view message, std::string_view ref);
  // A request refused by a limit (LIMIT_EXCEEDED, RATE_LIMITED): error frame
  // and rtpush_requests_refused_total.
  void refuse(Session* s, ErrorCode code, std::string_view message, std::string_view ref);
  void drop_slow(Session* s);
  void accepted(const Message& m) {
    if (store_ && !feed_) store_->append(m);
  }
  // Embedded with postgres: pg-backlog-rows rows wait for PostgreSQL, so a
  // publish now would hold one more in memory: the reason it is refused.
  // Empty when it may go on. (With Redis the publish script bounds the
  // hand-off Stream instead.)
  std::string backlog_full() const;
  void close_too_big(Session* s);
  Session* find(std::uint64_t serial) const;
  std::string new_connection_id();
  double now_seconds() const { return static_cast<double>(clocks_.wall_ms()) / 1000.0; }

  // HTTP API (http_api.cpp)
  HttpResponse http_health() const;
  void http_nodes(HttpRespond respond);
  HttpResponse http_metrics() const;
  void http_publish(const HttpRequest& request, std::string_view channel, HttpRespond respond);

  Options options_;
  // Before everything that holds replays (the hub) or answers their reads.
  ReplayBudget budget_;
  // The first history page's reservation of a subscription whose history
  // is being read (by Subscription::id), until its replay begins.
  std::unordered_map<std::uint64_t, BudgetHold> first_pages_;
  std::unique_ptr<Broker> broker_;
  std::unique_ptr<PgStore> store_;
  std::unique_ptr<PersistFeed> feed_;  // after store_: destroyed before it
  std::unique_ptr<PgArchive> archive_;
  Clocks clocks_;
  Metrics metrics_;
  Hub hub_;
  std::uint64_t next_serial_ = 1;
  std::unordered_map<std::uint64_t, std::unique_ptr<Session>> sessions_;
};

}  // namespace rtpush
