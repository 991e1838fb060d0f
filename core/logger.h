// Logger: where the core's lines go, injected like Clocks (node.h): the
// plugin hands each object that logs (Node, the Redis and PostgreSQL
// backends) a Logger that writes through lws's log; tests hand one that
// captures the lines. A copy is cheap and every copy writes to the same sink.
//
// Use it for what an operator must see: a backend failing (once, with its
// cause) and recovering (once), a row refused by PostgreSQL, a publish
// refused by a bound. Never log what a client sent (payloads, tokens).
//
// Lines are events: `event(level, "backend_down", {{"backend", "redis"},
// {"cause", why}})` writes "node=n1 event=backend_down backend=redis
// cause=\"Connection refused\"", one line an operator can grep or a log
// shipper can split into fields. Every event is listed in
// docs/operations.md, "Logs".
#pragma once
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>

namespace rtpush {

// In lws's order (LLL_ERR, LLL_WARN, LLL_NOTICE, LLL_INFO).
enum class LogLevel { Err, Warn, Notice, Info };

// Gets one line, without "rtpush: " or a newline. Called from the service
// thread and from the I/O thread: it must be safe from both.
using LogSink = std::function<void(LogLevel, std::string_view line)>;

// One key=value of an event line.
struct LogField {
  LogField(const char* k, std::string v) : key(k), value(std::move(v)) {}
  LogField(const char* k, const char* v) : key(k), value(v ? v : "") {}
  LogField(const char* k, std::string_view v) : key(k), value(v) {}
  template <typename N, typename = std::enable_if_t<std::is_arithmetic_v<N>>>
  LogField(const char* k, N v) : key(k), value(std::to_string(v)) {}
  const char* key;
  std::string value;
};
using LogFields = std::initializer_list<LogField>;

// `value` as it goes into a line: bare when it is a plain word, else in
// double quotes with \" and \\ escaped; line breaks and tabs become one
// space (libpq's messages span lines).
std::string log_value(std::string_view value);

// "event=NAME k1=v1 k2=v2", values through log_value; a field whose value
// is empty is left out.
std::string format_event(std::string_view event, LogFields fields);

struct LogSamples;  // logger.cpp

class Logger {
 public:
  // Lines of `level` and more severe go to `sink`; the rest are not even
  // formatted. A null sink drops everything.
  Logger(LogLevel level, LogSink sink);

  // "E: rtpush: line\n" on stderr, one write(2) per line (lines from two
  // threads do not interleave).
  static Logger to_stderr(LogLevel level = LogLevel::Notice);
  // Drops every line.
  static Logger none() { return Logger(LogLevel::Err, nullptr); }

  bool enabled(LogLevel level) const { return sink_ && level <= level_; }

  // This Logger with every event line starting "node=NAME ".
  Logger for_node(std::string node) const;

  // One event line (see the top of this file).
  void event(LogLevel level, std::string_view name, LogFields fields) const;
  // The same for events a client can cause at will (a refused token, a
  // slow consumer): at most one line per second for each `name` and `key`
  // (the reason, say); the next line that goes out carries suppressed=N,
  // the lines dropped since. An attack stays visible without flooding the
  // journal.
  void sampled(LogLevel level, std::string_view name, std::string_view key, LogFields fields) const;

 private:
  void line(LogLevel level, std::string_view name, LogFields fields, std::uint64_t suppressed) const;
  LogLevel level_;
  LogSink sink_;
  std::string node_;
  std::shared_ptr<LogSamples> samples_;  // shared by copies
};

// A message that spans lines (libpq's "...\n\tThis probably means...") as
// one log line: whitespace runs become one space.
std::string one_line(std::string_view message);

}  // namespace rtpush
