"""A node per core: the systemd units pass `systemd-analyze verify`, and
the configurations `rtpush-nodes` writes for two nodes really serve: two
lwsws started from them and nginx with the generated site carry a WebSocket
subscription on one node and HTTP publishes from either node (Redis between
them)."""
import asyncio
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import unittest
import urllib.request

import websockets

from rtpush_harness import (LWSWS, PLUGIN_DIR, PREFIX, Redis, lwsws_env, nginx_conf, recv_type, sanitizer_reports,
                            start_nginx, stop_process_group, wait_until)

SYSTEMD_DIR = os.path.join(PREFIX, "share", "rtpush", "systemd")
GENERATOR = os.path.join(PREFIX, "bin", "rtpush-nodes")
UNIT_LWSWS = "/opt/lwsws/bin/lwsws"  # the path both units run


def consecutive_free_ports(count, first=8400, last=8449):
    """`count` adjacent free ports in this test's range (the generator numbers
    nodes from one base port, so free_port() does not fit)."""
    for base in range(first, last - count + 2):
        socks = []
        try:
            for port in range(base, base + count):
                socks.append(socket.socket())
                socks[-1].bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no %d adjacent free ports in %d..%d" % (count, first, last))


def service_section(path):
    """The [Service] settings of a unit file as {key: [values]}, comments out."""
    settings, section = {}, None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("["):
                section = line
            elif section == "[Service]" and line and not line.startswith("#"):
                key, value = line.split("=", 1)
                settings.setdefault(key, []).append(value)
    return settings


