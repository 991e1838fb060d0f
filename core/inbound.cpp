#include "inbound.h"

#include <string>

namespace rtpush {

bool Inbound::receive(Session* s, std::string_view fragment, bool first, bool final, bool binary) {
  const std::int64_t now = clocks_.steady_ms();
  s->touch(now);
  if (s->receive_refused()) return false;
  if (s->closing()) return true;
  if (!within_receive_rate(s, fragment.size())) return false;
  std::string& rx = s->rx_buffer();
  if (first) {
    rx.clear();
    s->set_rx_discarding(false);
    if (!final) s->rx_begin(clocks_.steady_ms());  // receive-timeout-secs runs from here
  }
  if (final) s->rx_end();
  // An oversized message is answered at once but closed (1009) only after
  // its last fragment: closing while the peer still sends makes the kernel
  // reset the connection, and the peer may never read the close. The rest
  // is dropped as it comes, up to a bound, not buffered.
  if (s->rx_discarding()) {
    s->add_rx_discarded(fragment.size());
    if (final || s->rx_discarded() > 16 * options_.max_message_bytes) sessions_.close_too_big(s);
    return true;
  }
  const std::size_t total = rx.size() + fragment.size();
  if (total > options_.max_message_bytes) {
    std::string().swap(rx);
    s->set_rx_discarding(true);
    sessions_.send_error(s, ErrorCode::MessageTooLarge,
                         "message is larger than max-message-bytes (" + std::to_string(options_.max_message_bytes) + ")", {});
    if (final) sessions_.close_too_big(s);
    return true;
  }
  if (first && final) {  // the common case: no copy
    sink_.handle(s, fragment, binary);
    return true;
  }
  rx.append(fragment);
  if (!final) return true;
  std::string message;
  message.swap(rx);  // the buffer goes with the message: idle sessions hold none
  sink_.handle(s, message, binary);
  return true;
}

bool Inbound::within_receive_rate(Session* s, std::size_t bytes) {
  if (s->receive_bucket().take(bytes, options_.receive_bytes_per_sec, 2 * std::uint64_t{options_.max_message_bytes},
                               clocks_.steady_us()))
    return true;
  // Nothing more of this client is read: what it queued (answers to the
  // flood) is dropped so the close goes out first, and the message being
  // put together is freed.
  s->refuse_receive();
  s->rx_end();
  std::string().swap(s->rx_buffer());
  metrics_.count_close(CloseReason::ReceiveRate);
  log_.sampled(LogLevel::Notice, "receive_rate_closed", "",
               {{"connection", s->id()}, {"limit", "receive-bytes-per-sec"}});
  s->close(kClosePolicy, "receive-bytes-per-sec exceeded", true);
  return false;
}

bool Inbound::pong(Session* s, std::size_t bytes) {
  const std::int64_t now = clocks_.steady_ms();
  s->touch(now);
  if (s->receive_refused()) return false;
  return s->closing() || within_receive_rate(s, bytes);
}

}  // namespace rtpush
