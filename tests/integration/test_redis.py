"""Several lwsws nodes on one real Redis: cross-node fan-out, replay on any
node, Redis outages and data loss, reconnect backfill, the node registry."""
import asyncio
import json
import re
import time
import unittest

import subprocess

from rtpush_harness import PUBLISH_CLI, Redis, Server, id_pair, no_frame, recv_type, subscribe


class TwoNodes(unittest.IsolatedAsyncioTestCase):
    @classmethod
    def setUpClass(cls):
        cls.redis = Redis().start()
        cls.a = Server(redis=cls.redis.url, node_id="node-a", history_size=50).start()
        cls.b = Server(redis=cls.redis.url, node_id="node-b", history_size=50).start()

    @classmethod
    def tearDownClass(cls):
        cls.a.stop()
        cls.b.stop()
        cls.redis.stop()

    async def test_health_says_redis_up(self):
        for node in (self.a, self.b):
            status, body = node.get("health")
            self.assertEqual(status, 200)
            self.assertEqual(json.loads(body)["redis"], "up")
            self.assertNotIn("redis_shards_down", json.loads(body))
            # one Redis is shard "0"; no failover, no redirect (both kinds there)
            m = node.metrics()
            self.assertEqual(m['rtpush_redis_up{shard="0"}'], 1)
            self.assertEqual([k for k in m if k.startswith("rtpush_redis_up")], ['rtpush_redis_up{shard="0"}'])
            self.assertEqual(m["rtpush_redis_failovers_total"], 0)
            self.assertEqual(m['rtpush_redis_redirects_total{kind="moved"}'], 0)
            self.assertEqual(m['rtpush_redis_redirects_total{kind="ask"}'], 0)

    async def test_cross_node_fan_out(self):
        wa, _ = await self.a.connect()
        wb, _ = await self.b.connect()
        for ws in (wa, wb):
            await subscribe(ws, "x-node")
        await wa.send(json.dumps({"type": "publish", "channel": "x-node", "data": {"from": "a"}, "ref": 1}))
        got = {}
        for _ in range(2):
            frame = json.loads(await asyncio.wait_for(wa.recv(), 5))
            got[frame["type"]] = frame
        msg_b = await recv_type(wb, "message")
        self.assertEqual(got["published"]["id"], got["message"]["id"])
        self.assertEqual(msg_b["id"], got["published"]["id"])
        self.assertEqual(msg_b["data"], {"from": "a"})
        # HTTP on B reaches A; ids keep increasing across nodes
        id2 = self.b.publish_http("x-node", "via-b")
        self.assertEqual((await recv_type(wa, "message"))["id"], id2)
        self.assertEqual((await recv_type(wb, "message"))["id"], id2)
        self.assertLess(id_pair(msg_b["id"]), id_pair(id2))
        await wa.close()
        await wb.close()

    async def test_replay_on_b_of_what_was_missed_on_a(self):
        wa, _ = await self.a.connect()
        await subscribe(wa, "missed")
        first = self.a.publish_http("missed", 0)
        self.assertEqual((await recv_type(wa, "message"))["id"], first)
        await wa.close()  # the client goes away...
        missed = [self.a.publish_http("missed", i) for i in range(1, 8)]
        wb, _ = await self.b.connect()  # ...and comes back on the other node
        ack = await subscribe(wb, "missed", since=first)
        self.assertIs(ack["recovered"], True)
        self.assertEqual(ack["position"], missed[-1])
        replayed = [(await recv_type(wb, "message"))["id"] for _ in missed]
        self.assertEqual(replayed, missed)
        live = self.a.publish_http("missed", "live")
        self.assertEqual((await recv_type(wb, "message"))["id"], live)
        await no_frame(wb)
        await wb.close()

    async def test_recovered_false_past_the_stream(self):
        ids = [self.a.publish_http("trimmed", i) for i in range(400)]  # history-size 50
        ws, _ = await self.b.connect()
        ack = await subscribe(ws, "trimmed", since=ids[0])
        self.assertIs(ack["recovered"], False)
        got = []
        while True:
            try:
                got.append((await recv_type(ws, "message", timeout=1))["data"])
            except asyncio.TimeoutError:
                break
        self.assertGreaterEqual(len(got), 50)  # at least history-size retained
        self.assertEqual(got, list(range(400 - len(got), 400)))  # the newest, in order
        await ws.close()

    async def test_long_replay_is_paged(self):
        with Server(redis=self.redis.url, history_size=5000) as big:
            ids = [big.publish_http("long", i) for i in range(2500)]
            ws, _ = await big.connect()
            reads_before = self.redis.command_calls("xrange")
            ack = await subscribe(ws, "long", since=ids[0])
            self.assertIs(ack["recovered"], True)
            got = [(await recv_type(ws, "message"))["data"] for _ in range(2499)]
            self.assertEqual(got, list(range(1, 2500)))
            # Read in pages: 2,499 entries took several range reads, not one.
            self.assertGreaterEqual(self.redis.command_calls("xrange") - reads_before, 3)
            await ws.close()

    async def test_nodes_lists_every_live_node(self):
        ws, _ = await self.b.connect()
        status, body = self.a.get("nodes")
        self.assertEqual(status, 200)
        nodes = {n["node"]: n for n in json.loads(body)["nodes"]}
        self.assertIn("node-a", nodes)
        self.assertIn("node-b", nodes)
        self.assertAlmostEqual(nodes["node-b"]["last_seen"], time.time(), delta=15)
        await ws.close()


    async def test_cli_publishes_through_redis_to_every_node(self):
        wa, _ = await self.a.connect()
        wb, _ = await self.b.connect()
        for ws in (wa, wb):
            await subscribe(ws, "cli-redis")
        lines = "".join('{"n":%d}\n' % i for i in range(500)) + "not json\n" + '"last"\n'
        p = await asyncio.to_thread(subprocess.run, [PUBLISH_CLI, "--redis", self.redis.url, "--channel", "cli-redis"],
                                    input=lines, capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 1)  # the bad line
        self.assertIn("line 501", p.stderr)
        ids = p.stdout.split()
        self.assertEqual(len(ids), 501)
        for ws in (wa, wb):
            got = [await recv_type(ws, "message") for _ in ids]
            self.assertEqual([m["id"] for m in got], ids)  # the ids it printed are the ids subscribers see
            self.assertEqual([m["data"] for m in got], [{"n": i} for i in range(500)] + ["last"])
        # and it is retained like any other message: replay finds it
        late, _ = await self.b.connect()
        ack = await subscribe(late, "cli-redis", since=ids[-2])
        self.assertEqual(ack["position"], ids[-1])
        self.assertEqual((await recv_type(late, "message"))["data"], "last")
        for ws in (wa, wb, late):
            await ws.close()


