// Authentication: who each connection is over its life (SPEC section 8,
// docs/protocol.md "auth"): the handshake's identity, the auth frame
// (authenticate, refresh), `auth required` (anonymous requests refused, 10 s
// to authenticate) and the token's exp. Access (access.h) decides whether a
// token is good; this part applies the answer to a session and keeps the two
// deadlines. The permission checks that use the identity run in
// Subscriptions and Publisher, not here.
//
// Service thread only.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <string_view>

#include "access.h"
#include "clocks.h"
#include "logger.h"
#include "metrics.h"
#include "options.h"
#include "session_table.h"
#include "subscriptions.h"
#include "wire.h"

namespace rtpush {

class Authentication {
 public:
  // Called once a session's identity is first set (handshake token or
  // first auth frame): it joins its user's connections.
  using Authenticated = std::function<void(Session*)>;
  // Holds references: the Node's members, which outlive it.
  Authentication(const Options& options, SessionTable& sessions, Access& access, Subscriptions& subscriptions,
                 Metrics& metrics, const Logger& log, const Clocks& clocks, Authenticated on_authenticated)
      : options_(options),
        sessions_(sessions),
        access_(access),
        subscriptions_(subscriptions),
        metrics_(metrics),
        log_(log),
        clocks_(clocks),
        on_authenticated_(std::move(on_authenticated)) {}
  Authentication(const Authentication&) = delete;
  Authentication& operator=(const Authentication&) = delete;

  // A session opened: the handshake's identity (`admitted` null or not
  // authenticated: anonymous), or the 10 s deadline under auth required.
  void opened(Session* s, const Admission* admitted);
  // An auth frame: authenticate, refresh, or refuse (UNAUTHORIZED, 1008).
  void authenticate(Session* s, const ClientRequest& req);
  // auth required and `s` still anonymous: refuses `req` (UNAUTHORIZED,
  // 1008) and says true. False: it may go on.
  bool refused_anonymous(Session* s, const ClientRequest& req);
  // The session is closing: out of both deadline maps.
  void forget(Session* s) {
    forget_expiry(s);
    forget_auth_deadline(s);
  }
  // Closes (UNAUTHORIZED, 1008) every connection whose token's exp has
  // passed ("token expired") and, with auth required, every one still
  // anonymous 10 s after it opened ("authentication timeout"). Costs what
  // is due, not a pass over the sessions.
  void expire();

 private:
  // The connection is told why (error UNAUTHORIZED) and closed with 1008.
  void unauthorized(Session* s, std::string_view message, std::string_view ref);
  // Sets `s`'s identity from accepted claims and its expiry deadline.
  void set_identity(Session* s, auth::TokenClaims claims);
  void forget_expiry(Session* s);
  void forget_auth_deadline(Session* s);

  const Options& options_;
  SessionTable& sessions_;
  Access& access_;
  Subscriptions& subscriptions_;
  Metrics& metrics_;
  const Logger& log_;
  const Clocks& clocks_;
  Authenticated on_authenticated_;
  // Deadlines, ordered so expire() reads only what is due. Token expiry by
  // wall-clock ms (exp is a Unix time); the 10 s to authenticate by steady
  // ms (it must not move with the wall clock). Values: session serials.
  // Each session holds at most one entry in each, its key kept in the
  // Session (expiry_key, auth_deadline_key) so forget() erases it.
  std::multimap<std::uint64_t, std::uint64_t> expiries_;
  std::multimap<std::int64_t, std::uint64_t> auth_deadlines_;
};

}  // namespace rtpush
