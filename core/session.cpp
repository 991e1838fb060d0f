#include "session.h"

#include <algorithm>

#include "hub.h"

namespace rtpush {

SendResult Session::send(const FrameRef& frame) {
  if (closing()) return SendResult::Dropped;
  const bool was_idle = queue_.empty() && !ping_due_;
  SendResult r = queue_.push(frame);
  // One wake-up per idle->busy edge: the writer drains until empty.
  if (r != SendResult::Dropped && was_idle) connection_->request_write();
  return r;
}

void Session::close(std::uint16_t code, std::string reason, bool discard_queue) {
  if (closing()) return;
  close_code_ = code;
  close_reason_ = std::make_unique<std::string>(std::move(reason));
  if (discard_queue) queue_.clear();
  connection_->request_close();
}

const std::string Session::kNoReason{};
const auth::Identity Session::kAnonymous{};
const std::optional<double> Session::kNoExpiry{};

Session::AuthState& Session::auth_state() {
  if (!auth_) auth_ = std::make_unique<AuthState>();
  return *auth_;
}

void Session::release_auth_state_if_unused() {
  if (auth_ && !auth_->identity.authenticated && !auth_->expires && !auth_->expiry_key &&
      !auth_->auth_deadline_key)
    auth_.reset();
}

void Session::set_identity(auth::Identity who, std::optional<double> expires) {
  AuthState& a = auth_state();
  a.identity = std::move(who);
  a.expires = expires;
  release_auth_state_if_unused();
}

void Session::set_expiry_key(std::uint64_t wall_ms) {
  if (!wall_ms && !auth_) return;
  auth_state().expiry_key = wall_ms;
  release_auth_state_if_unused();
}

void Session::set_auth_deadline_key(std::int64_t steady_ms) {
  if (!steady_ms && !auth_) return;
  auth_state().auth_deadline_key = steady_ms;
  release_auth_state_if_unused();
}

void Session::want_ping() {
  if (closing()) return;
  const bool was_idle = queue_.empty() && !ping_due_;
  ping_due_ = true;
  if (was_idle) connection_->request_write();
}

namespace {
// Up to this many subscriptions a session finds one by looking at each: most
// connections hold one or a few channels, and a table for them costs ~250
// bytes per connection. Past it, a table; dropped again at half.
constexpr std::size_t kLinearSubscriptions = 8;
}  // namespace

Subscription* Session::find_subscription(std::string_view channel) const {
  if (!by_channel_) {
    for (Subscription* sub : subscriptions_)
      if (sub->channel->name == channel) return sub;
    return nullptr;
  }
  auto it = by_channel_->find(channel);
  return it == by_channel_->end() ? nullptr : it->second;
}

void Session::add_subscription(Subscription* sub, std::string_view channel) {
  sub->session_index = static_cast<std::uint32_t>(subscriptions_.size());
  subscriptions_.push_back(sub);
  if (by_channel_) {
    by_channel_->emplace(channel, sub);
  } else if (subscriptions_.size() > kLinearSubscriptions) {
    by_channel_ = std::make_unique<ByChannel>();
    for (Subscription* held : subscriptions_) by_channel_->emplace(held->channel->name, held);
  }
}

void Session::remove_subscription(Subscription* sub, std::string_view channel) {
  if (by_channel_) by_channel_->erase(channel);
  // Swap-remove: O(1) however many channels the session holds.
  Subscription* last = subscriptions_.back();
  subscriptions_.set(sub->session_index, last);
  last->session_index = sub->session_index;
  subscriptions_.pop_back();
  if (subscriptions_.size() <= kLinearSubscriptions / 2) by_channel_.reset();
}

void SubscriptionList::push_back(Subscription* sub) {
  if (size_ == capacity_) {
    const std::uint32_t cap = capacity_ * 2;
    auto** grown = new Subscription*[cap];
    std::copy(begin(), end(), grown);
    if (capacity_ > 1) delete[] many_;
    many_ = grown;
    capacity_ = cap;
  }
  data()[size_++] = sub;
}

void SubscriptionList::pop_back() {
  if (--size_ > 0 || capacity_ == 1) return;
  delete[] many_;  // back to inline: a connection down to no channel holds no array
  one_ = nullptr;
  capacity_ = 1;
}

}  // namespace rtpush
