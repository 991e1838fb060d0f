#include "frame_deflate.h"

#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <memory>

namespace rtpush {

namespace {

// zlib's default level: a message is compressed once for all its
// subscribers, so a better ratio is worth more than the few microseconds.
constexpr int kLevel = 6;
// A raw deflate stream (negative bits: no zlib header), the largest window
// RFC 7692 allows; clients asking the server for less are refused the
// extension at the handshake (lws-plugins/ws_protocol.cpp).
constexpr int kWindowBits = -15;
constexpr int kMemLevel = 8;
constexpr unsigned char kTail[4] = {0x00, 0x00, 0xff, 0xff};
// Scratch kept between messages up to this size; a larger message's is freed.
constexpr std::size_t kKeepScratch = 256 * 1024;

// One deflate state per service thread, reset for every message (a fresh
// deflateInit2 allocates and clears about 256 KiB each time).
struct Deflater {
  z_stream z{};
  bool ready = false;
  std::unique_ptr<unsigned char[]> out;  // scratch, not cleared between uses
  std::size_t capacity = 0;
  Deflater() { ready = deflateInit2(&z, kLevel, Z_DEFLATED, kWindowBits, kMemLevel, Z_DEFAULT_STRATEGY) == Z_OK; }
  ~Deflater() {
    if (ready) deflateEnd(&z);
  }
};

}  // namespace

FrameRef deflate_frame(const Frame& plain) {
  const std::size_t n = plain.size();
  if (n < kDeflateMinBytes || n > UINT32_MAX - 64) return {};
  thread_local Deflater d;
  if (!d.ready) return {};
  if (deflateReset(&d.z) != Z_OK) return {};
  // Room for a result that pays (shorter than plain, plus the tail we drop)
  // and a few bytes more, so that avail_out > 0 afterwards proves the flush
  // finished.
  const std::size_t room = n + 16;
  if (d.capacity < room) {
    d.out.reset(new unsigned char[room]);
    d.capacity = room;
  }
  d.z.next_in = const_cast<Bytef*>(plain.data());
  d.z.avail_in = static_cast<uInt>(n);
  d.z.next_out = d.out.get();
  d.z.avail_out = static_cast<uInt>(room);
  const int rc = deflate(&d.z, Z_SYNC_FLUSH);
  const std::size_t produced = room - d.z.avail_out;
  FrameRef result;
  if (rc == Z_OK && d.z.avail_in == 0 && d.z.avail_out > 0 && produced >= 4 &&
      std::equal(kTail, kTail + 4, d.out.get() + produced - 4) && produced - 4 < n) {
    result = Frame::make({reinterpret_cast<const char*>(d.out.get()), produced - 4}, plain.binary(), true);
  }
  if (d.capacity > kKeepScratch) {
    d.out.reset();
    d.capacity = 0;
  }
  return result;
}

}  // namespace rtpush
