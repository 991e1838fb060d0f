// The option (and, for a file option, the path) a refused vhost
// configuration is about, for the config_refused log event's fields
// (docs/operations.md "Logs") and the refused vhost's 503. The refusal
// names its option (ConfigError, returned by parse_options,
// auth::load_auth_settings and Vhost::build); this keeps it when the vhost
// gave that option, and adds the file's path when the option's kind is a
// file (option_table.h). Service thread, at vhost init.
#pragma once
#include <string>

#include "config_error.h"
#include "options.h"

namespace rtpush {

struct ConfigRefusal {
  std::string option;  // empty: the refusal names no option the vhost gave
  std::string path;    // the option's value when it names a file (*-file)
};

ConfigRefusal config_refusal(const ConfigError& error, const OptionList& given);

}  // namespace rtpush
