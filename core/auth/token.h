// Token verification: a JWT (RFC 7519) in compact JWS form (RFC 7515), as
// docs/ and the README describe the vhost options jwt-secret-file,
// jwt-public-key-file, jwt-audience and jwt-issuer. Pure: no I/O, no lws,
// the clock is the caller's; safe to call from any thread at once.
//
// Signatures with OpenSSL's EVP (already a dependency, so no new one, and
// the MAC comparison is its CRYPTO_memcmp); claims read with cJSON after the
// project's strict JSON reader (json_text.h) has accepted the text. Debian's
// libjwt 1.10 would have been a second JSON library (jansson) and decides
// for itself which algorithms a key may verify, the very choice that must
// stay ours here (no `none`, no HS256 keyed with a public key's PEM).
//
// A refusal carries a reason only, never any of the token's text: callers
// count it (rtpush_auth_failures_total{reason}) and log it as it is.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rtpush::auth {

// Tokens longer than this are refused before any decoding.
inline constexpr std::size_t kMaxTokenBytes = 8192;

// Why a token was refused. token_refusal_name() gives each a stable,
// lower-case label for metrics and logs.
enum class TokenRefusal {
  None,           // accepted
  TooLarge,       // longer than kMaxTokenBytes
  Malformed,      // not three base64url parts separated by '.'
  BadHeader,      // header not a JSON object, no string `alg`, or a `crit`
  AlgNone,        // `alg` "none": an unsigned token
  AlgNotAllowed,  // an `alg` the configured keys cannot verify
  BadSignature,   // signature does not verify with the configured key
  BadClaims,      // payload not a JSON object, a claim named twice, or a
                  // claim of the wrong type (`channels`, `publish`, `aud`, `iss`)
  BadSubject,     // `sub` missing, not a string, empty, or holding ',' or '#'
  BadTime,        // `exp` or `nbf` not a number
  Expired,        // now >= exp + leeway
  NotYetValid,    // now < nbf - leeway
  WrongAudience,  // jwt-audience set and not in `aud`
  WrongIssuer,    // jwt-issuer set and not `iss`
};

const char* token_refusal_name(TokenRefusal reason);

// Unpadded base64url (RFC 7515 section 2), the encoding of a token's three
// parts: what minting a token needs (tests, tools).
std::string base64url_encode(std::string_view bytes);

// What an accepted token says.
struct TokenClaims {
  std::string user;                     // `sub`
  std::optional<double> expires;        // `exp`, seconds since the epoch
  std::vector<std::string> channels;    // `channels`: subscribe grants
  std::vector<std::string> publish;     // `publish`: publish grants
};

struct TokenResult {
  TokenRefusal refusal = TokenRefusal::None;
  TokenClaims claims;  // set only when accepted
  bool ok() const { return refusal == TokenRefusal::None; }
};

// The keys and expectations of one vhost. At least one key.
struct TokenConfig {
  std::string hs256_secret;    // HS256 accepted when not empty
  std::string public_key_pem;  // RS256 (RSA key) or ES256 (P-256 key) accepted when not empty
  std::string audience;        // when set, `aud` (string or array) must hold it
  std::string issuer;          // when set, `iss` must equal it
  double leeway_secs = 0;      // jwt-leeway-secs: clock skew allowed on `exp` and `nbf`
};

class TokenVerifier {
 public:
  // nullptr and `*error` set (no key material in it) when there is no key,
  // the PEM is not a public key, or the key is neither RSA nor P-256.
  static std::unique_ptr<TokenVerifier> create(const TokenConfig& config, std::string* error);
  ~TokenVerifier();
  TokenVerifier(const TokenVerifier&) = delete;
  TokenVerifier& operator=(const TokenVerifier&) = delete;

  // Checks `token` at wall-clock time `now_seconds` (seconds since the epoch).
  TokenResult verify(std::string_view token, double now_seconds) const;

 private:
  struct Keys;
  explicit TokenVerifier(std::unique_ptr<Keys> keys);
  std::unique_ptr<Keys> keys_;
};

}  // namespace rtpush::auth
