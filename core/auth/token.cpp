// Compact JWS verification; what is accepted and why: token.h.
#include "auth/token.h"

#include <cjson/cJSON.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/objects.h>
#include <openssl/pem.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "json_text.h"

namespace rtpush::auth {

namespace {

// Header and claims are small flat objects; deeper nesting only costs time.
constexpr int kMaxTokenJsonDepth = 32;
constexpr std::size_t kSha256Bytes = 32;
constexpr std::size_t kP256CoordinateBytes = 32;

// Decodes unpadded base64url (RFC 7515 section 2) strictly: its alphabet
// only, no '=', no length that cannot be, and no set bits left over in the
// last character (so one token has exactly one spelling). By hand because
// OpenSSL's decoder knows only the '+' '/' alphabet, wants padding and
// skips whitespace.
int base64url_value(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

bool base64url_decode(std::string_view in, std::string* out) {
  if (in.size() % 4 == 1) return false;
  out->clear();
  out->reserve(in.size() / 4 * 3 + 2);
  std::uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : in) {
    const int v = base64url_value(c);
    if (v < 0) return false;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return (acc & ((1u << bits) - 1)) == 0;  // leftover bits must be zero
}

struct JsonDeleter {
  void operator()(cJSON* j) const { cJSON_Delete(j); }
};
using JsonPtr = std::unique_ptr<cJSON, JsonDeleter>;

// The object in `text`, or null when it is not strict JSON, not an object,
// names a member twice (RFC 7519 section 4 allows refusing that, and two
// readers of one token must never see two different claims), or holds an
// escaped NUL (cJSON would cut the string there, so "a\u0000b" would read as
// "a").
JsonPtr parse_object(const std::string& text) {
  std::string min;
  std::vector<JsonMember> members;
  if (json_strict(text, &min, kMaxTokenJsonDepth, &members) != nullptr) return nullptr;
  if (min.empty() || min[0] != '{') return nullptr;
  for (std::size_t i = min.find("\\u"); i != std::string::npos; i = min.find("\\u", i + 2))
    if (min.compare(i + 2, 4, "0000") == 0) return nullptr;
  std::vector<std::string> names(members.size());
  for (std::size_t i = 0; i < members.size(); ++i)
    json_unescape(std::string_view(min).substr(members[i].key, members[i].key_len), &names[i]);
  std::sort(names.begin(), names.end());
  if (std::adjacent_find(names.begin(), names.end()) != names.end()) return nullptr;
  JsonPtr root(cJSON_ParseWithLength(min.data(), min.size()));
  if (!root || !cJSON_IsObject(root.get())) return nullptr;
  return root;
}

const cJSON* member(const cJSON* object, const char* name) {
  return cJSON_GetObjectItemCaseSensitive(object, name);
}

// An absent claim is fine; a present one must be an array of strings.
bool string_array(const cJSON* item, std::vector<std::string>* out) {
  if (!item) return true;
  if (!cJSON_IsArray(item)) return false;
  for (const cJSON* e = item->child; e; e = e->next) {
    if (!cJSON_IsString(e)) return false;
    out->emplace_back(e->valuestring);
  }
  return true;
}

bool audience_holds(const cJSON* aud, const std::string& audience) {
  if (cJSON_IsString(aud)) return audience == aud->valuestring;
  for (const cJSON* e = aud ? aud->child : nullptr; e; e = e->next)
    if (cJSON_IsString(e) && audience == e->valuestring) return true;
  return false;
}

bool audience_well_formed(const cJSON* aud) {
  if (!aud || cJSON_IsString(aud)) return true;
  if (!cJSON_IsArray(aud)) return false;
  for (const cJSON* e = aud->child; e; e = e->next)
    if (!cJSON_IsString(e)) return false;
  return true;
}

struct PkeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
struct SigDeleter {
  void operator()(ECDSA_SIG* s) const { ECDSA_SIG_free(s); }
};

const unsigned char* bytes(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }

// JOSE carries an ES256 signature as r||s, 32 bytes each (RFC 7518
// section 3.4); OpenSSL verifies the DER ECDSA-Sig-Value.
bool es256_to_der(const std::string& jose, std::string* der) {
  if (jose.size() != 2 * kP256CoordinateBytes) return false;
  std::unique_ptr<ECDSA_SIG, SigDeleter> sig(ECDSA_SIG_new());
  BIGNUM* r = BN_bin2bn(bytes(jose), kP256CoordinateBytes, nullptr);
  BIGNUM* s = BN_bin2bn(bytes(jose) + kP256CoordinateBytes, kP256CoordinateBytes, nullptr);
  if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    return false;
  }
  unsigned char* out = nullptr;
  const int n = i2d_ECDSA_SIG(sig.get(), &out);
  if (n <= 0) return false;
  der->assign(reinterpret_cast<char*>(out), static_cast<std::size_t>(n));
  OPENSSL_free(out);
  return true;
}

bool pkey_verifies(EVP_PKEY* key, std::string_view signed_text, const std::string& signature) {
  std::unique_ptr<EVP_MD_CTX, MdCtxDeleter> ctx(EVP_MD_CTX_new());
  return ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) == 1 &&
         EVP_DigestVerify(ctx.get(), bytes(signature), signature.size(), bytes(signed_text), signed_text.size()) == 1;
}

bool hs256_verifies(const std::string& secret, std::string_view signed_text, const std::string& signature) {
  if (signature.size() != kSha256Bytes) return false;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (!HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()), bytes(signed_text), signed_text.size(), mac,
            &len) ||
      len != kSha256Bytes)
    return false;
  return CRYPTO_memcmp(mac, signature.data(), kSha256Bytes) == 0;  // constant time
}

