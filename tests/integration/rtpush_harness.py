"""Starts a real lwsws with the installed rtpush plugins, and talks to it.

Environment (set by CTest): RTPUSH_PREFIX, the install prefix under test;
LWSWS, the lwsws binary. Each Server gets its own config dir and free port,
runs in its own process group (lwsws forks a serving child) and is stopped
by signalling that group.
"""
import asyncio
import base64
import json
import os
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

PREFIX = os.environ.get("RTPUSH_PREFIX", os.path.join(os.getcwd(), "build", "stage"))
LWSWS = os.environ.get("LWSWS", "/opt/lwsws/bin/lwsws")
PLUGIN_DIR = os.path.join(PREFIX, "lib", "rtpush", "plugins")
ASAN_RUNTIME = os.environ.get("RTPUSH_ASAN_RUNTIME")  # set in the sanitizer build (build-asan)


def sanitizer_reports(directory):
    """The text of any ASan/UBSan report files a server wrote."""
    out = ""
    for name in sorted(os.listdir(directory)):
        if name.startswith(("asan.", "ubsan.")):
            with open(os.path.join(directory, name), errors="replace") as f:
                out += f.read()[-4000:]
    return out
PUBLISH_CLI = os.path.join(PREFIX, "bin", "rtpush-publish")


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


