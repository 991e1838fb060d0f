#include <cmath>
#include <utility>

#include "authentication.h"

namespace rtpush {

namespace {

// SPEC section 8: an `auth required` connection has this long to present
// a valid token.
constexpr std::int64_t kAuthTimeoutMs = 10'000;

// The wall-clock ms at which a token with this exp is expired (the
// verifier refuses at now >= exp + jwt-leeway-secs), 0 for none. An exp
// past what a uint64 of ms holds never comes.
std::uint64_t expiry_key(const std::optional<double>& exp, unsigned leeway_secs) {
  if (!exp) return 0;
  const double ms = std::ceil((*exp + leeway_secs) * 1000.0);
  if (!(ms >= 1) || ms >= 9.0e18) return 0;
  return static_cast<std::uint64_t>(ms);
}

}  // namespace

void Authentication::opened(Session* s, const Admission* admitted) {
  if (admitted && admitted->authenticated) {
    set_identity(s, admitted->claims);
    on_authenticated_(s);
  } else if (access_.required()) {
    const std::int64_t at = clocks_.steady_ms() + kAuthTimeoutMs;
    auth_deadlines_.emplace(at, s->serial());
    s->set_auth_deadline_key(at);
  }
}

void Authentication::authenticate(Session* s, const ClientRequest& req) {
  auth::TokenClaims claims;
  if (const char* refused = access_.accept_token(req.token, "connection " + s->id(), &claims)) {
    unauthorized(s, std::string("token refused: ") + refused, req.ref);
    return;
  }
  const bool first = !s->identity().authenticated;
  if (!first && s->identity().user != claims.user) {
    // A connection is one user for its life: what it subscribed to was
    // granted to that user.
    metrics_.count_auth_failure(AuthFailure::UserMismatch);
    log_.sampled(LogLevel::Notice, "auth_refused", "user_mismatch",
                 {{"reason", "user_mismatch"}, {"on", "connection " + s->id()}});
    unauthorized(s, "token is for another user", req.ref);
    return;
  }
  // First token, or a refresh: the new claims and exp replace the old.
  set_identity(s, std::move(claims));
  if (first) on_authenticated_(s);
  else subscriptions_.end_forbidden(s);
  ServerFrame f;
  f.type = ServerFrameType::Authenticated;
  f.user = s->identity().user;
  f.expires = s->expires();
  f.ref = req.ref;
  sessions_.send(s, f);
}

bool Authentication::refused_anonymous(Session* s, const ClientRequest& req) {
  if (!access_.required() || s->identity().authenticated || req.type == RequestType::Auth) return false;
  metrics_.count_auth_failure(AuthFailure::Unauthenticated);
  unauthorized(s, "authentication required: send auth with a valid token first", req.ref);
  return true;
}

void Authentication::unauthorized(Session* s, std::string_view message, std::string_view ref) {
  sessions_.send_error(s, ErrorCode::Unauthorized, message, ref);
  metrics_.count_close(CloseReason::Unauthorized);
  forget_expiry(s);
  forget_auth_deadline(s);
  s->close(kClosePolicy, "unauthorized", false);  // the error frame goes first
}

void Authentication::set_identity(Session* s, auth::TokenClaims claims) {
  forget_expiry(s);
  forget_auth_deadline(s);
  const auto expires = claims.expires;
  s->set_identity(Access::identity_of(std::move(claims)), expires);
  if (const std::uint64_t at = expiry_key(expires, options_.jwt_leeway_secs)) {
    expiries_.emplace(at, s->serial());
    s->set_expiry_key(at);
  }
}

namespace {

// Erases the entry (key -> serial) of one session; the range under one key
// holds the sessions that share that deadline, usually one.
template <typename Map>
void erase_entry(Map* map, typename Map::key_type key, std::uint64_t serial) {
  auto [it, end] = map->equal_range(key);
  for (; it != end; ++it)
    if (it->second == serial) {
      map->erase(it);
      return;
    }
}

}  // namespace

void Authentication::forget_expiry(Session* s) {
  if (!s->expiry_key()) return;
  erase_entry(&expiries_, s->expiry_key(), s->serial());
  s->set_expiry_key(0);
}

void Authentication::forget_auth_deadline(Session* s) {
  if (!s->auth_deadline_key()) return;
  erase_entry(&auth_deadlines_, s->auth_deadline_key(), s->serial());
  s->set_auth_deadline_key(0);
}

void Authentication::expire() {
  const std::uint64_t wall = clocks_.wall_ms();
  while (!expiries_.empty() && expiries_.begin()->first <= wall) {
    const auto [at, serial] = *expiries_.begin();
    expiries_.erase(expiries_.begin());
    Session* s = sessions_.find(serial);
    // Stale (should not happen: close and refresh erase their entries).
    if (!s || s->expiry_key() != at) continue;
    s->set_expiry_key(0);
    if (s->closing()) continue;
    metrics_.count_auth_failure(AuthFailure::ConnectionExpired);
    log_.event(LogLevel::Info, "auth_refused", {{"reason", "connection_expired"}, {"on", "connection " + s->id()}});
    unauthorized(s, "token expired", {});
  }
  const std::int64_t steady = clocks_.steady_ms();
  while (!auth_deadlines_.empty() && auth_deadlines_.begin()->first <= steady) {
    const auto [at, serial] = *auth_deadlines_.begin();
    auth_deadlines_.erase(auth_deadlines_.begin());
    Session* s = sessions_.find(serial);
    if (!s || s->auth_deadline_key() != at) continue;
    s->set_auth_deadline_key(0);
    if (s->closing() || s->identity().authenticated) continue;
    metrics_.count_auth_failure(AuthFailure::AuthTimeout);
    unauthorized(s, "authentication timeout", {});
  }
}

}  // namespace rtpush
