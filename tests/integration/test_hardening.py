"""Per-connection bounds and hardening on a real lwsws: channels per
connection, publish rate, unfinished input (WebSocket fragments, slow and
chunked HTTP bodies), the refused `rtpush` upgrade, metric label escaping,
and the Redis node registry's pruning."""
import asyncio
import base64
import json
import os
import re
import socket
import time
import unittest

import websockets

from rtpush_harness import ASAN_RUNTIME, Redis, Server, ServerCase, recv_json, recv_type, wait_until


def refused(server):
    m = server.metrics()
    return {code: m['rtpush_requests_refused_total{code="%s"}' % code]
            for code in ("FORBIDDEN", "RATE_LIMITED", "LIMIT_EXCEEDED")}


class ChannelLimit(ServerCase, unittest.IsolatedAsyncioTestCase):
    server_options = {}  # the default: 256 channels per connection

    async def test_257th_subscribe_refused_the_256_still_deliver(self):
        ws, _ = await self.server.connect()
        for i in range(256):
            await ws.send(json.dumps({"type": "subscribe", "channel": "lim-%d" % i}))
        for i in range(256):
            await recv_type(ws, "subscribed")
        await ws.send(json.dumps({"type": "subscribe", "channel": "lim-256", "ref": 257}))
        err = await recv_type(ws, "error")
        self.assertEqual((err["code"], err["ref"]), ("LIMIT_EXCEEDED", 257))
        # A re-subscribe replaces, so it does not count against the limit.
        await ws.send(json.dumps({"type": "subscribe", "channel": "lim-0"}))
        self.assertEqual((await recv_type(ws, "subscribed"))["channel"], "lim-0")
        # The connection is still open and every one of the 256 delivers.
        pub, _ = await self.server.connect()
        for i in range(257):
            await pub.send(json.dumps({"type": "publish", "channel": "lim-%d" % i, "data": i}))
        got = set()
        while len(got) < 256:
            msg = await recv_type(ws, "message")
            got.add(msg["data"])
        self.assertEqual(got, set(range(256)))
        for _ in range(257):
            await recv_type(pub, "published")
        with self.assertRaises(asyncio.TimeoutError):  # lim-256's message never came
            await asyncio.wait_for(ws.recv(), 0.3)
        self.assertEqual(refused(self.server), {"FORBIDDEN": 0, "RATE_LIMITED": 0, "LIMIT_EXCEEDED": 1})
        await ws.close()
        await pub.close()


class PublishRate(ServerCase, unittest.IsolatedAsyncioTestCase):
    server_options = {"publish_rate": 5}

    async def test_burst_of_10_gives_5_published_5_rate_limited(self):
        sub, _ = await self.server.connect()
        await sub.send(json.dumps({"type": "subscribe", "channel": "rate"}))
        await recv_type(sub, "subscribed")
        pub, _ = await self.server.connect()
        limited_before = refused(self.server)["RATE_LIMITED"]
        started = time.monotonic()
        for i in range(10):
            await pub.send(json.dumps({"type": "publish", "channel": "rate", "data": i, "ref": i}))
        answers = [await recv_json(pub) for _ in range(10)]
        elapsed = time.monotonic() - started
        published = [a["ref"] for a in answers if a["type"] == "published"]
        limited = [a["ref"] for a in answers if a["type"] == "error" and a["code"] == "RATE_LIMITED"]
        # The burst (5) goes, the rest is refused. In the sanitizer build the
        # ten may take long enough for the bucket to refill meanwhile (a
        # token every 0.2 s): those tokens, and no more, may pass too.
        refilled = int(elapsed * 5) + 1 if ASAN_RUNTIME else 0
        self.assertTrue(5 <= len(published) <= 5 + refilled, (published, elapsed))
        self.assertEqual(published, list(range(len(published))))
        self.assertEqual(limited, list(range(len(published), 10)))
        got = [(await recv_type(sub, "message"))["data"] for _ in published]
        self.assertEqual(got, published)
        with self.assertRaises(asyncio.TimeoutError):  # nothing refused reached the subscriber
            await asyncio.wait_for(sub.recv(), 0.3)
        await asyncio.sleep(1.0)  # the bucket refills
        await pub.send(json.dumps({"type": "publish", "channel": "rate", "data": "later"}))
        await recv_type(pub, "published")
        self.assertEqual((await recv_type(sub, "message"))["data"], "later")
        self.assertEqual(refused(self.server)["RATE_LIMITED"] - limited_before, len(limited))
        await pub.close()
        await sub.close()


