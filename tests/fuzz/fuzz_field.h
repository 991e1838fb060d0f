// What the fuzz targets that cut one input into several client-sent fields
// (a path, a header, a query parameter) share: one length byte, then that
// many bytes (fewer when the input ends first; none left: an empty field).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace fuzz {

// Takes one length-prefixed field off the front of [p, end).
inline std::string field(const std::uint8_t*& p, const std::uint8_t* end) {
  if (p == end) return {};
  std::size_t n = *p++;
  if (n > static_cast<std::size_t>(end - p)) n = static_cast<std::size_t>(end - p);
  std::string s(reinterpret_cast<const char*>(p), n);
  p += n;
  return s;
}

}  // namespace fuzz
