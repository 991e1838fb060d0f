#include "config_refusal.h"

#include "option_table.h"

namespace rtpush {

ConfigRefusal config_refusal(const ConfigError& error, const OptionList& given) {
  ConfigRefusal r;
  if (error.option.empty()) return r;
  const OptionSpec* spec = find_option(error.option);
  // The last value given is the one the vhost used.
  for (const auto& [name, value] : given) {
    if (name != error.option) continue;
    r.option = name;
    if (spec && spec->kind == OptionKind::File) r.path = value;
  }
  return r;
}

}  // namespace rtpush
