"""Redis Sentinel (SPEC 12): two nodes behind nginx on a master with two
replicas and three sentinels (down-after-milliseconds 1000). A publisher
streams 3,000 messages through nginx's HTTP API and the master is SIGKILLed
mid-stream: the nodes follow the promoted replica, every publish is
answered (`published` or UNAVAILABLE, none hangs), subscribers that stay
get every acknowledged message once and in order, and one that resumes
with `since` from before the failover gets them all (redis-wait-replicas 1:
recovered true, and every one is one PostgreSQL row) or is told
recovered:false (without WAIT, where the failover may have lost some).
Also the faults: a master name the sentinels do not know and sentinels none
of which answers give health 503, UNAVAILABLE and a clear log line, and the
node recovers by itself once they do."""
import asyncio
import json
import subprocess
import threading
import time
import unittest
import urllib.error
import urllib.request

import websockets

from rtpush_harness import (PUBLISH_CLI, Nginx, Postgres, RedisSentinelSet, Server, persisting, recv_type,
                            subscribe_through, until)

MESSAGES = 3000
KILL_AT = 1000
CHANNEL = "failover"


class Publisher(threading.Thread):
    """Publishes MESSAGES times over HTTP through nginx, one at a time; kills
    the master after KILL_AT. Records every answer: (status, id or None).
    A request that gets no answer within 10 s is a hang (status None)."""

    def __init__(self, base, sentinels):
        super().__init__(daemon=True)
        self.base, self.sentinels = base, sentinels
        self.answers, self.killed_at, self.killed_port = [], None, None

    def run(self):
        for n in range(MESSAGES):
            if n == KILL_AT:
                self.killed_port = self.sentinels.kill_master()
                self.killed_at = time.time()
            req = urllib.request.Request(self.base + "publish/" + CHANNEL, data=json.dumps({"n": n}).encode(),
                                         method="POST")
            try:
                with urllib.request.urlopen(req, timeout=10) as r:
                    self.answers.append((r.status, json.loads(r.read())["id"]))
            except urllib.error.HTTPError as e:
                self.answers.append((e.code, e.read().decode()))
                time.sleep(0.02)  # a client backing off while Redis is away
            except OSError as e:  # a timeout: no answer
                self.answers.append((None, str(e)))

    def acknowledged(self):
        return [a[1] for a in self.answers if a[0] == 200]


async def collect(ws, until_id, received, seconds=60):
    """Message ids into `received` until `until_id` (or a quiet 10 s)."""
    deadline = time.time() + seconds
    while time.time() < deadline and (not received or received[-1] != until_id):
        try:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
        except asyncio.TimeoutError:
            break
        if frame["type"] == "message":
            received.append(frame["id"])


async def resubscribe(url, since):
    """As a client does: subscribes with `since` again until the node it
    reaches has Redis back (UNAVAILABLE meanwhile). (ws, `subscribed`)."""
    for _ in range(300):
        try:
            ws = await websockets.connect(url, subprotocols=["rtpush-json"])
            await asyncio.wait_for(ws.recv(), 5)  # connection_established
            await ws.send(json.dumps({"type": "subscribe", "channel": CHANNEL, "since": since}))
            while True:
                frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
                if frame["type"] in ("subscribed", "error"):
                    break
            if frame["type"] == "subscribed":
                return ws, frame
            await ws.close()
        except (OSError, websockets.WebSocketException, asyncio.TimeoutError):
            pass
        await asyncio.sleep(0.1)
    raise AssertionError("could not subscribe again")


def key(i):
    ms, seq = i.split("-")
    return int(ms), int(seq)


