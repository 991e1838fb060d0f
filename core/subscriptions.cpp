#include "subscriptions.h"

#include <optional>
#include <vector>

namespace rtpush {

Subscriptions::Subscriptions(const Options& options, SessionTable& sessions, const Access& access, Hub& hub,
                             Broker& broker, Persistence* persistence, Metrics& metrics)
    : options_(options),
      sessions_(sessions),
      access_(access),
      hub_(hub),
      broker_(broker),
      replayer_(hub, *this, metrics, broker, options, persistence) {}

void Subscriptions::subscribe(Session* s, const ClientRequest& req) {
  if (!valid_channel(req.channel)) {
    send_error(s, ErrorCode::InvalidChannel, kInvalidChannelMessage, req.ref);
    return;
  }
  // Before anything else: a refused subscribe must not read history, send
  // the channel's position, or drop a subscription already held. Once per
  // subscribe, never per delivery.
  if (std::string why; !access_.permits(s->identity(), req.channel, auth::Action::subscribe, &why)) {
    sessions_.refuse(s, ErrorCode::Forbidden, why, req.ref);
    return;
  }
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
                     "max-channels-per-connection (" + std::to_string(options_.max_channels_per_connection) +
                         ") reached",
                     req.ref);
    return;
  }
  if (old) drop_subscription(old);
  Subscription* sub = hub_.subscribe(s, req.channel);
  if (hub_.subscriber_count(req.channel) == 1) broker_.watch(req.channel, true);
  sub->last_sent = since.value_or(StreamId{});
  replayer_.start(s, sub, since);
}

void Subscriptions::unsubscribe(Session* s, const ClientRequest& req) {
  if (!valid_channel(req.channel)) {
    send_error(s, ErrorCode::InvalidChannel, kInvalidChannelMessage, req.ref);
    return;
  }
  if (Subscription* sub = hub_.find(s, req.channel)) drop_subscription(sub);
  send_unsubscribed(s, req.channel);
}

void Subscriptions::end_forbidden(Session* s) {
  // Names first: dropping a subscription reorders the session's list. Once
  // per refresh, over this connection's own subscriptions only.
  std::vector<std::string> ended;
  for (const Subscription* sub : s->subscriptions())
    if (!access_.permits(s->identity(), sub->channel->name, auth::Action::subscribe, nullptr))
      ended.push_back(sub->channel->name);
  for (const std::string& channel : ended) {
    if (Subscription* sub = hub_.find(s, channel)) drop_subscription(sub);
    ServerFrame f;
    f.type = ServerFrameType::Unsubscribed;
    f.channel = channel;
    f.reason = error_code_name(ErrorCode::Forbidden);
    send(s, f);
  }
}

void Subscriptions::drop_all(Session* s) {
  auto& subs = s->subscriptions();
  while (!subs.empty()) drop_subscription(subs.back());
}

void Subscriptions::drop_subscription(Subscription* sub) {
  const std::string channel = sub->channel->name;
  // What it held for its replay goes back (its Replay with it) and others
  // may take it.
  replayer_.forget(sub);
  if (hub_.unsubscribe(sub)) broker_.watch(channel, false);
  replayer_.wake();
}

void Subscriptions::send_unsubscribed(Session* s, std::string_view channel) {
  ServerFrame f;
  f.type = ServerFrameType::Unsubscribed;
  f.channel = channel;
  send(s, f);
}

}  // namespace rtpush
