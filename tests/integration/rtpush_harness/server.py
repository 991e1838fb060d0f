"""One lwsws node with the installed rtpush plugins (Server), and the mixin
for a test class sharing one (ServerCase).

Each Server gets its own config dir and free port, runs in its own process
group (lwsws forks a serving child) and is stopped by signalling that group.
"""
import asyncio
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

from .env import LWSWS, PLUGIN_DIR, PREFIX, lwsws_env, sanitizer_reports
from .metrics import parse_metrics
from .processes import free_port, stop_process_group, wait_until


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
        return parse_metrics(body)

    # -- WebSocket ----------------------------------------------------------
    async def connect(self, **kw):
        import websockets
        if self.tls:
            kw.setdefault("ssl", self.ssl_context)
        ws = await websockets.connect(self.ws_url, subprotocols=["rtpush-json"], max_size=None, **kw)
        hello = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert hello["type"] == "connection_established", hello
        return ws, hello


class ServerCase:
    """Mixin for a test class sharing one server: set `server_options`."""
    server_options = {}

    @classmethod
    def setUpClass(cls):
        cls.server = Server(**cls.server_options).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
