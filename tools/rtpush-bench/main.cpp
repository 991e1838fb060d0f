// rtpush-bench: load for benchmarks (not a test). See bench/README.md.
//
//   rtpush-bench idle   --port P --connections N [--hold SECS]
//   rtpush-bench fanout --port P --connections N --messages M
//                       [--payload-bytes B] [--window W] [--role all|receivers|publisher]
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

#include "ws_client.h"

namespace {

struct Opts {
  std::string mode, host = "127.0.0.1", channel = "bench", role = "all";
  int port = 7681, connections = 1000, messages = 100, payload = 64, window = 64, hold = 0, timeout = 120;
};

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

// The id of a message frame as (ms, seq), for the order check.
std::pair<unsigned long long, unsigned long long> id_of(std::string_view frame) {
  auto at = frame.find("\"id\":\"");
  if (at == std::string_view::npos) return {0, 0};
  const char* p = frame.data() + at + 6;
  char* end = nullptr;
  unsigned long long ms = std::strtoull(p, &end, 10);
  unsigned long long seq = *end == '-' ? std::strtoull(end + 1, nullptr, 10) : 0;
  return {ms, seq};
}

int usage() {
  std::fprintf(stderr,
               "usage: rtpush-bench idle|fanout --port P --connections N [--host H] [--channel C]\n"
               "       [--messages M] [--payload-bytes B] [--window W] [--hold S] [--timeout S]\n"
               "       [--role all|receivers|publisher]\n");
  return 2;
}

// Opens and subscribes `n` receivers; returns false when some failed.
bool open_receivers(bench::Client& cl, const Opts& o, int* subscribed) {
  const int batch = 500;  // paced so the listen backlog is not overrun
  for (int done = 0; done < o.connections; done += batch) {
    const int n = std::min(batch, o.connections - done);
    cl.connect(n);
    const int want = done + n;
    cl.run(30000, [&] { return cl.open_count() + cl.failed_count() >= want; });
  }
  const std::string sub = "{\"type\":\"subscribe\",\"channel\":\"" + o.channel + "\"}";
  for (auto& c : cl.conns())
    if (c.open) cl.send_text(c, sub);
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
      {nullptr, 0, nullptr, 0}};
  optind = 2;
  for (int c; (c = getopt_long(argc, argv, "", opts, nullptr)) != -1;) {
    switch (c) {
      case 'H': o.host = optarg; break;
      case 'p': o.port = std::atoi(optarg); break;
      case 'n': o.connections = std::atoi(optarg); break;
      case 'm': o.messages = std::atoi(optarg); break;
      case 'b': o.payload = std::atoi(optarg); break;
      case 'w': o.window = std::atoi(optarg); break;
      case 'h': o.hold = std::atoi(optarg); break;
      case 'c': o.channel = optarg; break;
      case 'r': o.role = optarg; break;
      case 't': o.timeout = std::atoi(optarg); break;
      default: return usage();
    }
  }
  rlimit rl{20000, 20000};
  setrlimit(RLIMIT_NOFILE, &rl);

  int established = 0, subscribed = 0, published = 0;
  bench::Conn* publisher = nullptr;
  unsigned long long delivered = 0;
  double first_rx = 0, last_rx = 0;
  bench::Client cl(o.host, o.port, "rtpush-json", [&](bench::Conn& c, std::string_view f) {
    if (&c == publisher) {
      if (starts_with(f, "{\"type\":\"published\"")) ++published;
      return;
    }
    if (starts_with(f, "{\"type\":\"message\"")) {
      ++c.messages;
      ++delivered;
      last_rx = bench::now_seconds();
      if (!first_rx) first_rx = last_rx;
      auto id = id_of(f);
      auto prev = id_of(c.last_id);
      if (!c.last_id.empty() && !(prev < id)) c.order_ok = false;
      c.last_id.assign(f.substr(0, 80));
    } else if (starts_with(f, "{\"type\":\"subscribed\"")) {
      ++subscribed;
    } else if (starts_with(f, "{\"type\":\"connection_established\"")) {
      ++established;
    }
  });

  if (o.mode == "idle") {
    for (int done = 0; done < o.connections; done += 500) {
      const int n = std::min(500, o.connections - done);
      cl.connect(n);
      cl.run(30000, [&] { return established + cl.failed_count() >= done + n; });
    }
    std::printf("connected=%d failed=%d\n", established, o.connections - established);
    std::fflush(stdout);
    cl.run(o.hold * 1000, [] { return false; });
    return established == o.connections ? 0 : 1;
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
    cl.connect(1);
    bench::Conn& pub = cl.conns().back();
    publisher = &pub;
    cl.run(5000, [&] { return pub.open && established > 0; });
    const std::string msg = "{\"type\":\"publish\",\"channel\":\"" + o.channel + "\",\"data\":\"" +
                            std::string(static_cast<std::size_t>(o.payload), 'x') + "\"}";
    const unsigned long long want = receive ? static_cast<unsigned long long>(o.connections) * o.messages : 0;
    int sent = 0;
    t0 = bench::now_seconds();
    // Keep `window` publishes unanswered while the receivers are served.
    cl.run(o.timeout * 1000, [&] {
      while (sent < o.messages && sent - published < o.window) {
        cl.send_text(pub, msg);
        ++sent;
      }
      return published >= o.messages && delivered >= want;
    });
    std::printf("publish_start=%.6f publish_end=%.6f published=%d\n", t0, bench::now_seconds(), published);
  }
  if (receive) {
    const unsigned long long want = static_cast<unsigned long long>(o.connections) * o.messages;
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