class Server:
    """One lwsws node. Use as a context manager."""

    def __init__(self, mount="/", files=None, tls=False, vhost=None, mounts=None, shipped_global=False, **options):
        """`files`: {option: text}, for options naming a file (jwt_secret_file,
        channels_file, ...): each text is written into the server's own
        directory and the option set to its path. `tls`: the vhost serves
        wss:// and https:// with a self-signed certificate made now, which
        this Server's clients trust (`ssl_context`). `vhost`: more lwsws
        vhost settings ({"alpn": "http/1.1"}). `mounts`: more lwsws mounts
        after the `callback://rtpush` one (file:// mounts of the demo page).
        `shipped_global`: lwsws's global settings are the installed
        configuration's (share/rtpush/lwsws/conf: its per-address limits,
        its header buffer size) instead of the tests' own."""
        self.shipped_global = shipped_global
        self.port = free_port()
        self.tls = tls
        self.vhost_extra = dict(vhost or {})
        self.mount = mount
        self.extra_mounts = list(mounts or [])
        self.options = {k.replace("_", "-"): str(v) for k, v in options.items()}
        self.dir = tempfile.mkdtemp(prefix="rtpush-it-")
        for option, text in (files or {}).items():
            path = os.path.join(self.dir, option.replace("_", "-"))
            with open(path, "wb") as f:
                f.write(text.encode() if isinstance(text, str) else text)
            self.options[option.replace("_", "-")] = path
        self.log_path = os.path.join(self.dir, "lwsws.log")
        self.proc = None
        self.ssl_context = self.make_certificate() if tls else None

    def make_certificate(self):
        """A self-signed P-256 certificate for 127.0.0.1, made at test time;
        returns a client context that trusts exactly it."""
        self.cert_path = os.path.join(self.dir, "cert.pem")
        self.key_path = os.path.join(self.dir, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                        "-keyout", self.key_path, "-out", self.cert_path],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return ssl.create_default_context(cafile=self.cert_path)

    @property
    def http(self):
        return "%s://127.0.0.1:%d%s" % ("https" if self.tls else "http", self.port, self.mount.rstrip("/"))

    @property
    def ws_url(self):
        return "%s://127.0.0.1:%d/" % ("wss" if self.tls else "ws", self.port)

    def write_conf(self):
        os.makedirs(os.path.join(self.dir, "conf.d"), exist_ok=True)  # again on restart()
        glob = {"server-string": "rtpush", "plugin-dir": PLUGIN_DIR, "count-threads": "1", "rlimit-nofile": "20000",
                "max-http-header-pool": "256"}
        if self.shipped_global:
            with open(os.path.join(PREFIX, "share", "rtpush", "lwsws", "conf")) as f:
                glob = dict(json.load(f)["global"], **{"plugin-dir": PLUGIN_DIR})
        if self.tls:
            glob["init-ssl"] = "yes"
        with open(os.path.join(self.dir, "conf"), "w") as f:
            json.dump({"global": glob}, f)
        vhost = {"name": "rtpush", "port": str(self.port), "interface": "127.0.0.1",
                 "mounts": [{"mountpoint": self.mount, "origin": "callback://rtpush"}] + self.extra_mounts,
                 "ws-protocols": [{"rtpush": self.options}, {"rtpush-json": {"default": "1"}},
                                  {"rtpush-msgpack": {}}, {"rtpush-protobuf": {}}]}
        if self.tls:
            vhost["host-ssl-cert"] = self.cert_path
            vhost["host-ssl-key"] = self.key_path
        vhost.update(self.vhost_extra)
        with open(os.path.join(self.dir, "conf.d", "rtpush"), "w") as f:
            json.dump({"vhosts": [vhost]}, f)

    def launch(self):
        """Starts lwsws without waiting for it to serve."""
        self.write_conf()
        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen([LWSWS, "-c", self.dir, "-d", "1031"], stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True, env=lwsws_env(self.dir))

    def start(self):
        self.launch()
        deadline = time.time() + 15
        while time.time() < deadline:
            try:
                if self.get("health")[0] == 200:
                    self.check_options_known()
                    return self
            except OSError:
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError("lwsws did not come up:\n" + self.log_tail())

    def start_refused(self, seconds=15):
        """For options the protocol must refuse: starts lwsws, waits until
        the vhost answers 503 (README.md "Options": a refused vhost's
        answer) or lwsws exits, stops it and returns the whole log. Raises
        when the node serves instead."""
        self.launch()
        deadline = time.time() + seconds
        log = ""
        try:
            while time.time() < deadline:
                with open(self.log_path, errors="replace") as f:
                    log = f.read()
                if self.proc.poll() is not None:
                    return log
                try:
                    status = self.get("health")[0]
                except OSError:
                    status = 0
                if status == 200:
                    raise AssertionError("the node started with options it must refuse:\n" + log[-3000:])
                if status == 503:
                    with open(self.log_path, errors="replace") as f:
                        return f.read()
                time.sleep(0.05)
            raise AssertionError("lwsws neither refused nor served:\n" + log[-3000:])
        finally:
            self.stop()

    def log_text(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def check_options_known(self):
        """A misspelt option is only warned about by the node, which then
        runs on the default: the test would silently test something else."""
        with open(self.log_path, errors="replace") as f:
            unknown = [l.strip() for l in f if "unknown option" in l]
        if unknown:
            self.stop()
            raise AssertionError("the node ignored options this test set:\n" + "\n".join(unknown))

    def kill(self):
        """Crashes the node: SIGKILL to its whole process group. Returns once
        its port refuses connections: the serving child (not waited for
        here, it is the watcher's) is gone too, so "a node is down" starts
        now, not somewhere in its exit."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

        def refused():
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return False
            except ConnectionRefusedError:
                return True
        wait_until(refused, 10, "the killed node still accepts connections")

    def restart(self):
        """After kill(): the same node started again on the same port and
        directory, as a supervisor restarts a crashed node."""
        return self.start()

    def children(self):
        """PIDs of lwsws's serving children (the watcher's direct children)."""
        if self.proc is None:
            return []
        out = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % entry) as f:
                    stat = f.read()
            except OSError:
                continue
            # pid (comm) state ppid ...: comm may hold spaces, split after it
            fields = stat[stat.rindex(")") + 2:].split()
            if fields[0] != "Z" and int(fields[1]) == self.proc.pid:
                out.append(int(entry))
        return sorted(out)

    def reload(self, timeout=20):
        """SIGHUP to the lwsws watcher, as `systemctl reload` does: it passes
        the signal to its serving child, which closes its listening socket
        and drains, and forks a new child. Returns (old children, new child)
        once the new child serves health."""
        old = self.children()
        os.kill(self.proc.pid, signal.SIGHUP)
        fresh = []

        def new_child_serves():
            fresh[:] = [p for p in self.children() if p not in old]
            if not fresh:
                return False
            try:
                return self.get("health")[0] == 200
            except OSError:
                return False
        wait_until(new_child_serves, timeout, "no new lwsws child serves after SIGHUP:\n" + self.log_tail())
        return old, fresh[0]

    def stop(self):
        if self.proc is None:
            return
        stop_process_group(self.proc, 10)
        self.proc = None
        reports = sanitizer_reports(self.dir)
        self.cleanup()
        if reports:
            raise AssertionError("sanitizer reports from lwsws:\n" + reports)

    def log_tail(self, n=40):
        try:
            with open(self.log_path) as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        if exc[0] is not None:
            print("---- lwsws log tail ----\n" + self.log_tail())
        self.stop()

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- HTTP ---------------------------------------------------------------
    def request(self, method, path, body=None, timeout=10, headers=None):
        """(status, body text). `headers`: extra request headers (Authorization, Origin)."""
        data = body.encode() if isinstance(body, str) else body
        req = urllib.request.Request(self.http + "/" + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=timeout, context=self.ssl_context) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def get(self, path):
        return self.request("GET", path)

    def publish_http(self, channel, value):
        status, body = self.request("POST", "publish/" + urllib.request.quote(channel, safe=""), json.dumps(value))
        assert status == 200, (status, body)
        return json.loads(body)["id"]

    def metrics(self):
        """{'name{labels}': value} of the Prometheus text."""
        status, body = self.get("metrics")
        assert status == 200
        out = {}
        for line in body.splitlines():
            if line and not line.startswith("#"):
                key, value = line.rsplit(" ", 1)
                out[key] = float(value)
        return out

    # -- WebSocket ----------------------------------------------------------
    async def connect(self, **kw):
        import websockets
        if self.tls:
            kw.setdefault("ssl", self.ssl_context)
        ws = await websockets.connect(self.ws_url, subprotocols=["rtpush-json"], max_size=None, **kw)
        hello = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert hello["type"] == "connection_established", hello
        return ws, hello


class Redis:
    """A real redis-server on its own port and directory, no persistence
    (a restart loses everything, as an unpersisted Redis does)."""

    def __init__(self):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="rtpush-redis-")
        self.proc = None

    @property
    def url(self):
        return "redis://127.0.0.1:%d" % self.port

    def start(self):
        with open(os.path.join(self.dir, "redis.log"), "a") as log:
            self.proc = subprocess.Popen(
                ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir,
                 "--save", "", "--appendonly", "no", "--protected-mode", "no"],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_until(lambda: self.command("PING") == "+PONG", 10, "redis-server did not start")
        return self

    def command(self, *args):
        """One command over a plain socket; the first line of the answer."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            s.sendall(("*%d\r\n" % len(args) + "".join("$%d\r\n%s\r\n" % (len(a.encode()), a) for a in args)).encode())
            return s.recv(65536).split(b"\r\n")[0].decode()

    def call(self, *args):
        """One command; the whole reply as Python values (bulk strings as
        str, arrays as lists, errors raised)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            s.sendall(("*%d\r\n" % len(args) + "".join("$%d\r\n%s\r\n" % (len(str(a).encode()), a)
                                                        for a in args)).encode())
            with s.makefile("rb") as f:
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

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def nginx_conf(d, http_body):
    """Writes d/nginx.conf, everything nginx writes kept in `d`, with
    `http_body` inside http {} (a site's text, or an include of its file);
    returns the command that runs it (add -t or -g "daemon off;")."""
    conf = ("%sworker_processes 1;\nerror_log %s/error.log info;\npid %s/nginx.pid;\n"
            "events { worker_connections 8192; }\nhttp {\n access_log off;\n"
            " client_body_temp_path %s/body; proxy_temp_path %s/proxy; fastcgi_temp_path %s/fcgi;\n"
            " uwsgi_temp_path %s/uwsgi; scgi_temp_path %s/scgi;\n%s\n}\n"
            % ("user root;\n" if os.geteuid() == 0 else "", d, d, d, d, d, d, d, http_body))
    with open(os.path.join(d, "nginx.conf"), "w") as f:
        f.write(conf)
    return ["nginx", "-p", d, "-e", os.path.join(d, "error.log"), "-c", os.path.join(d, "nginx.conf")]


def start_nginx(command, port):
    """Runs nginx_conf()'s command in its own process group; returns the
    process once /health answers through `port` (killed, and its error log
    raised, when it does not)."""
    proc = subprocess.Popen(command + ["-g", "daemon off;"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.STDOUT, start_new_session=True)

    def up():
        with urllib.request.urlopen("http://127.0.0.1:%d/health" % port, timeout=2) as r:
            return r.status == 200
    try:
        wait_until(up, 10, "nginx did not start")
    except RuntimeError:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        with open(command[command.index("-e") + 1], errors="replace") as f:
            raise RuntimeError("nginx did not start:\n" + f.read()[-2000:])
    return proc


class Nginx:
    """nginx in front of nodes, from the installed site file
    (share/rtpush/nginx/rtpush.conf) with this test's ports put in."""

    def __init__(self, node_ports):
        self.port = free_port()
        self.node_ports = node_ports
        self.dir = tempfile.mkdtemp(prefix="rtpush-nginx-")
        self.proc = None

    @property
    def ws_url(self):
        return "ws://127.0.0.1:%d/" % self.port

    def start(self):
        with open(os.path.join(PREFIX, "share", "rtpush", "nginx", "rtpush.conf")) as f:
            site = f.read()
        upstream = "".join("    server 127.0.0.1:%d max_fails=1 fail_timeout=5s;\n" % p for p in self.node_ports)
        lines = [l for l in site.splitlines(True) if not l.strip().startswith("server 127.0.0.1:")]
        site = "".join(lines).replace("upstream rtpush_nodes {\n", "upstream rtpush_nodes {\n" + upstream)
        site = site.replace("listen 8080;", "listen 127.0.0.1:%d;" % self.port)
        site = site.replace("/var/log/nginx/", self.dir + "/")  # the site's access log
        self.proc = start_nginx(nginx_conf(self.dir, site), self.port)
        return self

    def access_log(self, name="rtpush.access.log"):
        """The text of the site's access log (its file, moved into this
        nginx's directory)."""
        try:
            with open(os.path.join(self.dir, name), errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def stop(self):
        if self.proc:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
            self.proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class Postgres:
    """A real PostgreSQL 15 in a temporary data directory on its own port.
    As root (CI) it runs as the postgres user: the server refuses root."""

    BIN = "/usr/lib/postgresql/15/bin"

    def __init__(self):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="rtpush-pg-")
        self.data = os.path.join(self.dir, "data")
        self.proc = None
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
        subprocess.run(self.as_user + [os.path.join(self.BIN, "initdb"), "-D", self.data, "-U", "postgres",
                                       "--auth=trust", "-E", "UTF8", "--no-sync"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    @property
    def conninfo(self):
        return "host=127.0.0.1 port=%d user=postgres dbname=postgres connect_timeout=3" % self.port

    def start(self):
        with open(os.path.join(self.dir, "postgres.log"), "a") as log:
            self.proc = subprocess.Popen(
                self.as_user + [os.path.join(self.BIN, "postgres"), "-D", self.data, "-p", str(self.port),
                                "-h", "127.0.0.1", "-k", self.dir, "-c", "fsync=off"],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_until(lambda: subprocess.run([os.path.join(self.BIN, "pg_isready"), "-h", "127.0.0.1", "-p",
                                           str(self.port)], capture_output=True).returncode == 0,
                   30, "postgres did not start")
        return self

    def query(self, sql):
        """Rows of a query, each a list of column texts."""
        out = subprocess.run([os.path.join(self.BIN, "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U",
                              "postgres", "-d", "postgres", "-At", "-F", "\t", "-c", sql],
                             capture_output=True, text=True, check=True).stdout
        return [line.split("\t") for line in out.splitlines()]

    def stop(self):
        if self.proc:
            try:
                os.killpg(self.proc.pid, signal.SIGINT)  # fast shutdown
                self.proc.wait(timeout=20)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
            self.proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class ServerCase:
    """Mixin for a test class sharing one server: set `server_options`."""
    server_options = {}

    @classmethod
    def setUpClass(cls):
        cls.server = Server(**cls.server_options).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()


# -- one client API over every encoding ---------------------------------------
ENCODINGS = ["json", "msgpack", "protobuf"]

_pb2 = None


def protobuf_module():
    """rtpush_pb2, generated by protoc from the INSTALLED share/rtpush/rtpush.proto:
    a client in another language built from the file users get."""
    global _pb2
    if _pb2 is None:
        import importlib
        import sys
        out = tempfile.mkdtemp(prefix="rtpush-pb2-")
        proto_dir = os.path.join(PREFIX, "share", "rtpush")
        subprocess.run(["protoc", "-I", proto_dir, "--python_out", out, os.path.join(proto_dir, "rtpush.proto")],
                       check=True)
        sys.path.insert(0, out)
        _pb2 = importlib.import_module("rtpush_pb2")
    return _pb2


class Client:
    """A WebSocket client of one encoding that sends and receives dicts."""

    def __init__(self, ws, encoding):
        self.ws, self.encoding = ws, encoding

    @classmethod
    async def open(cls, server, encoding, token=None, origin=None):
        """`token`: sent as the `token` query parameter of the URL; `origin`:
        the Origin header (none by default, as a non-browser client)."""
        import websockets
        url = server.ws_url if token is None else server.ws_url + "?token=" + urllib.parse.quote(token, safe="")
        extra = {"ssl": server.ssl_context} if server.ssl_context else {}
        ws = await websockets.connect(url, subprotocols=["rtpush-" + encoding], max_size=None, origin=origin, **extra)
        client = cls(ws, encoding)
        hello = await client.recv()
        assert hello["type"] == "connection_established", hello
        client.hello = hello
        return client

    def encode(self, frame):
        if self.encoding == "json":
            return json.dumps(frame)
        if self.encoding == "msgpack":
            import msgpack
            return msgpack.packb(frame, use_bin_type=True)
        m = protobuf_module().Frame()
        for k, v in frame.items():
            if k == "data":
                m.data = v if isinstance(v, bytes) else json.dumps(v).encode()
            elif k == "ref":
                m.ref = json.dumps(v)
            else:
                setattr(m, k, v)
        return m.SerializeToString()

    def decode(self, raw):
        if self.encoding == "json":
            assert isinstance(raw, str), "rtpush-json sends text frames"
            return json.loads(raw)
        assert isinstance(raw, bytes), "binary encodings send binary frames"
        if self.encoding == "msgpack":
            import msgpack
            return msgpack.unpackb(raw, raw=False)
        m = protobuf_module().Frame()
        m.ParseFromString(raw)
        out = {}
        for field, value in m.ListFields():  # the fields that are set, as proto3 sends them
            out[field.name] = value
        if "ref" in out:
            out["ref"] = json.loads(out["ref"])
        if "data" in out:  # JSON text when it is JSON, else bytes
            try:
                out["data"] = json.loads(out["data"].decode())
            except (UnicodeDecodeError, ValueError):
                pass
        if m.type == "subscribed" and "position" not in out:
            out["position"] = None
        if m.type == "authenticated" and "expires" not in out:  # optional double: unset is null
            out["expires"] = None
        return out

    async def send(self, frame):
        await self.ws.send(self.encode(frame))

    async def send_raw(self, data):
        await self.ws.send(data)

    async def recv(self, timeout=5):
        return self.decode(await asyncio.wait_for(self.ws.recv(), timeout))

    async def recv_type(self, wanted, timeout=5):
        frame = await self.recv(timeout)
        assert frame["type"] == wanted, frame
        return frame

    async def subscribe(self, channel, since=None):
        frame = {"type": "subscribe", "channel": channel}
        if since is not None:
            frame["since"] = since
        await self.send(frame)
        return await self.recv_type("subscribed")

    async def close(self):
        await self.ws.close()


async def subscribe(ws, channel, since=None):
    """Subscribes and returns the `subscribed` answer."""
    frame = {"type": "subscribe", "channel": channel}
    if since is not None:
        frame["since"] = since
    await ws.send(json.dumps(frame))
    return await recv_type(ws, "subscribed")


async def subscribe_through(url, channel, since=None):
    """Connects and subscribes as a real client behind a proxy does: retries
    the whole of it, a connection that drops during the subscribe included
    (nginx may still reach a dying node for a moment). Returns (ws, the node
    hello names, the `subscribed` answer)."""
    import websockets
    frame = {"type": "subscribe", "channel": channel}
    if since:
        frame["since"] = since
    for _ in range(100):
        try:
            ws = await websockets.connect(url, subprotocols=["rtpush-json"])
            hello = json.loads(await asyncio.wait_for(ws.recv(), 5))
            await ws.send(json.dumps(frame))
            return ws, hello["node"], await recv_type(ws, "subscribed")
        except (OSError, websockets.WebSocketException, asyncio.TimeoutError):
            await asyncio.sleep(0.1)
    raise AssertionError("could not reconnect through nginx")


class FedPublisher:
    """rtpush-publish --redis on `channel`, fed {"i": n} for n < count, a
    line every ~0.5 ms from a thread: a steady stream while a test breaks
    something."""

    def __init__(self, redis_url, channel, count):
        self.cli = subprocess.Popen([PUBLISH_CLI, "--redis", redis_url, "--channel", channel],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

        def feed():
            for i in range(count):
                self.cli.stdin.write('{"i":%d}\n' % i)
                self.cli.stdin.flush()
                time.sleep(0.0005)
            self.cli.stdin.close()
        self.feeder = threading.Thread(target=feed)
        self.feeder.start()

    def finish(self):
        """Waits until all is fed; (the ids it printed, its exit status)."""
        self.feeder.join()
        published = self.cli.stdout.read().split()
        self.cli.stdout.close()
        return published, self.cli.wait()


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


async def until(ready, seconds, what):
    """Polls `ready()` without blocking the event loop until it is true."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        if ready():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(what)


def id_pair(msg_id):
    ms, seq = msg_id.split("-")
    return int(ms), int(seq)


async def recv_json(ws, timeout=5):
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def recv_type(ws, wanted, timeout=5):
    """The next frame of type `wanted`; frames of other types are an error."""
    frame = await recv_json(ws, timeout)
    assert frame["type"] == wanted, frame
    return frame


async def no_frame(ws, wait=0.5):
    """Nothing arrives: not within `wait` (a delivery through Redis takes
    milliseconds), and nothing the server had queued before it answers a
    heartbeat sent now (frames to one connection leave in order)."""
    try:
        frame = await asyncio.wait_for(ws.recv(), wait)
    except asyncio.TimeoutError:
        frame = None
    if frame is not None:
        raise AssertionError("unexpected frame %s" % frame)
    await ws.send(json.dumps({"type": "heartbeat"}))
    frame = await recv_json(ws, 5)
    if frame["type"] != "heartbeat_ack":
        raise AssertionError("unexpected frame %s" % frame)


class RawWebSocket:
    """A hand-made client for what libraries won't do: stay silent (no pong),
    stop reading, see the exact close frame, the 101 answer's headers and
    each frame's RSV1 bit."""

    def __init__(self, port, ssl_context=None, extensions=None):
        """`ssl_context`: speak TLS (a tls=True Server's `ssl_context`);
        `extensions`: a Sec-WebSocket-Extensions offer to send."""
        self.sock = socket.create_connection(("127.0.0.1", port))
        if ssl_context:
            self.sock = ssl_context.wrap_socket(self.sock, server_hostname="127.0.0.1")
        key = base64.b64encode(os.urandom(16)).decode()
        ext = "Sec-WebSocket-Extensions: %s\r\n" % extensions if extensions else ""
        self.sock.sendall(("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
                           "Sec-WebSocket-Protocol: rtpush-json\r\n%s\r\n" % (key, ext)).encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = self.sock.recv(4096)
            assert chunk, "closed during handshake"
            buf += chunk
        head, self.buf = buf.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        assert " 101 " in lines[0], head
        self.headers = {}  # the 101 answer's, names lower-case
        for line in lines[1:]:
            k, v = line.split(":", 1)
            self.headers[k.strip().lower()] = v.strip()

    @staticmethod
    def frame(payload, opcode=1, rsv1=False):
        """One whole masked frame of `payload` (bytes), as a client sends it."""
        mask = os.urandom(4)
        n = len(payload)
        header = bytes([0x80 | (0x40 if rsv1 else 0) | opcode])
        if n < 126:
            header += bytes([0x80 | n])
        elif n < 65536:
            header += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", n)
        return header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))

    def send_text(self, text):
        self.sock.sendall(self.frame(text.encode()))

    def next_wire_frame(self, timeout=5):
        """The next whole frame as (its first byte: FIN, RSV bits, opcode;
        payload); what follows stays buffered."""
        self.sock.settimeout(timeout)
        while True:
            data = self.buf
            if len(data) >= 2:
                n, h = data[1] & 127, 2
                if n == 126 and len(data) >= 4:
                    n, h = struct.unpack(">H", data[2:4])[0], 4
                elif n == 127 and len(data) >= 10:
                    n, h = struct.unpack(">Q", data[2:10])[0], 10
                if (n < 126 or h > 2) and len(data) >= h + n:
                    self.buf = data[h + n:]
                    return data[0], data[h:h + n]
            chunk = self.sock.recv(1 << 16)
            assert chunk, "closed by the server"
            self.buf += chunk

    def next_frame(self, timeout=5):
        """The next whole frame (opcode, payload); what follows stays buffered."""
        first, payload = self.next_wire_frame(timeout)
        return first & 15, payload

    def wait_for(self, wanted, timeout=5):
        """Reads text frames until one of type `wanted` (others are skipped:
        connection_established comes first); returns it as a dict."""
        deadline = time.time() + timeout
        while True:
            op, payload = self.next_frame(max(0.01, deadline - time.time()))
            if op == 1:
                frame = json.loads(payload)
                if frame["type"] == wanted:
                    return frame

    def read_all(self, timeout):
        """Reads until the server closes; returns [(opcode, payload)]."""
        self.sock.settimeout(timeout)
        data = self.buf
        try:
            while True:
                chunk = self.sock.recv(1 << 20)
                if not chunk:
                    break
                data += chunk
        except (socket.timeout, ConnectionResetError, ssl.SSLError):  # TLS: a close without close_notify
            pass
        frames = []
        while len(data) >= 2:
            op, n, h = data[0] & 15, data[1] & 127, 2
            if n == 126:
                n, h = struct.unpack(">H", data[2:4])[0], 4
            elif n == 127:
                n, h = struct.unpack(">Q", data[2:10])[0], 10
            if len(data) < h + n:
                break
            frames.append((op, data[h:h + n]))
            data = data[h + n:]
        return frames

    @staticmethod
    def close_code(frames):
        codes = [struct.unpack(">H", p[:2])[0] for op, p in frames if op == 8 and len(p) >= 2]
        return codes[0] if codes else None

    def close(self):
        self.sock.close()


# -- HTTP/2 by hand ------------------------------------------------------------
def h2_frame(kind, flags, stream, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def hpack_literal(name, value):
    """A header as HPACK's literal without indexing, new name, no Huffman."""
    n, v = name.encode(), value.encode()
    return b"\x00" + bytes([len(n)]) + n + bytes([len(v)]) + v


def h2_frames(port, cafile, first=b""):
    """An HTTP/2 connection over TLS (ALPN h2), preface, empty SETTINGS and
    `first` (frames to send at once) sent: yields (socket, kind, flags, stream, payload) for each frame the
    server sends, the socket to answer on. Frames are read whole; the
    connection closes when the caller stops iterating."""
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.set_alpn_protocols(["h2"])
    with ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=5),
                         server_hostname="127.0.0.1") as s:
        assert s.selected_alpn_protocol() == "h2", s.selected_alpn_protocol()
        s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + h2_frame(4, 0, 0) + first)
        buf = b""
        while True:
            while len(buf) < 9 or len(buf) < 9 + int.from_bytes(buf[:3], "big"):
                chunk = s.recv(65536)
                assert chunk, "closed before the stream was answered"
                buf += chunk
            n = int.from_bytes(buf[:3], "big")
            kind, flags, stream, body = buf[3], buf[4], int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF, buf[9:9 + n]
            buf = buf[9 + n:]
            yield s, kind, flags, stream, body


def h2_status(headers_payload):
    """:status of a HEADERS frame's payload (lws answers with literal
    headers, no Huffman)."""
    i = headers_payload.index(b":status") + len(b":status")
    return int(headers_payload[i + 1:i + 1 + headers_payload[i]])


# -- identity: tokens, handshakes, raw HTTP ------------------------------------
def b64url(data):
    """Unpadded base64url (RFC 7515), of bytes or of a str's UTF-8."""
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _json_part(value):
    return b64url(json.dumps(value, separators=(",", ":")))


def mint_hs256(secret, claims, header=None):
    """A JWT signed HS256 with `secret` (str or bytes). `header` replaces the
    default {"alg":"HS256","typ":"JWT"} (to forge an alg)."""
    import hashlib
    import hmac
    key = secret.encode() if isinstance(secret, str) else secret
    signing_input = _json_part(header or {"alg": "HS256", "typ": "JWT"}) + "." + _json_part(claims)
    mac = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + b64url(mac)


def mint_unsigned(claims):
    """alg none: an empty signature."""
    return _json_part({"alg": "none", "typ": "JWT"}) + "." + _json_part(claims) + "."


def _der_ecdsa_to_raw(der, size=32):
    """An ECDSA signature as OpenSSL writes it (DER SEQUENCE of two INTEGERs)
    to JWS's fixed-width r || s."""
    assert der[0] == 0x30, der[:4]
    i = 2 if der[1] < 0x80 else 2 + (der[1] & 0x7F)
    out = b""
    for _ in range(2):
        assert der[i] == 0x02
        n = der[i + 1]
        value = der[i + 2:i + 2 + n].lstrip(b"\x00")
        out += value.rjust(size, b"\x00")
        i += 2 + n
    return out


class KeyPair:
    """A key made at test time with `openssl genpkey`: kind "rsa" (RS256,
    2048 bits) or "ec" (ES256, P-256). `public_pem` is what the
    jwt-public-key-file holds."""

    def __init__(self, kind):
        self.kind = kind
        self.alg = "RS256" if kind == "rsa" else "ES256"
        self.dir = tempfile.mkdtemp(prefix="rtpush-key-")
        self.private_path = os.path.join(self.dir, "private.pem")
        spec = ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"] if kind == "rsa" else \
               ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]
        subprocess.run(["openssl", "genpkey"] + spec + ["-out", self.private_path], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.public_pem = subprocess.run(["openssl", "pkey", "-in", self.private_path, "-pubout"], check=True,
                                         capture_output=True, text=True).stdout

    def mint(self, claims, header=None):
        signing_input = _json_part(header or {"alg": self.alg, "typ": "JWT"}) + "." + _json_part(claims)
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", self.private_path], input=signing_input.encode(),
                             check=True, capture_output=True).stdout
        if self.kind == "ec":
            sig = _der_ecdsa_to_raw(sig)
        return signing_input + "." + b64url(sig)

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def upgrade_status(port, query="", headers=None, protocol="rtpush-json", timeout=5):
    """A WebSocket upgrade by hand (GET /<query>): (status code, head text,
    body bytes received with it). `headers`: extra ones (Origin)."""
    key = base64.b64encode(os.urandom(16)).decode()
    extra = "".join("%s: %s\r\n" % kv for kv in (headers or {}).items())
    request = ("GET /%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: %s\r\n%s\r\n"
               % (query, port, key, protocol, extra))
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    data = b""
    try:
        s.sendall(request.encode())
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else 0
        if status != 101:  # the refusal's body, as far as it is sent now
            try:
                s.settimeout(0.5)
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    body += chunk
            except (socket.timeout, ConnectionResetError):
                pass
        return status, head.decode(errors="replace"), body
    finally:
        s.close()


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
