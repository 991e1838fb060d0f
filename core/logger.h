// Logger: where the core's lines go, injected like Clocks (node.h): the
// plugin hands each object that logs (Node, the Redis and PostgreSQL
// backends) a Logger that writes through lws's log; tests hand one that
// captures the lines. A copy is cheap and every copy writes to the same sink.
//
// Use it for what an operator must see: a backend failing (once, with its
// cause) and recovering (once), a row refused by PostgreSQL, a publish
// refused by a bound. Never log what a client sent (payloads, tokens).
#pragma once
#include <cstdarg>
#include <functional>
#include <string>
#include <string_view>

namespace rtpush {

// In lws's order (LLL_ERR, LLL_WARN, LLL_NOTICE, LLL_INFO).
enum class LogLevel { Err, Warn, Notice, Info };

// Gets one line, without "rtpush: " or a newline. Called from the service
// thread and from the I/O thread: it must be safe from both.
using LogSink = std::function<void(LogLevel, std::string_view line)>;

class Logger {
 public:
  // Lines of `level` and more severe go to `sink`; the rest are not even
  // formatted. A null sink drops everything.
  Logger(LogLevel level, LogSink sink) : level_(level), sink_(std::move(sink)) {}

  // "E: rtpush: line\n" on stderr, one write(2) per line (lines from two
  // threads do not interleave).
  static Logger to_stderr(LogLevel level = LogLevel::Notice);
  // Drops every line.
  static Logger none() { return Logger(LogLevel::Err, nullptr); }

  bool enabled(LogLevel level) const { return sink_ && level <= level_; }

  // printf-style; a line longer than 1 KiB is cut and ends in "...".
  void err(const char* fmt, ...) const __attribute__((format(printf, 2, 3)));
  void warn(const char* fmt, ...) const __attribute__((format(printf, 2, 3)));
  void notice(const char* fmt, ...) const __attribute__((format(printf, 2, 3)));
  void info(const char* fmt, ...) const __attribute__((format(printf, 2, 3)));

 private:
  void write(LogLevel level, const char* fmt, va_list ap) const;
  LogLevel level_;
  LogSink sink_;
};

// A message that spans lines (libpq's "...\n\tThis probably means...") as
// one log line: whitespace runs become one space.
std::string one_line(std::string_view message);

}  // namespace rtpush
