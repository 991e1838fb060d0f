#include "logger.h"

#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <string>

namespace rtpush {

Logger Logger::to_stderr(LogLevel level) {
  return Logger(level, [](LogLevel l, std::string_view line) {
    static const char* kNames[] = {"E", "W", "N", "I"};
    std::string out = std::string(kNames[static_cast<int>(l)]) + ": rtpush: ";
    out.append(line);
    out.push_back('\n');
    // One write(2), not stdio: a whole line or nothing between two threads' lines.
    for (std::size_t done = 0; done < out.size();) {
      const ssize_t n = ::write(STDERR_FILENO, out.data() + done, out.size() - done);
      if (n <= 0) return;
      done += static_cast<std::size_t>(n);
    }
  });
}

void Logger::write(LogLevel level, const char* fmt, va_list ap) const {
  if (!enabled(level)) return;
  char buf[1024];
  const int n = std::vsnprintf(buf, sizeof buf, fmt, ap);
  if (n < 0) return;
  std::size_t len = static_cast<std::size_t>(n);
  if (len >= sizeof buf) {  // cut: say so
    len = sizeof buf - 1;
    buf[len - 3] = buf[len - 2] = buf[len - 1] = '.';
  }
  sink_(level, std::string_view(buf, len));
}

std::string one_line(std::string_view message) {
  std::string s;
  for (char c : message) {
    const bool space = c == '\n' || c == '\t' || c == '\r' || c == ' ';
    if (!space) s.push_back(c);
    else if (!s.empty() && s.back() != ' ') s.push_back(' ');
  }
  if (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

#define RTPUSH_LOG_AT(name, level)             \
  void Logger::name(const char* fmt, ...) const { \
    if (!enabled(level)) return;               \
    va_list ap;                                \
    va_start(ap, fmt);                         \
    write(level, fmt, ap);                     \
    va_end(ap);                                \
  }
RTPUSH_LOG_AT(err, LogLevel::Err)
RTPUSH_LOG_AT(warn, LogLevel::Warn)
RTPUSH_LOG_AT(notice, LogLevel::Notice)
RTPUSH_LOG_AT(info, LogLevel::Info)
#undef RTPUSH_LOG_AT

}  // namespace rtpush
