#include "node.h"

#include <sys/random.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <utility>

#include "codec.h"
#include "payload_size.h"
#include "process_stats.h"

namespace rtpush {

Clocks Clocks::system() {
  using namespace std::chrono;
  return Clocks{
      [] { return static_cast<std::int64_t>(duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count()); },
      [] { return static_cast<std::uint64_t>(duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count()); },
  };
}

Node::Node(Options options, std::unique_ptr<Broker> broker, Clocks clocks, std::unique_ptr<Persistence> persistence,
           Logger log, std::unique_ptr<Presence> presence)
    : options_(std::move(options)),
      presence_(presence ? std::move(presence) : std::make_unique<EmbeddedPresence>()),
      broker_(std::move(broker)),
      persistence_(std::move(persistence)),
      clocks_(std::move(clocks)),
      log_(std::move(log)),
      hub_([this](Session* s) { drop_slow(s); }),
      replayer_(hub_, *this, metrics_, *broker_, options_, persistence_.get()) {
  broker_->set_listener(this);
  presence_->set_listener(this);
}

Node::~Node() {
  // Subscriptions belong to the hub; sessions go first so nothing dangles.
  for (auto& [serial, s] : sessions_)
    while (!s->subscriptions().empty()) hub_.unsubscribe(s->subscriptions().back());
  broker_->set_listener(nullptr);
  presence_->set_listener(nullptr);
}

std::string Node::new_connection_id() {
  // A random UUID (version 4 layout): unguessable, unique across nodes. From
  // the kernel's CSPRNG: a seeded mt19937 can be predicted from a few ids.
  unsigned char bytes[16];
  for (std::size_t got = 0; got < sizeof bytes;) {
    const ssize_t n = getrandom(bytes + got, sizeof bytes - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(std::string("getrandom: ") + std::strerror(errno));
    }
    got += static_cast<std::size_t>(n);
  }
  std::uint64_t a, b;
  std::memcpy(&a, bytes, 8);
  std::memcpy(&b, bytes + 8, 8);
  a = (a & 0xffffffffffff0fffULL) | 0x4000ULL;
  b = (b & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>((a >> 16) & 0xffff), static_cast<unsigned>(a & 0xffff),
                static_cast<unsigned>(b >> 48), static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return buf;
}

void Node::user_authenticated(Session* s) {
  const auth::Identity& who = s->identity();
  if (!who.authenticated || s->closing()) return;
  UserConnection c{s->id(), options_.node_id, now_seconds()};
  // Registered once: a refresh (same sub) leaves the entry as it is.
  if (users_.add(who.user, s->serial(), c)) presence_->user_connected(who.user, c);
}

void Node::user_gone(Session* s) {
  const auth::Identity& who = s->identity();
  if (who.authenticated && users_.remove(who.user, s->serial())) presence_->user_disconnected(who.user, s->id());
}

void Node::users(const std::string& user, std::function<void(std::vector<UserConnection>)> done) {
  presence_->user_connections(user, [this, user, done = std::move(done)](bool shared, std::vector<UserConnection> list) {
    done(shared ? std::move(list) : users_.connections(user));
  });
}

void Node::disconnect_user(const std::string& user, std::function<void(std::size_t)> done) {
  // The count first: once the disconnect has gone out, the registries
  // empty as the connections close.
  users(user, [this, user, done = std::move(done)](std::vector<UserConnection> list) {
    const std::size_t n = list.size();
    presence_->disconnect_user(user, [this, user, n, done](bool carried) {
      if (!carried) on_disconnect_user(user);
      done(n);
    });
  });
}

void Node::on_disconnect_user(const std::string& user) {
  for (std::uint64_t serial : users_.serials(user)) {
    Session* s = find(serial);
    if (!s) continue;
    // Out of the registries now, not when the transport reports the close:
    // GET users/<user> right after the disconnect no longer lists it.
    user_gone(s);
    if (s->closing()) continue;
    send_error(s, ErrorCode::Unauthorized, "disconnected", {});
    s->close(kClosePolicy, "disconnected", false);
  }
}

bool Node::permitted(Session* s, std::string_view channel, auth::Action action, std::string_view ref) {
  const auth::Decision d = auth::check(auth_.rules, s->identity(), channel, action);
  if (auth::allowed(d)) return true;
  std::string message = action == auth::Action::subscribe ? "not allowed to subscribe to " : "not allowed to publish to ";
  message.append(channel);
  message += ": ";
  message += auth::reason(d);
  refuse(s, ErrorCode::Forbidden, message, ref);
  return false;
}

Session* Node::add_session(Connection* connection, Encoding encoding, const Admission* admitted) {
  const std::int64_t now = clocks_.steady_ms();
  auto s = std::make_unique<Session>(next_serial_++, new_connection_id(), encoding, connection,
                                     options_.send_queue_bytes, now);
  s->schedule_ping(now + options_.heartbeat_secs * 1000LL);
  Session* raw = s.get();
  sessions_.emplace(raw->serial(), std::move(s));
  ++metrics_.connections_total;
  presence_->local_connections(sessions_.size());
  opened(raw, admitted);
  return raw;
}

Session* Node::open(Connection* connection, Encoding encoding, const Admission* admitted) {
  Session* raw = add_session(connection, encoding, admitted);

  ServerFrame f;
  f.type = ServerFrameType::ConnectionEstablished;
  f.connection_id = raw->id();
  f.node = options_.node_id;
  f.heartbeat_interval = options_.heartbeat_secs;
  f.timestamp = now_seconds();
  send(raw, f);
  // Its handshake began before the stop: it learns at once to go elsewhere.
  if (stopping_) raw->close(kCloseServiceRestart, "service restart", false);
  return raw;
}

void Node::begin_stop() {
  if (std::exchange(stopping_, true)) return;
  if (persistence_) persistence_->flush_now();
  for (auto& [serial, s] : sessions_) s->close(kCloseServiceRestart, "service restart", false);
}

void Node::flush_persistence(double timeout_secs, std::function<void(bool)> done) {
  if (!persistence_) return done(true);
  persistence_->flush(timeout_secs, std::move(done));
}

void Node::close(Session* s) {
  forget_expiry(s);
  forget_auth_deadline(s);
  user_gone(s);
  auto& subs = s->subscriptions();
  while (!subs.empty()) drop_subscription(subs.back());
  sessions_.erase(s->serial());
  presence_->local_connections(sessions_.size());
}

Session* Node::find(std::uint64_t serial) const {
  auto it = sessions_.find(serial);
  return it == sessions_.end() ? nullptr : it->second.get();
}

bool Node::receive(Session* s, std::string_view fragment, bool first, bool final, bool binary) {
  const std::int64_t now = clocks_.steady_ms();
  s->touch(now);
  if (s->receive_refused()) return false;
  if (s->closing()) return true;
  if (!within_receive_rate(s, fragment.size(), now)) return false;
  std::string& rx = s->rx_buffer();
  if (first) {
    rx.clear();
    s->set_rx_discarding(false);
    if (!final) s->rx_begin(clocks_.steady_ms());  // receive-timeout-secs runs from here
  }
  if (final) s->rx_end();
  // An oversized message is answered at once but closed (1009) only after
  // its last fragment: closing while the peer still sends makes the kernel
  // reset the connection, and the peer may never read the close. The rest
  // is dropped as it comes, up to a bound, not buffered.
  if (s->rx_discarding()) {
    s->add_rx_discarded(fragment.size());
    if (final || s->rx_discarded() > 16 * options_.max_message_bytes) close_too_big(s);
    return true;
  }
  const std::size_t total = rx.size() + fragment.size();
  if (total > options_.max_message_bytes) {
    std::string().swap(rx);
    s->set_rx_discarding(true);
    send_error(s, ErrorCode::MessageTooLarge,
               "message is larger than max-message-bytes (" + std::to_string(options_.max_message_bytes) + ")", {});
    if (final) close_too_big(s);
    return true;
  }
  if (first && final) {  // the common case: no copy
    handle(s, fragment, binary);
    return true;
  }
  rx.append(fragment);
  if (!final) return true;
  std::string message;
  message.swap(rx);  // the buffer goes with the message: idle sessions hold none
  handle(s, message, binary);
  return true;
}

bool Node::within_receive_rate(Session* s, std::size_t bytes, std::int64_t now_ms) {
  if (s->receive_bucket().take(bytes, options_.receive_bytes_per_sec, 2 * std::uint64_t{options_.max_message_bytes},
                               now_ms))
    return true;
  // Nothing more of this client is read: what it queued (answers to the
  // flood) is dropped so the close goes out first, and the message being
  // put together is freed.
  s->refuse_receive();
  s->rx_end();
  std::string().swap(s->rx_buffer());
  metrics_.count_close(CloseReason::ReceiveRate);
  log_.sampled(LogLevel::Notice, "receive_rate_closed", "",
               {{"connection", s->id()}, {"limit", "receive-bytes-per-sec"}});
  s->close(kClosePolicy, "receive-bytes-per-sec exceeded", true);
  return false;
}

void Node::close_too_big(Session* s) {
  metrics_.count_close(CloseReason::MessageTooLarge);
  s->close(kCloseTooBig, "message too large", false);
}

bool Node::pong(Session* s, std::size_t bytes) {
  const std::int64_t now = clocks_.steady_ms();
  s->touch(now);
  if (s->receive_refused()) return false;
  return s->closing() || within_receive_rate(s, bytes, now);
}

void Node::handle(Session* s, std::string_view bytes, bool binary) {
  const auto started = std::chrono::steady_clock::now();
  DecodeResult d = codec_for(s->encoding())->decode(bytes, binary, options_.max_message_bytes);
  if (!d.ok) {
    metrics_.count_invalid();
    send_error(s, d.error, d.message, d.ref);
    if (d.error == ErrorCode::MessageTooLarge) close_too_big(s);  // grew past the bound when converted
  } else {
    ClientRequest& req = d.request;
    metrics_.count_received(req.type);
    if (!refused_anonymous(s, req)) {
      switch (req.type) {
        case RequestType::Subscribe: subscribe(s, req); break;
        case RequestType::Unsubscribe: unsubscribe(s, req); break;
        case RequestType::Publish: publish(s, req); break;
        case RequestType::Auth: auth_request(s, req); break;
        case RequestType::Heartbeat: {
          ServerFrame f;
          f.type = ServerFrameType::HeartbeatAck;
          f.timestamp = now_seconds();
          send(s, f);
          break;
        }
      }
    }
  }
  metrics_.processing.observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
}

void Node::subscribe(Session* s, ClientRequest& req) {
  if (!valid_channel(req.channel)) {
    send_error(s, ErrorCode::InvalidChannel, kInvalidChannelMessage, req.ref);
    return;
  }
  // Before anything else: a refused subscribe must not read history, send
  // the channel's position, or drop a subscription already held.
  if (!permitted(s, req.channel, auth::Action::subscribe, req.ref)) return;
  std::optional<StreamId> since;
  if (req.has_since) {
    since = StreamId::parse(req.since);
    if (!since) {
      send_error(s, ErrorCode::InvalidJson, "since must be a message id \"<ms>-<seq>\"", req.ref);
      return;
    }
  }
  // Subscribing again replaces the old subscription (a client re-syncing
  // with a new `since`), so it does not count against the limit.
  Subscription* old = hub_.find(s, req.channel);
  if (!old && s->subscriptions().size() >= options_.max_channels_per_connection) {
    refuse(s, ErrorCode::LimitExceeded,
           "max-channels-per-connection (" + std::to_string(options_.max_channels_per_connection) + ") reached",
           req.ref);
    return;
  }
  if (old) drop_subscription(old);
  Subscription* sub = hub_.subscribe(s, req.channel);
  if (hub_.subscriber_count(req.channel) == 1) broker_->watch(req.channel, true);
  sub->last_sent = since.value_or(StreamId{});
  replayer_.start(s, sub, since);
}

void Node::unsubscribe(Session* s, const ClientRequest& req) {
  if (!valid_channel(req.channel)) {
    send_error(s, ErrorCode::InvalidChannel, kInvalidChannelMessage, req.ref);
    return;
  }
  if (Subscription* sub = hub_.find(s, req.channel)) drop_subscription(sub);
  send_unsubscribed(s, req.channel);
}

void Node::drop_subscription(Subscription* sub) {
  const std::string channel = sub->channel->name;
  // What it held for its replay goes back (its Replay with it) and others
  // may take it.
  replayer_.forget(sub);
  if (hub_.unsubscribe(sub)) broker_->watch(channel, false);
  replayer_.wake();
}

void Node::send_unsubscribed(Session* s, std::string_view channel) {
  ServerFrame f;
  f.type = ServerFrameType::Unsubscribed;
  f.channel = channel;
  send(s, f);
}

std::string Node::backlog_full(std::size_t payload_bytes) const {
  std::string limit, why;
  if (persistence_ && persistence_->local_backlog() >= options_.pg_backlog_rows) {
    limit = "pg-backlog-rows";
    why = std::to_string(options_.pg_backlog_rows) + " rows wait for it (pg-backlog-rows)";
  } else if (const std::uint64_t bytes = persistence_ ? persistence_->local_backlog_bytes() : 0;
             bytes > 0 && bytes + payload_bytes > options_.pg_backlog_bytes) {
    // Past the bound with this payload; one payload alone always fits.
    limit = "pg-backlog-bytes";
    why = std::to_string(bytes) + " bytes of messages wait for it (pg-backlog-bytes " +
          std::to_string(options_.pg_backlog_bytes) + ")";
  }
  if (limit.empty()) {
    if (const std::string was = std::exchange(backlog_refusing_, std::string()); !was.empty())
      log_.event(LogLevel::Notice, "publish_resumed", {{"limit", was}});
    return {};
  }
  if (std::exchange(backlog_refusing_, limit).empty())
    log_.event(LogLevel::Warn, "publish_paused",
               {{"limit", limit}, {"rows_waiting", persistence_->local_backlog()},
                {"cause", "postgres is behind: publishes are refused until it catches up"}});
  return "postgres is behind: " + why + "; nothing was published";
}

void Node::publish(Session* s, ClientRequest& req) {
  if (!valid_channel(req.channel)) {
    send_error(s, ErrorCode::InvalidChannel, kInvalidChannelMessage, req.ref);
    return;
  }
  // Before the rate limit: a refused publish spends none of publish-rate.
  if (!permitted(s, req.channel, auth::Action::publish, req.ref)) return;
  if (const char* form = payload_oversize(req.data, options_.max_message_bytes)) {
    // As for an oversized frame: the bound holds in every encoding delivered.
    send_error(s, ErrorCode::MessageTooLarge, oversize_reason(form, options_.max_message_bytes), req.ref);
    close_too_big(s);
    return;
  }
  if (options_.publish_rate && !s->publish_bucket().take(options_.publish_rate, clocks_.steady_ms())) {
    refuse(s, ErrorCode::RateLimited,
           "publish-rate (" + std::to_string(options_.publish_rate) + " a second) exceeded", req.ref);
    return;
  }
  if (std::string full = backlog_full(req.data.bytes.size()); !full.empty()) {
    ++metrics_.publish_failed;
    send_error(s, ErrorCode::Unavailable, full, req.ref);
    return;
  }
  const std::uint64_t serial = s->serial();
  // The publisher's `sub`, set here and never read from the frame: what
  // subscribers, replays and the history see as the message's `user`.
  std::string user = s->identity().authenticated ? s->identity().user : std::string();
  broker_->publish(req.channel, std::move(req.data), std::move(user),
                   [this, serial, ref = std::move(req.ref)](const PublishResult& r) {
                     if (r.ok) {
                       ++metrics_.published_ws;
                       if (persistence_) persistence_->accept(*r.message);
                     } else {
                       ++metrics_.publish_failed;
                     }
                     Session* s = find(serial);
                     if (!s) return;
                     if (!r.ok) {
                       send_error(s, ErrorCode::Unavailable, r.reason, ref);
                       return;
                     }
                     ServerFrame f;
                     f.type = ServerFrameType::Published;
                     f.channel = r.message->channel;
                     f.id = r.message->id_text;
                     f.ref = ref;
                     send(s, f);
                   });
}

void Node::written(Session* s) { replayer_.written(s); }

Node::Health Node::health() const {
  Health h;
  h.redis = broker_->state();
  h.postgres = persistence_ ? persistence_->state() : BackendState::Off;
  h.connections = sessions_.size();
  return h;
}

void Node::nodes(std::function<void(std::vector<NodeInfo>)> done) {
  presence_->nodes([this, done = std::move(done)](std::vector<NodeInfo> nodes) {
    auto self = std::find_if(nodes.begin(), nodes.end(), [&](const NodeInfo& n) { return n.node == options_.node_id; });
    if (self == nodes.end()) nodes.push_back(NodeInfo{options_.node_id, 0, 0});
    self = std::find_if(nodes.begin(), nodes.end(), [&](const NodeInfo& n) { return n.node == options_.node_id; });
    self->connections = sessions_.size();
    self->last_seen = now_seconds();
    done(std::move(nodes));
  });
}

std::string Node::metrics_text() const {
  Gauges g;
  g.connections_active = sessions_.size();
  g.channels_active = hub_.channel_count();
  for (const auto& [serial, s] : sessions_) {
    g.send_queue_bytes += s->queue().bytes();
    if (s->encoding() == Encoding::Sse) ++g.sse_connections_active;
  }
  if (const std::optional<HistoryStats> h = broker_->history_stats()) {
    g.has_history = true;
    g.history_bytes = h->bytes;
    g.history_channels = h->channels;
  }
  g.replay_bytes = replayer_.budget().held();
  g.replays_waiting = replayer_.budget().waiting();
  StoreStats pg;
  if (persistence_) {
    pg = persistence_->stats();
    g.pg = &pg;
    g.pg_up = persistence_->state() == BackendState::Up;
  }
  if (const BackendState redis = broker_->state(); redis != BackendState::Off) g.redis_up = redis == BackendState::Up;
  const std::optional<ProcessStats> process = read_process_stats();
  if (process) g.process = &*process;
  return metrics_.render(options_.node_id, g);
}

void Node::publish_http(std::string channel, Payload payload, std::function<void(const PublishResult&)> done) {
  if (std::string full = backlog_full(payload.bytes.size()); !full.empty()) {
    ++metrics_.publish_failed;
    PublishResult refused;
    refused.reason = std::move(full);
    done(refused);
    return;
  }
  broker_->publish(std::move(channel), std::move(payload), [this, done = std::move(done)](const PublishResult& r) {
    if (r.ok) {
      ++metrics_.published_http;
      if (persistence_) persistence_->accept(*r.message);
    } else {
      ++metrics_.publish_failed;
    }
    done(r);
  });
}

void Node::on_message(const MessagePtr& msg) {
  FanOutStats st = hub_.fan_out(msg);
  metrics_.delivered += st.delivered;
}

void Node::send(Session* s, const ServerFrame& frame) {
  if (s->send(codec_for(s->encoding())->encode(frame)) == SendResult::Dropped && !s->closing())
    drop_slow(s);
}

void Node::send_error(Session* s, ErrorCode code, std::string_view message, std::string_view ref) {
  metrics_.count_error(code);
  ServerFrame f;
  f.type = ServerFrameType::Error;
  f.code = error_code_name(code);
  f.message = message;
  f.ref = ref;
  send(s, f);
}

void Node::refuse(Session* s, ErrorCode code, std::string_view message, std::string_view ref) {
  metrics_.count_refused(code);
  send_error(s, code, message, ref);
}

void Node::drop_slow(Session* s) {
  ++metrics_.slow_consumers;
  metrics_.count_close(CloseReason::SlowConsumer);
  log_.sampled(LogLevel::Notice, "slow_consumer_closed", "", {{"connection", s->id()}, {"limit", "send-queue-bytes"}});
  s->close(kClosePolicy, "send queue over send-queue-bytes", true);
}

void Node::tick() {
  broker_->expire();
  expire_auth();
  const std::int64_t now = clocks_.steady_ms();
  replayer_.tick(now);
  const std::int64_t timeout = options_.heartbeat_timeout_secs * 1000LL;
  const std::int64_t rx_timeout = options_.receive_timeout_secs * 1000LL;
  for (auto& [serial, s] : sessions_) {
    if (s->closing()) continue;
    // An SSE listener cannot answer a ping: it is alive while its output
    // (a ping every heartbeat-secs at least) is being taken. One that
    // stopped reading or vanished is closed as a silent WebSocket is; its
    // queue is dropped, as nothing would ever write it.
    const bool sse = s->encoding() == Encoding::Sse;
    if (sse && s->connection()->output_taken()) s->touch(now);
    if (now - s->last_activity_ms() >= timeout) {
      metrics_.count_close(CloseReason::HeartbeatTimeout);
      s->close(kCloseGoingAway, "heartbeat timeout", sse);
    } else if (s->rx_in_progress() && now - s->rx_started_ms() >= rx_timeout) {
      // A client that keeps answering pings could otherwise hold an
      // unfinished message (up to max-message-bytes) for ever.
      s->rx_end();
      std::string().swap(s->rx_buffer());
      metrics_.count_close(CloseReason::ReceiveTimeout);
      s->close(kClosePolicy, "message not complete within receive-timeout-secs", false);
    } else if (now >= s->next_ping_ms()) {
      s->want_ping();
      s->schedule_ping(now + options_.heartbeat_secs * 1000LL);
    }
  }
}

}  // namespace rtpush
