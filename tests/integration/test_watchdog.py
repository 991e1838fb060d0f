"""The watchdog of a node (SPEC section 17; docs/operations.md "Watchdog
and last-resort exit"): with systemd's NOTIFY_SOCKET and WATCHDOG_USEC the
serving process sends WATCHDOG=1 while its service loop turns, and stops
when the loop is stuck; and SIGTERM's stop-timeout-secs holds even then.

A stuck loop without SIGSTOP (which would stop every thread): the test
ptrace-interrupts the serving process's main thread, the lws service
thread, alone; its other threads run on. The test process is a child
subreaper (test_graceful_stop.py), so the serving child's exit is ours to
read once lwsws's root is gone."""
import ctypes
import os
import signal
import socket
import tempfile
import time
import unittest

from rtpush_harness import Server, wait_until
from test_graceful_stop import become_subreaper, serving_child

PTRACE_DETACH, PTRACE_SEIZE, PTRACE_INTERRUPT = 17, 0x4206, 0x4207
WALL = 0x40000000
WATCHDOG_USEC = 400000  # the node notifies every 200 ms

libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]


def freeze_service_thread(pid):
    """Stops the main thread of `pid` (only it) under ptrace."""
    for request in (PTRACE_SEIZE, PTRACE_INTERRUPT):
        if libc.ptrace(request, pid, None, None) != 0:
            raise OSError(ctypes.get_errno(), "ptrace(%#x, %d)" % (request, pid))
    _, status = os.waitpid(pid, WALL)
    assert os.WIFSTOPPED(status), status


def thaw_service_thread(pid):
    if libc.ptrace(PTRACE_DETACH, pid, None, None) != 0:
        raise OSError(ctypes.get_errno(), "ptrace(PTRACE_DETACH, %d)" % pid)


class Watchdog(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        become_subreaper()

    def start(self, env=None, **options):
        """A node started with `env` added to its environment."""
        saved = {k: os.environ.get(k) for k in (env or {})}
        os.environ.update(env or {})
        try:
            return Server(**options).start()
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v

    def notify_socket(self):
        d = tempfile.mkdtemp(prefix="rtpush-notify-")
        path = os.path.join(d, "notify")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(path)
        self.addCleanup(sock.close)
        return sock, path

    @staticmethod
    def notifications(sock, seconds):
        """The datagrams that come within `seconds`."""
        out, end = [], time.monotonic() + seconds
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return out
            sock.settimeout(left)
            try:
                out.append(sock.recv(4096))
            except socket.timeout:
                return out

    def test_watchdog_notifies_while_the_loop_turns_and_not_when_it_is_stuck(self):
        sock, path = self.notify_socket()
        server = self.start({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": str(WATCHDOG_USEC)})
        try:
            child = serving_child(server)
            got = self.notifications(sock, 2)
            self.assertGreaterEqual(got.count(b"WATCHDOG=1"), 3, got)
            freeze_service_thread(child)
            try:
                self.notifications(sock, 0.5)  # what the last beats earned
                stuck = self.notifications(sock, 2)  # ten periods
                self.assertEqual(stuck, [], "WATCHDOG=1 sent while the service loop was stuck")
            finally:
                thaw_service_thread(child)
            self.assertIn(b"WATCHDOG=1", self.notifications(sock, 3))
        finally:
            server.stop()

    def test_without_notify_socket_the_node_serves_as_before(self):
        # sd_notify is a no-op then: the node starts, serves, and stops cleanly.
        server = self.start({"WATCHDOG_USEC": str(WATCHDOG_USEC)})
        try:
            self.assertEqual(server.get("health")[0], 200)
        finally:
            server.stop()

    def test_sigterm_bound_holds_with_the_service_loop_stuck(self):
        stop_timeout = 2
        server = self.start(stop_timeout_secs=stop_timeout)
        try:
            child = serving_child(server)
            freeze_service_thread(child)
            start = time.monotonic()
            os.killpg(server.proc.pid, signal.SIGTERM)
            server.proc.wait(timeout=10)
            status = None
            while time.monotonic() - start < stop_timeout + 15:
                pid, st = os.waitpid(child, os.WNOHANG | WALL)
                if pid == child and not os.WIFSTOPPED(st):
                    status = st
                    break
                time.sleep(0.02)
            seconds = time.monotonic() - start
            if status is None:
                thaw_service_thread(child)
                os.kill(child, signal.SIGKILL)
                os.waitpid(child, 0)
                self.fail("the stuck node ignored SIGTERM for %.0f s:\n%s" % (seconds, server.log_tail()))
            log = server.log_text()
            # stop-timeout-secs, then the 2 s left for lwsws's own exit, and slack
            self.assertLess(seconds, stop_timeout + 2 + 3, log[-3000:])
            self.assertGreaterEqual(seconds, stop_timeout + 2 - 0.5, log[-3000:])
            self.assertTrue(os.WIFEXITED(status) and os.WEXITSTATUS(status) == 1, (status, log[-3000:]))
            self.assertIn("event=stop_forced", log)
        finally:
            server.stop()


if __name__ == "__main__":
    unittest.main(verbosity=2)
