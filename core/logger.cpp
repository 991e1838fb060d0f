#include "logger.h"

#include <unistd.h>

#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <utility>

namespace rtpush {

struct LogSamples {
  struct Slot {
    std::int64_t last_ms = 0;
    std::uint64_t suppressed = 0;
    bool seen = false;
  };
  std::mutex mu;  // copies of a Logger log from the service and the I/O thread
  std::map<std::string, Slot, std::less<>> slots;  // by "name key"
};

Logger::Logger(LogLevel level, LogSink sink)
    : level_(level), sink_(std::move(sink)), samples_(std::make_shared<LogSamples>()) {}

namespace {
constexpr std::int64_t kSampleIntervalMs = 1000;

bool plain(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("_-.:/@+,()[]*").find(c) != std::string_view::npos;
}
}  // namespace

std::string log_value(std::string_view value) {
  bool bare = !value.empty();
  for (char c : value) bare = bare && plain(c);
  if (bare) return std::string(value);
  std::string out = "\"";
  for (char c : one_line(value)) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

std::string format_event(std::string_view event, LogFields fields) {
  std::string out = "event=";
  out += log_value(event);
  for (const LogField& f : fields) {
    if (f.value.empty()) continue;  // a field that does not apply here is left out
    out.push_back(' ');
    out += f.key;
    out.push_back('=');
    out += log_value(f.value);
  }
  return out;
}

Logger Logger::for_node(std::string node) const {
  Logger l = *this;
  l.node_ = std::move(node);
  return l;
}

void Logger::line(LogLevel level, std::string_view name, LogFields fields, std::uint64_t suppressed) const {
  std::string text;
  if (!node_.empty()) text = "node=" + log_value(node_) + " ";
  text += format_event(name, fields);
  if (suppressed) text += " suppressed=" + std::to_string(suppressed);
  sink_(level, text);
}

void Logger::event(LogLevel level, std::string_view name, LogFields fields) const {
  if (enabled(level)) line(level, name, fields, 0);
}

void Logger::sampled(LogLevel level, std::string_view name, std::string_view key, LogFields fields) const {
  if (!enabled(level)) return;
  const std::int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::steady_clock::now().time_since_epoch()).count();
  std::uint64_t suppressed = 0;
  {
    std::lock_guard<std::mutex> lock(samples_->mu);
    LogSamples::Slot& slot = samples_->slots[std::string(name) + " " + std::string(key)];
    if (slot.seen && now - slot.last_ms < kSampleIntervalMs) {
      ++slot.suppressed;
      return;
    }
    slot.seen = true;
    slot.last_ms = now;
    suppressed = std::exchange(slot.suppressed, 0);
  }
  line(level, name, fields, suppressed);
}

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

}  // namespace rtpush