class RedisOutages(unittest.IsolatedAsyncioTestCase):
    async def test_redis_down_then_back_without_its_data(self):
        redis = Redis().start()
        try:
            with Server(redis=redis.url, node_id="solo") as node:
                sub, _ = await node.connect()
                await subscribe(sub, "outage")
                before = node.publish_http("outage", "before")
                self.assertEqual((await recv_type(sub, "message"))["id"], before)
                pub, _ = await node.connect()

                redis.stop()
                for _ in range(50):
                    if node.get("health")[0] == 503:
                        break
                    await asyncio.sleep(0.1)
                status, body = node.get("health")
                self.assertEqual(status, 503)
                self.assertEqual(json.loads(body)["status"], "degraded")
                self.assertEqual(json.loads(body)["redis"], "down")
                self.assertEqual(json.loads(body)["redis_shards_down"], ["0"])
                self.assertEqual(node.metrics()['rtpush_redis_up{shard="0"}'], 0)
                await pub.send(json.dumps({"type": "publish", "channel": "outage", "data": 1, "ref": "r"}))
                err = await recv_type(pub, "error")
                self.assertEqual((err["code"], err["ref"]), ("UNAVAILABLE", "r"))
                status, _ = node.request("POST", "publish/outage", "1")
                self.assertEqual(status, 503)
                p = subprocess.run([PUBLISH_CLI, "--redis", redis.url, "--channel", "outage", "--data", "1"],
                                   capture_output=True, text=True, timeout=30)
                self.assertEqual((p.returncode, p.stdout), (1, ""))

                redis.start()  # same port, no data: everything before is gone
                for _ in range(100):
                    if node.get("health")[0] == 200:
                        break
                    await asyncio.sleep(0.1)
                status, body = node.get("health")
                self.assertEqual(status, 200)
                self.assertNotIn("redis_shards_down", json.loads(body))
                self.assertEqual(node.metrics()['rtpush_redis_up{shard="0"}'], 1)
                # the existing subscription delivers again, without resubscribing
                after = node.publish_http("outage", "after")
                self.assertEqual((await recv_type(sub, "message", timeout=10))["id"], after)
                # a since from before the data loss cannot be vouched for
                late, _ = await node.connect()
                ack = await subscribe(late, "outage", since=before)
                self.assertIs(ack["recovered"], False)
                for ws in (sub, pub, late):
                    await ws.close()
                # the operator sees the outage once, with hiredis's cause,
                # however many reconnects failed, and once its end
                for _ in range(50):  # written when the service thread drains the I/O thread's results
                    if "event=backend_up backend=redis " in node.log_tail(100000):
                        break
                    await asyncio.sleep(0.1)
                log = node.log_tail(100000)
                self.assertEqual(len(re.findall(
                    r"rtpush: node=\S+ event=backend_down backend=redis addr=127\.0\.0\.1:\d+ cause=\"?\w", log)), 1, log)
                self.assertEqual(log.count("event=backend_down backend=redis "), 1, log)
                self.assertEqual(log.count("event=backend_up backend=redis "), 1, log)
        finally:
            redis.stop()

    async def test_backfill_after_the_link_drops(self):
        """Node A's Redis connections are killed while B publishes: A's
        subscribers still get every message, in order, without reconnecting."""
        with Redis() as redis, Server(redis=redis.url, node_id="a") as a, Server(redis=redis.url, node_id="b") as b:
            sub, _ = await a.connect()
            await subscribe(sub, "backfill")
            published = []
            for i in range(300):
                published.append(b.publish_http("backfill", i))
                if i in (50, 150):
                    for _ in range(100):  # A reconnects after the first kill
                        if len([c for c in redis.client_list() if c.get("name", "").startswith("rtpush:a:")]) == 2:
                            break
                        await asyncio.sleep(0.05)
                    self.assertEqual(redis.kill_clients("rtpush:a:"), 2)
            got = [(await recv_type(sub, "message", timeout=10))["id"] for _ in published]
            self.assertEqual(got, published)
            await no_frame(sub)
            await sub.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
