"""Subscribe, publish, unsubscribe over rtpush-json against a real lwsws."""
import asyncio
import json
import time
import unittest

from rtpush_harness import ServerCase, id_pair, no_frame, recv_json, recv_type

VALUES = [{"a": 1, "b": [1, 2, {"c": None}]}, [1, "two", 3.5], "text", 42, -0.25, None, True,
          {"unicode": "caf\u00e9 \u2603 \U0001F600", "esc": "q\"b\\n\n\t"}]


class PubSub(ServerCase, unittest.IsolatedAsyncioTestCase):
    server_options = {"node_id": "node-a", "heartbeat_secs": 7}

    async def test_connection_established(self):
        ws, hello = await self.server.connect()
        self.assertIsInstance(hello["connection_id"], str)
        self.assertTrue(hello["connection_id"])
        self.assertEqual(hello["node"], "node-a")
        self.assertEqual(hello["heartbeat_interval"], 7)
        self.assertAlmostEqual(hello["timestamp"], time.time(), delta=5)
        ws2, hello2 = await self.server.connect()
        self.assertNotEqual(hello["connection_id"], hello2["connection_id"])
        await ws.close()
        await ws2.close()

    async def test_publish_reaches_subscribers_in_order(self):
        sub, _ = await self.server.connect()
        pub, _ = await self.server.connect()
        await sub.send(json.dumps({"type": "subscribe", "channel": "pubsub-1"}))
        ack = await recv_type(sub, "subscribed")
        self.assertEqual(ack["channel"], "pubsub-1")
        self.assertIsNone(ack["position"])
        self.assertNotIn("recovered", ack)
        ids = []
        for i, value in enumerate(VALUES):
            ref = [{"k": i}, i, "r%d" % i][i % 3]
            await pub.send(json.dumps({"type": "publish", "channel": "pubsub-1", "data": value, "ref": ref}))
            published = await recv_type(pub, "published")
            self.assertEqual(published["channel"], "pubsub-1")
            self.assertEqual(published["ref"], ref)
            msg = await recv_type(sub, "message")
            self.assertEqual(msg["channel"], "pubsub-1")
            self.assertEqual(msg["data"], value)
            self.assertEqual(msg["id"], published["id"])
            self.assertAlmostEqual(msg["timestamp"], time.time(), delta=5)
            ids.append(id_pair(msg["id"]))
        self.assertEqual(ids, sorted(set(ids)))  # strictly increasing
        await no_frame(pub)  # the publisher is not subscribed
        # position is now the newest id
        late, _ = await self.server.connect()
        await late.send(json.dumps({"type": "subscribe", "channel": "pubsub-1"}))
        self.assertEqual(id_pair((await recv_type(late, "subscribed"))["position"]), ids[-1])
        await no_frame(late)  # no history without since
        for ws in (sub, pub, late):
            await ws.close()

    async def test_numbers_keep_every_digit(self):
        """Values arrive as sent, not as a double would hold them."""
        sub, _ = await self.server.connect()
        await sub.send(json.dumps({"type": "subscribe", "channel": "digits"}))
        await recv_type(sub, "subscribed")
        raw = '{"big":12345678901234567890,"huge":1E400,"neg":-0.0,"tiny":1e-400,"f":0.1}'
        await sub.send('{"type":"publish","channel":"digits","data":%s,"ref":9007199254740993}' % raw)
        frames = {}
        for _ in range(2):
            text = await asyncio.wait_for(sub.recv(), 5)
            frames[json.loads(text)["type"]] = text
        self.assertIn('"data":%s,' % raw, frames["message"])
        self.assertIn('"ref":9007199254740993}', frames["published"])
        status, _ = self.server.request("POST", "publish/digits", "[ 123456789012345678901234567890 ]")
        self.assertEqual(status, 200)
        self.assertIn('"data":[123456789012345678901234567890],', await asyncio.wait_for(sub.recv(), 5))
        await sub.close()

    async def test_publish_without_ref(self):
        pub, _ = await self.server.connect()
        await pub.send(json.dumps({"type": "publish", "channel": "pubsub-noref", "data": 1}))
        published = await recv_type(pub, "published")
        self.assertNotIn("ref", published)
        self.assertRegex(published["id"], r"^\d+-\d+$")
        await pub.close()

    async def test_unsubscribe_stops_delivery(self):
        sub, _ = await self.server.connect()
        await sub.send(json.dumps({"type": "subscribe", "channel": "pubsub-u"}))
        await recv_type(sub, "subscribed")
        self.server.publish_http("pubsub-u", 1)
        self.assertEqual((await recv_type(sub, "message"))["data"], 1)
        await sub.send(json.dumps({"type": "unsubscribe", "channel": "pubsub-u"}))
        self.assertEqual(await recv_json(sub), {"type": "unsubscribed", "channel": "pubsub-u"})
        self.server.publish_http("pubsub-u", 2)
        await no_frame(sub)
        await sub.close()

    async def test_channels_are_independent(self):
        a, _ = await self.server.connect()
        b, _ = await self.server.connect()
        for ws, ch in ((a, "pubsub-x"), (b, "pubsub-y")):
            await ws.send(json.dumps({"type": "subscribe", "channel": ch}))
            await recv_type(ws, "subscribed")
        self.server.publish_http("pubsub-x", "for a")
        self.server.publish_http("pubsub-y", "for b")
        self.assertEqual((await recv_type(a, "message"))["data"], "for a")
        self.assertEqual((await recv_type(b, "message"))["data"], "for b")
        await no_frame(a)
        await no_frame(b)
        await a.close()
        await b.close()

    async def test_heartbeat_ack(self):
        ws, _ = await self.server.connect()
        await ws.send(json.dumps({"type": "heartbeat"}))
        ack = await recv_type(ws, "heartbeat_ack")
        self.assertAlmostEqual(ack["timestamp"], time.time(), delta=5)
        await ws.close()


