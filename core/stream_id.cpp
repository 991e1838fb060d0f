#include "stream_id.h"

#include <charconv>
#include <limits>

namespace rtpush {

namespace {
bool parse_u64(std::string_view s, std::uint64_t* out) {
  if (s.empty() || s.size() > 20) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}
}  // namespace

std::optional<StreamId> StreamId::parse(std::string_view text) {
  StreamId id;
  auto dash = text.find('-');
  if (dash == std::string_view::npos) {
    if (!parse_u64(text, &id.ms)) return std::nullopt;
    return id;
  }
  if (!parse_u64(text.substr(0, dash), &id.ms) || !parse_u64(text.substr(dash + 1), &id.seq))
    return std::nullopt;
  return id;
}

std::string StreamId::str() const {
  char buf[48];
  char* p = std::to_chars(buf, buf + 20, ms).ptr;
  *p++ = '-';
  p = std::to_chars(p, buf + sizeof buf, seq).ptr;
  return std::string(buf, p);
}

StreamId StreamId::successor() const {
  if (seq == std::numeric_limits<std::uint64_t>::max()) return {ms + 1, 0};
  return {ms, seq + 1};
}

StreamId next_stream_id(StreamId last, std::uint64_t now_ms) {
  if (now_ms > last.ms) return {now_ms, 0};
  return last.successor();
}

}  // namespace rtpush
