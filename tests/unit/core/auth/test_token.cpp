// Token verification (core/auth/token.h): keys made here with OpenSSL
// (RSA 2048, P-256, and a P-384 the verifier must refuse), tokens signed
// here, one table of accepted and refused tokens. The last test prints the
// cost of one verification per algorithm.
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <tuple>
#include <memory>
#include <string>

#include "auth/token.h"
#include "cmocka_cpp.h"

using namespace rtpush::auth;

namespace {

constexpr double kNow = 1700000000;
const char* const kSecret = "a-test-secret-of-some-length";

struct Pkey {
  EVP_PKEY* k = nullptr;
  ~Pkey() { EVP_PKEY_free(k); }
};
Pkey rsa_key, rsa_other_key, ec_key, ec384_key;
std::string rsa_pem, ec_pem, ec384_pem;

std::string public_pem(EVP_PKEY* k) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, k);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<std::size_t>(n));
  BIO_free(bio);
  return pem;
}

std::string b64url(std::string_view in) { return rtpush::auth::base64url_encode(in); }

const unsigned char* u8(const std::string& s) { return reinterpret_cast<const unsigned char*>(s.data()); }

std::string hmac(const std::string& key, const std::string& text) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), u8(text), text.size(), mac, &len);
  return std::string(reinterpret_cast<char*>(mac), len);
}

std::string pkey_sign(EVP_PKEY* k, const std::string& text) {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  std::size_t len = 0;
  EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, k);
  EVP_DigestSign(ctx, nullptr, &len, u8(text), text.size());
  std::string sig(len, '\0');
  EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(&sig[0]), &len, u8(text), text.size());
  EVP_MD_CTX_free(ctx);
  sig.resize(len);
  return sig;
}

// The DER signature OpenSSL makes, as JOSE's r||s (32 bytes each).
std::string es256_sign(EVP_PKEY* k, const std::string& text) {
  const std::string der = pkey_sign(k, text);
  const unsigned char* p = u8(der);
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
  std::string out(64, '\0');
  BN_bn2binpad(ECDSA_SIG_get0_r(sig), reinterpret_cast<unsigned char*>(&out[0]), 32);
  BN_bn2binpad(ECDSA_SIG_get0_s(sig), reinterpret_cast<unsigned char*>(&out[32]), 32);
  ECDSA_SIG_free(sig);
  return out;
}

enum class Sign { Hs, HsWrongSecret, HsOverRsaPem, Rs, RsOtherKey, Es, EsTruncated, EsDer, Empty };

std::string sign(Sign how, const std::string& text) {
  switch (how) {
    case Sign::Hs: return hmac(kSecret, text);
    case Sign::HsWrongSecret: return hmac("another-secret", text);
    case Sign::HsOverRsaPem: return hmac(rsa_pem, text);  // the classic algorithm confusion
    case Sign::Rs: return pkey_sign(rsa_key.k, text);
    case Sign::RsOtherKey: return pkey_sign(rsa_other_key.k, text);
    case Sign::Es: return es256_sign(ec_key.k, text);
    case Sign::EsTruncated: return es256_sign(ec_key.k, text).substr(0, 63);
    case Sign::EsDer: return pkey_sign(ec_key.k, text);  // not the JOSE form
    case Sign::Empty: return "";
  }
  return "";
}

std::string make_token(const std::string& header, const std::string& payload, Sign how) {
  const std::string text = b64url(header) + "." + b64url(payload);
  return text + "." + b64url(sign(how, text));
}

const char* const kHs = R"({"alg":"HS256","typ":"JWT"})";
const char* const kRs = R"({"alg":"RS256","typ":"JWT"})";
const char* const kEs = R"({"alg":"ES256","typ":"JWT"})";
const char* const kUser = R"({"sub":"42","exp":1700000100,"channels":["news","chat:*"],"publish":["chat:1"]})";

enum class Verifier { Secret, Rsa, Ec, Both, RsaAudIss };

std::unique_ptr<TokenVerifier> verifiers[5];

struct Case {
  const char* name;
  Verifier verifier;
  std::string token;  // made in run_table (keys exist by then)
  TokenRefusal expect;
};

// Names every case that goes wrong, not only the first.
bool check_case(const Case& c) {
  const TokenResult r = verifiers[static_cast<int>(c.verifier)]->verify(c.token, kNow);
  if (r.refusal != c.expect) {
    std::fprintf(stderr, "case '%s': got %s, expected %s\n", c.name, token_refusal_name(r.refusal),
                 token_refusal_name(c.expect));
    return false;
  }
  return r.ok() || (r.claims.user.empty() && r.claims.channels.empty() && !r.claims.expires);
}

}  // namespace

