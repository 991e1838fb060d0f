"""nginx in front of nodes, from the installed site file."""
import os
import signal
import subprocess
import tempfile
import urllib.request

from ..env import PREFIX
from ..processes import TempDirService, free_port, wait_until


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


class Nginx(TempDirService):
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
