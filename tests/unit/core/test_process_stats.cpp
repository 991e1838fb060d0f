// Process metrics (process_stats.cpp, metrics.cpp): /proc/self/stat and
// /proc/stat text as the kernel writes it, converted to Prometheus' units,
// and the process_* block GET metrics shows.
#include <unistd.h>

#include <cstring>
#include <string>
#include <string_view>

#include "cmocka_cpp.h"
#include "metrics.h"
#include "process_stats.h"

using namespace rtpush;

// A real line (lwsws under load): tpgid -1, utime 1234, stime 567,
// starttime 2476778, vsize 3133440, rss 387 pages.
static const char kStat[] =
    "15449 (lwsws) S 15445 15445 10910 0 -1 4194304 100 0 0 0 1234 567 0 0 20 0 3 0 2476778 3133440 387 "
    "18446744073709551615 94013534285824 94013534305705 140732917801824 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";

// `text` parses, to these five fields.
static void assert_stat(std::string_view text, std::uint64_t utime, std::uint64_t stime, std::uint64_t starttime,
                        std::uint64_t vsize, std::uint64_t rss) {
  const std::optional<ProcStat> s = parse_proc_stat(text);
  assert_true(s.has_value());
  assert_int_equal(s->utime_ticks, utime);
  assert_int_equal(s->stime_ticks, stime);
  assert_int_equal(s->starttime_ticks, starttime);
  assert_int_equal(s->vsize_bytes, vsize);
  assert_int_equal(s->rss_pages, rss);
}

static void parses_a_real_line(void**) { assert_stat(kStat, 1234, 567, 2476778, 3133440, 387); }

// The command name may hold spaces and ')' (a thread named so): fields
// count from the last ')'.
static void command_names_with_spaces_and_parens(void**) {
  const std::string line = std::string("7 (a) b (c)) R 1 1 1 0 -1 0 0 0 0 0 10 20 0 0 20 0 1 0 300 4096 2 0\n");
  assert_stat(line, 10, 20, 300, 4096, 2);
}

static void refuses_what_is_not_a_stat_line(void**) {
  assert_false(parse_proc_stat("").has_value());
  assert_false(parse_proc_stat("15449 lwsws S 1 2 3").has_value());
  assert_false(parse_proc_stat("15449 (lwsws) S 15445 15445 10910 0 -1 4194304 100 0 0 0 12").has_value());  // cut
  assert_false(parse_proc_stat("1 (x) S 1 1 1 0 -1 0 0 0 0 0 1x 2 0 0 20 0 1 0 3 4 5\n").has_value());
}

static void boot_time_from_proc_stat(void**) {
  const char text[] = "cpu  1 2 3 4\ncpu0 1 2 3 4\nintr 5 6\nctxt 77\nbtime 1764121000\nprocesses 9\n";
  assert_int_equal(*parse_boot_time(text), 1764121000);
  assert_false(parse_boot_time("cpu 1 2\nctxt 3\n").has_value());
  assert_false(parse_boot_time("btime x\n").has_value());
}

static void converted_to_seconds_and_bytes(void**) {
  const ProcessStats p = process_stats_from(*parse_proc_stat(kStat), 100, 4096, 1764121000);
  assert_float_equal(p.cpu_seconds, 18.01, 1e-9);
  assert_float_equal(p.resident_bytes, 387.0 * 4096, 0);
  assert_float_equal(p.virtual_bytes, 3133440, 0);
  assert_float_equal(p.start_time_seconds, 1764121000 + 24767.78, 1e-6);
}

// This process, read for real: plausible figures.
static void reads_this_process(void**) {
  const std::optional<ProcessStats> p = read_process_stats();
  assert_true(p.has_value());
  assert_true(p->resident_bytes > 0);
  assert_true(p->virtual_bytes >= p->resident_bytes);
  assert_true(p->open_fds >= 3);  // stdin, stdout, stderr at least
  assert_true(p->max_fds >= p->open_fds);
  const double now = static_cast<double>(time(nullptr));
  assert_true(p->start_time_seconds > now - 3600 && p->start_time_seconds <= now + 1);
}

// GET metrics: the process_* block in Prometheus' names and types, and
// rtpush_build_info with this build's version.
static void rendered_in_prometheus_names(void**) {
  ProcessStats p;
  p.cpu_seconds = 1.5;
  p.resident_bytes = 1048576;
  p.virtual_bytes = 2097152;
  p.open_fds = 12;
  p.max_fds = 1024;
  p.start_time_seconds = 1764121000.25;
  Gauges g;
  g.process = &p;
  Metrics m;
  const std::string text = m.render("n", g);
  for (const char* want : {"# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total 1.5\n",
                           "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes 1048576\n",
                           "# TYPE process_virtual_memory_bytes gauge\nprocess_virtual_memory_bytes 2097152\n",
                           "# TYPE process_open_fds gauge\nprocess_open_fds 12\n",
                           "# TYPE process_max_fds gauge\nprocess_max_fds 1024\n",
                           "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds 1764121000.25\n"})
    if (!strstr(text.c_str(), want)) fail_msg("missing %s in\n%s", want, text.c_str());
  const std::string info = std::string("rtpush_build_info{version=\"") + build_version() + "\"} 1\n";
  assert_non_null(strstr(text.c_str(), info.c_str()));
  assert_true(build_version()[0] != 0);
  // Without the figures (no /proc), no process_* series at all.
  assert_null(strstr(m.render("n", Gauges{}).c_str(), "process_"));
}

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(parses_a_real_line),
      cmocka_unit_test(command_names_with_spaces_and_parens),
      cmocka_unit_test(refuses_what_is_not_a_stat_line),
      cmocka_unit_test(boot_time_from_proc_stat),
      cmocka_unit_test(converted_to_seconds_and_bytes),
      cmocka_unit_test(reads_this_process),
      cmocka_unit_test(rendered_in_prometheus_names),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
