// The core's log: one line per event, from either thread. The plugin may
// point it elsewhere (set_log_sink); by default lines go to stderr, which
// lwsws sends to its log / journald like its own.
//
// Use it for what an operator must see: a backend failing (with its cause)
// and recovering, a row refused by PostgreSQL, a vhost option refused.
// Never log what a client sent (payloads, tokens).
#pragma once
#include <functional>
#include <string_view>

namespace rtpush {

enum class LogLevel { Err, Warn, Notice, Info };

using LogSink = std::function<void(LogLevel, std::string_view line)>;

// Set once, before any thread logs (vhost init).
void set_log_sink(LogSink sink);

// printf-style; the line gets "rtpush: " in front and a newline after.
void log(LogLevel level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

}  // namespace rtpush
