#include "auth/auth_settings.h"
#include "auth/secret_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace rtpush::auth {

namespace {

// No key, secret or PEM is anywhere near this; a bound keeps a wrong path
// (a log, /dev/zero) from being read whole at start-up.
constexpr std::size_t kMaxFileBytes = 1 << 20;

// The whole of `path`, or false with *why set ("<option> <path>: why").
// Plain POSIX so a directory or a FIFO is told apart before reading.
bool read_file(const char* option, const std::string& path, std::string* out, std::string* why) {
  const std::string where = std::string(option) + " " + path + ": ";
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    *why = where + "cannot open: " + std::strerror(errno);
    return false;
  }
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    *why = where + "not a regular file";
    return false;
  }
  if (static_cast<std::size_t>(st.st_size) > kMaxFileBytes) {
    ::close(fd);
    *why = where + "larger than 1 MiB";
    return false;
  }
  out->clear();
  char buf[8192];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      *why = where + "cannot read: " + std::strerror(errno);
      ::close(fd);
      return false;
    }
    if (n == 0) break;
    out->append(buf, static_cast<std::size_t>(n));
    if (out->size() > kMaxFileBytes) {  // grew while being read
      ::close(fd);
      *why = where + "larger than 1 MiB";
      return false;
    }
  }
  ::close(fd);
  return true;
}

// A secret file (jwt-secret-file, api-key-file): its text less one trailing
// newline, not empty. The error never quotes the content.
bool read_secret(const char* option, const std::string& path, std::string* out, std::string* why) {
  if (!read_file(option, path, out, why)) return false;
  strip_one_newline(out);
  if (out->empty()) {
    *why = std::string(option) + " " + path + ": empty";
    return false;
  }
  return true;
}

}  // namespace

std::unique_ptr<AuthSettings> load_auth_settings(const Options& o, ConfigError* error) {
  auto settings = std::make_unique<AuthSettings>();
  const bool has_key = !o.jwt_secret_file.empty() || !o.jwt_public_key_file.empty();
  if (!has_key) {
    // Refused at start rather than discovered by the first client: each of
    // these asks for tokens, and without a key no token could ever verify.
    if (o.auth_required) {
      *error = {"auth",
                "auth: required needs jwt-secret-file or jwt-public-key-file (no token could ever be accepted)"};
      return nullptr;
    }
    if (!o.jwt_audience.empty() || !o.jwt_issuer.empty()) {
      error->option = o.jwt_audience.empty() ? "jwt-issuer" : "jwt-audience";
      error->cause = error->option + ": set without jwt-secret-file or jwt-public-key-file";
      return nullptr;
    }
  } else {
    TokenConfig config;
    std::string why;
    if (!o.jwt_secret_file.empty() && !read_secret("jwt-secret-file", o.jwt_secret_file, &config.hs256_secret, &why)) {
      *error = {"jwt-secret-file", std::move(why)};
      return nullptr;
    }
    if (!o.jwt_public_key_file.empty() &&
        !read_file("jwt-public-key-file", o.jwt_public_key_file, &config.public_key_pem, &why)) {
      *error = {"jwt-public-key-file", std::move(why)};
      return nullptr;
    }
    config.audience = o.jwt_audience;
    config.issuer = o.jwt_issuer;
    config.leeway_secs = o.jwt_leeway_secs;
    std::unique_ptr<TokenVerifier> verifier = TokenVerifier::create(config, &why);
    if (!verifier) {
      // Only a public key can be unusable here (the secret is not empty);
      // the verifier's text ("jwt-public-key-file: why", no key material)
      // gets the file's path.
      const std::string prefix = "jwt-public-key-file: ";
      if (why.rfind(prefix, 0) == 0) why.erase(0, prefix.size());
      *error = {"jwt-public-key-file", "jwt-public-key-file " + o.jwt_public_key_file + ": " + why};
      return nullptr;
    }
    settings->verifier = std::move(verifier);
  }
  if (!o.channels_file.empty()) {
    ChannelRulesResult rules = load_channel_rules(o.channels_file);
    if (!rules.ok) {
      *error = {"channels-file", std::move(rules.error)};  // already "channels-file <path>: ..."
      return nullptr;
    }
    settings->rules = std::move(rules.rules);
  }
  std::string why;
  if (!o.api_key_file.empty() && !read_secret("api-key-file", o.api_key_file, &settings->api_key, &why)) {
    *error = {"api-key-file", std::move(why)};
    return nullptr;
  }
  settings->required = o.auth_required;
  settings->allowed_origins = o.allowed_origins;
  return settings;
}

}  // namespace rtpush::auth
