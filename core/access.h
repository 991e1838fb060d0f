// Access: who may come in and what they may do (SPEC section 8), decided in
// one place for every door: the WebSocket handshake and the SSE request
// (origin, token, namespace rules), the HTTP API's origin, a connection's
// auth frame (token acceptance), and each subscribe or publish (namespace
// rules and personal channels, auth::check). It decides, counts and logs the
// refusal; the caller answers it (a status, an error frame, a close).
//
// Service thread only.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "auth/auth_settings.h"
#include "auth/channel_rules.h"
#include "auth/token.h"
#include "clocks.h"
#include "logger.h"
#include "metrics.h"
#include "sse_request.h"

namespace rtpush {

// The WebSocket handshake, before open() (SPEC section 8): the request's
// Origin header against allowed-origins, then the URL's `token` query
// parameter against the vhost's keys. Refused: 403 (origin) or 401 (token).
struct Admission {
  int http_status = 0;         // 0: admitted; else the HTTP status refusing the upgrade
  std::string reason;          // when refused: says why, for the response body
  bool authenticated = false;  // a valid token came with the handshake
  auth::TokenClaims claims;    // when authenticated
};

// A GET sse/<channel> (SPEC section 9), judged before any byte of the
// answer as a WebSocket handshake and subscribe would be: origin (403),
// token (401; a missing one too under auth required), channel and resume
// point (400), namespace rules (403; 401 for an anonymous request to a
// namespace a token could open).
struct SseAdmission {
  int http_status = 0;  // 0: admitted
  std::string reason;
  SseTarget target;     // channel and resume point, when admitted
  Admission who;        // the token's identity, when one came
};

// True when `origin` is one of `allowed` (ASCII case-insensitive, exact), or
// `allowed` is empty (any origin). The one origin rule of every door.
bool origin_allowed(std::string_view origin, const std::vector<std::string>& allowed);

class Access {
 public:
  // Holds references: the Node's members, which outlive it.
  Access(Metrics& metrics, const Logger& log, const Clocks& clocks) : metrics_(metrics), log_(log), clocks_(clocks) {}
  Access(const Access&) = delete;
  Access& operator=(const Access&) = delete;

  // Identity and permissions (Vhost::build, from the options' files).
  // Before any connection opens. Without it: everything open, no tokens.
  void set_settings(auth::AuthSettings settings) { settings_ = std::move(settings); }
  const auth::AuthSettings& settings() const { return settings_; }
  // auth required: a connection must present a valid token.
  bool required() const { return settings_.required; }

  // A WebSocket handshake (or, with `on` saying so, an SSE request): origin
  // (`origin` null when the request carries none: not a browser), then
  // token (null when absent). Refusals counted and logged (never the
  // token's text) with `on` saying what was refused.
  Admission admit(const std::string* origin, const std::string* token, const char* on = "a WebSocket handshake");
  SseAdmission admit_sse(const SseRequest& request);
  // The HTTP API's request with an Origin header: false (counted) when the
  // origin is not allowed.
  bool http_origin_allowed(std::string_view origin);
  // The HTTP API refused a request's api key (it compares; this counts).
  void count_api_key_refused() { metrics_.count_auth_failure(AuthFailure::ApiKey); }

  // Verifies `token` at the wall clock's now. Accepted: nullptr and
  // *claims set. Refused: counted, logged with `who` (never the token) and
  // its reason label returned ("expired", "no_key", ...).
  const char* accept_token(std::string_view token, const std::string& who, auth::TokenClaims* claims);
  // Who a verified token says the bearer is (its expiry aside).
  static auth::Identity identity_of(auth::TokenClaims claims);

  // The namespace rules and personal channels (auth::check) for `action` on
  // `channel` by `who`: true, or false with *why the FORBIDDEN message
  // ("not allowed to publish to c: ..."). Decides only; the caller counts
  // and answers. Once per subscribe or publish, never per delivery.
  bool permits(const auth::Identity& who, std::string_view channel, auth::Action action, std::string* why) const;

 private:
  Metrics& metrics_;
  const Logger& log_;
  const Clocks& clocks_;
  auth::AuthSettings settings_;
};

}  // namespace rtpush
