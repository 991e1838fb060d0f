"""Replay with `since`: order, recovered, and no gap or duplicate at the seam."""
import asyncio
import json
import unittest

from rtpush_harness import ServerCase, id_pair, no_frame, recv_type, subscribe


class Replay(ServerCase, unittest.IsolatedAsyncioTestCase):
    server_options = {"history_size": 10}

    async def test_since_replays_then_live(self):
        ids = [self.server.publish_http("r-1", i) for i in range(6)]
        ws, _ = await self.server.connect()
        ack = await subscribe(ws, "r-1", ids[2])
        self.assertTrue(ack["recovered"])
        self.assertEqual(ack["position"], ids[-1])
        for i in (3, 4, 5):
            msg = await recv_type(ws, "message")
            self.assertEqual((msg["id"], msg["data"]), (ids[i], i))
        live = self.server.publish_http("r-1", 6)
        msg = await recv_type(ws, "message")
        self.assertEqual((msg["id"], msg["data"]), (live, 6))
        await no_frame(ws)
        await ws.close()

    async def test_since_newest_replays_nothing(self):
        ids = [self.server.publish_http("r-2", i) for i in range(3)]
        ws, _ = await self.server.connect()
        ack = await subscribe(ws, "r-2", ids[-1])
        self.assertTrue(ack["recovered"])
        await no_frame(ws)
        self.server.publish_http("r-2", "live")
        self.assertEqual((await recv_type(ws, "message"))["data"], "live")
        await ws.close()

    async def test_recovered_false_past_history(self):
        ids = [self.server.publish_http("r-3", i) for i in range(25)]
        ws, _ = await self.server.connect()
        ack = await subscribe(ws, "r-3", ids[0])
        self.assertIs(ack["recovered"], False)
        got = [(await recv_type(ws, "message"))["data"] for _ in range(10)]
        self.assertEqual(got, list(range(15, 25)))  # what is retained, in order
        await no_frame(ws)
        # from the oldest evicted id on, nothing is missing
        ws2, _ = await self.server.connect()
        ack = await subscribe(ws2, "r-3", ids[14])
        self.assertIs(ack["recovered"], True)
        await ws.close()
        await ws2.close()

    async def test_since_before_node_started(self):
        ws, _ = await self.server.connect()
        ack = await subscribe(ws, "r-4", "1000-0")
        self.assertIs(ack["recovered"], False)
        await ws.close()


class Seam(ServerCase, unittest.IsolatedAsyncioTestCase):
    # History holds every message the publisher can send (at most 3,000):
    # whether `since` is still retained must not depend on how many messages
    # the publisher got out while the joiner connected.
    server_options = {"history_size": 5000}

    async def test_seam_under_continuous_publishing(self):
        """Clients join with since while a publisher streams: each sees
        exactly the published sequence after its since."""
        pub, _ = await self.server.connect()
        published = []
        stop = asyncio.Event()

        async def publisher():
            i = 0
            while not stop.is_set():
                assert i < 3000, "more than history-size holds: recovered would depend on timing"
                await pub.send(json.dumps({"type": "publish", "channel": "r-seam", "data": i}))
                published.append((await recv_type(pub, "published"))["id"])
                i += 1

        async def joiner():
            while len(published) < 5:
                await asyncio.sleep(0.001)
            since = published[-3]  # retained: history holds all 3,000
            ws, _ = await self.server.connect()
            ack = await subscribe(ws, "r-seam", since)
            self.assertTrue(ack["recovered"])
            seen = []
            while len(seen) < 150:
                seen.append((await recv_type(ws, "message", timeout=10))["id"])
            await ws.close()
            return since, seen

        task = asyncio.create_task(publisher())
        results = []
        for _ in range(5):
            results.append(await joiner())
        stop.set()
        await task
        for since, seen in results:
            start = published.index(since) + 1
            self.assertEqual(seen, published[start:start + len(seen)])
        ids = [id_pair(i) for i in published]
        self.assertEqual(ids, sorted(set(ids)))
        await pub.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
