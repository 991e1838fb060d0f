// The bytes of the event stream (sse_frame.h; SPEC section 9): events as a
// listener reads them, the SseCodec, the shared ping.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
extern "C" {
#include <cmocka.h>
}

#include <string>

#include "json_codec.h"
#include "sse_frame.h"

using namespace rtpush;

static void event_without_id(void**) {
  assert_string_equal(sse_event("subscribed", "", "{\"a\":1}").c_str(), "event: subscribed\ndata: {\"a\":1}\n\n");
}

static void event_with_id(void**) {
  assert_string_equal(sse_event("message", "17-2", "{}").c_str(), "id: 17-2\nevent: message\ndata: {}\n\n");
}

static void newlines_in_json_stay_one_line(void**) {
  // Never made by the codecs (compact JSON), but an event must stay one
  // data line whatever comes: CR and LF outside strings are whitespace.
  assert_string_equal(sse_event("message", "", "{\"a\":\r\n1}").c_str(), "event: message\ndata: {\"a\":  1}\n\n");
}

static void message_frame_wraps_the_json_frame(void**) {
  Payload p;
  p.kind = PayloadKind::Json;
  p.bytes = "{\"t\":\"line1\\nline2\"}";
  ServerFrame f;
  f.type = ServerFrameType::Message;
  f.channel = "news";
  f.id = "1700000000000-0";
  f.data = &p;
  f.timestamp = 1.5;
  const FrameRef json = JsonCodec().encode(f);
  const FrameRef sse = sse_message_frame(f.id, *json);
  const std::string want = "id: 1700000000000-0\nevent: message\ndata: " + std::string(json->view()) + "\n\n";
  assert_string_equal(std::string(sse->view()).c_str(), want.c_str());
  assert_false(sse->binary());
  assert_false(sse->compressed());
  // The codec makes the same bytes (replays of one message, other paths).
  const FrameRef coded = codec_for(Encoding::Sse)->encode(f);
  assert_string_equal(std::string(coded->view()).c_str(), want.c_str());
}

static void subscribed_event(void**) {
  ServerFrame f;
  f.type = ServerFrameType::Subscribed;
  f.channel = "news";
  f.has_position = true;
  f.position = "5-0";
  f.recovered = true;
  const FrameRef e = codec_for(Encoding::Sse)->encode(f);
  assert_string_equal(std::string(e->view()).c_str(),
                      "event: subscribed\ndata: {\"type\":\"subscribed\",\"channel\":\"news\",\"position\":\"5-0\","
                      "\"recovered\":true}\n\n");
}

static void error_event(void**) {
  ServerFrame f;
  f.type = ServerFrameType::Error;
  f.code = "UNAUTHORIZED";
  f.message = "token expired";
  const FrameRef e = codec_for(Encoding::Sse)->encode(f);
  const std::string v(e->view());
  assert_true(v.rfind("event: error\ndata: {\"type\":\"error\",\"code\":\"UNAUTHORIZED\"", 0) == 0);
}

static void listener_sends_nothing(void**) {
  const DecodeResult d = codec_for(Encoding::Sse)->decode("{\"type\":\"heartbeat\"}", false);
  assert_false(d.ok);
  assert_int_equal(static_cast<int>(d.error), static_cast<int>(ErrorCode::InvalidFrame));
}

static void ping_is_shared(void**) {
  assert_string_equal(std::string(sse_ping_frame()->view()).c_str(), ": ping\n\n");
  assert_ptr_equal(sse_ping_frame().get(), sse_ping_frame().get());
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(event_without_id),
      cmocka_unit_test(event_with_id),
      cmocka_unit_test(newlines_in_json_stay_one_line),
      cmocka_unit_test(message_frame_wraps_the_json_frame),
      cmocka_unit_test(subscribed_event),
      cmocka_unit_test(error_event),
      cmocka_unit_test(listener_sends_nothing),
      cmocka_unit_test(ping_is_shared),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
