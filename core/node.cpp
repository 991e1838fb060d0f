#include "node.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "codec.h"

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
      subscriptions_(options_, sessions_, access_, hub_, *broker_, persistence_.get(), metrics_),
      authentication_(options_, sessions_, access_, subscriptions_, metrics_, log_, clocks_,
                      [this](Session* s) { node_presence_.user_authenticated(s); }),
      inbound_(options_, sessions_, metrics_, log_, clocks_, *this),
      publisher_(options_, access_, *broker_, persistence_.get(), metrics_, log_, clocks_),
      reports_(options_, *broker_, persistence_.get(), sessions_, hub_, subscriptions_.replay_budget(), metrics_),
      node_presence_(*presence_, sessions_, options_.node_id, clocks_) {
  broker_->set_listener(this);
}

Node::~Node() {
  // Subscriptions belong to the hub; sessions go first so nothing dangles.
  for (auto& [serial, s] : sessions_.all())
    while (!s->subscriptions().empty()) hub_.unsubscribe(s->subscriptions().back());
  broker_->set_listener(nullptr);
}

Session* Node::add_session(Connection* connection, Encoding encoding, const Admission* admitted) {
  Session* raw = sessions_.add(connection, encoding);
  node_presence_.connections_changed();
  authentication_.opened(raw, admitted);
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
  sessions_.send(raw, f);
  // Its handshake began before the stop: it learns at once to go elsewhere.
  if (stopping_) raw->close(kCloseServiceRestart, "service restart", false);
  return raw;
}

// Server-Sent Events (SPEC section 9): a listener is a Session of
// Encoding::Sse. The hub, the replayer, the send-queue bound and the metrics
// treat it as any other subscriber; only its admission (Access::admit_sse:
// an HTTP answer instead of error frames) and its opening (no
// connection_established) are its own.
Session* Node::open_sse(Connection* connection, SseAdmission admitted) {
  Session* s = add_session(connection, Encoding::Sse, &admitted.who);
  // The one subscribe path: replay (Redis Streams, then PostgreSQL), the
  // seam to live, `recovered` in the subscribed event.
  ClientRequest req;
  req.type = RequestType::Subscribe;
  req.channel = std::move(admitted.target.channel);
  if (admitted.target.since) {
    req.has_since = true;
    req.since = admitted.target.since->str();
  }
  metrics_.count_received(req.type);
  subscriptions_.subscribe(s, req);
  if (stopping_) s->close(kCloseServiceRestart, "service restart", false);  // as open() does
  return s;
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
  authentication_.forget(s);
  node_presence_.user_gone(s);
  subscriptions_.drop_all(s);
  sessions_.erase(s);
  node_presence_.connections_changed();
}

void Node::handle(Session* s, std::string_view bytes, bool binary) {
  const auto started = std::chrono::steady_clock::now();
  DecodeResult d = codec_for(s->encoding())->decode(bytes, binary, options_.max_message_bytes);
  if (!d.ok) {
    metrics_.count_invalid();
    sessions_.send_error(s, d.error, d.message, d.ref);
    if (d.error == ErrorCode::MessageTooLarge) sessions_.close_too_big(s);  // grew past the bound when converted
  } else {
    ClientRequest& req = d.request;
    metrics_.count_received(req.type);
    if (!authentication_.refused_anonymous(s, req)) {
      switch (req.type) {
        case RequestType::Subscribe: subscriptions_.subscribe(s, req); break;
        case RequestType::Unsubscribe: subscriptions_.unsubscribe(s, req); break;
        case RequestType::Publish: publish(s, req); break;
        case RequestType::Auth: authentication_.authenticate(s, req); break;
        case RequestType::Heartbeat: {
          ServerFrame f;
          f.type = ServerFrameType::HeartbeatAck;
          f.timestamp = now_seconds();
          sessions_.send(s, f);
          break;
        }
      }
    }
  }
  metrics_.processing.observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
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
        return sessions_.close_too_big(s);
      case PublishStatus::RateLimited: return sessions_.refuse(s, ErrorCode::RateLimited, o.message, ref);
      case PublishStatus::Unavailable: return sessions_.send_error(s, ErrorCode::Unavailable, o.message, ref);
    }
  });
}

void Node::on_message(const MessagePtr& msg) {
  FanOutStats st = hub_.fan_out(msg);
  metrics_.delivered += st.delivered;
}

void Node::tick() {
  broker_->expire();
  authentication_.expire();
  const std::int64_t now = clocks_.steady_ms();
  subscriptions_.tick(now);
  sessions_.tick(now);
}

}  // namespace rtpush
