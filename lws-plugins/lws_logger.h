// The core's Logger for a vhost: its lines go through lws's log (lwsl_*), so
// they land where lwsws sends its own (stderr, or syslog when daemonized),
// in its format, filtered by its level.
//
// lws's log is not safe from a second thread: built with LWS_MAX_SMP 1 (as
// lwsws is), _lws_logv formats into one static 256-byte buffer ("this is
// incompatible with multithreaded logging", lib/core/logs.c). So a line
// logged on the I/O thread is queued to the service thread with
// IoThread::deliver, which wakes lws; it is written there in order with the
// results it explains (a failed publish's answer comes after "redis
// unavailable"). A single write(2) to stderr would be thread-safe too, but
// would bypass lwsws's log destination and format.
#pragma once
#include <libwebsockets.h>

#include <string>
#include <string_view>
#include <thread>

#include "io_thread.h"
#include "logger.h"

namespace rtpush_lws {

// One line on the service thread. lws cuts a line at 256 bytes: longer ones
// (libpq's messages can be) go on as continuation lines, nothing is lost.
inline void emit(rtpush::LogLevel level, std::string_view line) {
  static const int kLws[] = {LLL_ERR, LLL_WARN, LLL_NOTICE, LLL_INFO};
  constexpr std::size_t kChunk = 240;  // + "rtpush: ... " and "\n": within the 255
  for (std::size_t at = 0; at == 0 || at < line.size(); at += kChunk) {
    const std::string_view part = line.substr(at, kChunk);
    _lws_log(kLws[static_cast<int>(level)], "rtpush: %s%.*s\n", at ? "... " : "", static_cast<int>(part.size()),
             part.data());
  }
}

// `io`: the vhost's I/O thread, or null when it has none (then every line
// is logged on the service thread: no other thread logs then). `node`: the
// node's name, at the start of every event line (none before the options
// name it). Call it on the service thread.
inline rtpush::Logger lws_logger(rtpush::IoThread* io, std::string node = {}) {
  rtpush::LogLevel level = rtpush::LogLevel::Err;  // the most detailed one lws shows
  if (lwsl_visible(LLL_WARN)) level = rtpush::LogLevel::Warn;
  if (lwsl_visible(LLL_NOTICE)) level = rtpush::LogLevel::Notice;
  if (lwsl_visible(LLL_INFO)) level = rtpush::LogLevel::Info;
  const std::thread::id service = std::this_thread::get_id();
  return rtpush::Logger(level, [io, service](rtpush::LogLevel l, std::string_view line) {
           if (std::this_thread::get_id() == service || !io) return emit(l, line);
           io->deliver([l, text = std::string(line)] { emit(l, text); });
         })
      .for_node(std::move(node));
}

// One event line from the plugin itself, on the service thread, where no
// node's Logger is at hand (a vhost refused before it has one, a callback
// that failed): the same format as the core's (logger.h). Called from
// catch blocks and timer callbacks: it never throws (a line that cannot be
// formatted, out of memory, is lost).
inline void log_event(rtpush::LogLevel level, std::string_view event, rtpush::LogFields fields,
                      std::string node = {}) noexcept {
  try {
    lws_logger(nullptr, std::move(node)).event(level, event, fields);
  } catch (...) {
  }
}

}  // namespace rtpush_lws
