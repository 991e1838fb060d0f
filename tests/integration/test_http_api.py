"""The HTTP API (docs/protocol.md "HTTP API") on a real lwsws, at the root and under a mount."""
import asyncio
import json
import time
import unittest
import urllib.parse

from rtpush_harness import ServerCase, recv_json, recv_type, until


class HttpApi(ServerCase, unittest.IsolatedAsyncioTestCase):
    server_options = {"mount": "/", "max_message_bytes": 1000, "node_id": "api-node"}

    async def test_health_counts_connections(self):
        status, body = self.server.get("health")
        self.assertEqual(status, 200)
        health = json.loads(body)
        self.assertEqual(health, {"status": "healthy", "node": "api-node", "connections": health["connections"],
                                  "redis": "off", "postgres": "off"})
        before = health["connections"]
        a, _ = await self.server.connect()
        b, _ = await self.server.connect()
        self.assertEqual(json.loads(self.server.get("health")[1])["connections"], before + 2)
        await a.close()
        await b.close()
        await until(lambda: json.loads(self.server.get("health")[1])["connections"] == before, 5,
                    "closed connections are still counted")

    async def test_nodes(self):
        status, body = self.server.get("nodes")
        self.assertEqual(status, 200)
        nodes = json.loads(body)["nodes"]
        self.assertEqual(len(nodes), 1)
        self.assertEqual(nodes[0]["node"], "api-node")
        self.assertIsInstance(nodes[0]["connections"], int)
        self.assertAlmostEqual(nodes[0]["last_seen"], time.time(), delta=5)

    async def test_publish_reaches_websocket_subscribers(self):
        ws, _ = await self.server.connect()
        for channel in ("http-1", "a/b:c", "caf\u00e9"):
            await ws.send(json.dumps({"type": "subscribe", "channel": channel}))
            await recv_type(ws, "subscribed")
            status, body = self.server.request("POST", "publish/" + urllib.parse.quote(channel, safe=""),
                                               '{ "hello" : [1, 2] }')
            self.assertEqual(status, 200, body)
            answer = json.loads(body)
            self.assertEqual(answer["channel"], channel)
            self.assertRegex(answer["id"], r"^\d+-\d+$")
            msg = await recv_type(ws, "message")
            self.assertEqual((msg["channel"], msg["id"], msg["data"]), (channel, answer["id"], {"hello": [1, 2]}))
        await ws.close()

    async def test_publish_errors(self):
        ok = json.dumps("x")
        cases = [
            ("POST", "publish/http-2", "{not json", 400),
            ("POST", "publish/http-2", "", 400),
            ("POST", "publish/a%20b", ok, 400),
            ("POST", "publish/a%09b", ok, 400),
            ("POST", "publish/" + "c" * 201, ok, 400),
            ("POST", "publish/", ok, 400),
            ("POST", "publish/http-2", json.dumps("y" * 2000), 413),
            ("GET", "publish/http-2", None, 405),
            ("POST", "health", ok, 405),
            ("GET", "nothing-here", None, 404),
        ]
        for method, path, body, want in cases:
            status, text = self.server.request(method, path, body)
            self.assertEqual(status, want, (method, path, text))
            self.assertIn("error", json.loads(text))
        # nothing of those was published
        ws, _ = await self.server.connect()
        await ws.send(json.dumps({"type": "subscribe", "channel": "http-2"}))
        self.assertIsNone((await recv_type(ws, "subscribed"))["position"])
        self.assertEqual(self.server.request("POST", "publish/" + "c" * 200, ok)[0], 200)
        await ws.close()

    async def test_metrics(self):
        before = self.server.metrics()
        ws, _ = await self.server.connect()
        await ws.send(json.dumps({"type": "subscribe", "channel": "m-1"}))
        await recv_type(ws, "subscribed")
        await ws.send(json.dumps({"type": "publish", "channel": "m-1", "data": 1}))
        frames = {(await recv_json(ws))["type"] for _ in range(2)}
        self.assertEqual(frames, {"message", "published"})
        await ws.send("garbage")
        await recv_type(ws, "error")
        m = self.server.metrics()
        self.assertEqual(m["rtpush_connections_active"], before["rtpush_connections_active"] + 1)
        self.assertEqual(m["rtpush_connections_total"], before["rtpush_connections_total"] + 1)
        for t, n in (("subscribe", 1), ("publish", 1), ("invalid", 1)):
            key = 'rtpush_messages_received_total{type="%s"}' % t
            self.assertEqual(m[key], before[key] + n, key)
        self.assertEqual(m["rtpush_messages_delivered_total"], before["rtpush_messages_delivered_total"] + 1)
        self.assertEqual(m["rtpush_message_processing_seconds_count"],
                         before["rtpush_message_processing_seconds_count"] + 3)
        self.assertEqual(m['rtpush_message_processing_seconds_bucket{le="+Inf"}'],
                         m["rtpush_message_processing_seconds_count"])
        self.assertGreater(m["rtpush_message_processing_seconds_sum"], 0)
        self.assertEqual(m['rtpush_errors_total{code="INVALID_JSON"}'], before['rtpush_errors_total{code="INVALID_JSON"}'] + 1)
        await ws.close()


class HttpApiUnderMount(HttpApi):
    server_options = dict(HttpApi.server_options, mount="/api")

    def test_outside_the_mount_is_not_the_api(self):
        import urllib.request
        import urllib.error
        with self.assertRaises(urllib.error.HTTPError):
            urllib.request.urlopen("http://127.0.0.1:%d/health" % self.server.port, timeout=5)


if __name__ == "__main__":
    unittest.main(verbosity=2)
