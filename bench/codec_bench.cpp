// In-process benchmarks of the codecs and of the hub's encode-once fan-out
// (no sockets): bench/codecs.sh builds and runs it.
//
//   codec: ns per message to decode a client publish and encode the server
//          `message` frame, for each encoding;
//   fanout: ns per fan_out() of one message to 10,000 subscribers, all JSON
//           against a third in each encoding (each message is encoded at
//           most once per encoding, the frames shared by every queue).
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "codec.h"
#include "hub.h"
#include "session.h"

using namespace rtpush;
using Clock = std::chrono::steady_clock;

namespace {

struct NullConnection : Connection {
  void request_write() override {}
  void request_close() override {}
};

// A publish of the same value in each encoding (built by the codecs' peers).
std::string publish_frame(Encoding e) {
  switch (e) {
    case Encoding::Json:
      return R"({"type":"publish","channel":"news","data":{"n":42,"text":"hello world","tags":["a","b"],"ok":true}})";
    case Encoding::MsgPack:
      return std::string("\x83\xa4type\xa7publish\xa7" "channel\xa4news\xa4" "data\x84\xa1n\x2a\xa4text\xab"
                         "hello world\xa4tags\x92\xa1" "a\xa1" "b\xa2ok\xc3");
    case Encoding::Protobuf: {
      const std::string data = R"({"n":42,"text":"hello world","tags":["a","b"],"ok":true})";
      return std::string("\x0a\x07publish\x12\x04news\x2a") + static_cast<char>(data.size()) + data;
    }
    case Encoding::Sse: break;  // receive-only: nothing to decode
  }
  return {};
}

double codec_ns(Encoding e, int n) {
  const Codec* c = codec_for(e);
  const std::string in = publish_frame(e);
  std::size_t bytes = 0;
  const auto t0 = Clock::now();
  for (int i = 0; i < n; ++i) {
    DecodeResult d = c->decode(in, true);
    if (!d.ok) {
      std::fprintf(stderr, "decode failed: %s\n", d.message.c_str());
      return -1;
    }
    ServerFrame f;
    f.type = ServerFrameType::Message;
    f.channel = d.request.channel;
    f.id = "1700000000000-0";
    f.data = &d.request.data;
    f.timestamp = 1700000000.5;
    bytes += c->encode(f)->size();
  }
  const double ns = std::chrono::duration<double, std::nano>(Clock::now() - t0).count() / n;
  if (bytes == 0) return -1;
  return ns;
}

double fanout_ns(bool mixed, int subscribers, int messages) {
  NullConnection conn;
  Hub hub([](Session*) {});
  std::vector<std::unique_ptr<Session>> sessions;
  for (int i = 0; i < subscribers; ++i) {
    const Encoding e = mixed ? static_cast<Encoding>(i % 3) : Encoding::Json;
    sessions.push_back(std::make_unique<Session>(i + 1, "s", e, &conn, 1 << 20, 0));
    hub.subscribe(sessions.back().get(), "news")->live = true;
  }
  const std::string data = R"({"n":42,"text":"hello world","tags":["a","b"],"ok":true})";
  double total = 0;
  for (int m = 0; m < messages; ++m) {
    auto msg = std::make_shared<Message>();
    msg->channel = "news";
    msg->id = StreamId{1700000000000ULL + m, 0};
    msg->id_text = msg->id.str();
    msg->payload = Payload{PayloadKind::Json, data};
    msg->timestamp = 1700000000.5;
    const auto t0 = Clock::now();
    hub.fan_out(msg);
    total += std::chrono::duration<double, std::nano>(Clock::now() - t0).count();
    for (auto& s : sessions) s->queue().pop();  // the "writer", outside the clock
  }
  return total / messages;
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 1000000;
  const char* names[] = {"json", "msgpack", "protobuf"};
  for (int e = 0; e < 3; ++e)
    std::printf("codec=%s decode_plus_encode_ns=%.0f\n", names[e], codec_ns(static_cast<Encoding>(e), n));
  const int subs = 10000, msgs = 200;
  const double json = fanout_ns(false, subs, msgs), mixed = fanout_ns(true, subs, msgs);
  std::printf("fanout subscribers=%d messages=%d all_json_ns=%.0f mixed_ns=%.0f ratio=%.3f\n", subs, msgs, json, mixed,
              mixed / json);
  return 0;
}
