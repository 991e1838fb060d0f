// A refused vhost configuration: which option and why. Returned by
// parse_options(), auth::load_auth_settings() and Vhost::build(), so that
// the plugin names the option (config_refusal.h) without reading the text.
// A plain value; made and read on the service thread at vhost init.
#pragma once
#include <string>

namespace rtpush {

struct ConfigError {
  // The option the refusal is about; empty when it is about none (a
  // context with more than one service thread).
  std::string option;
  // The whole sentence, as the config_refused log event's `cause` shows it
  // (it begins with the option's name: "history-size: \"x\" is not ...").
  std::string cause;
};

}  // namespace rtpush
