// permessage-deflate frames: what a client inflates (the RFC 7692 tail put
// back) is the plain frame; small or incompressible frames stay plain; each
// message stands alone, so a client that keeps its context across messages
// and one that does not read the same bytes. And which offers are accepted.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
extern "C" {
#include <cmocka.h>
}
#include <zlib.h>

#include <string>

#include "deflate_offer.h"
#include "frame_deflate.h"

using namespace rtpush;

namespace {

// A client's inflater (raw deflate, window 15), kept across messages when
// `keep` (context takeover) or fresh for each.
struct Inflater {
  z_stream z{};
  Inflater() { inflateInit2(&z, -15); }
  ~Inflater() { inflateEnd(&z); }
  std::string inflate_message(const Frame& f) {
    std::string in(f.view());
    in.append("\x00\x00\xff\xff", 4);  // RFC 7692 section 7.2.2
    std::string out;
    z.next_in = reinterpret_cast<Bytef*>(in.data());
    z.avail_in = static_cast<uInt>(in.size());
    char buf[4096];
    for (;;) {
      z.next_out = reinterpret_cast<Bytef*>(buf);
      z.avail_out = sizeof buf;
      const int rc = ::inflate(&z, Z_SYNC_FLUSH);
      out.append(buf, sizeof buf - z.avail_out);
      if (rc == Z_BUF_ERROR || (z.avail_in == 0 && z.avail_out != 0)) break;
      assert_true(rc == Z_OK);
    }
    return out;
  }
};

std::string json_message(int i, std::size_t size) {
  std::string s = "{\"type\":\"message\",\"channel\":\"prices\",\"id\":\"" + std::to_string(1700000000000 + i) +
                  "-0\",\"data\":{\"items\":[";
  while (s.size() + 40 < size) s += "{\"sku\":\"A-" + std::to_string(i++ % 97) + "\",\"price\":12.5},";
  s += "{}]}}";
  return s;
}

}  // namespace

static void inflates_to_the_plain_frame_with_or_without_context(void**) {
  Inflater kept;
  for (int i = 0; i < 5; ++i) {
    const std::string text = json_message(i, 1024);
    FrameRef plain = Frame::make(text, false);
    FrameRef d = deflate_frame(*plain);
    assert_true(static_cast<bool>(d));
    assert_true(d->compressed());
    assert_false(plain->compressed());
    assert_false(d->binary());
    assert_true(d->size() < plain->size() / 2);
    Inflater fresh;
    assert_true(fresh.inflate_message(*d) == text);
    assert_true(kept.inflate_message(*d) == text);  // after the earlier messages
    // The same bytes every time: one compression serves every subscriber.
    FrameRef again = deflate_frame(*plain);
    assert_true(again->view() == d->view());
  }
  FrameRef bin = Frame::make(json_message(9, 512), true);
  assert_true(deflate_frame(*bin)->binary());
}

static void small_or_incompressible_frames_stay_plain(void**) {
  const std::string small = json_message(1, kDeflateMinBytes - 1);
  assert_true(small.size() < kDeflateMinBytes);
  assert_false(static_cast<bool>(deflate_frame(*Frame::make(small, false))));
  std::string noise;
  std::uint32_t x = 12345;
  for (int i = 0; i < 4096; ++i) {
    x = x * 1103515245 + 12345;
    noise.push_back(static_cast<char>(x >> 24));
  }
  assert_false(static_cast<bool>(deflate_frame(*Frame::make(noise, true))));
}

static void a_megabyte_compresses_and_inflates(void**) {
  const std::string text = json_message(3, 1 << 20);
  FrameRef d = deflate_frame(*Frame::make(text, false));
  assert_true(static_cast<bool>(d));
  Inflater in;
  assert_true(in.inflate_message(*d) == text);
}

static void offers(void**) {
  for (const char* ok : {"permessage-deflate", "permessage-deflate; client_max_window_bits",
                         "permessage-deflate; client_max_window_bits=10; server_no_context_takeover",
                         "permessage-deflate;client_no_context_takeover", "x-webkit-deflate-frame, permessage-deflate",
                         "permessage-deflate; client_max_window_bits=\"12\"", "foo; server_max_window_bits=9"})
    assert_true(deflate_offers_acceptable(ok));
  for (const char* no : {"permessage-deflate; server_max_window_bits=10", "permessage-deflate; server_max_window_bits=15",
                         "permessage-deflate; client_max_window_bits=16", "permessage-deflate; client_max_window_bits=7",
                         "permessage-deflate; server_no_context_takeover=1", "permessage-deflate; unknown",
                         "permessage-deflate; ; client_max_window_bits",
                         "permessage-deflate, permessage-deflate; server_max_window_bits=9"})
    assert_false(deflate_offers_acceptable(no));
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(inflates_to_the_plain_frame_with_or_without_context),
      cmocka_unit_test(small_or_incompressible_frames_stay_plain),
      cmocka_unit_test(a_megabyte_compresses_and_inflates),
      cmocka_unit_test(offers),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
