#include "redis_live_format.h"

namespace rtpush::redis {

bool split_live_user(std::string_view* rest, std::string_view* user) {
  // 'u' never starts an unattributed payload: its kind is 'j' or 'b'.
  if (rest->empty() || rest->front() != 'u') return true;
  std::size_t i = 1, len = 0;
  for (; i < rest->size() && (*rest)[i] >= '0' && (*rest)[i] <= '9'; ++i) {
    if (i > 9) return false;  // a sub is at most a token's 8 KB
    len = len * 10 + static_cast<std::size_t>((*rest)[i] - '0');
  }
  if (i == 1 || i >= rest->size() || (*rest)[i] != ':' || rest->size() - i - 1 < len) return false;
  *user = rest->substr(i + 1, len);
  rest->remove_prefix(i + 1 + len);
  return true;
}

}  // namespace rtpush::redis
