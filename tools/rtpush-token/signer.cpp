#include "signer.h"

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include <cstring>
#include <vector>

namespace rtpush_token {
namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

class HmacSigner final : public Signer {
 public:
  explicit HmacSigner(std::string secret) : secret_(std::move(secret)) {}
  const char* alg() const override { return "HS256"; }
  std::string sign(std::string_view input) const override {
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!HMAC(EVP_sha256(), secret_.data(), static_cast<int>(secret_.size()),
              reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len))
      return {};
    return std::string(reinterpret_cast<char*>(mac), len);
  }

 private:
  std::string secret_;
};

class KeySigner final : public Signer {
 public:
  KeySigner(PkeyPtr key, bool ec) : key_(std::move(key)), ec_(ec) {}
  const char* alg() const override { return ec_ ? "ES256" : "RS256"; }
  std::string sign(std::string_view input) const override {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    std::size_t len = 0;
    if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key_.get()) != 1 ||
        EVP_DigestSign(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(input.data()),
                       input.size()) != 1)
      return {};
    std::vector<unsigned char> sig(len);
    if (EVP_DigestSign(ctx.get(), sig.data(), &len, reinterpret_cast<const unsigned char*>(input.data()),
                       input.size()) != 1)
      return {};
    sig.resize(len);
    if (!ec_) return std::string(sig.begin(), sig.end());
    return der_to_jws(sig);
  }

 private:
  // OpenSSL gives ECDSA signatures in DER; JWS (RFC 7518 3.4) wants the
  // two 32-byte integers side by side.
  static std::string der_to_jws(const std::vector<unsigned char>& der) {
    const unsigned char* p = der.data();
    std::unique_ptr<ECDSA_SIG, decltype(&ECDSA_SIG_free)> s(
        d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())), ECDSA_SIG_free);
    if (!s) return {};
    const BIGNUM* r = nullptr;
    const BIGNUM* sv = nullptr;
    ECDSA_SIG_get0(s.get(), &r, &sv);
    unsigned char out[64];
    if (BN_bn2binpad(r, out, 32) != 32 || BN_bn2binpad(sv, out + 32, 32) != 32) return {};
    return std::string(reinterpret_cast<char*>(out), sizeof out);
  }

  PkeyPtr key_;
  bool ec_;
};

bool is_p256(EVP_PKEY* key) {
  char group[64] = {0};
  std::size_t len = 0;
  return EVP_PKEY_get_group_name(key, group, sizeof group, &len) == 1 &&
         (std::strcmp(group, "prime256v1") == 0 || std::strcmp(group, "P-256") == 0);
}

}  // namespace

std::unique_ptr<Signer> Signer::hs256(std::string secret) {
  return std::make_unique<HmacSigner>(std::move(secret));
}

std::unique_ptr<Signer> Signer::from_private_key_pem(const std::string& pem, std::string* error) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  // A callback that gives no passphrase: OpenSSL's default would prompt on the terminal.
  pem_password_cb* no_passphrase = [](char*, int, int, void*) { return 0; };
  PkeyPtr key(bio ? PEM_read_bio_PrivateKey(bio, nullptr, no_passphrase, nullptr) : nullptr);
  BIO_free(bio);
  ERR_clear_error();
  if (!key) {
    *error = "not a PEM private key (an encrypted key is not supported)";
    return nullptr;
  }
  const int type = EVP_PKEY_get_base_id(key.get());
  if (type == EVP_PKEY_RSA) return std::make_unique<KeySigner>(std::move(key), false);
  if (type == EVP_PKEY_EC && is_p256(key.get())) return std::make_unique<KeySigner>(std::move(key), true);
  *error = "neither an RSA nor a P-256 (prime256v1) key";
  return nullptr;
}

}  // namespace rtpush_token
