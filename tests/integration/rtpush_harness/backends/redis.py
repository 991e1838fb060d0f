"""A real redis-server for a test, and what tests ask it directly."""
import os
import signal
import socket
import subprocess
import tempfile

from ..env import required_program
from ..processes import TempDirService, free_port, wait_until


def conf_lines(args):
    """Command-line style settings (["--replicaof", "127.0.0.1", "6380",
    "--save", ""]) as redis.conf lines, every value quoted (an empty one
    too): the file, not the command line, is what a restart reads again and
    what CONFIG REWRITE (Sentinel, Cluster) updates."""
    lines, current = [], None
    for arg in args:
        if arg.startswith("--"):
            current = [arg[2:]]
            lines.append(current)
        elif current is None:
            raise ValueError("a setting must start with --name, not %r" % arg)
        else:
            current.append('"%s"' % arg.replace("\\", "\\\\").replace('"', '\\"'))
    return "".join(" ".join(line) + "\n" for line in lines)


def encode_command(args):
    return ("*%d\r\n" % len(args) + "".join("$%d\r\n%s\r\n" % (len(str(a).encode()), a) for a in args)).encode()


class Redis(TempDirService):
    """A real redis-server on its own port and directory, no persistence
    (a restart loses everything, as an unpersisted Redis does).

    `args`: more settings, command-line style (["--replicaof", "127.0.0.1",
    "6380"], ["--cluster-enabled", "yes"]); they go into the server's
    redis.conf with the defaults. `password`: requirepass (and masterauth,
    so a replica reaches its master); command() and call() AUTH with it.
    `sentinel`: run as redis-sentinel (`args` then hold its sentinel lines'
    settings; a password is the sentinel's own requirepass). `parent`: the
    directory to make this server's directory in (a set of servers removes
    one tree). `port`: a port chosen by the caller instead of a free one.

    Threads: the test's (no thread of its own; the process is a child in
    its own session, stopped by PID)."""

    def __init__(self, args=(), password=None, sentinel=False, parent=None, port=None):
        required_program("redis-server", "Redis")
        self.port = port or free_port()
        self.password = password
        self.sentinel = sentinel
        self.dir = tempfile.mkdtemp(prefix="rtpush-redis-" if parent is None else "redis-%d-" % self.port,
                                    dir=parent)
        self.conf = os.path.join(self.dir, "sentinel.conf" if sentinel else "redis.conf")
        settings = ["--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir, "--protected-mode", "no"]
        if not sentinel:
            settings += ["--save", "", "--appendonly", "no"]
        if password is not None:
            settings += ["--requirepass", password] + ([] if sentinel else ["--masterauth", password])
        with open(self.conf, "w") as f:
            f.write(conf_lines(settings + list(args)))
        self.proc = None

    @property
    def url(self):
        auth = "" if self.password is None else ":%s@" % self.password
        return "redis://%s127.0.0.1:%d" % (auth, self.port)

    def start(self):
        """Starts the server from its redis.conf (as CONFIG REWRITE may have
        left it: a restarted replica keeps the master Sentinel gave it, a
        cluster node its nodes.conf); returns once it answers PING."""
        command = ["redis-server", self.conf] + (["--sentinel"] if self.sentinel else [])
        with open(os.path.join(self.dir, "redis.log"), "a") as log:
            self.proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

        def up():
            if self.proc.poll() is not None:
                raise RuntimeError("redis-server exited:\n" + self.log_text()[-2000:])
            return self.command("PING") == "+PONG"
        wait_until(up, 10, "redis-server did not start")
        return self

    def log_text(self):
        try:
            with open(os.path.join(self.dir, "redis.log"), errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

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
            if not line:
                raise ConnectionResetError("redis closed the connection")
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

    def role(self):
        """"master", "slave" or "sentinel" (ROLE's first field)."""
        return self.call("ROLE")[0]

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

    @property
    def running(self):
        return self.proc is not None

    def kill(self):
        """SIGKILL, as a crashed or unplugged server: no goodbye to its
        clients, replicas or peers. restart() brings it back on its port."""
        if self.proc:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
            self.proc = None

    def restart(self):
        self.kill()
        return self.start()

    def stop(self):
        self.kill()


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
