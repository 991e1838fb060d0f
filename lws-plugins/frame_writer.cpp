// The write path's bytes (frame_writer.h; docs/architecture.md "The write path").
#include "frame_writer.h"

#include <openssl/ssl.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>

#include "frame.h"

namespace rtpush_lws {

namespace {

// The WebSocket header of an unmasked server frame, written into the
// frame's headroom (the same bytes for every subscriber, so writing them into
// the shared buffer is harmless). Returns its length.
std::size_t put_ws_header(rtpush::Frame& f) {
  const std::size_t n = f.size();
  const std::size_t h = n < 126 ? 2 : n < 65536 ? 4 : 10;
  std::uint8_t* p = f.data() - h;
  // FIN, RSV1 on a permessage-deflate payload (RFC 7692), text or binary
  p[0] = 0x80 | (f.compressed() ? 0x40 : 0) | (f.binary() ? 0x2 : 0x1);
  if (n < 126) {
    p[1] = static_cast<std::uint8_t>(n);
  } else if (n < 65536) {
    p[1] = 126;
    p[2] = static_cast<std::uint8_t>(n >> 8);
    p[3] = static_cast<std::uint8_t>(n);
  } else {
    p[1] = 127;
    for (int i = 0; i < 8; ++i) p[2 + i] = static_cast<std::uint8_t>(static_cast<std::uint64_t>(n) >> (56 - 8 * i));
  }
  return h;
}

// The frame's header for `framing`, in its headroom; returns its length.
std::size_t put_header(rtpush::Frame& f, Framing framing) {
  return framing == Framing::WebSocket ? put_ws_header(f) : 0;
}

// Writes the queued frames with writev(): one system call for up to
// kBatch frames, straight from the shared buffers. (One lws_write() per
// frame costs a send() each, and on a busy channel that syscall was most of
// the server's time.) Only whole frames go this way; a tail the kernel did
// not take is handed to lws, which keeps it and sends it before anything
// else, so lws's own control frames never land inside ours.
// Plain connections only: under TLS the socket carries records, not frames.
// Returns false on a socket error; sets *full when the socket is full.
bool writev_frames(struct lws* wsi, rtpush::SendQueue& q, Framing framing, bool* full) {
  constexpr std::size_t kBatch = 64;
  const int fd = lws_get_socket_fd(wsi);
  while (!q.empty()) {
    iovec iov[kBatch];
    const std::size_t n = std::min(kBatch, q.size());
    std::size_t total = 0;
    for (std::size_t i = 0; i < n; ++i) {
      rtpush::Frame& f = *q.at(i);
      const std::size_t h = put_header(f, framing);
      iov[i].iov_base = f.data() - h;
      iov[i].iov_len = f.size() + h;
      total += iov[i].iov_len;
    }
    const ssize_t w = ::writev(fd, iov, static_cast<int>(n));
    if (w < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
        *full = true;
        return true;
      }
      return false;
    }
    std::size_t left = static_cast<std::size_t>(w);
    for (std::size_t i = 0; i < n; ++i) {
      if (left >= iov[i].iov_len) {
        left -= iov[i].iov_len;
        q.pop();
        continue;
      }
      if (left > 0) {  // a frame half out: lws buffers the rest (LWS_WRITE_HTTP is raw on a ws wsi)
        auto* rest = static_cast<unsigned char*>(iov[i].iov_base) + left;
        if (lws_write(wsi, rest, iov[i].iov_len - left, LWS_WRITE_HTTP) < 0) return false;
        q.pop();
      }
      *full = true;
      return true;
    }
    if (static_cast<std::size_t>(w) < total) break;
  }
  return true;
}

// TLS: every byte must go through the connection's SSL, so frames are
// gathered whole (header + payload) into one buffer and written with one
// SSL_write per kTlsGather bytes: a few 16 KB records, where a write per
// frame would make a record and a send() each. A frame alone in the queue
// (one message at a time: the common case of a quiet channel) is written
// from the shared bytes, without the copy.
//
// While lws holds nothing of this connection, the bytes go to SSL_write on
// lws's SSL directly: lws_write() would only add its role dispatch, its
// checks and an ERR_clear_error() before the same SSL_write, about 2 % of the
// server's CPU per delivery one message at a time (perf, bench/README.md
// "TLS"). Anything but a complete write is handed to lws_write() unchanged,
// so lws does what it always did: it retries the same bytes (which OpenSSL
// requires after SSL_ERROR_WANT_WRITE; lws sets
// SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER, so its copy may move), reads the error
// queue after clearing it, keeps what the socket refuses
// (lws_partial_buffered) and sends that first, before its own pongs and
// closes, or reports a dead connection. SSL_write takes all or nothing (lws
// does not set SSL_MODE_ENABLE_PARTIAL_WRITE). Once lws holds something,
// every write goes through lws_write(), which queues it behind.
//
// A frame of more than half the buffer skips the copy too: it goes in
// kTlsGather pieces, and once the socket is full the rest of it is handed to
// lws at once, so a frame is never left half out with lws free to slip a
// control frame into it. (lws cuts a single write at the protocol's
// tx_packet_size and copies the remainder, even to an idle socket: hence the
// pieces.)
constexpr std::size_t kTlsGather = 64 * 1024;
static_assert(kTlsGather <= kTxPacketSize, "lws would cut and copy each gathered write");

bool tls_frames(struct lws* wsi, rtpush::SendQueue& q, Framing framing, bool* full) {
  // Service thread only: one buffer per lws service thread, reused.
  thread_local std::unique_ptr<unsigned char[]> storage(new unsigned char[LWS_PRE + kTlsGather]);
  unsigned char* const gather = storage.get() + LWS_PRE;
  SSL* const ssl = lws_get_ssl(wsi);
  bool lws_holds = lws_partial_buffered(wsi);
  std::size_t used = 0;
  // Writes bytes; notes when the socket was full and lws kept some.
  auto out = [&](unsigned char* p, std::size_t n) {
    if (!lws_holds && ssl) {
      const int w = SSL_write(ssl, p, static_cast<int>(n));
      if (w > 0 && static_cast<std::size_t>(w) == n) return true;
      if (w > 0) {  // only with partial writes, which lws does not set: the rest to lws
        p += w;
        n -= static_cast<std::size_t>(w);
      }
    }
    if (lws_write(wsi, p, n, LWS_WRITE_HTTP) < 0) return false;
    lws_holds = lws_partial_buffered(wsi);
    if (lws_holds) *full = true;
    return true;
  };
  while (!q.empty() && !*full) {
    rtpush::Frame& f = *q.front();
    const std::size_t h = put_header(f, framing);
    unsigned char* framed = f.data() - h;
    const std::size_t n = f.size() + h;
    if (n <= kTlsGather / 2 && (used || q.size() > 1)) {
      if (used + n > kTlsGather) {
        if (!out(gather, used)) return false;
        used = 0;
        continue;  // the socket may be full now
      }
      std::memcpy(gather + used, framed, n);
      used += n;
      q.pop();
      continue;
    }
    if (used) {  // what was gathered goes first
      if (!out(gather, used)) return false;
      used = 0;
      if (*full) break;
    }
    std::size_t off = 0;
    while (off < n) {
      const std::size_t piece = *full ? n - off : std::min(kTlsGather, n - off);
      if (!out(framed + off, piece)) return false;
      off += piece;
    }
    q.pop();
  }
  if (used && !out(gather, used)) return false;
  return true;
}

}  // namespace

bool write_frames(struct lws* wsi, rtpush::SendQueue& q, Framing framing, bool* full) {
  return lws_is_ssl(wsi) ? tls_frames(wsi, q, framing, full) : writev_frames(wsi, q, framing, full);
}

}  // namespace rtpush_lws