class SentinelFailover(unittest.IsolatedAsyncioTestCase):
    def check_in_order_once(self, received, who):
        self.assertEqual(received, sorted(set(received), key=key), "%s: out of order or twice" % who)

    async def run_failover(self, wait_replicas, pg=None):
        opts = {"history_size": 10000}
        if wait_replicas:
            opts["redis_wait_replicas"] = wait_replicas
        if pg:
            opts["postgres"] = pg.conninfo
        with RedisSentinelSet() as s, Server(redis=s.url, node_id="node-a", **opts) as a, \
                Server(redis=s.url, node_id="node-b", **opts) as b, Nginx([a.port, b.port]) as nginx:
            if pg:
                persisting(s.master(), ["node-a", "node-b"])
            stay_a, _ = await a.connect()
            stay_b, _ = await b.connect()
            for ws in (stay_a, stay_b):
                await ws.send(json.dumps({"type": "subscribe", "channel": CHANNEL}))
                await recv_type(ws, "subscribed")
            resumer, _, _ = await subscribe_through(nginx.ws_url, CHANNEL)

            publisher = Publisher("http://127.0.0.1:%d/" % nginx.port, s)
            publisher.start()
            before = []
            while len(before) < KILL_AT // 2:  # the resumer leaves before the failover
                frame = json.loads(await asyncio.wait_for(resumer.recv(), 10))
                if frame["type"] == "message":
                    before.append(frame["id"])
            await resumer.close()
            since = before[-1]
            await until(lambda: publisher.killed_at is not None, 60, "the master was never killed")
            s.wait_promoted(publisher.killed_port)
            resumer, ack = await resubscribe(nginx.ws_url, since)
            await asyncio.get_running_loop().run_in_executor(None, publisher.join, 180)
            self.assertFalse(publisher.is_alive())

            statuses = [a[0] for a in publisher.answers]
            self.assertEqual(len(statuses), MESSAGES)
            self.assertNotIn(None, statuses, "a publish got no answer")  # none hangs
            self.assertTrue(set(statuses) <= {200, 503}, set(statuses))
            # A 503 is one of the two documented UNAVAILABLE answers: nothing
            # was published, or (the link died with the publish in flight, or
            # WAIT was not confirmed) it may have been.
            for status, body in publisher.answers:
                if status == 503:
                    self.assertRegex(body, "redis is unavailable|may have been published")
            acked = publisher.acknowledged()
            after_kill = acked[KILL_AT - statuses[:KILL_AT].count(503):]
            self.assertTrue(after_kill, "no publish accepted after the failover")
            last = acked[-1]

            got = {}
            for name, ws in (("stay_a", stay_a), ("stay_b", stay_b), ("resumer", resumer)):
                got[name] = []
                await collect(ws, last, got[name])
                await ws.close()
                self.check_in_order_once(got[name], name)
            for name in ("stay_a", "stay_b"):
                self.assertEqual([i for i in got[name] if i in set(acked)], acked, "%s missed some" % name)
            resumed = before + got["resumer"]
            self.check_in_order_once(resumed, "resumer")
            if wait_replicas:
                self.assertIs(ack["recovered"], True)
                self.assertEqual([i for i in resumed if i in set(acked)], acked)
            else:
                # The failover may have lost acknowledged messages: a resume
                # from before it is told so, never given a silent gap.
                self.assertIs(ack["recovered"], False)
            # Both nodes counted the one master change they followed.
            for node in (a, b):
                self.assertIn("event=redis_failover from=127.0.0.1:%d" % publisher.killed_port, node.log_text())
                self.assertEqual(node.get("health")[0], 200)
            if pg:
                def rows():
                    return [r[0] for r in pg.query("SELECT id FROM rtpush_messages WHERE channel = '%s'" % CHANNEL)]
                await until(lambda: set(acked) <= set(rows()), 30, "acknowledged messages missing from postgres")
                ids = rows()
                self.assertEqual(len(ids), len(set(ids)))
            return acked

    async def test_failover_without_wait(self):
        await self.run_failover(0)

    async def test_failover_with_wait_and_postgres(self):
        with Postgres() as pg:
            await self.run_failover(1, pg)


def health(node):
    try:
        return node.get("health")[0]
    except OSError:
        return None


