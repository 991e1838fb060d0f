"""Runs one integration test file and fails it when any process it started
wrote a sanitizer report.

In the sanitizer build (build-asan) every binary of ours (the plugins inside
lwsws, rtpush-publish, rtpush-bench) reports to files under a directory made
here, and exits with its own status (86) instead of 1: a memory error in
rtpush-publish must never pass for "a publish failed" (exit 1). lwsws servers
get their own report directory (rtpush_harness.Server) and are checked when
they stop; this catches everything else, the CLI included.

Usage: run_checked.py TEST_FILE [unittest arguments]
"""
import os
import subprocess
import sys
import tempfile

SANITIZER_EXIT = 86


def main():
    reports = tempfile.mkdtemp(prefix="rtpush-sanitizer-")
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = "detect_leaks=0:exitcode=%d:log_path=%s/asan" % (SANITIZER_EXIT, reports)
    env["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1:exitcode=%d:log_path=%s/ubsan" % (
        SANITIZER_EXIT, reports)
    rc = subprocess.call([sys.executable] + sys.argv[1:], env=env)
    found = sorted(os.listdir(reports))
    for name in found:
        with open(os.path.join(reports, name), errors="replace") as f:
            sys.stdout.write("---- sanitizer report %s ----\n%s\n" % (name, f.read()[-8000:]))
    if found:
        print("FAILED: %d sanitizer report(s) from processes the test started" % len(found))
        return 1
    return rc


if __name__ == "__main__":
    sys.exit(main())
