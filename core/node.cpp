#include "node.h"

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

Node::Node(Options options, std::unique_ptr<Broker> broker, Clocks clocks, std::unique_ptr<Persistence> persistence,
           Logger log, std::unique_ptr<Presence> presence)
    : options_(std::move(options)),
      presence_(presence ? std::move(presence) : std::make_unique<EmbeddedPresence>()),
      broker_(std::move(broker)),
      persistence_(std::move(persistence)),
      clocks_(std::move(clocks)),
      log_(std::move(log)),
      access_(metrics_, log_, clocks_),
      sessions_(options_, metrics_, log_, clocks_),
      hub_([this](Session* s) { sessions_.drop_slow(s); }),
      replayer_(hub_, *this, metrics_, *broker_, options_, persistence_.get()),
      publisher_(options_, access_, *broker_, persistence_.get(), metrics_, log_, clocks_),
      node_presence_(*presence_, sessions_, options_.node_id, clocks_) {
  broker_->set_listener(this);
}

Node::~Node() {
  // Subscriptions belong to the hub; sessions go first so nothing dangles.
  for (auto& [serial, s] : sessions_.all())
    while (!s->subscriptions().empty()) hub_.unsubscribe(s->subscriptions().back());
  broker_->set_listener(nullptr);
}

bool Node::may_subscribe(Session* s, std::string_view channel, std::string_view ref) {
  std::string why;
  if (access_.permits(s->identity(), channel, auth::Action::subscribe, &why)) return true;
  sessions_.refuse(s, ErrorCode::Forbidden, why, ref);
  return false;
}

Session* Node::add_session(Connection* connection, Encoding encoding, const Admission* admitted) {
  Session* raw = sessions_.add(connection, encoding);
  node_presence_.connections_changed();
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
  for (auto& [serial, s] : sessions_.all()) s->close(kCloseServiceRestart, "service restart", false);
}

void Node::flush_persistence(double timeout_secs, std::function<void(bool)> done) {
  if (!persistence_) return done(true);
  persistence_->flush(timeout_secs, std::move(done));
}

void Node::close(Session* s) {
  forget_expiry(s);
  forget_auth_deadline(s);
  node_presence_.user_gone(s);
  auto& subs = s->subscriptions();
  while (!subs.empty()) drop_subscription(subs.back());
  sessions_.erase(s);
  node_presence_.connections_changed();
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
  if (!may_subscribe(s, req.channel, req.ref)) return;
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
    sessions_.refuse(s, ErrorCode::LimitExceeded,
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

void Node::publish(Session* s, ClientRequest& req) {
  PublishRequest p;
  p.channel = std::move(req.channel);
  p.data = std::move(req.data);
  p.from = s;
  // The outcome as an error frame or `published`; a refusal before the
  // broker comes at once, the broker's answer maybe later (the session may
  // be gone by then).
  publisher_.publish(std::move(p), [this, serial = s->serial(), ref = std::move(req.ref)](const PublishOutcome& o) {
    Session* s = sessions_.find(serial);
    if (!s) return;
    switch (o.status) {
      case PublishStatus::Published: {
        ServerFrame f;
        f.type = ServerFrameType::Published;
        f.channel = o.published->channel;
        f.id = o.published->id_text;
        f.ref = ref;
        sessions_.send(s, f);
        return;
      }
      case PublishStatus::InvalidChannel: return sessions_.send_error(s, ErrorCode::InvalidChannel, o.message, ref);
      case PublishStatus::InvalidJson: return sessions_.send_error(s, ErrorCode::InvalidJson, o.message, ref);
      case PublishStatus::Forbidden: return sessions_.refuse(s, ErrorCode::Forbidden, o.message, ref);
      case PublishStatus::TooLarge:
        sessions_.send_error(s, ErrorCode::MessageTooLarge, o.message, ref);
        return close_too_big(s);
      case PublishStatus::RateLimited: return sessions_.refuse(s, ErrorCode::RateLimited, o.message, ref);
      case PublishStatus::Unavailable: return sessions_.send_error(s, ErrorCode::Unavailable, o.message, ref);
    }
  });
}

Node::Health Node::health() const {
  Health h;
  h.redis = broker_->state();
  h.postgres = persistence_ ? persistence_->state() : BackendState::Off;
  h.connections = sessions_.size();
  return h;
}

std::string Node::metrics_text() const {
  Gauges g;
  g.connections_active = sessions_.size();
  g.channels_active = hub_.channel_count();
  for (const auto& [serial, s] : sessions_.all()) {
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

void Node::on_message(const MessagePtr& msg) {
  FanOutStats st = hub_.fan_out(msg);
  metrics_.delivered += st.delivered;
}

void Node::tick() {
  broker_->expire();
  expire_auth();
  const std::int64_t now = clocks_.steady_ms();
  replayer_.tick(now);
  sessions_.tick(now);
}

}  // namespace rtpush
