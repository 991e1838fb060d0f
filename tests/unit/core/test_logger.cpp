// The injected Logger, and what the backends tell it: a backend failure is
// logged once with its cause however often the reconnect fails, and once
// more when it recovers. Redis is played by a bare TCP listener (hiredis
// counts a connection as up once TCP connects); nothing listens before it.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cmocka_cpp.h"
#include "free_port.h"
#include "http_api.h"
#include "io_thread.h"
#include "logger.h"
#include "memory_broker.h"
#include "node.h"
#include "pg_archive.h"
#include "pg_persistence.h"
#include "pg_store.h"
#include "redis_broker.h"

using rtpush::LogLevel;

namespace {

// Lines as the sink got them; the backends log from the I/O thread.
struct Captured {
  std::mutex mu;
  std::vector<std::pair<LogLevel, std::string>> lines;

  rtpush::Logger logger(LogLevel level = LogLevel::Info) {
    return rtpush::Logger(level, [this](LogLevel l, std::string_view line) {
      std::lock_guard<std::mutex> lock(mu);
      lines.emplace_back(l, std::string(line));
    });
  }
  // Lines of `level` that contain `text`.
  int count(LogLevel level, const std::string& text) {
    std::lock_guard<std::mutex> lock(mu);
    int n = 0;
    for (const auto& [l, line] : lines) n += l == level && line.find(text) != std::string::npos;
    return n;
  }
  std::string all() {
    std::lock_guard<std::mutex> lock(mu);
    std::string s;
    for (const auto& [l, line] : lines) s += std::to_string(static_cast<int>(l)) + " " + line + "\n";
    return s;
  }
};

bool wait_until(const std::function<bool()>& done, double secs) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(secs);
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}


