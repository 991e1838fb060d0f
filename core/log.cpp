#include "log.h"

#include <cstdarg>
#include <cstdio>
#include <string>

namespace rtpush {

namespace {

void to_stderr(LogLevel level, std::string_view line) {
  static const char* kNames[] = {"E", "W", "N", "I"};
  std::string out = std::string(kNames[static_cast<int>(level)]) + ": rtpush: ";
  out.append(line);
  out.push_back('\n');
  std::fwrite(out.data(), 1, out.size(), stderr);  // one write: lines from two threads do not interleave
}

LogSink& sink() {
  static LogSink s = to_stderr;
  return s;
}

}  // namespace

void set_log_sink(LogSink s) { sink() = s ? std::move(s) : LogSink(to_stderr); }

void log(LogLevel level, const char* fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  const int n = std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  sink()(level, std::string_view(buf, static_cast<std::size_t>(n) < sizeof buf ? n : sizeof buf - 1));
}

}  // namespace rtpush
