#include "session.h"

namespace rtpush {

SendResult Session::send(const FrameRef& frame) {
  if (closing()) return SendResult::Dropped;
  const bool was_idle = queue_.empty() && !ping_due_;
  SendResult r = queue_.push(frame);
  // One wake-up per idle->busy edge: the writer drains until empty.
  if (r != SendResult::Dropped && was_idle) connection_->request_write();
  return r;
}

void Session::close(std::uint16_t code, std::string reason, bool discard_queue) {
  if (closing()) return;
  close_code_ = code;
  close_reason_ = std::move(reason);
  if (discard_queue) queue_.clear();
  connection_->request_close();
}

void Session::want_ping() {
  if (closing()) return;
  const bool was_idle = queue_.empty() && !ping_due_;
  ping_due_ = true;
  if (was_idle) connection_->request_write();
}

}  // namespace rtpush
