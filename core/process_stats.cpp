#include "process_stats.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <string>

namespace rtpush {

namespace {

// The next space-separated field of `s` at `*at` as a number; false when
// there is none or it is not a decimal number.
bool next_number(std::string_view s, std::size_t* at, std::uint64_t* out) {
  while (*at < s.size() && s[*at] == ' ') ++*at;
  const std::size_t start = *at;
  std::uint64_t v = 0;
  while (*at < s.size() && s[*at] >= '0' && s[*at] <= '9') v = v * 10 + static_cast<std::uint64_t>(s[(*at)++] - '0');
  if (*at == start) return false;
  if (*at < s.size() && s[*at] != ' ' && s[*at] != '\n') return false;
  *out = v;
  return true;
}

bool skip_field(std::string_view s, std::size_t* at) {
  while (*at < s.size() && s[*at] == ' ') ++*at;
  const std::size_t start = *at;
  while (*at < s.size() && s[*at] != ' ' && s[*at] != '\n') ++*at;
  return *at > start;
}

// A whole small file (procfs reports size 0: read until EOF).
std::optional<std::string> slurp(const char* path) {
  FILE* f = std::fopen(path, "re");
  if (!f) return std::nullopt;
  std::string text;
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) text.append(buf, n);
  std::fclose(f);
  return text;
}

std::optional<std::uint64_t> count_open_fds() {
  DIR* d = ::opendir("/proc/self/fd");
  if (!d) return std::nullopt;
  std::uint64_t n = 0;
  while (const dirent* e = ::readdir(d))
    if (e->d_name[0] != '.') ++n;
  ::closedir(d);
  return n - 1;  // not the descriptor this walk itself holds open
}

}  // namespace

std::optional<ProcStat> parse_proc_stat(std::string_view text) {
  const std::size_t open = text.find('(');
  const std::size_t close = text.rfind(')');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open) return std::nullopt;
  std::size_t at = close + 1;
  // Field 3 (state) is a letter; fields 4..13 are skipped, 14 and 15 read,
  // 16..21 skipped, 22..24 read.
  ProcStat s;
  if (!skip_field(text, &at)) return std::nullopt;  // 3 state
  for (int f = 4; f <= 24; ++f) {
    std::uint64_t v = 0;
    if (!next_number(text, &at, &v)) {
      // Fields 4..8 are ids that may be -1 (tty_nr, tpgid): not needed, skip any text.
      if (f < 14 && skip_field(text, &at)) continue;
      return std::nullopt;
    }
    switch (f) {
      case 14: s.utime_ticks = v; break;
      case 15: s.stime_ticks = v; break;
      case 22: s.starttime_ticks = v; break;
      case 23: s.vsize_bytes = v; break;
      case 24: s.rss_pages = v; break;
      default: break;
    }
  }
  return s;
}

std::optional<std::uint64_t> parse_boot_time(std::string_view text) {
  for (std::size_t at = 0; at < text.size();) {
    std::size_t end = text.find('\n', at);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view line = text.substr(at, end - at);
    if (line.substr(0, 6) == "btime ") {
      std::size_t p = 6;
      std::uint64_t v = 0;
      if (next_number(line, &p, &v)) return v;
      return std::nullopt;
    }
    at = end + 1;
  }
  return std::nullopt;
}

ProcessStats process_stats_from(const ProcStat& s, long ticks_per_second, long page_size, std::uint64_t boot_time) {
  ProcessStats p;
  const double tps = ticks_per_second > 0 ? static_cast<double>(ticks_per_second) : 100.0;
  p.cpu_seconds = static_cast<double>(s.utime_ticks + s.stime_ticks) / tps;
  p.resident_bytes = static_cast<double>(s.rss_pages) * static_cast<double>(page_size);
  p.virtual_bytes = static_cast<double>(s.vsize_bytes);
  p.start_time_seconds = static_cast<double>(boot_time) + static_cast<double>(s.starttime_ticks) / tps;
  return p;
}

std::optional<ProcessStats> read_process_stats() {
  const std::optional<std::string> stat = slurp("/proc/self/stat");
  const std::optional<std::string> system = slurp("/proc/stat");
  if (!stat || !system) return std::nullopt;
  const std::optional<ProcStat> s = parse_proc_stat(*stat);
  const std::optional<std::uint64_t> boot = parse_boot_time(*system);
  if (!s || !boot) return std::nullopt;
  ProcessStats p = process_stats_from(*s, ::sysconf(_SC_CLK_TCK), ::sysconf(_SC_PAGESIZE), *boot);
  if (const std::optional<std::uint64_t> fds = count_open_fds()) p.open_fds = static_cast<double>(*fds);
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) == 0)
    p.max_fds = static_cast<double>(lim.rlim_cur);  // RLIM_INFINITY shows as its huge value, as Prometheus' own clients do
  return p;
}

}  // namespace rtpush