def http_head_and_rest(sock, timeout):
    """Reads until the server closes or `timeout`; (status line, everything, closed)."""
    sock.settimeout(timeout)
    data, closed = b"", False
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                closed = True
                break
            data += chunk
            if b"\r\n\r\n" in data and len(data.split(b"\r\n\r\n", 1)[1]) >= content_length(data):
                break
    except socket.timeout:
        pass
    except ConnectionResetError:
        closed = True
    return data.split(b"\r\n", 1)[0].decode(errors="replace"), data, closed


def content_length(data):
    m = re.search(rb"(?i)\r\ncontent-length: *(\d+)", data)
    return int(m.group(1)) if m else 0


def wait_closed(sock, timeout):
    """True when the server closes the connection within `timeout`."""
    sock.settimeout(timeout)
    try:
        while sock.recv(65536):
            pass
        return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


class UnfinishedInput(ServerCase, unittest.IsolatedAsyncioTestCase):
    server_options = {"receive_timeout_secs": 2, "heartbeat_secs": 1, "heartbeat_timeout_secs": 4}

    async def test_unfinished_fragmented_message_closed_1008_while_pongs_flow(self):
        ws, _ = await self.server.connect()

        async def never_ending():
            yield '{"type":"heartbeat","pad":"' + "x" * 100_000
            await asyncio.sleep(60)  # the last fragment never comes
            yield '"}'

        started = time.time()
        sender = asyncio.create_task(ws.send(never_ending()))
        with self.assertRaises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 8)  # websockets answers the pings meanwhile
        elapsed = time.time() - started
        sender.cancel()
        self.assertEqual(closed.exception.code, 1008)
        self.assertGreaterEqual(elapsed, 1.8)
        self.assertLess(elapsed, 3.5)
        m = self.server.metrics()
        self.assertEqual(m['rtpush_connections_closed_total{reason="receive_timeout"}'], 1)
        self.assertEqual(m['rtpush_connections_closed_total{reason="heartbeat_timeout"}'], 0)

    async def test_slow_http_body_gets_408_and_close(self):
        def dribble():
            s = socket.create_connection(("127.0.0.1", self.server.port))
            body = json.dumps({"pad": "x" * 40}).encode()
            s.sendall(b"POST /publish/slow HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Content-Length: %d\r\n\r\n" % len(body))
            started = time.time()
            answered = None
            for b in body:  # one byte every 0.2 s: 10 s for all of it
                try:
                    s.sendall(bytes([b]))
                except OSError:
                    break
                s.settimeout(0.2)
                try:
                    if s.recv(65536, socket.MSG_PEEK):
                        answered = time.time() - started
                        break
                except socket.timeout:
                    pass
            status, data, closed = http_head_and_rest(s, 3)
            closed = closed or wait_closed(s, 2)
            s.close()
            return status, answered, closed

        status, answered, closed = await asyncio.to_thread(dribble)
        self.assertIn(" 408 ", status)
        self.assertIsNotNone(answered)
        self.assertLess(answered, 3.0)  # receive-timeout-secs + 1
        self.assertTrue(closed)

    async def test_body_in_time_on_keep_alive_then_no_late_408(self):
        """A body sent in two parts within the timeout is published; the
        connection then stays usable past the timeout (no stale timer)."""
        def run():
            s = socket.create_connection(("127.0.0.1", self.server.port))
            body = b'{"in":"time"}'
            head = b"POST /publish/intime HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body)
            s.sendall(head + body[:5])
            time.sleep(1)
            s.sendall(body[5:])
            first = http_head_and_rest(s, 3)[0]
            time.sleep(2.5)
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            second = http_head_and_rest(s, 3)[0]
            s.close()
            return first, second

        first, second = await asyncio.to_thread(run)
        self.assertIn(" 200 ", first)
        self.assertIn(" 200 ", second)

    async def test_chunked_post_gets_411_and_close(self):
        def run():
            s = socket.create_connection(("127.0.0.1", self.server.port))
            s.sendall(b"POST /publish/chunked HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Transfer-Encoding: chunked\r\n\r\n5\r\n{\"a\":\r\n")
            started = time.time()
            status, data, closed = http_head_and_rest(s, 3)
            closed = closed or wait_closed(s, 2)
            elapsed = time.time() - started
            s.close()
            return status, closed, elapsed

        status, closed, elapsed = await asyncio.to_thread(run)
        self.assertIn(" 411 ", status)
        self.assertTrue(closed)
        self.assertLess(elapsed, 1.5)


