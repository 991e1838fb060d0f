// RedisArgv: a command's arguments as hiredis's *CommandArgv calls take
// them (pointers and lengths: binary-safe), written once for the async
// links, the sentinel locator, the blocking connection and rtpush-publish's
// pipeline. Borrows the strings: keep `args` alive for the call.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace rtpush {

struct RedisArgv {
  explicit RedisArgv(const std::vector<std::string>& args) {
    argv.reserve(args.size());
    lens.reserve(args.size());
    for (const std::string& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
  }
  int count() const { return static_cast<int>(argv.size()); }
  std::vector<const char*> argv;
  std::vector<std::size_t> lens;
};

}  // namespace rtpush
