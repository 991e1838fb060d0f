#include "access.h"

#include <utility>

namespace rtpush {

namespace {

constexpr const char* kNoKeyReason = "no_key";

char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool ascii_iequal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  return true;
}

}  // namespace

bool origin_allowed(std::string_view origin, const std::vector<std::string>& allowed) {
  if (allowed.empty()) return true;
  for (const std::string& a : allowed)
    if (ascii_iequal(origin, a)) return true;
  return false;
}

Admission Access::admit(const std::string* origin, const std::string* token, const char* on) {
  Admission a;
  if (origin && !origin_allowed(*origin, settings_.allowed_origins)) {
    // Info, not warn: any web page can make a browser try this.
    log_.event(LogLevel::Info, "auth_refused", {{"reason", "origin"}, {"on", on}});
    metrics_.count_auth_failure(AuthFailure::ForeignOrigin);
    a.http_status = 403;
    a.reason = "origin not allowed";
    return a;
  }
  if (token) {
    if (const char* refused = accept_token(*token, on, &a.claims)) {
      a.http_status = 401;
      a.reason = std::string("token refused: ") + refused;
      a.claims = {};
      return a;
    }
    a.authenticated = true;
  }
  return a;
}

SseAdmission Access::admit_sse(const SseRequest& request) {
  SseAdmission a;
  a.who = admit(request.origin ? &*request.origin : nullptr, request.token ? &*request.token : nullptr,
                "a Server-Sent Events request");
  if (a.who.http_status) {
    a.http_status = a.who.http_status;
    a.reason = a.who.reason;
    return a;
  }
  a.target = parse_sse_target(request);
  if (a.target.http_status) {
    a.http_status = a.target.http_status;
    a.reason = a.target.reason;
    return a;
  }
  // auth required: a WebSocket has 10 s to send an auth frame; a listener
  // can send nothing, so its token must come with the request.
  if (settings_.required && !a.who.authenticated) {
    metrics_.count_auth_failure(AuthFailure::Unauthenticated);
    a.http_status = 401;
    a.reason = "a token is required (query parameter token)";
    return a;
  }
  const auth::Identity who = a.who.authenticated ? identity_of(a.who.claims) : auth::Identity::anonymous();
  // The same check as a WebSocket subscribe (permits()), answered with 403
  // instead of error FORBIDDEN, counted the same way. An anonymous request
  // the rules would let a token through is told so (401: a token is
  // missing where needed), anything else refused is 403.
  const auth::Decision d = auth::check(settings_.rules, who, a.target.channel, auth::Action::subscribe);
  if (!auth::allowed(d)) {
    metrics_.count_refused(ErrorCode::Forbidden);
    a.http_status = d == auth::Decision::forbidden_anonymous ? 401 : 403;
    a.reason = "not allowed to subscribe to " + a.target.channel + ": " + auth::reason(d);
  }
  return a;
}

bool Access::http_origin_allowed(std::string_view origin) {
  if (origin_allowed(origin, settings_.allowed_origins)) return true;
  metrics_.count_auth_failure(AuthFailure::ForeignOrigin);
  return false;
}

const char* Access::accept_token(std::string_view token, const std::string& who, auth::TokenClaims* claims) {
  if (!settings_.verifier) {
    metrics_.count_auth_failure(AuthFailure::NoKey);
    // Warn: the vhost is misconfigured, not just one client wrong.
    log_.sampled(LogLevel::Warn, "auth_refused", kNoKeyReason,
                 {{"reason", kNoKeyReason}, {"on", who}, {"cause", "no jwt-secret-file or jwt-public-key-file"}});
    return kNoKeyReason;
  }
  auth::TokenResult r = settings_.verifier->verify(token, clocks_.now_seconds());
  if (!r.ok()) {
    metrics_.count_token_refused(r.refusal);
    const char* reason = auth::token_refusal_name(r.refusal);
    // Sampled: anyone can send bad tokens at will.
    log_.sampled(LogLevel::Notice, "auth_refused", reason, {{"reason", reason}, {"on", who}});
    return reason;
  }
  *claims = std::move(r.claims);
  return nullptr;
}

auth::Identity Access::identity_of(auth::TokenClaims claims) {
  auth::Identity who;
  who.authenticated = true;
  who.user = std::move(claims.user);
  who.channels = std::move(claims.channels);
  who.publish = std::move(claims.publish);
  return who;
}

bool Access::permits(const auth::Identity& who, std::string_view channel, auth::Action action,
                     std::string* why) const {
  const auth::Decision d = auth::check(settings_.rules, who, channel, action);
  if (auth::allowed(d)) return true;
  if (why) {
    *why = action == auth::Action::subscribe ? "not allowed to subscribe to " : "not allowed to publish to ";
    why->append(channel);
    *why += ": ";
    *why += auth::reason(d);
  }
  return false;
}

}  // namespace rtpush
