// Tokens made at test time: HS256 over a header and claims given as JSON
// text, with OpenSSL's HMAC and the verifier's own base64url encoder.
#pragma once
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <string>

#include "auth/token.h"

inline std::string mint_hs256(const std::string& secret, const std::string& claims,
                              const std::string& header = R"({"alg":"HS256","typ":"JWT"})") {
  using rtpush::auth::base64url_encode;
  const std::string text = base64url_encode(header) + "." + base64url_encode(claims);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(text.data()), text.size(), mac, &len);
  return text + "." + base64url_encode(std::string(reinterpret_cast<char*>(mac), len));
}
