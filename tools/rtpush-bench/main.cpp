// rtpush-bench: load for benchmarks (not a test). See bench/README.md.
//
//   rtpush-bench idle   --port P --connections N [--hold SECS] [--token T]
//   rtpush-bench fanout --port P --connections N --messages M
//                       [--payload-bytes B] [--window W] [--role all|receivers|publisher]
//                       [--spread K]
//   rtpush-bench latency --port P1[,P2...] --connections N --messages M --rate R
//   rtpush-bench replay --port P --channel C --since ID --messages M
//   rtpush-bench subscribe --port P --channels H --messages K
//   rtpush-bench storm --port P --connections N [--messages M] [--hold SECS]
//
// fanout --spread K: K channels "<channel>-0".."<channel>-<K-1>" (a Redis
// Cluster spreads them over its shards): receiver i subscribes to channel
// i % K, publish j goes to channel j % K (bench/cluster.sh).
// --port may list several nodes: receivers are spread over them round-robin,
// the publisher uses the first. latency: the publisher sends R messages a
// second, each carrying its send time; receivers report publish-to-delivery
// percentiles. --encodings mix: receivers speak JSON, MessagePack and
// Protocol Buffers in turn (default: all JSON). replay: one client subscribes with `since` and times the
// arrival of M messages (from the subscribe to the last one). subscribe: one
// connection subscribes to H channels, then times K more subscribes (sent
// at once, until the K-th `subscribed`): the cost of a subscribe with H
// channels held (the server needs max-channels-per-connection >= H + K).
// storm: N connections opened at once (not paced like the others: a
// reconnect storm), each subscribing as soon as it is established; prints
// `subscribed=` once all are, then waits for M messages on each (default 0),
// holds them SECS and exits, which closes them all at once.
//
// --token T: every connection presents T as the handshake's `token` query
// parameter (T must be URL-safe, as a JWT is). idle prints the seconds from
// the first connect to the last connection_established.
//
// --tls: every connection speaks TLS (wss://), certificate not verified.
// --receivers sse: fanout's and latency's receivers are Server-Sent Events
// listeners (GET /sse/<channel> on a mount at "/") instead of WebSockets
// (bench/sse.sh); default ws.
// --burst: fanout's publisher writes the publishes it sends at once in one
// write (one TLS record), as they would share a TCP segment.
//
// Results are printed as key=value lines. Times are CLOCK_MONOTONIC seconds,
// comparable between processes on one machine.
#include <getopt.h>
#include <sys/resource.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "ws_client.h"

