// allowed-origins' value: a comma-separated list of serialized origins
// (RFC 6454, scheme://host[:port]), checked for form when the options are
// parsed (options.h). A pure function; any thread.
#pragma once
#include <string>
#include <vector>

namespace rtpush {

// Appends each origin of `value` (spaces around an item ignored) to *out.
// Empty when all are good, else why not ("allowed-origins: ...").
std::string parse_origins(const std::string& value, std::vector<std::string>* out);

}  // namespace rtpush