bool is_p256(EVP_PKEY* key) {
  char name[64] = {0};
  std::size_t len = 0;
  if (EVP_PKEY_get_group_name(key, name, sizeof name, &len) != 1) return false;
  int nid = OBJ_sn2nid(name);
  if (nid == NID_undef) nid = EC_curve_nist2nid(name);
  return nid == NID_X9_62_prime256v1;
}

// A time claim: absent, a number (kept), or refused.
bool time_claim(const cJSON* item, std::optional<double>* out) {
  if (!item) return true;
  if (!cJSON_IsNumber(item) || std::isnan(item->valuedouble)) return false;
  *out = item->valuedouble;
  return true;
}

}  // namespace

std::string base64url_encode(std::string_view bytes) {
  static const char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  std::uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : bytes) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(acc >> bits) & 63]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(acc << (6 - bits)) & 63]);
  return out;
}

const char* token_refusal_name(TokenRefusal reason) {
  switch (reason) {
    case TokenRefusal::None: return "none";
    case TokenRefusal::TooLarge: return "too_large";
    case TokenRefusal::Malformed: return "malformed";
    case TokenRefusal::BadHeader: return "bad_header";
    case TokenRefusal::AlgNone: return "alg_none";
    case TokenRefusal::AlgNotAllowed: return "alg_not_allowed";
    case TokenRefusal::BadSignature: return "bad_signature";
    case TokenRefusal::BadClaims: return "bad_claims";
    case TokenRefusal::BadSubject: return "bad_subject";
    case TokenRefusal::BadTime: return "bad_time";
    case TokenRefusal::Expired: return "expired";
    case TokenRefusal::NotYetValid: return "not_yet_valid";
    case TokenRefusal::WrongAudience: return "wrong_audience";
    case TokenRefusal::WrongIssuer: return "wrong_issuer";
  }
  return "unknown";
}

struct TokenVerifier::Keys {
  std::string secret;
  std::unique_ptr<EVP_PKEY, PkeyDeleter> public_key;
  const char* public_alg = nullptr;  // "RS256" or "ES256" with a public key
  std::string audience, issuer;
  double leeway = 0;
};

TokenVerifier::TokenVerifier(std::unique_ptr<Keys> keys) : keys_(std::move(keys)) {}
TokenVerifier::~TokenVerifier() = default;

std::unique_ptr<TokenVerifier> TokenVerifier::create(const TokenConfig& config, std::string* error) {
  auto keys = std::make_unique<Keys>();
  keys->secret = config.hs256_secret;
  keys->audience = config.audience;
  keys->issuer = config.issuer;
  keys->leeway = config.leeway_secs;
  if (config.hs256_secret.empty() && config.public_key_pem.empty()) {
    *error = "no key: set jwt-secret-file or jwt-public-key-file";
    return nullptr;
  }
  if (!config.public_key_pem.empty()) {
    BIO* bio = BIO_new_mem_buf(config.public_key_pem.data(), static_cast<int>(config.public_key_pem.size()));
    keys->public_key.reset(bio ? PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr) : nullptr);
    BIO_free(bio);
    ERR_clear_error();  // lws reads this thread's OpenSSL error queue for TLS
    if (!keys->public_key) {
      *error = "jwt-public-key-file: not a PEM public key";
      return nullptr;
    }
    const int type = EVP_PKEY_get_base_id(keys->public_key.get());
    if (type == EVP_PKEY_RSA) {
      keys->public_alg = "RS256";
    } else if (type == EVP_PKEY_EC && is_p256(keys->public_key.get())) {
      keys->public_alg = "ES256";
    } else {
      *error = "jwt-public-key-file: neither an RSA nor a P-256 key";
      return nullptr;
    }
  }
  return std::unique_ptr<TokenVerifier>(new TokenVerifier(std::move(keys)));
}

