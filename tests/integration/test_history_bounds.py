"""Two more bounds on history (docs/limits.md "History"):
history-channel-bytes caps the payload bytes one channel keeps, embedded and
in Redis (its oldest messages dropped, a `since` before them recovered:false),
and history-memory-bytes counts the compressed frames cached for subscribers
with permessage-deflate, so RSS stays within the budget with them."""
import asyncio
import os
import subprocess
import unittest

import websockets

from rtpush_harness import ASAN_RUNTIME, PUBLISH_CLI, Client, Redis, Server, recv_type, subscribe, wait_until
from test_history import listening_pid, redis_int, rss_bytes

MIB = 1024 * 1024
KB100 = "y" * 100_000  # a JSON string of 100 KB


async def expect_replay(test, server, channel, since, recovered, ids):
    """Subscribes with `since`: `recovered` as given, then exactly `ids`."""
    ws, _ = await server.connect()
    ack = await subscribe(ws, channel, since=since)
    test.assertIs(ack["recovered"], recovered)
    got = [(await recv_type(ws, "message"))["id"] for _ in ids]
    test.assertEqual(got, ids)
    await ws.close()


class ChannelBytesEmbedded(unittest.IsolatedAsyncioTestCase):
    async def test_a_channel_keeps_at_most_its_bytes(self):
        with Server(history_channel_bytes=1_000_000) as server:
            ids = [server.publish_http("cb", KB100) for _ in range(50)]
            other = server.publish_http("cb-other", KB100)
            m = server.metrics()
            print("\nembedded: 50 x 100 KB to one channel with history-channel-bytes 1 MB: "
                  "rtpush_history_bytes %.2f MiB" % (m["rtpush_history_bytes"] / MIB))
            # 9 messages of the channel (9 x 100,002 bytes of payload), 1 of the other.
            self.assertLess(m["rtpush_history_bytes"], 1.2 * MIB)
            await expect_replay(self, server, "cb", ids[0], False, ids[-9:])
            await expect_replay(self, server, "cb", ids[-10], True, ids[-9:])
            # Another channel keeps its own: a `since` just before its one message
            # (ids increase within a channel only, so one of "cb"'s ids could be
            # after it when both were published in the same millisecond).
            before_other = "%d-0" % (int(other.split("-")[0]) - 1)
            await expect_replay(self, server, "cb-other", before_other, True, [other])


class ChannelBytesRedis(unittest.IsolatedAsyncioTestCase):
    async def test_the_stream_keeps_at_most_its_bytes(self):
        with Redis() as redis, Server(redis=redis.url, history_channel_bytes=1_000_000) as server:
            ids = [server.publish_http("cb", KB100) for _ in range(50)]
            xlen = redis_int(redis, "XLEN", "rtpush:stream:cb")
            usage = redis_int(redis, "MEMORY", "USAGE", "rtpush:stream:cb", "SAMPLES", "0")
            print("\nRedis: 50 x 100 KB to one channel with history-channel-bytes 1 MB: XLEN %d, "
                  "MEMORY USAGE %.2f MiB" % (xlen, usage / MIB))
            self.assertEqual(xlen, 9)
            self.assertLess(usage, 1.2 * MIB)
            await expect_replay(self, server, "cb", ids[0], False, ids[-9:])
            await expect_replay(self, server, "cb", ids[-10], True, ids[-9:])
            # history-size still trims by count, and the byte count follows it.
            small = [server.publish_http("cb", 1) for _ in range(1000)]
            self.assertEqual(redis_int(redis, "XLEN", "rtpush:stream:cb"), 1000)
            await expect_replay(self, server, "cb", small[-3], True, small[-2:])
            big = [server.publish_http("cb", KB100) for _ in range(12)]
            self.assertEqual(redis_int(redis, "XLEN", "rtpush:stream:cb"), 9)
            await expect_replay(self, server, "cb", big[-10], True, big[-9:])

    def test_cli_keeps_the_nodes_bytes(self):
        with Redis() as redis, Server(redis=redis.url, history_channel_bytes=1_000_000):
            wait_until(lambda: redis.command("HGET", "rtpush:config", "history-channel-bytes") == "$7", 5,
                       "the node did not record history-channel-bytes")
            lines = ('"%s"\n' % KB100).encode() * 20
            subprocess.run([PUBLISH_CLI, "--redis", redis.url, "--channel", "cli-cb"], input=lines,
                           check=True, capture_output=True, timeout=30)
            self.assertEqual(redis_int(redis, "XLEN", "rtpush:stream:cli-cb"), 9)


def hex_payload(n):
    """A JSON string of n random hex digits: deflates to about half."""
    return os.urandom(n // 2).hex()


class DeflatedFramesInBudget(unittest.IsolatedAsyncioTestCase):
    async def test_rss_within_budget_with_a_compressing_subscriber(self):
        budget = 64 * MIB
        with Server(compression="on", history_memory_bytes=budget) as server:
            pid = listening_pid(server)
            ws = await websockets.connect(server.ws_url, subprotocols=["rtpush-json"], max_size=None,
                                          compression="deflate")
            self.assertIn("permessage-deflate", ws.response_headers.get("Sec-WebSocket-Extensions", ""))
            c = Client(ws, "json")
            await c.recv()
            await c.subscribe("z")
            # Warm-up: one message through the deflating fan-out.
            await asyncio.to_thread(server.publish_http, "z", hex_payload(1_000_000))
            await c.recv_type("message", timeout=20)
            baseline = rss_bytes(pid) - server.metrics()["rtpush_history_bytes"]
            for _ in range(80):
                await asyncio.to_thread(server.publish_http, "z", hex_payload(1_000_000))
                await c.recv_type("message", timeout=20)
            after = rss_bytes(pid)
            m = server.metrics()
            print("\nRSS baseline %.1f MiB, after 80 x 1 MB to a compressing subscriber %.1f MiB "
                  "(budget %d MiB, over by %.1f MiB); rtpush_history_bytes %.1f MiB"
                  % (baseline / MIB, after / MIB, budget // MIB, (after - baseline - budget) / MIB,
                     m["rtpush_history_bytes"] / MIB))
            self.assertLessEqual(m["rtpush_history_bytes"], budget)
            if not ASAN_RUNTIME:  # ASan keeps freed memory in quarantine: RSS says nothing there
                self.assertLessEqual(after, baseline + budget + 4 * MIB)
            await ws.close()


if __name__ == "__main__":
    unittest.main()
