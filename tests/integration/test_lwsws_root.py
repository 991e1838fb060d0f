"""lwsws's root process (tools/patches/0011): it exits with the serving
process's status when that process ends and no reload is starting a new
one, so that a supervisor (systemd's Restart=on-failure in
systemd/rtpush@.service) restarts a node whose serving process crashed; a
reload (SIGHUP) still replaces the serving process without the root
exiting."""
import os
import signal
import time
import unittest

from rtpush_harness import Server, wait_until


def children(pid):
    """The live child processes of `pid`."""
    out = []
    for task in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/children" % (pid, task)) as f:
            out += [int(c) for c in f.read().split()]
    return out


class RootProcess(unittest.TestCase):
    def setUp(self):
        self.server = Server().start()

    def tearDown(self):
        self.server.stop()

    def test_a_crashed_serving_process_ends_the_root_with_its_status(self):
        root = self.server.proc
        (child,) = children(root.pid)
        os.kill(child, signal.SIGKILL)
        # The root reaps children every 2 s.
        self.assertEqual(root.wait(timeout=10), 128 + signal.SIGKILL)

    def test_a_reload_starts_a_new_serving_process_and_the_root_stays(self):
        root = self.server.proc
        (old,) = children(root.pid)
        os.kill(root.pid, signal.SIGHUP)
        # The old serving process drains (docs/operations.md, reloading);
        # what matters here is that a new one starts and the root stays.
        wait_until(lambda: any(c != old for c in children(root.pid)), 20, "a new serving process")
        wait_until(lambda: self.server.get("health")[0] == 200, 10, "the new serving process answering")
        time.sleep(3)  # past the root's next reaping pass or two
        self.assertIsNone(root.poll(), "the root process exited on a reload")


if __name__ == "__main__":
    unittest.main()
