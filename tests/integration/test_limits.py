"""Message size, fragments, heartbeats and slow consumers on a real lwsws."""
import asyncio
import json
import time
import unittest

import websockets

from rtpush_harness import ServerCase, RawWebSocket, Server, recv_type


def heartbeat_of_size(n):
    head = '{"type":"heartbeat","pad":"'
    return head + "x" * (n - len(head) - 2) + '"}'


class MessageSize(ServerCase, unittest.IsolatedAsyncioTestCase):
    server_options = {"max_message_bytes": 1000}

    async def test_exactly_the_limit_is_accepted(self):
        ws, _ = await self.server.connect()
        frame = heartbeat_of_size(1000)
        self.assertEqual(len(frame), 1000)
        await ws.send(frame)
        await recv_type(ws, "heartbeat_ack")
        await ws.close()

    async def test_over_the_limit_gets_error_then_1009(self):
        ws, _ = await self.server.connect()
        await ws.send(heartbeat_of_size(2000))
        err = await recv_type(ws, "error")
        self.assertEqual(err["code"], "MESSAGE_TOO_LARGE")
        with self.assertRaises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
        self.assertEqual(closed.exception.code, 1009)

    async def test_fragments_are_reassembled(self):
        ws, _ = await self.server.connect()
        frame = heartbeat_of_size(900)
        await ws.send([frame[i:i + 100] for i in range(0, 900, 100)])
        await recv_type(ws, "heartbeat_ack")
        await ws.send(json.dumps({"type": "subscribe", "channel": "frag"}))
        await recv_type(ws, "subscribed")
        publish = json.dumps({"type": "publish", "channel": "frag", "data": {"k": "v" * 300}})
        await ws.send([publish[:50], publish[50:400], publish[400:]])
        got = {json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] for _ in range(2)}
        self.assertEqual(got, {"message", "published"})
        await ws.close()

    async def test_fragments_over_the_limit_get_1009(self):
        ws, _ = await self.server.connect()
        frame = heartbeat_of_size(1500)
        try:  # the server may close before the last fragment is out
            await ws.send([frame[i:i + 300] for i in range(0, 1500, 300)])
        except websockets.ConnectionClosed:
            pass
        self.assertEqual((await recv_type(ws, "error"))["code"], "MESSAGE_TOO_LARGE")
        with self.assertRaises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
        self.assertEqual(closed.exception.code, 1009)

    async def test_large_limit_default_handles_big_messages(self):
        with Server() as big:
            ws, _ = await big.connect()
            await ws.send(json.dumps({"type": "subscribe", "channel": "big"}))
            await recv_type(ws, "subscribed")
            data = "z" * 900_000
            await ws.send(json.dumps({"type": "publish", "channel": "big", "data": data}))
            frames = [json.loads(await asyncio.wait_for(ws.recv(), 10)) for _ in range(2)]
            msg = [f for f in frames if f["type"] == "message"][0]
            self.assertEqual(msg["data"], data)
            await ws.close()


class Heartbeats(unittest.IsolatedAsyncioTestCase):
    async def test_silent_client_dropped_ponging_client_stays(self):
        with Server(heartbeat_secs=1, heartbeat_timeout_secs=3) as server:
            ponging, hello = await server.connect()
            self.assertEqual(hello["heartbeat_interval"], 1)
            silent = RawWebSocket(server.port)
            started = time.time()
            frames = await asyncio.to_thread(silent.read_all, 10)  # the loop keeps ponging
            elapsed = time.time() - started
            self.assertEqual(RawWebSocket.close_code(frames), 1001)
            self.assertGreaterEqual(elapsed, 2.5)
            self.assertLess(elapsed, 6)
            self.assertTrue(any(op == 9 for op, _ in frames), "the server pinged")
            silent.close()
            await asyncio.sleep(max(0, 5.5 - (time.time() - started)))
            await ponging.send(json.dumps({"type": "heartbeat"}))  # still open after > 5 s
            await recv_type(ponging, "heartbeat_ack")
            m = server.metrics()
            self.assertEqual(m['rtpush_connections_closed_total{reason="heartbeat_timeout"}'], 1)
            await ponging.close()


class PausedReader(unittest.IsolatedAsyncioTestCase):
    async def test_paused_reader_gets_every_frame_intact(self):
        """A reader that stops for a while fills the socket: frames then go
        out in pieces (writev, then lws's buffer). None may be torn."""
        with Server(send_queue_bytes=8 * 1024 * 1024) as server:
            reader = RawWebSocket(server.port)
            reader.send_text(json.dumps({"type": "subscribe", "channel": "paused"}))
            await asyncio.to_thread(reader.wait_for, "subscribed")
            sizes = [10, 200, 5000, 70000, 300]
            for i in range(300):  # about 3 MB while nobody reads
                await asyncio.to_thread(server.publish_http, "paused", {"i": i, "p": "q" * sizes[i % len(sizes)]})
            frames = await asyncio.to_thread(reader.read_all, 3)
            texts = [json.loads(p) for op, p in frames if op == 1]
            messages = [t for t in texts if t["type"] == "message"]
            self.assertEqual([m["data"]["i"] for m in messages], list(range(300)))
            for m in messages:
                self.assertEqual(len(m["data"]["p"]), sizes[m["data"]["i"] % len(sizes)])
            reader.close()


class SlowConsumer(unittest.IsolatedAsyncioTestCase):
    async def test_slow_consumer_closed_with_1008_others_unaffected(self):
        with Server(send_queue_bytes=65536) as server:
            fast, _ = await server.connect()
            await fast.send(json.dumps({"type": "subscribe", "channel": "slow"}))
            await recv_type(fast, "subscribed")
            slow = RawWebSocket(server.port)
            slow.send_text(json.dumps({"type": "subscribe", "channel": "slow"}))
            await asyncio.to_thread(slow.wait_for, "subscribed")
            payload = "z" * 8000
            received = 0

            async def drain_fast():
                nonlocal received
                while received < 2000:
                    msg = json.loads(await asyncio.wait_for(fast.recv(), 10))
                    if msg["type"] == "message":
                        self.assertEqual(msg["data"]["i"], received)
                        received += 1

            reader = asyncio.create_task(drain_fast())
            for i in range(2000):  # 16 MB: more than the kernel buffers hold
                await asyncio.to_thread(server.publish_http, "slow", {"i": i, "p": payload})
            await reader
            self.assertEqual(received, 2000)
            m = server.metrics()
            self.assertEqual(m["rtpush_slow_consumers_total"], 1)
            frames = await asyncio.to_thread(slow.read_all, 5)
            self.assertEqual(RawWebSocket.close_code(frames), 1008)
            slow.close()
            self.assertEqual(server.get("health")[0], 200)
            await fast.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
