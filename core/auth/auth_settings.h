// AuthSettings: what a vhost's identity and permission options (SPEC
// section 8, README "Security") amount to once their files are read: the
// token verifier, the namespace rules, the HTTP API key and the allowed
// origins. Built once at vhost init (Vhost::build); read on the service
// thread only.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "auth/channel_rules.h"
#include "auth/token.h"
#include "options.h"

namespace rtpush::auth {

struct AuthSettings {
  std::shared_ptr<const TokenVerifier> verifier;  // null: no jwt-*-file, every token is refused
  ChannelRules rules;                             // empty: every channel open to everyone
  bool required = false;                          // auth: required
  std::string api_key;                            // empty: HTTP API open
  std::vector<std::string> allowed_origins;       // empty: any origin
};

// Reads the files the options name (jwt-secret-file, jwt-public-key-file,
// channels-file, api-key-file). Null with *error set (naming the option and
// file, never a secret) when one cannot be read or used.
std::unique_ptr<AuthSettings> load_auth_settings(const Options& options, ConfigError* error);

}  // namespace rtpush::auth
