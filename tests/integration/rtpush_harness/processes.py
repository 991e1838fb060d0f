"""Processes, ports and waiting: what every server and backend here uses."""
import asyncio
import os
import shutil
import signal
import socket
import subprocess
import time


def stop_process_group(proc, timeout):
    """SIGTERM to the process group `proc` leads (started with
    start_new_session), up to `timeout` seconds for `proc` to exit, then
    SIGKILL to the group: lwsws's serving child may outlive the watcher."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DistinctPorts:
    """Free ports for servers started together: free_port() may answer a
    port twice in a row (it is free again once asked); two servers on one
    port made a five-node "cluster" in CI. Each port it gives is new."""

    def __init__(self):
        self.taken = set()

    def __call__(self):
        while True:
            port = free_port()
            if port not in self.taken:
                self.taken.add(port)
                return port


def wait_until(ready, seconds, what):
    """Polls `ready()` (exceptions count as not ready) until it is true."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            if ready():
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(what)


async def until(ready, seconds, what):
    """Polls `ready()` without blocking the event loop until it is true."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        if ready():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(what)


class TempDirService:
    """A server process of the tests with its own temporary directory
    (`self.dir`): `with X(...) as x` starts it (start() returns self), and
    leaving the block stops it (stop()) and removes the directory."""

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
