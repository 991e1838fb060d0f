// libFuzzer target: a client's Sec-WebSocket-Extensions header as
// deflate_offers_acceptable() reads it at the handshake (any bytes a client
// can send), and deflate_frame() over the input as a frame's payload, whose
// output must inflate back to the input.
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "deflate_offer.h"
#include "frame.h"
#include "frame_deflate.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  (void)rtpush::deflate_offers_acceptable(bytes);

  rtpush::FrameRef plain = rtpush::Frame::make(bytes, false);
  rtpush::FrameRef packed = rtpush::deflate_frame(*plain);
  if (!packed) return 0;  // left plain: small or incompressible
  // RFC 7692 7.2.2: append 00 00 ff ff and inflate raw; must give the input.
  std::string in(packed->view());
  in.append("\x00\x00\xff\xff", 4);
  z_stream z{};
  if (inflateInit2(&z, -15) != Z_OK) __builtin_trap();
  std::string out(size + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(in.data());
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = inflate(&z, Z_SYNC_FLUSH);
  const std::size_t got = out.size() - z.avail_out;
  inflateEnd(&z);
  if ((rc != Z_OK && rc != Z_STREAM_END) || got != size || out.compare(0, got, bytes) != 0) __builtin_trap();
  return 0;
}
