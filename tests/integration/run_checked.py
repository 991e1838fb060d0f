"""Runs one integration test file and fails it when any process it started
wrote a sanitizer report.

In the sanitizer build (build-asan) every binary of ours (the plugins inside
lwsws, rtpush-publish, rtpush-bench) reports to files under a directory made
here, and exits with its own status (86) instead of 1: a memory error in
rtpush-publish must never pass for "a publish failed" (exit 1). lwsws servers
get their own report directory (rtpush_harness.Server) and are checked when
they stop; this catches everything else, the CLI included.

Skips are shown, never passed off as passes: when every test that ran passed
but some were skipped (unittest's skipTest, skipIf...), the exit status is
77, which CTest reports as "Skipped" (SKIP_RETURN_CODE 77 on every
integration test, tests/integration/CMakeLists.txt), and the output names
them. A skip is for a test that does not apply to this build (a timing bound
under ASan); a missing tool is a failure (rtpush_harness.required_program).

Usage: run_checked.py TEST_FILE [unittest arguments]
"""
import os
import runpy
import subprocess
import sys
import tempfile
import unittest

SANITIZER_EXIT = 86
SKIPPED_EXIT = 77


class SkipsShownProgram(unittest.TestProgram):
    """unittest.main whose exit status is 77 when tests were skipped and none
    failed (unittest's own is 0 then)."""

    def runTests(self):
        exit_after, self.exit = self.exit, False
        super().runTests()
        if not exit_after:
            return
        if not self.result.wasSuccessful():
            sys.exit(1)
        if self.result.skipped:
            print("SKIPPED: %d test(s) of this file did not run:" % len(self.result.skipped))
            for test, reason in self.result.skipped:
                print("  %s: %s" % (test.id(), reason))
            sys.exit(SKIPPED_EXIT)
        sys.exit(0)


def run_test_file(path, args):
    """Runs the test file as `python3 TEST_FILE` would (its unittest.main()
    included), with SkipsShownProgram as unittest.main."""
    sys.argv = [path] + args
    sys.path.insert(0, os.path.dirname(os.path.abspath(path)))  # rtpush_harness
    unittest.main = SkipsShownProgram
    runpy.run_path(path, run_name="__main__")


def main():
    reports = tempfile.mkdtemp(prefix="rtpush-sanitizer-")
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = "detect_leaks=0:exitcode=%d:log_path=%s/asan" % (SANITIZER_EXIT, reports)
    env["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1:exitcode=%d:log_path=%s/ubsan" % (
        SANITIZER_EXIT, reports)
    rc = subprocess.call([sys.executable, os.path.abspath(__file__), "--test-file"] + sys.argv[1:], env=env)
    found = sorted(os.listdir(reports))
    for name in found:
        with open(os.path.join(reports, name), errors="replace") as f:
            sys.stdout.write("---- sanitizer report %s ----\n%s\n" % (name, f.read()[-8000:]))
    if found:
        print("FAILED: %d sanitizer report(s) from processes the test started" % len(found))
        return 1
    return rc


if __name__ == "__main__":
    if sys.argv[1:2] == ["--test-file"]:
        run_test_file(sys.argv[2], sys.argv[3:])
    else:
        sys.exit(main())
