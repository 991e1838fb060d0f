#include "clocks.h"

#include <chrono>

namespace rtpush {

Clocks Clocks::system() {
  using namespace std::chrono;
  return Clocks{
      [] { return static_cast<std::int64_t>(duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count()); },
      [] { return static_cast<std::uint64_t>(duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count()); },
  };
}

}  // namespace rtpush