class Errors(ServerCase, unittest.IsolatedAsyncioTestCase):
    pass

    async def expect_error(self, ws, frame, code, ref=None):
        await ws.send(frame if isinstance(frame, str) else json.dumps(frame))
        err = await recv_type(ws, "error")
        self.assertEqual(err["code"], code, err)
        self.assertIsInstance(err["message"], str)
        self.assertTrue(err["message"])
        if ref is not None:
            self.assertEqual(err["ref"], ref)
        # the connection stays open
        await ws.send(json.dumps({"type": "heartbeat"}))
        await recv_type(ws, "heartbeat_ack")

    async def test_every_error_code(self):
        ws, _ = await self.server.connect()
        await self.expect_error(ws, "this is not json", "INVALID_JSON")
        await self.expect_error(ws, "{\"type\":", "INVALID_JSON")
        await self.expect_error(ws, "[1,2,3]", "INVALID_JSON")
        await self.expect_error(ws, {"channel": "c", "ref": 1}, "UNKNOWN_MESSAGE_TYPE", 1)
        await self.expect_error(ws, {"type": "dance", "ref": {"x": [1]}}, "UNKNOWN_MESSAGE_TYPE", {"x": [1]})
        await self.expect_error(ws, {"type": "publish", "channel": "c", "ref": "no-data"}, "INVALID_JSON", "no-data")
        bad_channels = [None, "", "x" * 201, "a b", "a\tb", "a\nb", "a\x01b", "a\x7fb", 5, ["c"]]
        for i, channel in enumerate(bad_channels):
            for kind in ("subscribe", "unsubscribe", "publish"):
                frame = {"type": kind, "ref": i, "data": 1}
                if channel is not None:
                    frame["channel"] = channel
                await self.expect_error(ws, frame, "INVALID_CHANNEL", i)
        await ws.send(json.dumps({"type": "subscribe", "channel": "y" * 200}))
        self.assertEqual((await recv_type(ws, "subscribed"))["channel"], "y" * 200)
        await ws.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
