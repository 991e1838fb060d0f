// The option (and, for a *-file option, the path) a refused vhost
// configuration is about, for the config_refused log event's fields
// (docs/operations.md "Logs"). The refusal texts of options.cpp,
// auth_settings.cpp and vhost.cpp begin with the option's name
// ("channels-file /etc/x.json: ...", "redis: ..."): that name, when the
// vhost gave such an option, is the one.
#pragma once
#include <string>
#include <string_view>

#include "options.h"

namespace rtpush {

struct ConfigRefusal {
  std::string option;  // empty: the text names no option the vhost gave
  std::string path;    // the option's value when it names a file (*-file)
};

ConfigRefusal config_refusal(std::string_view error, const OptionList& given);

}  // namespace rtpush
