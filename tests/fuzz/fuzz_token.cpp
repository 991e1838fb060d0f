// libFuzzer target: the token verifier (core/auth/token.h) on any bytes.
// First byte even: the rest is a token, checked as it is (size, split,
// base64url, header, algorithm choice, signatures). Odd: the rest is
// "<header JSON>\n<claims JSON>", signed here with the verifier's own HS256
// secret, so the claims reading is reached too (the fuzzer cannot forge a
// MAC). Whatever is accepted has a user without ',' or '#'; a refusal carries no claims; the
// same token gives the same answer twice.
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "auth/token.h"

using namespace rtpush::auth;

namespace {

const char* const kSecret = "fuzz-secret";
constexpr double kNow = 1700000000;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

std::string b64url(std::string_view in) { return rtpush::auth::base64url_encode(in); }

std::string hs256_token(std::string_view header, std::string_view claims) {
  const std::string text = b64url(header) + "." + b64url(claims);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), kSecret, static_cast<int>(std::string_view(kSecret).size()),
       reinterpret_cast<const unsigned char*>(text.data()), text.size(), mac, &len);
  return text + "." + b64url(std::string_view(reinterpret_cast<char*>(mac), len));
}

// HS256 and a P-256 public key, audience and issuer set: every branch open.
std::unique_ptr<TokenVerifier> make_verifier() {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, key);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  TokenConfig config{kSecret, std::string(data, static_cast<std::size_t>(n)), "app", "iss"};
  BIO_free(bio);
  EVP_PKEY_free(key);
  std::string error;
  auto v = TokenVerifier::create(config, &error);
  check(v != nullptr);
  return v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::unique_ptr<TokenVerifier> verifier = make_verifier();
  if (size == 0) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string token;
  if (data[0] % 2 == 0) {
    token.assign(rest);
  } else {
    const std::size_t nl = rest.find('\n');
    token = nl == std::string_view::npos ? hs256_token(rest, "{}") : hs256_token(rest.substr(0, nl), rest.substr(nl + 1));
  }
  const TokenResult r = verifier->verify(token, kNow);
  check(token_refusal_name(r.refusal) != std::string_view("unknown"));
  if (r.ok()) {
    check(!r.claims.user.empty() && token.size() <= kMaxTokenBytes);
    // ',' and '#' spell a personal channel's user list: never a user.
    check(r.claims.user.find_first_of(",#") == std::string::npos);
    check(!r.claims.expires || *r.claims.expires > kNow);
  } else {
    check(r.claims.user.empty() && r.claims.channels.empty() && r.claims.publish.empty() && !r.claims.expires);
  }
  check(verifier->verify(token, kNow).refusal == r.refusal);
  return 0;
}