static int make_keys(void**) {
  rsa_key.k = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(2048));
  rsa_other_key.k = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(2048));
  ec_key.k = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  ec384_key.k = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384");
  if (!rsa_key.k || !rsa_other_key.k || !ec_key.k || !ec384_key.k) return -1;
  rsa_pem = public_pem(rsa_key.k);
  ec_pem = public_pem(ec_key.k);
  ec384_pem = public_pem(ec384_key.k);
  std::string error;
  verifiers[0] = TokenVerifier::create({kSecret, "", "", ""}, &error);
  verifiers[1] = TokenVerifier::create({"", rsa_pem, "", ""}, &error);
  verifiers[2] = TokenVerifier::create({"", ec_pem, "", ""}, &error);
  verifiers[3] = TokenVerifier::create({kSecret, rsa_pem, "", ""}, &error);
  verifiers[4] = TokenVerifier::create({"", rsa_pem, "app", "https://issuer"}, &error);
  for (auto& v : verifiers)
    if (!v) return -1;
  return 0;
}

static void accepted_tokens_give_their_claims(void**) {
  for (auto [v, header, how] : {std::tuple{Verifier::Secret, kHs, Sign::Hs}, std::tuple{Verifier::Rsa, kRs, Sign::Rs},
                                std::tuple{Verifier::Ec, kEs, Sign::Es}, std::tuple{Verifier::Both, kHs, Sign::Hs},
                                std::tuple{Verifier::Both, kRs, Sign::Rs}}) {
    const TokenResult r = verifiers[static_cast<int>(v)]->verify(make_token(header, kUser, how), kNow);
    assert_true(r.ok());
    assert_string_equal(r.claims.user.c_str(), "42");
    assert_true(r.claims.expires && *r.claims.expires == 1700000100);
    assert_int_equal(r.claims.channels.size(), 2);
    assert_string_equal(r.claims.channels[1].c_str(), "chat:*");
    assert_int_equal(r.claims.publish.size(), 1);
    assert_string_equal(r.claims.publish[0].c_str(), "chat:1");
  }
  const TokenResult bare = verifiers[0]->verify(make_token(kHs, R"({"sub":"u"})", Sign::Hs), kNow);
  assert_true(bare.ok() && !bare.claims.expires && bare.claims.channels.empty() && bare.claims.publish.empty());
}

