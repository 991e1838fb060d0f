"""Raw HTTP from a chosen local address, timed: requests that may never be
answered, and a flood of request heads that never finish.
"""
import socket
import threading
import time

from .processes import wait_until


def timed_request(port, head, source="127.0.0.1", timeout=5, head_only=False):
    """Sends `head` (a whole request, bytes) from the local address `source`
    (127.0.0.2 is another client address on loopback) and reads until the
    server closes or `timeout` (or, `head_only`, the answer's head is in:
    a 101 is not followed by a close): (status or 0 when none came, seconds
    taken, everything received)."""
    started = time.monotonic()
    data = b""
    s = socket.socket()
    try:
        s.bind((source, 0))
        s.settimeout(timeout)
        s.connect(("127.0.0.1", port))
        s.sendall(head)
        while time.monotonic() - started < timeout:
            s.settimeout(max(0.01, timeout - (time.monotonic() - started)))
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
            if head_only and b"\r\n\r\n" in data:
                break
    except (socket.timeout, ConnectionResetError, BrokenPipeError):
        pass
    finally:
        s.close()
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0
    return status, time.monotonic() - started, data


def timed_get(port, path, source="127.0.0.1", timeout=5):
    """GET /`path` from `source` with Connection: close: (status, seconds, bytes)."""
    head = ("GET /%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n" % (path, port)).encode()
    return timed_request(port, head, source, timeout)


class HeadFlood:
    """`count` connections from `source` that each send the start of a
    request head and never finish it; every one the server closes is opened
    again at once, as an attacker would, until stop(). `opened` counts the
    connections made, `failed` the connects that did not succeed."""

    def __init__(self, port, count, source="127.0.0.1"):
        self.port, self.count, self.source = port, count, source
        self.opened = 0
        self.failed = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def open_one(self):
        s = socket.socket()
        try:
            s.bind((self.source, 0))
            s.settimeout(2)
            s.connect(("127.0.0.1", self.port))
            s.sendall(b"GET /health HTTP/1.1\r\nHost: flood\r\nX-Slow: ")
            s.setblocking(False)
            self.opened += 1
            return s
        except OSError:
            self.failed += 1
            s.close()
            return None

    def run(self):
        import selectors
        sel = selectors.DefaultSelector()
        live = 0
        while not self.stopping.is_set():
            while live < self.count and not self.stopping.is_set():
                s = self.open_one()
                if s is None:
                    time.sleep(0.01)
                    continue
                sel.register(s, selectors.EVENT_READ)
                live += 1
            for key, _ in sel.select(0.1):  # closed (or answered) by the server: open another
                sel.unregister(key.fileobj)
                key.fileobj.close()
                live -= 1
            time.sleep(0.005)  # a server closing at once must not make this spin
        for key in list(sel.get_map().values()):
            key.fileobj.close()
        sel.close()

    def start(self):
        self.thread.start()
        wait_until(lambda: self.opened >= self.count, 20, "the flood did not open its connections")
        return self

    def stop(self):
        self.stopping.set()
        self.thread.join(10)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
