// The core factory: a vhost's objects from its options, and what it refuses
// (a context with more than one service thread; a malformed redis URL).
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "cmocka_cpp.h"
#include "mint.h"
#include "node.h"
#include "vhost.h"

using namespace rtpush;

static Options options(OptionList values) { return parse_options(values, "test-node").options; }
static Logger none(IoThread*) { return Logger::none(); }

static void embedded_needs_no_io_thread(void**) {
  std::string why;
  auto v = Vhost::build(options({}), 1, [] {}, none, &why);
  assert_non_null(v.get());
  assert_null(v->io());
  assert_int_equal(v->node().connection_count(), 0);
  assert_string_equal(v->node().node_id().c_str(), "test-node");
}

static void more_than_one_service_thread_is_refused(void**) {
  std::string why;
  auto v = Vhost::build(options({}), 2, [] {}, none, &why);
  assert_null(v.get());
  assert_true(why.find("2 service threads") != std::string::npos);
  assert_true(why.find("count-threads") != std::string::npos);
}

static void malformed_redis_url_is_refused(void**) {
  std::string why;
  auto v = Vhost::build(options({{"redis", "redis://localhost:99999"}}), 1, [] {}, none, &why);
  assert_null(v.get());
  assert_true(why.rfind("redis: ", 0) == 0);
}

// Files made for one test, removed when it ends.
struct TempFiles {
  std::vector<std::string> paths;
  ~TempFiles() { for (const auto& p : paths) unlink(p.c_str()); }
  std::string make(const std::string& content) {
    char path[] = "/tmp/rtpush-test-XXXXXX";
    const int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, content.data(), content.size()), static_cast<ssize_t>(content.size()));
    close(fd);
    paths.emplace_back(path);
    return path;
  }
  // A path that does not exist (made, then removed).
  std::string missing() {
    std::string p = make("");
    unlink(p.c_str());
    return p;
  }
};

static std::string build_error(OptionList values) {
  auto parsed = parse_options(values, "test-node");
  assert_true(parsed.ok);
  std::string why;
  auto v = Vhost::build(parsed.options, 1, [] {}, none, &why);
  assert_null(v.get());
  return why;
}

static bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// A vhost whose identity files cannot be used does not start: SPEC section
// 8, "the vhost refuses to start that protocol and logs why".
static void unusable_identity_files_fail_the_build(void**) {
  TempFiles files;
  const std::string missing = files.missing();
  struct { OptionList values; std::vector<std::string> says; } bad[] = {
      {{{"jwt-secret-file", missing}}, {"jwt-secret-file " + missing, "cannot open"}},
      {{{"jwt-secret-file", files.make("\n")}}, {"jwt-secret-file", "empty"}},
      {{{"jwt-secret-file", "/tmp"}}, {"jwt-secret-file /tmp", "not a regular file"}},
      {{{"jwt-public-key-file", files.make("not a key\n")}}, {"jwt-public-key-file /tmp/", "not a PEM public key"}},
      {{{"jwt-public-key-file", missing}}, {"jwt-public-key-file " + missing, "cannot open"}},
      {{{"channels-file", files.make("{\"namespaces\":{\"chat\":{\"subscribe\":\"maybe\",\"publish\":\"any\"}}}")}},
       {"channels-file /tmp/", "maybe"}},
      {{{"channels-file", files.make("not json")}}, {"channels-file /tmp/"}},
      {{{"channels-file", missing}}, {"channels-file " + missing}},
      {{{"api-key-file", files.make("\r\n")}}, {"api-key-file", "empty"}},
      {{{"api-key-file", missing}}, {"api-key-file " + missing, "cannot open"}},
      {{{"auth", "required"}}, {"auth: required", "jwt-secret-file"}},
      {{{"jwt-audience", "app"}}, {"jwt-audience", "without"}},
      {{{"jwt-issuer", "me"}}, {"jwt-issuer", "without"}},
  };
  bool failed = false;
  for (auto& b : bad) {
    const std::string why = build_error(b.values);
    for (const auto& part : b.says)
      if (!contains(why, part)) {
        print_error("%s=%s: error \"%s\" lacks \"%s\"\n", b.values[0].first.c_str(), b.values[0].second.c_str(),
                    why.c_str(), part.c_str());
        failed = true;
      }
  }
  assert_false(failed);
}

// A key file of exactly 1 MiB (the bound, docs/limits.md) is read; one byte
// more is refused, naming the option.
static void identity_file_size_bound(void**) {
  TempFiles files;
  const std::size_t kBound = std::size_t{1} << 20;
  auto parsed = parse_options({{"api-key-file", files.make(std::string(kBound, 'k'))}}, "test-node");
  assert_true(parsed.ok);
  std::string why;
  auto v = Vhost::build(parsed.options, 1, [] {}, none, &why);
  assert_non_null(v.get());
  assert_int_equal(v->node().auth().api_key.size(), kBound);
  const std::string too_big = files.make(std::string(kBound + 1, 'k'));
  const std::string err = build_error({{"api-key-file", too_big}});
  assert_true(contains(err, "api-key-file " + too_big));
}

// The files' content reaches the node: one trailing newline of a secret is
// not part of it, the rules and the key are loaded, the flags are kept.
static void identity_files_reach_the_node(void**) {
  TempFiles files;
  auto parsed = parse_options({{"jwt-secret-file", files.make("s3cret\r\n")},
                               {"channels-file", files.make(R"({"namespaces":{"chat":{"subscribe":"token","publish":"none"}}})")},
                               {"api-key-file", files.make("key \n")},
                               {"auth", "required"},
                               {"allowed-origins", "https://app.example.com"}},
                              "test-node");
  assert_true(parsed.ok);
  std::string why;
  auto v = Vhost::build(parsed.options, 1, [] {}, none, &why);
  assert_non_null(v.get());
  const auth::AuthSettings& a = v->node().auth();
  assert_non_null(a.verifier.get());
  const double now = 1700000000;
  assert_true(a.verifier->verify(mint_hs256("s3cret", R"({"sub":"1"})"), now).ok());
  assert_false(a.verifier->verify(mint_hs256("s3cret\r\n", R"({"sub":"1"})"), now).ok());
  assert_int_equal(a.rules.namespaces.size(), 1);
  assert_true(a.rules.rules_for("chat").subscribe == auth::Rule::token);
  assert_string_equal(a.api_key.c_str(), "key ");  // only the newline goes
  assert_true(a.required);
  assert_int_equal(a.allowed_origins.size(), 1);

  // Without any identity option: no verifier, no rules, open.
  auto open = Vhost::build(options({}), 1, [] {}, none, &why);
  assert_null(open->node().auth().verifier.get());
  assert_true(open->node().auth().rules.namespaces.empty());
  assert_false(open->node().auth().required);
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(embedded_needs_no_io_thread),
      cmocka_unit_test(more_than_one_service_thread_is_refused),
      cmocka_unit_test(malformed_redis_url_is_refused),
      cmocka_unit_test(unusable_identity_files_fail_the_build),
      cmocka_unit_test(identity_files_reach_the_node),
      cmocka_unit_test(identity_file_size_bound),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
