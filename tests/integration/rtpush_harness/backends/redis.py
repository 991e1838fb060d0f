"""A real redis-server for a test, and what tests ask it directly."""
import os
import socket
import subprocess
import tempfile

from ..processes import TempDirService, free_port, wait_until


def encode_command(args):
    return ("*%d\r\n" % len(args) + "".join("$%d\r\n%s\r\n" % (len(str(a).encode()), a) for a in args)).encode()


class Redis(TempDirService):
    """A real redis-server on its own port and directory, no persistence
    (a restart loses everything, as an unpersisted Redis does).

    `password`: requirepass; command() and call() AUTH with it (a test that
    changes the default user's password sets `password` to match)."""

    def __init__(self, password=None):
        self.port = free_port()
        self.password = password
        self.dir = tempfile.mkdtemp(prefix="rtpush-redis-")
        self.proc = None

    @property
    def url(self):
        auth = "" if self.password is None else ":%s@" % self.password
        return "redis://%s127.0.0.1:%d" % (auth, self.port)

    def start(self):
        with open(os.path.join(self.dir, "redis.log"), "a") as log:
            self.proc = subprocess.Popen(
                ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir,
                 "--save", "", "--appendonly", "no", "--protected-mode", "no"]
                + ([] if self.password is None else ["--requirepass", self.password]),
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_until(lambda: self.command("PING") == "+PONG", 10, "redis-server did not start")
        return self

    def _connect(self):
        """A socket to the server, AUTHed when it has a password; and the
        file its replies are read from."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        f = s.makefile("rb")
        if self.password is not None:
            s.sendall(encode_command(["AUTH", self.password]))
            self._read_reply(f)
        return s, f

    def command(self, *args):
        """One command over a plain socket; the first line of the answer."""
        s, f = self._connect()
        with s, f:
            s.sendall(encode_command(args))
            return f.readline()[:-2].decode()

    def call(self, *args):
        """One command; the whole reply as Python values (bulk strings as
        str, arrays as lists, errors raised)."""
        s, f = self._connect()
        with s, f:
            s.sendall(encode_command(args))
            return self._read_reply(f)

    @staticmethod
    def _read_reply(f):
        def read():
            line = f.readline()[:-2]
            kind, rest = line[:1], line[1:]
            if kind == b"+":
                return rest.decode()
            if kind == b"-":
                raise RuntimeError(rest.decode())
            if kind == b":":
                return int(rest)
            if kind == b"$":
                n = int(rest)
                return None if n < 0 else f.read(n + 2)[:-2].decode()
            if kind == b"*":
                n = int(rest)
                return None if n < 0 else [read() for _ in range(n)]
            raise RuntimeError("unexpected reply %r" % line)
        return read()

    def pending_by_consumer(self, stream="rtpush:persist", group="writers"):
        """{consumer: entries delivered to it and not yet acknowledged}."""
        summary = self.call("XPENDING", stream, group)
        return {name: int(count) for name, count in (summary[3] or [])}

    def info(self, section):
        """INFO <section> as {field: value text}."""
        out = {}
        for line in self.call("INFO", section).splitlines():
            if ":" in line and not line.startswith("#"):
                k, v = line.split(":", 1)
                out[k] = v
        return out

    def command_calls(self, command):
        """How many times Redis has run `command` (scripts' calls included)."""
        stat = self.info("commandstats").get("cmdstat_" + command.lower(), "calls=0")
        return int(stat.split(",")[0].split("=")[1])

    def client_list(self):
        """CLIENT LIST as a list of {field: value}."""
        return [dict(kv.split("=", 1) for kv in line.split(" ") if "=" in kv)
                for line in self.call("CLIENT", "LIST").splitlines()]

    def kill_clients(self, name_prefix):
        """Drops every connection whose CLIENT SETNAME starts with the prefix."""
        ids = [c["id"] for c in self.client_list() if c.get("name", "").startswith(name_prefix)]
        for cid in ids:
            self.command("CLIENT", "KILL", "ID", cid)
        return len(ids)

    def stop(self):
        if self.proc:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


def persisting(redis, consumers):
    """Waits until persistence is switched on and every node's consumer is in
    the writers' group (instead of a fixed sleep)."""
    def ready():
        if redis.call("HGET", "rtpush:config", "persist") != "1":
            return False
        try:
            names = {dict(zip(c[::2], c[1::2]))["name"] for c in redis.call("XINFO", "CONSUMERS", "rtpush:persist",
                                                                           "writers")}
        except RuntimeError:  # no stream or group yet
            return False
        return set(consumers) <= names  # [] : the group exists
    wait_until(ready, 10, "persistence not switched on by every node")