class SentinelFaults(unittest.IsolatedAsyncioTestCase):
    async def wait_for(self, check, seconds, what):
        await until(check, seconds, what)

    async def assert_unavailable(self, node):
        """No master: health 503, and a publish UNAVAILABLE (HTTP 503)."""
        await self.wait_for(lambda: health(node) == 503, 20, "health is not 503")
        status, body = node.request("POST", "publish/x", "{}")
        self.assertEqual(status, 503)
        self.assertIn("redis is unavailable", body)

    async def test_unknown_master_name_then_monitored(self):
        with RedisSentinelSet() as s:
            node = Server(redis=s.url.replace("/" + s.master_name, "/nosuch"), node_id="node-x")
            try:
                node.launch()
                await self.assert_unavailable(node)
                self.assertIn("the sentinels know no master named nosuch", node.log_text())
                for sentinel in s.sentinels:
                    sentinel.call("SENTINEL", "MONITOR", "nosuch", "127.0.0.1", str(s.master_port()), "2")
                await self.wait_for(lambda: health(node) == 200, 30, "did not recover")
                self.assertEqual(node.request("POST", "publish/x", "{}")[0], 200)
            finally:
                node.stop()

    async def test_manual_failover_demotes_the_master(self):
        """SENTINEL FAILOVER: the old master lives on as a replica; the node
        moves to the new one (+switch-master), counts one failover."""
        with RedisSentinelSet() as s, Server(redis=s.url, node_id="node-m") as node:
            self.assertEqual(node.request("POST", "publish/m", "{}")[0], 200)
            old = s.master_port()
            s.sentinels[0].call("SENTINEL", "FAILOVER", s.master_name)
            new = s.wait_promoted(old)
            await self.wait_for(lambda: node.request("POST", "publish/m", "{}")[0] == 200
                                and "event=redis_failover" in node.log_text(), 30, "did not follow")
            self.assertIn("event=redis_failover from=127.0.0.1:%d to=127.0.0.1:%d" % (old, new), node.log_text())
            self.assertEqual(node.log_text().count("event=redis_failover "), 1)
            self.assertGreaterEqual(int(s.server(new).call("XLEN", "rtpush:stream:m")), 2)

    async def test_master_refuses_auth(self):
        with RedisSentinelSet(password="hunter2") as s:
            node = Server(redis=s.url_with("", "wrong-pw"), node_id="node-z")
            try:
                node.launch()
                await self.wait_for(lambda: health(node) == 503, 20, "health is not 503")
                self.assertEqual(node.request("POST", "publish/x", "{}")[0], 503)
                await self.wait_for(lambda: "refused AUTH" in node.log_text(), 10, "no refused AUTH line")
                # (node_start's URL is redacted by the AUTH work, r22-auth.)
                for line in node.log_text().splitlines():
                    if "event=node_start" not in line:
                        self.assertNotIn("wrong-pw", line)
            finally:
                node.stop()

    async def test_no_sentinel_answers_then_they_come_back(self):
        with RedisSentinelSet() as s:
            for sentinel in s.sentinels:
                sentinel.stop()
            node = Server(redis=s.url, node_id="node-y")
            try:
                node.launch()
                await self.assert_unavailable(node)
                log = node.log_text()
                self.assertIn("no sentinel answered (", log)
                self.assertEqual(log.count("event=backend_down backend=redis "), 1, log)  # once per outage
                for sentinel in s.sentinels:
                    sentinel.start()
                await self.wait_for(lambda: health(node) == 200, 30, "did not recover")
                self.assertEqual(node.request("POST", "publish/x", "{}")[0], 200)
            finally:
                node.stop()


class PublishCli(unittest.IsolatedAsyncioTestCase):
    """rtpush-publish --redis redis+sentinel://... (SPEC 6, 12)."""

    def cli(self, url, *extra):
        p = subprocess.run([PUBLISH_CLI, "--redis", url, "--channel", "cli", *extra], capture_output=True, text=True,
                           timeout=60)
        return p.returncode, p.stdout, p.stderr

    async def test_publishes_through_the_sentinels_master(self):
        with RedisSentinelSet(password="hunter2") as s, Server(redis=s.url, node_id="node-c") as node:
            ws, _ = await node.connect()
            await ws.send(json.dumps({"type": "subscribe", "channel": "cli"}))
            await recv_type(ws, "subscribed")
            rc, out, err = self.cli(s.url, "--data", '{"via":"sentinel"}')
            self.assertEqual((rc, err), (0, ""))
            message = await recv_type(ws, "message")
            self.assertEqual((message["id"], message["data"]), (out.strip(), {"via": "sentinel"}))
            await ws.close()
            # A master name they do not know, a wrong password: exit 1, a
            # clear reason, never the password.
            rc, out, err = self.cli(s.url.replace("/" + s.master_name, "/nosuch"), "--data", "1")
            self.assertEqual((rc, out), (1, ""))
            self.assertIn("the sentinels know no master named nosuch", err)
            self.assertNotIn("hunter2", err)
            rc, out, err = self.cli(s.url_with("", "wrong-pw"), "--data", "1")
            self.assertEqual((rc, out), (1, ""))
            self.assertIn("refused AUTH", err)
            self.assertNotIn("wrong-pw", err)
            for sentinel in s.sentinels:
                sentinel.stop()
            rc, out, err = self.cli(s.url, "--data", "1")
            self.assertEqual((rc, out), (1, ""))
            self.assertIn("no sentinel answered (", err)
            self.assertNotIn("hunter2", err)


if __name__ == "__main__":
    unittest.main()