TokenResult TokenVerifier::verify(std::string_view token, double now_seconds) const {
  TokenResult result;
  auto refuse = [&result](TokenRefusal why) {
    result.refusal = why;
    result.claims = TokenClaims{};
    return result;
  };
  if (token.size() > kMaxTokenBytes) return refuse(TokenRefusal::TooLarge);

  const std::size_t dot1 = token.find('.');
  const std::size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos)
    return refuse(TokenRefusal::Malformed);
  const std::string_view signed_text = token.substr(0, dot2);
  std::string header_text, payload_text, signature;
  if (!base64url_decode(token.substr(0, dot1), &header_text) ||
      !base64url_decode(token.substr(dot1 + 1, dot2 - dot1 - 1), &payload_text) ||
      !base64url_decode(token.substr(dot2 + 1), &signature))
    return refuse(TokenRefusal::Malformed);

  // The header decides the algorithm, but only among those our keys allow:
  // never the token's choice of key (no HMAC keyed with the public PEM).
  const JsonPtr header = parse_object(header_text);
  if (!header) return refuse(TokenRefusal::BadHeader);
  const cJSON* alg = member(header.get(), "alg");
  if (!cJSON_IsString(alg)) return refuse(TokenRefusal::BadHeader);
  // No extension is understood, so a critical one refuses (RFC 7515 4.1.11).
  if (member(header.get(), "crit")) return refuse(TokenRefusal::BadHeader);
  const std::string_view alg_name = alg->valuestring;
  bool verified = false;
  if (alg_name == "none" || alg_name == "None" || alg_name == "NONE") {
    return refuse(TokenRefusal::AlgNone);
  } else if (alg_name == "HS256" && !keys_->secret.empty()) {
    verified = hs256_verifies(keys_->secret, signed_text, signature);
  } else if (keys_->public_alg && alg_name == keys_->public_alg) {
    std::string der;
    if (alg_name == "ES256")
      verified = es256_to_der(signature, &der) && pkey_verifies(keys_->public_key.get(), signed_text, der);
    else
      verified = pkey_verifies(keys_->public_key.get(), signed_text, signature);
    ERR_clear_error();  // a failed verify leaves entries; lws reads the queue for TLS
  } else {
    return refuse(TokenRefusal::AlgNotAllowed);
  }
  if (!verified) return refuse(TokenRefusal::BadSignature);

  const JsonPtr claims = parse_object(payload_text);
  if (!claims) return refuse(TokenRefusal::BadClaims);
  const cJSON* sub = member(claims.get(), "sub");
  // ',' and '#' spell a personal channel's user list (channel_rules.h):
  // a sub holding one could not be told apart from a list.
  if (!cJSON_IsString(sub) || sub->valuestring[0] == '\0' || std::strpbrk(sub->valuestring, ",#"))
    return refuse(TokenRefusal::BadSubject);
  std::optional<double> exp, nbf;
  if (!time_claim(member(claims.get(), "exp"), &exp) || !time_claim(member(claims.get(), "nbf"), &nbf))
    return refuse(TokenRefusal::BadTime);
  const cJSON* aud = member(claims.get(), "aud");
  const cJSON* iss = member(claims.get(), "iss");
  TokenClaims& c = result.claims;
  if (!audience_well_formed(aud) || (iss && !cJSON_IsString(iss)) ||
      !string_array(member(claims.get(), "channels"), &c.channels) ||
      !string_array(member(claims.get(), "publish"), &c.publish))
    return refuse(TokenRefusal::BadClaims);
  // The leeway widens the window on both sides: the issuer's clock and
  // ours may disagree either way.
  if (exp && now_seconds >= *exp + keys_->leeway) return refuse(TokenRefusal::Expired);
  if (nbf && now_seconds < *nbf - keys_->leeway) return refuse(TokenRefusal::NotYetValid);
  if (!keys_->audience.empty() && !audience_holds(aud, keys_->audience)) return refuse(TokenRefusal::WrongAudience);
  if (!keys_->issuer.empty() && !(iss && keys_->issuer == iss->valuestring)) return refuse(TokenRefusal::WrongIssuer);
  c.user = sub->valuestring;
  c.expires = exp;
  return result;
}

}  // namespace rtpush::auth
