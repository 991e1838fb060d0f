// Signing a JWT (compact JWS) for rtpush-token: HS256 with a secret, RS256
// or ES256 with a PEM private key (RSA, or EC P-256), the three algorithms
// a vhost verifies (core/auth/token.h). OpenSSL EVP only. Single-threaded
// tool code.
#pragma once
#include <memory>
#include <string>
#include <string_view>

namespace rtpush_token {

class Signer {
 public:
  // HS256 with `secret` (not empty).
  static std::unique_ptr<Signer> hs256(std::string secret);
  // RS256 for an RSA key, ES256 for a P-256 key; null and *error otherwise.
  static std::unique_ptr<Signer> from_private_key_pem(const std::string& pem, std::string* error);
  virtual ~Signer() = default;

  virtual const char* alg() const = 0;
  // The JWS signature of `signing_input` (header.payload), raw bytes as
  // JWS wants them (ES256: r || s, 32 bytes each, not DER). Empty on failure.
  virtual std::string sign(std::string_view signing_input) const = 0;
};

}  // namespace rtpush_token