static void every_refusal_has_its_reason(void**) {
  using R = TokenRefusal;
  using V = Verifier;
  const std::string good = make_token(kHs, kUser, Sign::Hs);
  const std::string p = b64url(kUser);
  std::string big_claims = R"({"sub":"42","pad":")" + std::string(6200, 'x') + "\"}";
  const std::string fits = make_token(kHs, big_claims, Sign::Hs);  // about 8.3 KB: trim to the limit
  big_claims.resize(big_claims.size() - 2 - (fits.size() - kMaxTokenBytes) * 3 / 4 - 3);
  big_claims += "\"}";
  std::string at_limit = make_token(kHs, big_claims, Sign::Hs);
  while (at_limit.size() < kMaxTokenBytes) {  // grow a byte at a time to exactly 8192
    big_claims.insert(big_claims.size() - 2, "y");
    at_limit = make_token(kHs, big_claims, Sign::Hs);
  }
  assert_int_equal(at_limit.size(), kMaxTokenBytes);
  big_claims.insert(big_claims.size() - 2, "yyy");
  const std::string over_limit = make_token(kHs, big_claims, Sign::Hs);
  assert_true(over_limit.size() > kMaxTokenBytes);

  const Case table[] = {
      {"exactly 8 KB", V::Secret, at_limit, R::None},
      {"over 8 KB", V::Secret, over_limit, R::TooLarge},
      {"over 8 KB of dots", V::Secret, std::string(kMaxTokenBytes + 1, '.'), R::TooLarge},
      {"empty", V::Secret, "", R::Malformed},
      {"two parts", V::Secret, good.substr(0, good.rfind('.')), R::Malformed},
      {"four parts", V::Secret, good + ".AA", R::Malformed},
      {"truncated signature", V::Secret, good.substr(0, good.size() - 1), R::Malformed},
      {"truncated to a dot", V::Secret, good.substr(0, good.find('.') + 1), R::Malformed},
      {"standard base64 alphabet", V::Secret, "eyJ+." + p + ".AA", R::Malformed},
      {"padding", V::Secret, b64url(kHs) + "=." + p + ".AA", R::Malformed},
      {"space", V::Secret, " " + good, R::Malformed},
      {"header not JSON", V::Secret, make_token("{alg:HS256}", kUser, Sign::Hs), R::BadHeader},
      {"header an array", V::Secret, make_token(R"(["HS256"])", kUser, Sign::Hs), R::BadHeader},
      {"header a string", V::Secret, make_token(R"("HS256")", kUser, Sign::Hs), R::BadHeader},
      {"header trailing bytes", V::Secret, make_token(R"({"alg":"HS256"}x)", kUser, Sign::Hs), R::BadHeader},
      {"header without alg", V::Secret, make_token(R"({"typ":"JWT"})", kUser, Sign::Hs), R::BadHeader},
      {"alg a number", V::Secret, make_token(R"({"alg":256})", kUser, Sign::Hs), R::BadHeader},
      {"alg twice", V::Secret, make_token(R"({"alg":"HS256","alg":"none"})", kUser, Sign::Hs), R::BadHeader},
      {"crit", V::Secret, make_token(R"({"alg":"HS256","crit":["b64"],"b64":false})", kUser, Sign::Hs),
       R::BadHeader},
      {"alg none", V::Secret, make_token(R"({"alg":"none"})", kUser, Sign::Empty), R::AlgNone},
      {"alg none, public key", V::Rsa, make_token(R"({"alg":"none"})", kUser, Sign::Empty), R::AlgNone},
      {"HS256 on RSA key, HMAC over its PEM", V::Rsa, make_token(kHs, kUser, Sign::HsOverRsaPem), R::AlgNotAllowed},
      {"HS256 on EC key", V::Ec, make_token(kHs, kUser, Sign::Hs), R::AlgNotAllowed},
      {"RS256 on secret only", V::Secret, make_token(kRs, kUser, Sign::Rs), R::AlgNotAllowed},
      {"ES256 on secret only", V::Secret, make_token(kEs, kUser, Sign::Es), R::AlgNotAllowed},
      {"ES256 on RSA key", V::Rsa, make_token(kEs, kUser, Sign::Es), R::AlgNotAllowed},
      {"RS256 on EC key", V::Ec, make_token(kRs, kUser, Sign::Rs), R::AlgNotAllowed},
      {"HS512", V::Secret, make_token(R"({"alg":"HS512"})", kUser, Sign::Hs), R::AlgNotAllowed},
      {"lower-case hs256", V::Secret, make_token(R"({"alg":"hs256"})", kUser, Sign::Hs), R::AlgNotAllowed},
      {"wrong secret", V::Secret, make_token(kHs, kUser, Sign::HsWrongSecret), R::BadSignature},
      {"HS256 empty signature", V::Secret, make_token(kHs, kUser, Sign::Empty), R::BadSignature},
      {"RS256 other key", V::Rsa, make_token(kRs, kUser, Sign::RsOtherKey), R::BadSignature},
      {"RS256 empty signature", V::Rsa, make_token(kRs, kUser, Sign::Empty), R::BadSignature},
      {"ES256 63 bytes", V::Ec, make_token(kEs, kUser, Sign::EsTruncated), R::BadSignature},
      {"ES256 DER, not r||s", V::Ec, make_token(kEs, kUser, Sign::EsDer), R::BadSignature},
      {"payload swapped after signing", V::Secret,
       good.substr(0, good.find('.') + 1) + b64url(R"({"sub":"admin"})") + good.substr(good.rfind('.')),
       R::BadSignature},
      {"payload not JSON", V::Secret, make_token(kHs, "{sub:42}", Sign::Hs), R::BadClaims},
      {"payload an array", V::Secret, make_token(kHs, R"(["42"])", Sign::Hs), R::BadClaims},
      {"sub twice", V::Secret, make_token(kHs, R"({"sub":"42","sub":"7"})", Sign::Hs), R::BadClaims},
      {"sub twice, one escaped", V::Secret, make_token(kHs, R"({"sub":"42","s\u0075b":"7"})", Sign::Hs),
       R::BadClaims},
      {"escaped NUL", V::Secret, make_token(kHs, R"({"sub":"4\u00002"})", Sign::Hs), R::BadClaims},
      {"invalid UTF-8", V::Secret, make_token(kHs, "{\"sub\":\"\xff\"}", Sign::Hs), R::BadClaims},
      {"channels a string", V::Secret, make_token(kHs, R"({"sub":"42","channels":"news"})", Sign::Hs), R::BadClaims},
      {"channels holds a number", V::Secret, make_token(kHs, R"({"sub":"42","channels":["a",1]})", Sign::Hs),
       R::BadClaims},
      {"publish an object", V::Secret, make_token(kHs, R"({"sub":"42","publish":{}})", Sign::Hs), R::BadClaims},
      {"aud a number", V::Secret, make_token(kHs, R"({"sub":"42","aud":1})", Sign::Hs), R::BadClaims},
      {"iss an array", V::Secret, make_token(kHs, R"({"sub":"42","iss":["x"]})", Sign::Hs), R::BadClaims},
      {"no sub", V::Secret, make_token(kHs, R"({"exp":1700000100})", Sign::Hs), R::BadSubject},
      {"sub a number", V::Secret, make_token(kHs, R"({"sub":42})", Sign::Hs), R::BadSubject},
      {"sub null", V::Secret, make_token(kHs, R"({"sub":null})", Sign::Hs), R::BadSubject},
      {"sub empty", V::Secret, make_token(kHs, R"({"sub":""})", Sign::Hs), R::BadSubject},
      // A personal channel's user list is comma-separated after '#': such a
      // sub could never be told apart from a list (dm#42,7 read as "42,7").
      {"sub with a comma", V::Secret, make_token(kHs, R"({"sub":"42,7"})", Sign::Hs), R::BadSubject},
      {"sub with a #", V::Secret, make_token(kHs, R"({"sub":"dm#42"})", Sign::Hs), R::BadSubject},
      {"exp a string", V::Secret, make_token(kHs, R"({"sub":"42","exp":"1700000100"})", Sign::Hs), R::BadTime},
      {"nbf a string", V::Secret, make_token(kHs, R"({"sub":"42","nbf":"0"})", Sign::Hs), R::BadTime},
      {"exp null", V::Secret, make_token(kHs, R"({"sub":"42","exp":null})", Sign::Hs), R::BadTime},
      {"expired", V::Secret, make_token(kHs, R"({"sub":"42","exp":1699999999})", Sign::Hs), R::Expired},
      {"expires now", V::Secret, make_token(kHs, R"({"sub":"42","exp":1700000000})", Sign::Hs), R::Expired},
      {"expires in 0.5 s", V::Secret, make_token(kHs, R"({"sub":"42","exp":1700000000.5})", Sign::Hs), R::None},
      {"exp past any clock", V::Secret, make_token(kHs, R"({"sub":"42","exp":1e400})", Sign::Hs), R::None},
      {"exp -1e400", V::Secret, make_token(kHs, R"({"sub":"42","exp":-1e400})", Sign::Hs), R::Expired},
      {"not yet valid", V::Secret, make_token(kHs, R"({"sub":"42","nbf":1700000001})", Sign::Hs), R::NotYetValid},
      {"valid from now", V::Secret, make_token(kHs, R"({"sub":"42","nbf":1700000000})", Sign::Hs), R::None},
      {"aud and iss match", V::RsaAudIss,
       make_token(kRs, R"({"sub":"42","aud":"app","iss":"https://issuer"})", Sign::Rs), R::None},
      {"aud array holds it", V::RsaAudIss,
       make_token(kRs, R"({"sub":"42","aud":["x","app"],"iss":"https://issuer"})", Sign::Rs), R::None},
      {"aud missing", V::RsaAudIss, make_token(kRs, R"({"sub":"42","iss":"https://issuer"})", Sign::Rs),
       R::WrongAudience},
      {"aud other", V::RsaAudIss, make_token(kRs, R"({"sub":"42","aud":"ap","iss":"https://issuer"})", Sign::Rs),
       R::WrongAudience},
      {"aud array without it", V::RsaAudIss,
       make_token(kRs, R"({"sub":"42","aud":["x"],"iss":"https://issuer"})", Sign::Rs), R::WrongAudience},
      {"iss missing", V::RsaAudIss, make_token(kRs, R"({"sub":"42","aud":"app"})", Sign::Rs), R::WrongIssuer},
      {"iss other", V::RsaAudIss, make_token(kRs, R"({"sub":"42","aud":"app","iss":"https://evil"})", Sign::Rs),
       R::WrongIssuer},
      {"aud not checked when unset", V::Secret, make_token(kHs, R"({"sub":"42","aud":"x","iss":"y"})", Sign::Hs),
       R::None},
  };
  int failed = 0;
  for (const Case& c : table) failed += !check_case(c);
  assert_int_equal(failed, 0);
}

// jwt-leeway-secs widens exp and nbf by the same skew, both ways, and no
// further: kNow is 1700000000, the leeway 30.
static void leeway_allows_clock_skew_and_no_more(void**) {
  std::string error;
  TokenConfig config;
  config.hs256_secret = kSecret;
  config.leeway_secs = 30;
  const auto v = TokenVerifier::create(config, &error);
  assert_non_null(v.get());
  auto with = [](const char* claims) { return make_token(kHs, claims, Sign::Hs); };
  assert_true(v->verify(with(R"({"sub":"42","exp":1699999995})"), kNow).ok());  // expired 5 s ago
  assert_true(v->verify(with(R"({"sub":"42","exp":1699999971})"), kNow).ok());  // 29 s ago
  assert_int_equal(v->verify(with(R"({"sub":"42","exp":1699999970})"), kNow).refusal, TokenRefusal::Expired);
  assert_true(v->verify(with(R"({"sub":"42","nbf":1700000030})"), kNow).ok());  // valid in 30 s
  assert_int_equal(v->verify(with(R"({"sub":"42","nbf":1700000031})"), kNow).refusal, TokenRefusal::NotYetValid);
  // The claims still say the token's own exp: the leeway is ours, not its.
  assert_true(*v->verify(with(R"({"sub":"42","exp":1699999995})"), kNow).claims.expires == 1699999995);
  // Without leeway (verifiers[0]) the same token 5 s past exp is refused.
  assert_int_equal(verifiers[0]->verify(with(R"({"sub":"42","exp":1699999995})"), kNow).refusal,
                   TokenRefusal::Expired);
}

static void a_verifier_needs_a_key_it_can_use(void**) {
  std::string error;
  assert_true(TokenVerifier::create({"", "", "", ""}, &error) == nullptr);
  assert_true(error.find("no key") != std::string::npos);
  assert_true(TokenVerifier::create({"", "not a pem", "", ""}, &error) == nullptr);
  assert_true(error.find("not a PEM public key") != std::string::npos);
  assert_true(TokenVerifier::create({"", ec384_pem, "", ""}, &error) == nullptr);
  assert_true(error.find("neither an RSA nor a P-256") != std::string::npos);
  assert_true(TokenVerifier::create({"", rsa_pem.substr(0, rsa_pem.size() / 2), "", ""}, &error) == nullptr);
}

static void every_reason_has_a_label(void**) {
  for (int i = 0; i <= static_cast<int>(TokenRefusal::WrongIssuer); ++i)
    assert_string_not_equal(token_refusal_name(static_cast<TokenRefusal>(i)), "unknown");
  assert_string_equal(token_refusal_name(TokenRefusal::Expired), "expired");
}

// Not an assertion: prints the cost per verification (the figure the issue
// asks for). RTPUSH_TOKEN_BENCH_N sets the count.
static void cost_per_verification(void**) {
  const char* env = std::getenv("RTPUSH_TOKEN_BENCH_N");
  const int n = env ? std::atoi(env) : 2000;
  for (auto [name, v, header, how] :
       {std::tuple{"HS256", Verifier::Secret, kHs, Sign::Hs}, std::tuple{"RS256", Verifier::Rsa, kRs, Sign::Rs},
        std::tuple{"ES256", Verifier::Ec, kEs, Sign::Es}}) {
    const std::string token = make_token(header, kUser, how);
    const auto start = std::chrono::steady_clock::now();
    int ok = 0;
    for (int i = 0; i < n; ++i) ok += verifiers[static_cast<int>(v)]->verify(token, kNow).ok();
    const std::chrono::duration<double, std::micro> took = std::chrono::steady_clock::now() - start;
    assert_int_equal(ok, n);
    std::printf("token verify %s: %.2f us per token (%d tokens)\n", name, took.count() / n, n);
  }
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(accepted_tokens_give_their_claims),
      cmocka_unit_test(every_refusal_has_its_reason),
      cmocka_unit_test(leeway_allows_clock_skew_and_no_more),
      cmocka_unit_test(a_verifier_needs_a_key_it_can_use),
      cmocka_unit_test(every_reason_has_a_label),
      cmocka_unit_test(cost_per_verification),
  };
  return cmocka_run_group_tests(tests, make_keys, nullptr);
}
