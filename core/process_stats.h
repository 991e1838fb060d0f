// Process metrics (Prometheus' standard process_* names): CPU, memory, file
// descriptors and start time of this lwsws process, read from /proc only
// when GET metrics is scraped. The parsing is pure (unit-tested on sample
// text); read_process_stats() is the one place that touches /proc.
#pragma once
#include <cstdint>
#include <optional>
#include <string_view>

namespace rtpush {

// The fields of /proc/<pid>/stat that the metrics use, in the kernel's units.
struct ProcStat {
  std::uint64_t utime_ticks = 0;      // field 14, clock ticks in user mode
  std::uint64_t stime_ticks = 0;      // field 15, in kernel mode
  std::uint64_t starttime_ticks = 0;  // field 22, ticks after boot
  std::uint64_t vsize_bytes = 0;      // field 23
  std::uint64_t rss_pages = 0;        // field 24
};

// /proc/<pid>/stat's one line. The command name (field 2) is in parentheses
// and may hold spaces and ')': fields are counted after its last ')'.
// nullopt when the text is not such a line.
std::optional<ProcStat> parse_proc_stat(std::string_view text);

// The "btime" line of /proc/stat: boot time, seconds since the epoch.
std::optional<std::uint64_t> parse_boot_time(std::string_view proc_stat_text);

// What GET metrics shows, in Prometheus' units (seconds, bytes).
struct ProcessStats {
  double cpu_seconds = 0;
  double resident_bytes = 0;
  double virtual_bytes = 0;
  double start_time_seconds = 0;  // since the epoch
  double open_fds = 0;
  double max_fds = 0;             // the soft RLIMIT_NOFILE
};

// `s` converted with the system's tick rate, page size and boot time.
ProcessStats process_stats_from(const ProcStat& s, long ticks_per_second, long page_size, std::uint64_t boot_time);

// This process's figures now: reads /proc/self/stat, /proc/stat, walks
// /proc/self/fd (O(open fds): cheap at a scrape, not for a hot path).
// nullopt where /proc is missing or unreadable.
std::optional<ProcessStats> read_process_stats();

}  // namespace rtpush