namespace {

struct Opts {
  std::string mode, host = "127.0.0.1", channel = "bench", role = "all", since, token;
  bool mix = false;  // --encodings mix: receiver i speaks encoding i % 3
  bool sse = false;  // --receivers sse: receivers are GET sse/<channel> listeners
  bool tls = false;  // --tls: wss:// (bench/tls.sh)
  bool burst = false;  // --burst: fanout's publisher sends each window's publishes in one write
  std::vector<int> ports = {7681};
  int port = 7681, connections = 1000, messages = 100, payload = 64, window = 64, hold = 0, timeout = 120;
  int channels = 1;  // subscribe mode: channels held before timing
  int spread = 0;    // fanout: 0 one channel; K > 0: K channels, receiver i on i % K, publish j on j % K
  double rate = 100;
};

std::vector<int> parse_ports(const char* arg) {
  std::vector<int> ports;
  for (const char* p = arg; *p;) {
    ports.push_back(std::atoi(p));
    while (*p && *p != ',') ++p;
    if (*p == ',') ++p;
  }
  return ports;
}

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

// A message id "<ms>-<seq>" as (ms, seq), for the order check.
std::pair<unsigned long long, unsigned long long> id_of(std::string_view id) {
  if (id.empty()) return {0, 0};
  const std::string text(id);
  char* end = nullptr;
  unsigned long long ms = std::strtoull(text.c_str(), &end, 10);
  unsigned long long seq = *end == '-' ? std::strtoull(end + 1, nullptr, 10) : 0;
  return {ms, seq};
}

int usage() {
  std::fprintf(stderr,
               "usage: rtpush-bench idle|fanout --port P --connections N [--host H] [--channel C]\n"
               "       [--messages M] [--payload-bytes B] [--window W] [--hold S] [--timeout S]\n"
               "       [--role all|receivers|publisher] [--rate R] [--token T] [--tls] [--burst]\n"
               "       [--receivers ws|sse]\n"
               "       rtpush-bench latency --port P1[,P2] --connections N --messages M --rate R\n"
               "       rtpush-bench replay --port P --channel C --since ID --messages M\n"
               "       rtpush-bench subscribe --port P --channels H --messages K\n"
               "       rtpush-bench storm --port P --connections N [--messages M] [--hold S]\n");
  return 2;
}

const char* const kProtocols[] = {"rtpush-json", "rtpush-msgpack", "rtpush-protobuf"};

// The subscribe request in each encoding.
std::string subscribe_frame(int encoding, const std::string& channel) {
  switch (encoding) {
    case 1: {  // {"type":"subscribe","channel":C} as MessagePack (C < 32 bytes)
      std::string f = std::string("\x82\xa4type\xa9subscribe\xa7") + "channel";
      f.push_back(static_cast<char>(0xa0 | channel.size()));
      return f + channel;
    }
    case 2: {  // rtpush.v1.Frame{type, channel}
      std::string f = std::string("\x0a\x09subscribe\x12");
      f.push_back(static_cast<char>(channel.size()));
      return f + channel;
    }
    default: return "{\"type\":\"subscribe\",\"channel\":\"" + channel + "\"}";
  }
}

// What kind of server frame this is, and for a message its id text, in any
// of the three encodings (just enough parsing for the benchmark).
enum class Kind { Message, Subscribed, Established, Published, Other };
Kind kind_of(int encoding, std::string_view f, std::string_view* id) {
  if (encoding == 3) {  // an SSE event: "id: ID\nevent: message\ndata: ..." or "event: subscribed\n..."
    if (starts_with(f, "id: ")) {
      *id = f.substr(4, f.find('\n') - 4);
      return Kind::Message;
    }
    if (starts_with(f, "event: subscribed")) return Kind::Subscribed;
    return Kind::Other;
  }
  if (encoding == 0) {
    if (starts_with(f, "{\"type\":\"message\"")) {
      auto at = f.find("\"id\":\"");
      if (at != std::string_view::npos) *id = f.substr(at + 6, f.find('"', at + 6) - at - 6);
      return Kind::Message;
    }
    if (starts_with(f, "{\"type\":\"subscribed\"")) return Kind::Subscribed;
    if (starts_with(f, "{\"type\":\"connection_established\"")) return Kind::Established;
    if (starts_with(f, "{\"type\":\"published\"")) return Kind::Published;
    return Kind::Other;
  }
  if (encoding == 1) {  // map header, "type", then the type string
    if (f.size() < 7 || f.substr(1, 5) != "\xa4type") return Kind::Other;
    const std::string_view rest = f.substr(6);
    if (starts_with(rest, "\xa7message")) {
      auto at = f.find("\xa2id");
      if (at != std::string_view::npos && at + 4 <= f.size())
        *id = f.substr(at + 4, static_cast<unsigned char>(f[at + 3]) & 0x1f);
      return Kind::Message;
    }
    if (starts_with(rest, "\xaasubscribed")) return Kind::Subscribed;
    if (starts_with(rest, "\xb6" "connection_established")) return Kind::Established;
    if (starts_with(rest, "\xa9published")) return Kind::Published;
    return Kind::Other;
  }
  // Protocol Buffers: field 1 (type) first, then channel (2), then id (3).
  if (starts_with(f, "\x0a\x07message")) {
    std::size_t at = 9;
    if (at + 2 <= f.size() && f[at] == '\x12') at += 2 + static_cast<unsigned char>(f[at + 1]);
    if (at + 2 <= f.size() && f[at] == '\x1a') *id = f.substr(at + 2, static_cast<unsigned char>(f[at + 1]));
    return Kind::Message;
  }
  if (starts_with(f, "\x0a\x0asubscribed")) return Kind::Subscribed;
  if (starts_with(f, "\x0a\x16" "connection_established")) return Kind::Established;
  if (starts_with(f, "\x0a\x09published")) return Kind::Published;
  return Kind::Other;
}

// The channel of receiver or publish `i`: --channel, or with --spread K its i % K-th.
std::string spread_channel(const Opts& o, int i) {
  return o.spread > 0 ? o.channel + "-" + std::to_string(i % o.spread) : o.channel;
}

// How many of `messages` publishes go to receiver i's channel.
unsigned long long messages_for(const Opts& o, int i) {
  if (o.spread <= 0) return static_cast<unsigned long long>(o.messages);
  const int k = i % o.spread;
  return static_cast<unsigned long long>(o.messages / o.spread + (k < o.messages % o.spread ? 1 : 0));
}

unsigned long long deliveries_wanted(const Opts& o) {
  unsigned long long want = 0;
  for (int i = 0; i < o.connections; ++i) want += messages_for(o, i);
  return want;
}

// Opens and subscribes `n` receivers; returns false when some failed.
bool open_receivers(bench::Client& cl, const Opts& o, int* subscribed) {
  const int batch = 500;  // paced so the listen backlog is not overrun
  for (int done = 0; done < o.connections; done += batch) {
    const int n = std::min(batch, o.connections - done);
    if (o.sse) {  // no subscribe to send: the stream's first event is `subscribed`
      cl.connect_sse(n, o.ports[done % o.ports.size()], "/sse/" + o.channel);
      cl.run(30000, [&] { return *subscribed + cl.failed_count() >= done + n; });
      continue;
    }
    for (int i = 0; i < n; ++i) {
      const int encoding = o.mix ? (done + i) % 3 : 0;
      cl.connect(1, o.ports[(done + i) % o.ports.size()], kProtocols[encoding]);
      cl.conns().back().encoding = encoding;
    }
    const int want = done + n;
    cl.run(30000, [&] { return cl.open_count() + cl.failed_count() >= want; });
  }
  int i = 0;
  for (auto& c : cl.conns())
    if (c.open && !c.sse) cl.send_frame(c, subscribe_frame(c.encoding, spread_channel(o, i++)), c.encoding != 0);
  cl.run(60000, [&] { return *subscribed + cl.failed_count() >= o.connections; });
  return *subscribed == o.connections;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage();
  Opts o;
  o.mode = argv[1];
  static const option opts[] = {
      {"host", required_argument, nullptr, 'H'},       {"port", required_argument, nullptr, 'p'},
      {"connections", required_argument, nullptr, 'n'}, {"messages", required_argument, nullptr, 'm'},
      {"payload-bytes", required_argument, nullptr, 'b'}, {"window", required_argument, nullptr, 'w'},
      {"hold", required_argument, nullptr, 'h'},       {"channel", required_argument, nullptr, 'c'},
      {"role", required_argument, nullptr, 'r'},       {"timeout", required_argument, nullptr, 't'},
      {"rate", required_argument, nullptr, 'R'},       {"since", required_argument, nullptr, 's'},
      {"encodings", required_argument, nullptr, 'e'}, {"channels", required_argument, nullptr, 'C'},
      {"token", required_argument, nullptr, 'T'},      {"tls", no_argument, nullptr, 'S'},
      {"burst", no_argument, nullptr, 'B'},            {"receivers", required_argument, nullptr, 'V'},
      {"spread", required_argument, nullptr, 'K'},
      {nullptr, 0, nullptr, 0}};
  optind = 2;
  bool messages_given = false;
  for (int c; (c = getopt_long(argc, argv, "", opts, nullptr)) != -1;) {
    switch (c) {
      case 'H': o.host = optarg; break;
      case 'p': o.ports = parse_ports(optarg); o.port = o.ports.at(0); break;
      case 'R': o.rate = std::atof(optarg); break;
      case 'n': o.connections = std::atoi(optarg); break;
      case 'm': o.messages = std::atoi(optarg); messages_given = true; break;
      case 'b': o.payload = std::atoi(optarg); break;
      case 'w': o.window = std::atoi(optarg); break;
      case 'h': o.hold = std::atoi(optarg); break;
      case 'c': o.channel = optarg; break;
      case 'r': o.role = optarg; break;
      case 't': o.timeout = std::atoi(optarg); break;
      case 's': o.since = optarg; break;
      case 'e': o.mix = std::string(optarg) == "mix"; break;
      case 'C': o.channels = std::atoi(optarg); break;
      case 'T': o.token = optarg; break;
      case 'S': o.tls = true; break;
      case 'B': o.burst = true; break;
      case 'V': o.sse = std::string(optarg) == "sse"; break;
      case 'K': o.spread = std::atoi(optarg); break;
      default: return usage();
    }
  }
  if (o.mode == "storm" && !messages_given) o.messages = 0;
  rlimit rl{20000, 20000};
  setrlimit(RLIMIT_NOFILE, &rl);

  int established = 0, subscribed = 0, published = 0;
  bench::Conn* publisher = nullptr;
  std::vector<std::uint32_t> latencies_us;  // latency mode
  unsigned long long delivered = 0;
  double first_rx = 0, last_rx = 0;
  std::string subscribed_frame;  // replay mode
  std::vector<bench::Conn*> to_subscribe;  // storm mode: established, not yet subscribed
  bench::Client cl(o.host, o.port, "rtpush-json", [&](bench::Conn& c, std::string_view f) {
    std::string_view id;
    const Kind kind = kind_of(c.encoding, f, &id);
    if (&c == publisher) {
      if (kind == Kind::Published) ++published;
      return;
    }
    if (kind == Kind::Message) {
      ++c.messages;
      ++delivered;
      last_rx = bench::now_seconds();
      if (!first_rx) first_rx = last_rx;
      if (o.mode == "latency") {  // "data":"<send time in us>"
        auto at = f.find("\"data\":\"");
        if (at != std::string_view::npos) {
          const double sent = std::strtod(f.data() + at + 8, nullptr) / 1e6;
          latencies_us.push_back(static_cast<std::uint32_t>((last_rx - sent) * 1e6));
        }
      }
      auto now_id = id_of(id), prev = id_of(c.last_id);
      if (!c.last_id.empty() && !(prev < now_id)) c.order_ok = false;
      c.last_id.assign(id);
    } else if (kind == Kind::Subscribed) {
      ++subscribed;
      if (subscribed_frame.empty()) subscribed_frame.assign(f);
    } else if (kind == Kind::Established) {
      ++established;
      if (o.mode == "storm") to_subscribe.push_back(&c);
    }
  });

  if (!o.token.empty()) cl.set_path("/?token=" + o.token);
  if (o.tls) cl.use_tls();

  if (o.mode == "idle") {
    const double t0 = bench::now_seconds();
    for (int done = 0; done < o.connections; done += 500) {
      const int n = std::min(500, o.connections - done);
      cl.connect(n);
      cl.run(30000, [&] { return established + cl.failed_count() >= done + n; });
    }
    std::printf("connected=%d failed=%d seconds=%.3f\n", established, o.connections - established,
                bench::now_seconds() - t0);
    std::fflush(stdout);
    cl.run(o.hold * 1000, [] { return false; });
    return established == o.connections ? 0 : 1;
  }
  if (o.mode == "latency") {
    if (!open_receivers(cl, o, &subscribed)) {
      std::printf("error=subscribe subscribed=%d failed=%d\n", subscribed, cl.failed_count());
      return 1;
    }
    cl.connect(1, o.ports[0]);
    bench::Conn& pub = cl.conns().back();
    publisher = &pub;
    cl.run(5000, [&] { return pub.open; });
    const unsigned long long want = static_cast<unsigned long long>(o.connections) * o.messages;
    latencies_us.reserve(want);
    const double t0 = bench::now_seconds();
    int sent = 0;
    cl.run(o.timeout * 1000, [&] {
      // Paced: message i leaves at t0 + i / rate, carrying its send time.
      for (double now = bench::now_seconds(); sent < o.messages && now >= t0 + sent / o.rate; ++sent) {
        char msg[160];
        std::snprintf(msg, sizeof msg, "{\"type\":\"publish\",\"channel\":\"%s\",\"data\":\"%.0f\"}",
                      o.channel.c_str(), bench::now_seconds() * 1e6);
        cl.send_text(pub, msg);
      }
      return delivered >= want;
    });
    std::sort(latencies_us.begin(), latencies_us.end());
    auto pct = [&](double q) {
      return latencies_us.empty() ? 0.0 : latencies_us[std::min(latencies_us.size() - 1, static_cast<std::size_t>(q * latencies_us.size()))] / 1000.0;
    };
    std::printf("receivers=%d nodes=%zu messages=%d rate=%.0f delivered=%llu expected=%llu\n", o.connections,
                o.ports.size(), o.messages, o.rate, delivered, want);
    std::printf("latency_ms p50=%.3f p90=%.3f p99=%.3f p999=%.3f max=%.3f\n", pct(0.5), pct(0.9), pct(0.99), pct(0.999),
                latencies_us.empty() ? 0.0 : latencies_us.back() / 1000.0);
    return delivered == want ? 0 : 1;
  }
  if (o.mode == "replay") {
    cl.connect(1);
    bench::Conn& c = cl.conns().back();
    cl.run(5000, [&] { return established > 0; });
    const double t0 = bench::now_seconds();
    cl.send_text(c, "{\"type\":\"subscribe\",\"channel\":\"" + o.channel + "\",\"since\":\"" + o.since + "\"}");
    const unsigned long long want = static_cast<unsigned long long>(o.messages);
    cl.run(o.timeout * 1000, [&] { return delivered >= want || c.closed; });
    const double span = last_rx - t0;
    const bool recovered = subscribed_frame.find("\"recovered\":true") != std::string::npos;
    std::printf("recovered=%d delivered=%llu expected=%llu in_order=%d closed=%d\n", recovered ? 1 : 0, delivered,
                want, c.order_ok ? 1 : 0, c.closed ? 1 : 0);
    if (span > 0) std::printf("seconds=%.3f messages_per_sec=%.0f\n", span, static_cast<double>(delivered) / span);
    return delivered == want && c.order_ok && recovered ? 0 : 1;
  }
  if (o.mode == "storm") {
    const double t0 = bench::now_seconds();
    cl.connect(o.connections);
    cl.run(o.timeout * 1000, [&] {
      for (bench::Conn* c : to_subscribe) cl.send_text(*c, subscribe_frame(0, o.channel));
      to_subscribe.clear();
      return subscribed + cl.failed_count() >= o.connections;
    });
    std::printf("subscribed=%d failed=%d seconds=%.3f\n", subscribed, cl.failed_count(), bench::now_seconds() - t0);
    std::fflush(stdout);
    if (subscribed != o.connections) return 1;
    const unsigned long long want = static_cast<unsigned long long>(o.connections) * static_cast<unsigned>(o.messages);
    cl.run(o.timeout * 1000, [&] { return delivered >= want; });
    std::printf("delivered=%llu expected=%llu\n", delivered, want);
    std::fflush(stdout);
    cl.run(o.hold * 1000, [] { return false; });
    return delivered == want ? 0 : 1;
  }
  if (o.mode == "subscribe") {
    cl.connect(1);
    bench::Conn& c = cl.conns().back();
    cl.run(5000, [&] { return established > 0; });
    for (int i = 0; i < o.channels; ++i) cl.send_text(c, subscribe_frame(0, o.channel + "-held-" + std::to_string(i)));
    cl.run(o.timeout * 1000, [&] { return subscribed >= o.channels || c.closed; });
    if (subscribed < o.channels) {
      std::printf("error=hold subscribed=%d (max-channels-per-connection too low?)\n", subscribed);
      return 1;
    }
    const double t0 = bench::now_seconds();
    for (int i = 0; i < o.messages; ++i) cl.send_text(c, subscribe_frame(0, o.channel + "-new-" + std::to_string(i)));
    cl.run(o.timeout * 1000, [&] { return subscribed >= o.channels + o.messages || c.closed; });
    const double span = bench::now_seconds() - t0;
    const int timed = subscribed - o.channels;
    std::printf("held=%d subscribes=%d seconds=%.4f us_per_subscribe=%.2f\n", o.channels, timed, span,
                timed > 0 ? span * 1e6 / timed : 0.0);
    return timed == o.messages ? 0 : 1;
  }
  if (o.mode != "fanout") return usage();

  const bool receive = o.role != "publisher", publish = o.role != "receivers";
  if (receive && !open_receivers(cl, o, &subscribed)) {
    std::printf("error=subscribe subscribed=%d failed=%d\n", subscribed, cl.failed_count());
    return 1;
  }
  if (o.role == "receivers") {
    std::printf("ready=%d\n", subscribed);  // the driving script starts the publisher now
    std::fflush(stdout);
  }
  double t0 = bench::now_seconds();
  if (publish) {
    // The publisher is one more connection of the same client, so one loop
    // serves it and the receivers.
    cl.connect(1, o.ports[0]);
    bench::Conn& pub = cl.conns().back();
    publisher = &pub;
    cl.run(5000, [&] { return pub.open; });
    std::vector<std::string> msgs;  // one per channel
    for (int k = 0; k < std::max(o.spread, 1); ++k)
      msgs.push_back("{\"type\":\"publish\",\"channel\":\"" + spread_channel(o, k) + "\",\"data\":\"" +
                     std::string(static_cast<std::size_t>(o.payload), 'x') + "\"}");
    const unsigned long long want = receive ? deliveries_wanted(o) : 0;
    int sent = 0;
    t0 = bench::now_seconds();
    // Keep `window` publishes unanswered while the receivers are served.
    cl.run(o.timeout * 1000, [&] {
      // --burst: the publishes sent at once leave in one write. Under TLS a
      // record per frame makes the server read, and fan out, one publish
      // per pass of its loop; plain TCP coalesces back-to-back frames by
      // itself, so compare TLS with plain both with --burst (bench/tls.sh).
      if (o.burst) cl.hold_writes(pub);
      while (sent < o.messages && sent - published < o.window) {
        cl.send_text(pub, msgs[static_cast<std::size_t>(sent) % msgs.size()]);
        ++sent;
      }
      cl.release_writes(pub);
      return published >= o.messages && delivered >= want;
    });
    std::printf("publish_start=%.6f publish_end=%.6f published=%d\n", t0, bench::now_seconds(), published);
  }
  if (receive) {
    const unsigned long long want = deliveries_wanted(o);
    cl.run(o.timeout * 1000, [&] { return delivered >= want; });
    bool ordered = true;
    for (auto& c : cl.conns()) ordered &= c.order_ok;
    const double span = last_rx - (publish ? t0 : first_rx);
    std::printf("receivers=%d delivered=%llu expected=%llu missing=%llu in_order=%d first_rx=%.6f last_rx=%.6f\n",
                o.connections, delivered, want, want - std::min(want, delivered), ordered ? 1 : 0, first_rx, last_rx);
    if (publish && span > 0)
      std::printf("elapsed=%.3f deliveries_per_sec=%.0f\n", span, static_cast<double>(delivered) / span);
    return delivered == want && ordered ? 0 : 1;
  }
  return published == o.messages ? 0 : 1;
}
