"""1000 connections on one channel, each receiving 100 fanned-out messages."""
import asyncio
import json
import resource
import unittest

from rtpush_harness import Server, recv_type

CONNECTIONS = 1000
MESSAGES = 100


class Scale(unittest.IsolatedAsyncioTestCase):
    async def test_thousand_subscribers_get_every_message_in_order(self):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 20000), hard))
        with Server() as server:
            clients = []
            for i in range(0, CONNECTIONS, 100):  # in batches: the listen backlog is finite
                # The client library's own keepalive would trip on its busy event loop;
                # the server's heartbeats are tested elsewhere.
                batch = await asyncio.gather(*(server.connect(ping_interval=None) for _ in range(100)))
                clients.extend(ws for ws, _ in batch)
            for ws in clients:
                await ws.send(json.dumps({"type": "subscribe", "channel": "scale"}))
            for ws in clients:
                await recv_type(ws, "subscribed", timeout=20)
            self.assertEqual(json.loads(server.get("health")[1])["connections"], CONNECTIONS)

            pub, _ = await server.connect()
            ids = []
            for i in range(MESSAGES):
                await pub.send(json.dumps({"type": "publish", "channel": "scale", "data": {"n": i}}))
                ids.append((await recv_type(pub, "published", timeout=20))["id"])

            async def receive_all(ws):
                got = []
                while len(got) < MESSAGES:
                    msg = json.loads(await ws.recv())
                    self.assertEqual(msg["type"], "message")
                    got.append((msg["id"], msg["data"]["n"]))
                return got

            results = await asyncio.wait_for(asyncio.gather(*(receive_all(ws) for ws in clients)), 120)
            want = [(ids[i], i) for i in range(MESSAGES)]
            for got in results:
                self.assertEqual(got, want)
            m = server.metrics()
            self.assertGreaterEqual(m["rtpush_messages_delivered_total"], CONNECTIONS * MESSAGES)
            self.assertEqual(m["rtpush_slow_consumers_total"], 0)
            await asyncio.gather(*(ws.close() for ws in clients + [pub]))


if __name__ == "__main__":
    unittest.main(verbosity=2)
