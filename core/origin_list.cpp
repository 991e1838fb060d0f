#include "origin_list.h"

#include <cstddef>
#include <string_view>

namespace rtpush {

namespace {

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// A serialized origin (RFC 6454): scheme "://" host [":" port], nothing
// after it. What a browser sends in Origin, so anything else (a path, a
// trailing '/', userinfo) could never match and is a configuration mistake.
bool valid_origin(std::string_view o) {
  const std::size_t sep = o.find("://");
  if (sep == std::string_view::npos || sep == 0 || !is_alpha(o[0])) return false;
  for (char c : o.substr(0, sep))
    if (!is_alpha(c) && !is_digit(c) && c != '+' && c != '-' && c != '.') return false;
  std::string_view rest = o.substr(sep + 3);
  std::string_view host = rest, port;
  if (!rest.empty() && rest[0] == '[') {  // an IPv6 literal: [::1]:8080
    const std::size_t close = rest.find(']');
    if (close == std::string_view::npos || close == 1) return false;
    host = rest.substr(0, close + 1);
    const std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return false;
      port = after.substr(1);
      if (port.empty()) return false;
    }
  } else if (const std::size_t colon = rest.rfind(':'); colon != std::string_view::npos) {
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
    if (port.empty()) return false;
  }
  if (host.empty()) return false;
  const bool literal = host[0] == '[';
  for (char c : literal ? host.substr(1, host.size() - 2) : host) {
    if (literal ? !(is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' || c == '.')
                : (c == '/' || c == '?' || c == '#' || c == '@' || c == ':' || c == '[' || c == ']' ||
                   c == '\\' || static_cast<unsigned char>(c) <= ' ' || c == 0x7f))
      return false;
  }
  if (!port.empty()) {
    unsigned n = 0;
    for (char c : port) {
      if (!is_digit(c) || port.size() > 5) return false;
      n = n * 10 + static_cast<unsigned>(c - '0');
    }
    if (n == 0 || n > 65535) return false;
  }
  return true;
}

std::string_view trim(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

}  // namespace

std::string parse_origins(const std::string& value, std::vector<std::string>* out) {
  std::string_view rest = value;
  for (;;) {
    const std::size_t comma = rest.find(',');
    const std::string_view item = trim(rest.substr(0, comma));
    if (item.empty()) return "allowed-origins: an empty item in \"" + value + "\"";
    if (!valid_origin(item))
      return "allowed-origins: \"" + std::string(item) +
             "\" is not an origin scheme://host[:port] (no path, no trailing '/')";
    out->emplace_back(item);
    if (comma == std::string_view::npos) return {};
    rest.remove_prefix(comma + 1);
  }
}

}  // namespace rtpush
