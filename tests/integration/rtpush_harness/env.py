"""What CTest tells the tests (tests/integration/CMakeLists.txt): the install
prefix under test, the lwsws binary, the sanitizer runtime in build-asan;
and the environment a server of ours is started in.
"""
import os
import shutil


PREFIX = os.environ.get("RTPUSH_PREFIX", os.path.join(os.getcwd(), "build", "stage"))
LWSWS = os.environ.get("LWSWS", "/opt/lwsws/bin/lwsws")
PLUGIN_DIR = os.path.join(PREFIX, "lib", "rtpush", "plugins")
ASAN_RUNTIME = os.environ.get("RTPUSH_ASAN_RUNTIME")  # set in the sanitizer build (build-asan)
PUBLISH_CLI = os.path.join(PREFIX, "bin", "rtpush-publish")


def sanitizer_reports(directory):
    """The text of any ASan/UBSan report files a server wrote."""
    out = ""
    for name in sorted(os.listdir(directory)):
        if name.startswith(("asan.", "ubsan.")):
            with open(os.path.join(directory, name), errors="replace") as f:
                out += f.read()[-4000:]
    return out


def lwsws_env(report_dir):
    """The environment to start lwsws in: in the sanitizer build the ASan
    runtime is preloaded (lwsws is not built with it) and reports go to
    files in `report_dir` (sanitizer_reports() reads them)."""
    env = dict(os.environ)
    if ASAN_RUNTIME:
        env["LD_PRELOAD"] = ASAN_RUNTIME
        env["ASAN_OPTIONS"] = "detect_leaks=0:abort_on_error=1:log_path=%s/asan" % report_dir
        env["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1:log_path=%s/ubsan" % report_dir
    return env


def required_program(name, needed_by):
    """The path of the program `name`, or an AssertionError saying that
    `needed_by` (a test, a class of them) cannot run without it: a missing
    tool fails the test, it is never a silent skip."""
    path = shutil.which(name)
    if not path:
        raise AssertionError("%s is not installed (not on PATH): %s needs it" % (name, needed_by))
    return path
