#include "config_refusal.h"

namespace rtpush {

ConfigRefusal config_refusal(std::string_view error, const OptionList& given) {
  ConfigRefusal r;
  std::size_t end = 0;
  while (end < error.size() && ((error[end] >= 'a' && error[end] <= 'z') || (error[end] >= '0' && error[end] <= '9') ||
                                error[end] == '-'))
    ++end;
  if (end == 0 || end == error.size() || (error[end] != ':' && error[end] != ' ')) return r;
  const std::string_view word = error.substr(0, end);
  for (const auto& [name, value] : given) {
    if (name != word) continue;
    r.option = name;
    if (name.size() > 5 && name.compare(name.size() - 5, 5, "-file") == 0) r.path = value;
  }
  return r;
}

}  // namespace rtpush
