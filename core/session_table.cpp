#include "session_table.h"

#include <sys/random.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace rtpush {

std::string SessionTable::new_connection_id() {
  // A random UUID (version 4 layout): unguessable, unique across nodes. From
  // the kernel's CSPRNG: a seeded mt19937 can be predicted from a few ids.
  unsigned char bytes[16];
  for (std::size_t got = 0; got < sizeof bytes;) {
    const ssize_t n = getrandom(bytes + got, sizeof bytes - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(std::string("getrandom: ") + std::strerror(errno));
    }
    got += static_cast<std::size_t>(n);
  }
  std::uint64_t a, b;
  std::memcpy(&a, bytes, 8);
  std::memcpy(&b, bytes + 8, 8);
  a = (a & 0xffffffffffff0fffULL) | 0x4000ULL;
  b = (b & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
  char buf[40];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>((a >> 16) & 0xffff), static_cast<unsigned>(a & 0xffff),
                static_cast<unsigned>(b >> 48), static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return buf;
}

Session* SessionTable::add(Connection* connection, Encoding encoding) {
  const std::int64_t now = clocks_.steady_ms();
  auto s = std::make_unique<Session>(next_serial_++, new_connection_id(), encoding, connection,
                                     options_.send_queue_bytes, now);
  s->schedule_ping(now + options_.heartbeat_secs * 1000LL);
  Session* raw = s.get();
  sessions_.emplace(raw->serial(), std::move(s));
  ++metrics_.connections_total;
  return raw;
}

Session* SessionTable::find(std::uint64_t serial) const {
  auto it = sessions_.find(serial);
  return it == sessions_.end() ? nullptr : it->second.get();
}

void SessionTable::send(Session* s, const ServerFrame& frame) {
  if (s->send(codec_for(s->encoding())->encode(frame)) == SendResult::Dropped && !s->closing())
    drop_slow(s);
}

void SessionTable::send_error(Session* s, ErrorCode code, std::string_view message, std::string_view ref) {
  metrics_.count_error(code);
  ServerFrame f;
  f.type = ServerFrameType::Error;
  f.code = error_code_name(code);
  f.message = message;
  f.ref = ref;
  send(s, f);
}

void SessionTable::refuse(Session* s, ErrorCode code, std::string_view message, std::string_view ref) {
  metrics_.count_refused(code);
  send_error(s, code, message, ref);
}

void SessionTable::drop_slow(Session* s) {
  ++metrics_.slow_consumers;
  metrics_.count_close(CloseReason::SlowConsumer);
  log_.sampled(LogLevel::Notice, "slow_consumer_closed", "", {{"connection", s->id()}, {"limit", "send-queue-bytes"}});
  s->close(kClosePolicy, "send queue over send-queue-bytes", true);
}

void SessionTable::close_too_big(Session* s) {
  metrics_.count_close(CloseReason::MessageTooLarge);
  s->close(kCloseTooBig, "message too large", false);
}

void SessionTable::tick(std::int64_t now) {
  const std::int64_t timeout = options_.heartbeat_timeout_secs * 1000LL;
  const std::int64_t rx_timeout = options_.receive_timeout_secs * 1000LL;
  for (auto& [serial, s] : sessions_) {
    if (s->closing()) continue;
    // An SSE listener cannot answer a ping: it is alive while its output
    // (a ping every heartbeat-secs at least) is being taken. One that
    // stopped reading or vanished is closed as a silent WebSocket is; its
    // queue is dropped, as nothing would ever write it.
    const bool sse = s->encoding() == Encoding::Sse;
    if (sse && s->connection()->output_taken()) s->touch(now);
    if (now - s->last_activity_ms() >= timeout) {
      metrics_.count_close(CloseReason::HeartbeatTimeout);
      s->close(kCloseGoingAway, "heartbeat timeout", sse);
    } else if (s->rx_in_progress() && now - s->rx_started_ms() >= rx_timeout) {
      // A client that keeps answering pings could otherwise hold an
      // unfinished message (up to max-message-bytes) for ever.
      s->rx_end();
      std::string().swap(s->rx_buffer());
      metrics_.count_close(CloseReason::ReceiveTimeout);
      s->close(kClosePolicy, "message not complete within receive-timeout-secs", false);
    } else if (now >= s->next_ping_ms()) {
      s->want_ping();
      s->schedule_ping(now + options_.heartbeat_secs * 1000LL);
    }
  }
}

}  // namespace rtpush