int listen_on(int port) {  // non-blocking: accept() answers at once
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(fd, 16) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

// Lines of the Logger's level and more severe reach its sink, the rest are
// not even formatted; copies write to the same sink; none() drops them.
static void level_and_format(void**) {
  Captured c;
  rtpush::Logger log = c.logger(LogLevel::Notice);
  log.event(LogLevel::Err, "a", {{"b", 7}});
  log.event(LogLevel::Notice, "n", {});
  log.event(LogLevel::Info, "not_shown", {});  // past the level: not even formatted
  assert_int_equal(c.count(LogLevel::Err, "event=a b=7"), 1);
  assert_int_equal(c.count(LogLevel::Notice, "event=n"), 1);
  assert_int_equal(c.lines.size(), 2);
  assert_false(log.enabled(LogLevel::Info));
  // A copy writes to the same sink.
  rtpush::Logger copy = log;
  copy.event(LogLevel::Warn, "w", {});
  assert_int_equal(c.count(LogLevel::Warn, "event=w"), 1);
  rtpush::Logger::none().event(LogLevel::Err, "nowhere", {});  // no sink: dropped, no crash
  assert_int_equal(c.lines.size(), 3);
  assert_string_equal(rtpush::one_line("could not connect\n\tIs the server running?\n").c_str(),
                      "could not connect Is the server running?");
}

// Events are one line of key=value fields: the node first when the Logger
// has one, values quoted (\" and \\ escaped) when not a plain word,
// multi-line causes on one line.
static void events_are_key_value_lines(void**) {
  Captured c;
  rtpush::Logger log = c.logger(LogLevel::Notice).for_node("n1");
  log.event(LogLevel::Err, "backend_down",
            {{"backend", "redis"}, {"addr", "127.0.0.1:6379"}, {"cause", "Connection refused"}, {"rows", 7}});
  assert_int_equal(c.count(LogLevel::Err,
                           "node=n1 event=backend_down backend=redis addr=127.0.0.1:6379 cause=\"Connection refused\" rows=7"),
                   1);
  assert_string_equal(c.lines.back().second.c_str(),
                      "node=n1 event=backend_down backend=redis addr=127.0.0.1:6379 cause=\"Connection refused\" rows=7");
  log.event(LogLevel::Info, "past_the_level", {});
  assert_int_equal(c.lines.size(), 1);
  // A Logger without a node: no node field; an empty field is left out.
  c.logger().event(LogLevel::Notice, "x", {{"k", ""}, {"v", "1"}});
  assert_string_equal(c.lines.back().second.c_str(), "event=x v=1");
  assert_string_equal(rtpush::log_value("").c_str(), "\"\"");
  assert_string_equal(rtpush::log_value("say \"hi\"\\\n\tnow").c_str(), "\"say \\\"hi\\\"\\\\ now\"");
  assert_string_equal(rtpush::log_value("a=b").c_str(), "\"a=b\"");  // '=' would split the field
  assert_string_equal(rtpush::log_value("pg-backlog-rows").c_str(), "pg-backlog-rows");
  assert_string_equal(rtpush::format_event("e", {{"a", 1}, {"b", "two words"}}).c_str(), "event=e a=1 b=\"two words\"");
}

// Events a client causes at will: one line a second per (event, key), the
// next line counts what was dropped.
static void sampled_events_do_not_flood(void**) {
  Captured c;
  rtpush::Logger log = c.logger(LogLevel::Notice);
  rtpush::Logger copy = log;  // copies share the sampling
  for (int i = 0; i < 100; ++i) (i % 2 ? copy : log).sampled(LogLevel::Notice, "auth_refused", "expired", {{"reason", "expired"}});
  log.sampled(LogLevel::Notice, "auth_refused", "malformed", {{"reason", "malformed"}});  // another key: its own line
  assert_int_equal(c.count(LogLevel::Notice, "event=auth_refused reason=expired"), 1);
  assert_int_equal(c.count(LogLevel::Notice, "event=auth_refused reason=malformed"), 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(1050));
  log.sampled(LogLevel::Notice, "auth_refused", "expired", {{"reason", "expired"}});
  assert_string_equal(c.lines.back().second.c_str(), "event=auth_refused reason=expired suppressed=99");
  log.sampled(LogLevel::Info, "below_level", "", {});  // past the level: nothing, no slot
  assert_int_equal(c.lines.size(), 3);
}

static void redis_outage_logged_once_with_cause_then_recovery(void**) {
  Captured c;
  const int port = free_port();
  std::string why;
  const rtpush::RedisUrl address = *rtpush::RedisUrl::parse("redis://127.0.0.1:" + std::to_string(port), &why);
  rtpush::IoThread io([] {});
  {
    rtpush::RedisBroker broker(address, "n1", 10, 0, &io, c.logger());
    // Nothing listens: the connect fails, and again at each backoff (0.05 to
    // 0.1 s, then growing): several attempts in a second, one line.
    std::this_thread::sleep_for(std::chrono::milliseconds(1200));
    assert_int_equal(c.count(LogLevel::Err, "event=backend_down backend=redis "), 1);
    assert_int_equal(c.count(LogLevel::Err, "Connection refused"), 1);  // hiredis's errstr: the cause
    assert_int_equal(c.count(LogLevel::Notice, "event=backend_up"), 0);

    // Redis comes up: one line saying so.
    const int listener = listen_on(port);
    assert_true(listener >= 0);
    // A link is up once Redis answered its first command (a PING, with no
    // password): this listener answers it, for both links.
    std::vector<int> accepted;
    assert_true(wait_until(
        [&] {
          for (int fd; (fd = accept4(listener, nullptr, nullptr, SOCK_NONBLOCK)) >= 0;) {
            accepted.push_back(fd);
            assert_int_equal(write(fd, "+PONG\r\n", 7), 7);
          }
          return broker.state() == rtpush::BackendState::Up;
        },
        10));
    assert_int_equal(c.count(LogLevel::Notice, "event=backend_up backend=redis "), 1);

    // It goes away: the disconnect is logged, with its cause, once.
    for (int fd : accepted) close(fd);
    close(listener);
    assert_true(wait_until([&] { return c.count(LogLevel::Err, "event=backend_down backend=redis ") == 2; }, 5));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    assert_int_equal(c.count(LogLevel::Err, "event=backend_down backend=redis "), 2);
    assert_int_equal(c.count(LogLevel::Notice, "event=backend_up"), 1);
  }
  io.drain();
  if (c.count(LogLevel::Err, "event=backend_down backend=redis ") != 2) fail_msg("%s", c.all().c_str());
}

static void postgres_outage_logged_once_with_cause(void**) {
  Captured c;
  rtpush::IoThread io([] {});
  {
    rtpush::PgStore store("host=127.0.0.1 port=" + std::to_string(free_port()) + " connect_timeout=2", 10, 10, &io,
                          c.logger());
    std::this_thread::sleep_for(std::chrono::milliseconds(1200));  // several retries
    assert_int_equal(c.count(LogLevel::Err, "event=backend_down backend=postgres "), 1);
    assert_int_equal(c.count(LogLevel::Err, "Connection refused"), 1);  // libpq's message, on one line
    assert_int_equal(c.count(LogLevel::Err, "\n"), 0);
  }
  io.drain();
}

static void postgres_archive_outage_logged_once_with_cause(void**) {
  Captured c;
  rtpush::IoThread io([] {});
  int answered = 0;
  {
    rtpush::PgArchive archive("host=127.0.0.1 port=" + std::to_string(free_port()) + " connect_timeout=2", &io,
                              c.logger());
    for (int i = 0; i < 3; ++i) {  // three replays fail: one line
      archive.read("c", {}, {~0ULL, ~0ULL}, 10, 1 << 20, [&](bool ok, std::vector<rtpush::MessagePtr>, bool) {
        assert_false(ok);
        ++answered;
      });
      assert_true(wait_until([&] { io.drain(); return answered == i + 1; }, 5));
    }
  }
  assert_int_equal(c.count(LogLevel::Err, "event=backend_down backend=postgres_archive "), 1);
  assert_int_equal(c.count(LogLevel::Err, "Connection refused"), 1);
}

// Embedded with postgres down: past pg-backlog-rows publishes are refused,
// which the operator sees once (not once per refused publish).
static void node_logs_the_backlog_refusal_once(void**) {
  Captured c;
  rtpush::IoThread io([] {});
  rtpush::Options o;
  o.pg_backlog_rows = 1;
  auto clocks = rtpush::Clocks::system();
  auto store = std::make_unique<rtpush::PgDirectPersistence>("host=127.0.0.1 port=" + std::to_string(free_port()),
                                                             10, 10, &io, rtpush::Logger::none());
  {
    rtpush::Node node(o, std::make_unique<rtpush::MemoryBroker>(10, clocks.wall_ms), clocks, std::move(store),
                      c.logger());
    std::vector<int> statuses;
    for (int i = 0; i < 4; ++i)
      rtpush::HttpApi(node).handle({"POST", "publish/c", "1", false, {}, false, {}},
                                   [&](rtpush::HttpResponse r) { statuses.push_back(r.status); });
    assert_int_equal(statuses.size(), 4);
    assert_int_equal(statuses[0], 200);  // the one row the backlog holds
    for (int i = 1; i < 4; ++i) assert_int_equal(statuses[i], 503);
    assert_int_equal(c.count(LogLevel::Warn, "pg-backlog-rows"), 1);
  }
  io.drain();
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(level_and_format),
      cmocka_unit_test(events_are_key_value_lines),
      cmocka_unit_test(sampled_events_do_not_flood),
      cmocka_unit_test(redis_outage_logged_once_with_cause_then_recovery),
      cmocka_unit_test(postgres_outage_logged_once_with_cause),
      cmocka_unit_test(postgres_archive_outage_logged_once_with_cause),
      cmocka_unit_test(node_logs_the_backlog_refusal_once),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