def upgrade(port, protocol):
    """A raw WebSocket upgrade asking for `protocol` (None: none); the
    status line and what followed the response head."""
    s = socket.create_connection(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    req = ("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n" % key)
    if protocol:
        req += "Sec-WebSocket-Protocol: %s\r\n" % protocol
    s.sendall((req + "\r\n").encode())
    s.settimeout(3)
    data = b""
    try:
        while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < 2:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    s.close()
    head, _, rest = data.partition(b"\r\n\r\n")
    return head.decode(errors="replace"), rest


class CoreUpgrade(ServerCase, unittest.IsolatedAsyncioTestCase):
    async def test_upgrade_to_rtpush_refused(self):
        # The server is shared with the other test of the class, which runs
        # first or after it: count this test's connections only.
        before = self.server.metrics()["rtpush_connections_total"]
        head, _ = await asyncio.to_thread(upgrade, self.server.port, "rtpush")
        self.assertNotIn(" 101 ", head.split("\r\n")[0])
        with self.assertRaises((websockets.InvalidHandshake, websockets.ConnectionClosed, OSError)):
            ws = await websockets.connect(self.server.ws_url, subprotocols=["rtpush"], open_timeout=3)
            await ws.close()
        self.assertEqual(self.server.metrics()["rtpush_connections_total"] - before, 0)

    async def test_upgrade_without_subprotocol_gets_rtpush_json(self):
        head, rest = await asyncio.to_thread(upgrade, self.server.port, None)
        self.assertIn(" 101 ", head.split("\r\n")[0])
        self.assertEqual(rest[0] & 15, 1)  # a text frame: rtpush-json's connection_established
        n = rest[1] & 127
        self.assertIn(b'"type":"connection_established"', rest[2:2 + n] if n < 126 else rest[4:])


LABELS = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="(\\[\\"n]|[^"\\\n])*",?)*\})? \S+$')


class NodeIdLabel(unittest.TestCase):
    def test_node_id_with_quote_and_backslash_gives_parseable_metrics(self):
        node = 'edge "a"\\1'
        with Server(node_id=node) as server:
            status, body = server.get("metrics")
            self.assertEqual(status, 200)
            for line in body.splitlines():
                if line and not line.startswith("#"):
                    self.assertRegex(line, LABELS)
            info = [l for l in body.splitlines() if l.startswith("rtpush_node_info{")][0]
            value = re.match(r'rtpush_node_info\{node="((?:\\.|[^"\\])*)"\} 1$', info).group(1)
            unescaped = re.sub(r'\\(.)', lambda m: "\n" if m.group(1) == "n" else m.group(1), value)
            self.assertEqual(unescaped, node)


class NodeRegistry(unittest.TestCase):
    def test_stale_node_info_pruned(self):
        with Redis() as redis:
            old = int(time.time() * 1000) - 120_000
            redis.command("ZADD", "rtpush:nodes", str(old), "stale-node")
            redis.command("HSET", "rtpush:node-info", "stale-node", "7")
            redis.command("HSET", "rtpush:node-info", "orphan-node", "3")  # not in rtpush:nodes at all
            with Server(redis=redis.url, node_id="live-node") as server:
                wait_until(lambda: redis.command("HEXISTS", "rtpush:node-info", "stale-node") == ":0"
                           and redis.command("HEXISTS", "rtpush:node-info", "orphan-node") == ":0", 8,
                           "rtpush:node-info still holds the stale nodes")
                self.assertEqual(redis.command("HEXISTS", "rtpush:node-info", "live-node"), ":1")
                self.assertEqual(redis.command("ZSCORE", "rtpush:nodes", "stale-node"), "$-1")
                status, body = server.get("nodes")
                self.assertEqual([n["node"] for n in json.loads(body)["nodes"]], ["live-node"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
