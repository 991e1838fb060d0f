#include "deflate_offer.h"

namespace rtpush {

namespace {

std::string_view trim(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

// The part of `v` before `sep`, removed from `v` with the separator.
std::string_view take(std::string_view* v, char sep) {
  const std::size_t at = v->find(sep);
  const std::string_view head = v->substr(0, at);
  v->remove_prefix(at == std::string_view::npos ? v->size() : at + 1);
  return head;
}

bool window_bits(std::string_view v) {
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
  return v.size() == 1 ? v[0] == '8' || v[0] == '9'
                       : v.size() == 2 && v[0] == '1' && v[1] >= '0' && v[1] <= '5';
}

bool param_acceptable(std::string_view param) {
  const std::size_t eq = param.find('=');
  const std::string_view name = trim(param.substr(0, eq));
  const bool has_value = eq != std::string_view::npos;
  const std::string_view value = has_value ? trim(param.substr(eq + 1)) : std::string_view();
  if (name == "server_no_context_takeover" || name == "client_no_context_takeover") return !has_value;
  if (name == "client_max_window_bits") return !has_value || window_bits(value);
  return false;  // server_max_window_bits, or unknown
}

}  // namespace

bool deflate_offers_acceptable(std::string_view header) {
  // No quoted commas or semicolons in these parameters' values (RFC 7692
  // values are 8..15), so a plain split is exact for every offer we accept.
  while (!header.empty()) {
    std::string_view offer = take(&header, ',');
    if (trim(take(&offer, ';')) != "permessage-deflate") continue;
    while (!offer.empty())
      if (!param_acceptable(take(&offer, ';'))) return false;
  }
  return true;
}

}  // namespace rtpush