class Units(unittest.TestCase):
    def verify(self, *units):
        """systemd-analyze verify on copies of the installed units. The copies
        live in a temporary directory (verify loads a unit from the path
        given, and the template's instance rtpush@node1.service from the
        template beside it). verify also checks that ExecStart's binary is
        executable: where /opt/lwsws is not this lwsws (a custom
        LWSWS_PREFIX), the copy runs the lwsws under test instead, so the
        check means the same thing on every machine."""
        tmp = tempfile.mkdtemp(prefix="rtpush-units-")
        self.addCleanup(shutil.rmtree, tmp, ignore_errors=True)
        for name in ("rtpush.service", "rtpush@.service"):
            with open(os.path.join(SYSTEMD_DIR, name)) as f:
                text = f.read()
            if not os.access(UNIT_LWSWS, os.X_OK):
                text = text.replace(UNIT_LWSWS, os.path.abspath(LWSWS))
            with open(os.path.join(tmp, name), "w") as f:
                f.write(text)
        run = subprocess.run(["systemd-analyze", "verify", "--man=no"] + ["./" + u for u in units],
                             cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        # An unknown or misspelt setting is only a warning (exit status 0):
        # any line about our units fails the test too.
        ours = [l for l in run.stdout.splitlines() if "rtpush" in l]
        self.assertEqual((run.returncode, ours), (0, []), run.stdout)

    def test_both_units_verify(self):
        self.verify("rtpush.service", "rtpush@node1.service")

    def test_the_template_runs_its_own_config_directory_and_stops_the_whole_group(self):
        unit = service_section(os.path.join(SYSTEMD_DIR, "rtpush@.service"))
        self.assertEqual(unit["ExecStart"], [UNIT_LWSWS + " -c /etc/rtpush/nodes/%i"])
        # lwsws's first process dies at once on SIGTERM; the serving child
        # does the graceful stop, so it must get the signal too.
        self.assertEqual(unit["KillMode"], ["control-group"])
        self.assertEqual(unit["ExecReload"], ["/bin/kill -HUP $MAINPID"])
        self.assertEqual(unit["Restart"], ["on-failure"])

    def test_both_units_restart_a_node_whose_service_loop_is_stuck(self):
        # SPEC 17: the watchdog; NotifyAccess=all because lwsws's forked
        # serving child, not the main process, sends WATCHDOG=1.
        for name in ("rtpush.service", "rtpush@.service"):
            unit = service_section(os.path.join(SYSTEMD_DIR, name))
            self.assertEqual(unit.get("WatchdogSec"), ["30"], name)
            self.assertEqual(unit.get("NotifyAccess"), ["all"], name)
            # the last-resort exit (stop-timeout-secs + 2 s, 10 by default)
            # comes before systemd's SIGKILL
            self.assertGreater(int(unit["TimeoutStopSec"][0]), 10 + 2, name)

    def test_the_single_node_unit_keeps_the_template_settings(self):
        one = service_section(os.path.join(SYSTEMD_DIR, "rtpush.service"))
        many = service_section(os.path.join(SYSTEMD_DIR, "rtpush@.service"))
        for unit in (one, many):
            unit.pop("ExecStart")
            unit.pop("SyslogIdentifier")
        self.assertEqual(one, many)


class GeneratedNode:
    """lwsws started from a directory rtpush-nodes wrote."""

    def __init__(self, directory):
        self.dir = directory
        with open(os.path.join(directory, "conf.d", "rtpush")) as f:
            self.port = int(json.load(f)["vhosts"][0]["port"])
        self.log = open(os.path.join(directory, "lwsws.log"), "w")
        self.proc = subprocess.Popen([LWSWS, "-c", directory], stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True, env=lwsws_env(directory))

    def health(self):
        with urllib.request.urlopen("http://127.0.0.1:%d/health" % self.port, timeout=2) as r:
            return json.loads(r.read())

    def wait_serving(self):
        def up():
            if self.proc.poll() is not None:
                raise RuntimeError("lwsws exited:\n" + open(self.log.name).read()[-2000:])
            try:
                self.health()
                return True
            except OSError:
                return False
        wait_until(up, 15, "a generated node did not start")

    def stop(self):
        stop_process_group(self.proc, 15)
        self.log.close()
        reports = sanitizer_reports(self.dir)
        if reports:
            raise AssertionError("sanitizer reports from lwsws:\n" + reports)


class Generator(unittest.IsolatedAsyncioTestCase):
    def generate(self, *args):
        out = tempfile.mkdtemp(prefix="rtpush-nodes-")
        self.addCleanup(shutil.rmtree, out, ignore_errors=True)
        run = subprocess.run([GENERATOR, "--prefix", PREFIX, "--out", out] + list(args),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        return out, run

    def test_bad_arguments_are_refused_with_status_2(self):
        for args in (["--nodes", "0"], ["--nodes", "two"], ["--base-port", "70000"],
                     ["--nodes", "2"],  # two nodes without Redis cannot share messages
                     ["--nodes", "2", "--redis", "localhost:6379"],
                     ["--nodes", "2", "--redis", "redis://127.0.0.1:6379", "--base-port", "8080"],
                     # one past each bound
                     ["--nodes", "257", "--redis", "redis://127.0.0.1:6379"], ["--base-port", "65536"],
                     ["--nodes", "2", "--redis", "redis://127.0.0.1:6379", "--base-port", "65535"]):
            out, run = self.generate(*args)
            self.assertEqual(run.returncode, 2, (args, run.stdout, run.stderr))
            self.assertIn("rtpush-nodes: error:", run.stderr)
            self.assertEqual(os.listdir(out), [], "nothing written for %s" % args)

    def test_arguments_at_their_bounds_are_accepted(self):
        for args, nodes in ((["--nodes", "256", "--redis", "redis://127.0.0.1:6379", "--base-port", "9000"], 256),
                            (["--nodes", "1", "--base-port", "65535"], 1),
                            (["--nodes", "2", "--redis", "redis://127.0.0.1:6379", "--base-port", "65534"], 2)):
            out, run = self.generate(*args)
            self.assertEqual(run.returncode, 0, (args, run.stderr))
            self.assertEqual(len(os.listdir(os.path.join(out, "nodes"))), nodes, args)

    def vhost_options(self, out, name="node1"):
        with open(os.path.join(out, "nodes", name, "conf.d", "rtpush")) as f:
            return json.load(f)["vhosts"][0]["ws-protocols"][0]["rtpush"]

    def test_every_redis_form_goes_into_the_vhosts_with_its_options(self):
        # SPEC 12: one Redis, the master sentinels name, a Cluster; with or
        # without user:password (an empty user: a password alone)
        for url, extra, options in (
                ("redis://127.0.0.1:6379/2", [], {}),
                ("redis://app:s3cret@[::1]:6379", ["--redis-wait-replicas", "1"], {"redis-wait-replicas": "1"}),
                ("redis+sentinel://:s3cret@10.0.0.1:26379,10.0.0.2:26379,sentinel-3:26379/rtpush/1",
                 ["--redis-sentinel-password", "sentinel-s3cret", "--redis-wait-replicas", "1"],
                 {"redis-sentinel-password": "sentinel-s3cret", "redis-wait-replicas": "1"}),
                ("redis+sentinel://127.0.0.1:26379/mymaster", [], {}),
                ("redis+cluster://app:s3cret@10.0.0.1:7000,10.0.0.2:7000", ["--redis-wait-replicas", "0"],
                 {"redis-wait-replicas": "0"}),
                ("redis+cluster://127.0.0.1:7000", [], {})):
            out, run = self.generate("--nodes", "2", "--redis", url, *extra)
            self.assertEqual(run.returncode, 0, (url, run.stderr))
            self.assertNotIn("s3cret", run.stdout + run.stderr)
            for name in ("node1", "node2"):
                got = self.vhost_options(out, name)
                self.assertEqual(got["redis"], url)
                self.assertEqual({k: v for k, v in got.items() if k.startswith("redis-")}, options, url)
                # a password in the file: only its owner (root, the units' user) reads it
                mode = os.stat(os.path.join(out, "nodes", name, "conf.d", "rtpush")).st_mode & 0o777
                self.assertEqual(mode, 0o600 if "s3cret" in url else 0o644, url)

    def test_a_bad_redis_url_is_refused_without_showing_its_password(self):
        for args in (["--redis", "redis://app:s3cret@127.0.0.1"],  # no port
                     ["--redis", "redis://:s3cret@h1:6379,h2:6379"],  # several hosts need a + form
                     ["--redis", "redis+sentinel://:s3cret@127.0.0.1:26379"],  # no master name
                     ["--redis", "redis+sentinel://:s3cret@127.0.0.1:26379/two words"],
                     ["--redis", "redis+cluster://:s3cret@127.0.0.1:7000/1"],  # a Cluster has db 0 only
                     ["--redis", "redis+cluster://:s3cret@127.0.0.1:70000"],
                     ["--redis", "s3cret@127.0.0.1:6379"],
                     ["--redis", "rediss+cluster://:s3cret@127.0.0.1:7000"],
                     ["--redis", "redis://s3cret@127.0.0.1:6379"],  # user:password, not a bare password
                     # the sentinels' password only with redis+sentinel://
                     ["--redis", "redis://127.0.0.1:6379", "--redis-sentinel-password", "s3cret"],
                     ["--redis-sentinel-password", "s3cret"],
                     ["--redis-wait-replicas", "1"],  # no Redis to wait for
                     ["--redis", "redis://127.0.0.1:6379", "--redis-wait-replicas", "-1"],
                     ["--redis", "redis://127.0.0.1:6379", "--redis-wait-replicas", "one"]):
            out, run = self.generate("--nodes", "1", *args)
            self.assertEqual(run.returncode, 2, (args, run.stdout, run.stderr))
            self.assertIn("rtpush-nodes: error:", run.stderr)
            self.assertNotIn("s3cret", run.stdout + run.stderr)
            self.assertEqual(os.listdir(out), [], "nothing written for %s" % args)

    async def test_two_generated_nodes_serve_behind_the_generated_nginx_site(self):
        with Redis() as redis:
            base = consecutive_free_ports(2)
            listen = consecutive_free_ports(1, 8450, 8460)
            out, run = self.generate("--nodes", "2", "--base-port", str(base), "--redis", redis.url,
                                     "--listen", str(listen))
            self.assertEqual(run.returncode, 0, run.stderr)
            self.assertIn("systemctl enable --now rtpush@node1 rtpush@node2", run.stdout)

            names = sorted(os.listdir(os.path.join(out, "nodes")))
            self.assertEqual(names, ["node1", "node2"])
            confs = []
            for name in names:
                with open(os.path.join(out, "nodes", name, "conf")) as f:
                    glob = json.load(f)["global"]
                with open(os.path.join(out, "nodes", name, "conf.d", "rtpush")) as f:
                    vhost = json.load(f)["vhosts"][0]
                self.assertEqual(glob["plugin-dir"], os.path.abspath(PLUGIN_DIR))
                confs.append((vhost["port"], vhost["ws-protocols"][0]["rtpush"]))
            self.assertEqual([port for port, _ in confs], [str(base), str(base + 1)])
            self.assertEqual([opts["redis"] for _, opts in confs], [redis.url] * 2)
            node_ids = [opts["node-id"] for _, opts in confs]
            self.assertEqual(len(set(node_ids)), 2, node_ids)

            nodes = [GeneratedNode(os.path.join(out, "nodes", name)) for name in names]
            nginx = None
            try:
                for node in nodes:
                    node.wait_serving()
                nginx = self.serve_generated_site(os.path.join(out, "nginx", "rtpush-upstream.conf"), listen)
                await self.subscribe_and_publish_across_nodes(listen, set(node_ids))
            finally:
                if nginx:
                    os.killpg(nginx.pid, signal.SIGKILL)
                    nginx.wait()
                for node in nodes:
                    node.stop()

    def serve_generated_site(self, site_path, listen):
        """nginx with the generated site inside http {}, as
        /etc/nginx/sites-enabled/ puts it; `nginx -t` first."""
        d = os.path.dirname(site_path)
        with open(site_path) as f:
            site = f.read()
        self.assertEqual(len(re.findall(r"^\s*server 127\.0\.0\.1:\d+ ", site, re.M)), 2, site)
        cmd = nginx_conf(d, " include %s;" % site_path)
        test = subprocess.run(cmd + ["-t"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.assertEqual(test.returncode, 0, test.stdout)
        return start_nginx(cmd, listen)

    async def subscribe_and_publish_across_nodes(self, listen, node_ids):
        # nginx spreads connections over the upstream: four subscribers land
        # on both nodes (hello names the node).
        subscribers = []
        for _ in range(4):
            ws = await websockets.connect("ws://127.0.0.1:%d/" % listen, subprotocols=["rtpush-json"])
            hello = json.loads(await asyncio.wait_for(ws.recv(), 5))
            await ws.send(json.dumps({"type": "subscribe", "channel": "units"}))
            await recv_type(ws, "subscribed")
            subscribers.append((ws, hello["node"]))
        self.assertEqual({node for _, node in subscribers}, node_ids)
        try:
            # Each HTTP publish goes to one node (round robin: both take
            # some); every subscriber gets every message, in order.
            ids = []
            for i in range(6):
                req = urllib.request.Request("http://127.0.0.1:%d/publish/units" % listen,
                                             data=json.dumps({"i": i}).encode(), method="POST",
                                             headers={"Content-Type": "application/json"})
                with urllib.request.urlopen(req, timeout=10) as r:
                    self.assertEqual(r.status, 200)
                    ids.append(json.loads(r.read())["id"])
            for ws, node in subscribers:
                got = []
                while len(got) < len(ids):
                    msg = await recv_type(ws, "message")
                    got.append((msg["id"], msg["data"]["i"]))
                self.assertEqual(got, list(zip(ids, range(6))), "subscriber on " + node)
        finally:
            await asyncio.gather(*(ws.close() for ws, _ in subscribers))


if __name__ == "__main__":
    unittest.main(verbosity=2)
