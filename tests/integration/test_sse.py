"""Server-Sent Events on a real lwsws (SPEC section 9, docs/protocol.md
"Server-Sent Events"), read "curl -N" style from raw sockets: the 200 and its
headers, the subscribed event, message events with ids in order, replay by
Last-Event-ID and by `since` (recovered true, and false once history is
gone), heartbeat comments, the slow-listener bound, tokens and namespaces
(401/403), one message reaching WebSocket subscribers of every encoding and
SSE listeners, over TLS, and across two nodes sharing a Redis."""
import asyncio
import json
import os
import signal
import socket
import time
import unittest
import urllib.parse

from rtpush_harness import (ENCODINGS, Client, Nginx, Redis, Server, ServerCase, h2_frame, h2_frames, h2_status,
                            hpack_literal, mint_hs256, wait_until)

SECRET = "it-sse-secret"
RULES = {"namespaces": {"private": {"subscribe": "none", "publish": "any"},
                        "members": {"subscribe": "authenticated", "publish": "any"}}}


class SseStream:
    """One GET sse/<channel>, read from a raw socket as curl -N would."""

    def __init__(self, server, channel, since=None, token=None, headers=None, rcvbuf=None, timeout=10):
        query = {}
        if since is not None:
            query["since"] = since
        if token is not None:
            query["token"] = token
        path = "/sse/" + urllib.parse.quote(channel, safe=":#")
        if query:
            path += "?" + urllib.parse.urlencode(query)
        sock = socket.socket()
        if rcvbuf:  # before connect: the window is agreed in the handshake
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.settimeout(timeout)
        sock.connect(("127.0.0.1", server.port))
        if getattr(server, "ssl_context", None):
            sock = server.ssl_context.wrap_socket(sock, server_hostname="127.0.0.1")
        head = "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n" % path
        for k, v in (headers or {}).items():
            head += "%s: %s\r\n" % (k, v)
        sock.sendall((head + "\r\n").encode())
        self.sock = sock
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        raw, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = raw.decode().split("\r\n")
        self.status = int(lines[0].split()[1])
        self.headers = {}
        for line in lines[1:]:
            k, v = line.split(":", 1)
            self.headers[k.strip().lower()] = v.strip()
        if self.status != 200:
            n = int(self.headers.get("content-length", "0"))
            while len(self.buf) < n:
                self._fill()
            self.body = self.buf[:n].decode()

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("stream closed")
        self.buf += chunk

    def next_block(self, timeout=5):
        """The next event or comment: {"id", "event", "data", "comment"}."""
        self.sock.settimeout(timeout)
        while b"\n\n" not in self.buf:
            self._fill()
        block, self.buf = self.buf.split(b"\n\n", 1)
        out = {}
        for line in block.decode().split("\n"):
            if line.startswith(":"):
                out["comment"] = line[1:].strip()
                continue
            k, _, v = line.partition(":")
            assert k not in out, "one line of each field: %r" % block
            out[k] = v[1:] if v.startswith(" ") else v
        if "data" in out:
            out["json"] = json.loads(out["data"])
        return out

    def next_event(self, timeout=5):
        """The next event, heartbeat comments skipped."""
        while True:
            b = self.next_block(timeout)
            if "event" in b:
                return b

    def closed_within(self, seconds):
        """True when the server ends the stream within `seconds` (what was
        still in flight is read and dropped)."""
        deadline = time.time() + seconds
        self.sock.settimeout(0.5)
        while time.time() < deadline:
            try:
                if not self.sock.recv(1 << 20):
                    return True
            except socket.timeout:
                pass
            except (ConnectionResetError, OSError):
                return True
        return False

    def close(self):
        self.sock.close()


class SseBasics(ServerCase, unittest.IsolatedAsyncioTestCase):
    server_options = {"heartbeat_secs": 1, "heartbeat_timeout_secs": 2, "history_size": 100}

    def test_headers_and_subscribed_event(self):
        s = SseStream(self.server, "sse-headers")
        self.assertEqual(s.status, 200)
        self.assertEqual(s.headers["content-type"], "text/event-stream")
        self.assertEqual(s.headers["cache-control"], "no-cache")
        self.assertEqual(s.headers["x-accel-buffering"], "no")
        self.assertEqual(s.headers["connection"], "close")  # close-delimited body
        self.assertNotIn("content-length", s.headers)
        self.assertNotIn("transfer-encoding", s.headers)
        e = s.next_event()
        self.assertEqual(e["event"], "subscribed")
        self.assertNotIn("id", e)
        self.assertEqual(e["json"], {"type": "subscribed", "channel": "sse-headers", "position": None})
        s.close()

    def test_messages_in_order_with_ids(self):
        s = SseStream(self.server, "sse-order")
        s.next_event()
        ids = [self.server.publish_http("sse-order", {"i": i}) for i in range(30)]
        for i, want in enumerate(ids):
            e = s.next_event()
            self.assertEqual((e["event"], e["id"]), ("message", want))
            self.assertEqual(e["json"]["type"], "message")
            self.assertEqual((e["json"]["id"], e["json"]["channel"], e["json"]["data"]), (want, "sse-order", {"i": i}))
        s.close()

    def test_last_event_id_replays_then_live(self):
        ids = [self.server.publish_http("sse-resume", i) for i in range(6)]
        # As EventSource reconnects: the URL's own since is older, the header wins.
        s = SseStream(self.server, "sse-resume", since=ids[0], headers={"Last-Event-ID": ids[2]})
        sub = s.next_event()["json"]
        self.assertEqual((sub["recovered"], sub["position"]), (True, ids[-1]))
        self.assertEqual([s.next_event()["id"] for _ in ids[3:]], ids[3:])
        live = self.server.publish_http("sse-resume", "live")
        e = s.next_event()
        self.assertEqual((e["id"], e["json"]["data"]), (live, "live"))
        s.close()

    def test_since_query_parameter(self):
        ids = [self.server.publish_http("sse-since", i) for i in range(4)]
        s = SseStream(self.server, "sse-since", since=ids[1])
        self.assertTrue(s.next_event()["json"]["recovered"])
        self.assertEqual([s.next_event()["id"] for _ in ids[2:]], ids[2:])
        s.close()

    def test_bad_resume_point_and_channel_are_400(self):
        for kw in ({"since": "yesterday"}, {"headers": {"Last-Event-ID": "1-2-3"}}):
            s = SseStream(self.server, "sse-bad", **kw)
            self.assertEqual(s.status, 400, kw)
            self.assertIn("error", json.loads(s.body))
            s.close()
        s = SseStream(self.server, "a b")
        self.assertEqual(s.status, 400)
        s.close()

    def test_heartbeat_comments_and_no_timeout(self):
        s = SseStream(self.server, "sse-ping")
        s.next_event()
        self.assertEqual(s.next_block(timeout=3), {"comment": "ping"})
        time.sleep(3)  # past heartbeat-timeout-secs: a listener is not timed out
        want = self.server.publish_http("sse-ping", 1)
        self.assertEqual(s.next_event()["id"], want)
        s.close()

    def test_metrics_count_listeners(self):
        s = SseStream(self.server, "sse-metrics")
        s.next_event()
        m = self.server.metrics()
        self.assertGreaterEqual(m['rtpush_sse_connections_active'], 1)
        self.assertGreaterEqual(m['rtpush_connections_active'], m['rtpush_sse_connections_active'])
        s.close()
        wait_until(lambda: self.server.metrics()["rtpush_sse_connections_active"] == 0, 5, "the listener gone")

    def test_refusal_keeps_the_connection_for_the_next_request(self):
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=5) as sock:
            f = sock.makefile("rb")
            for path, status in (("/sse/a%20b", 400), ("/health", 200), ("/sse/x?since=nope", 400), ("/health", 200)):
                sock.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % path).encode())
                line = f.readline().decode()
                self.assertEqual(int(line.split()[1]), status, (path, line))
                length = 0
                while True:
                    h = f.readline().decode().strip()
                    if not h:
                        break
                    if h.lower().startswith("content-length:"):
                        length = int(h.split(":")[1])
                self.assertIn("error" if status != 200 else "status", json.loads(f.read(length)))

    def test_other_methods_and_the_api_keep_working(self):
        self.assertEqual(self.server.request("POST", "sse/x", "1")[0], 405)
        self.assertEqual(self.server.request("HEAD", "sse/x")[0], 405)
        self.assertEqual(self.server.get("health")[0], 200)

    async def test_one_message_reaches_every_encoding_and_listeners(self):
        ch = "sse-all"
        clients = [await Client.open(self.server, enc) for enc in ENCODINGS]
        for c in clients:
            await c.subscribe(ch)
        listeners = [SseStream(self.server, ch) for _ in range(3)]
        for s in listeners:
            s.next_event()
        want = await asyncio.to_thread(self.server.publish_http, ch, {"k": [1, "two"]})
        for c in clients:
            msg = await c.recv_type("message")
            self.assertEqual((msg["id"], msg["data"]), (want, {"k": [1, "two"]}))
        for s in listeners:
            e = s.next_event()
            self.assertEqual((e["id"], e["json"]["data"]), (want, {"k": [1, "two"]}))
            s.close()
        for c in clients:
            await c.close()


class SseHistoryGone(ServerCase, unittest.TestCase):
    server_options = {"history_size": 3}

    def test_since_too_old_is_not_recovered(self):
        ids = [self.server.publish_http("sse-gone", i) for i in range(10)]
        s = SseStream(self.server, "sse-gone", headers={"Last-Event-ID": ids[0]})
        self.assertFalse(s.next_event()["json"]["recovered"])
        self.assertEqual([s.next_event()["id"] for _ in range(3)], ids[-3:])  # what is retained, in order
        s.close()


class SseSlowListener(ServerCase, unittest.IsolatedAsyncioTestCase):
    # The publisher sends 12 MB as fast as it can: past receive-bytes-per-sec
    # (burst twice max-message-bytes), which is not what this test is about.
    server_options = {"send_queue_bytes": 65536, "max_message_bytes": 65536, "receive_bytes_per_sec": 1 << 30}

    async def test_slow_listener_closed_others_keep_receiving(self):
        ch = "sse-slow"
        slow = SseStream(self.server, ch, rcvbuf=4096)
        slow.next_event()
        fast = SseStream(self.server, ch)
        fast.next_event()
        pub = await Client.open(self.server, "json")
        before = self.server.metrics()["rtpush_slow_consumers_total"]
        n, blob = 1500, "x" * 8000  # 12 MB: past any socket buffers and the 64 KB bound
        got = []

        def read_fast():
            while len(got) < n:
                got.append(fast.next_event(timeout=20)["json"]["data"]["i"])

        reader = asyncio.create_task(asyncio.to_thread(read_fast))
        for i in range(n):
            await pub.send({"type": "publish", "channel": ch, "data": {"i": i, "p": blob}})
            if i % 100 == 99:
                await asyncio.sleep(0.01)
        await asyncio.wait_for(reader, 60)
        self.assertEqual(got, list(range(n)))  # the reader kept receiving, in order, everything
        self.assertTrue(await asyncio.to_thread(slow.closed_within, 10))
        self.assertGreater(self.server.metrics()["rtpush_slow_consumers_total"], before)
        slow.close()
        fast.close()
        await pub.close()


class SseStalledListener(ServerCase, unittest.TestCase):
    """heartbeat-timeout-secs for a listener: one whose pings are not being
    written out (it stopped reading, or vanished) is closed; one that reads
    stays, however long it is silent."""
    server_options = {"heartbeat_secs": 1, "heartbeat_timeout_secs": 3}

    def test_listener_that_stops_reading_is_closed(self):
        ch = "sse-stalled"
        stalled = SseStream(self.server, ch, rcvbuf=2048)
        stalled.next_event()
        reading = SseStream(self.server, ch)
        reading.next_event()
        m = self.server.metrics()
        before = (m["rtpush_sse_connections_active"], m["rtpush_slow_consumers_total"])
        self.assertEqual(before[0], 2)
        # 160 KB: fills the stalled one's window, far under send-queue-bytes (4 MiB).
        ids = [self.server.publish_http(ch, {"i": i, "p": "x" * 16000}) for i in range(10)]
        self.assertEqual([reading.next_event()["id"] for _ in ids], ids)
        started = time.time()
        wait_until(lambda: self.server.metrics()["rtpush_sse_connections_active"] == 1, 12,
                   "a listener that stopped reading outlived heartbeat-timeout-secs")
        print("\nstalled listener closed %.1f s after its window filled (heartbeat-timeout-secs 3)"
              % (time.time() - started))
        m = self.server.metrics()
        self.assertEqual(m["rtpush_slow_consumers_total"], before[1])  # not the send-queue bound
        self.assertGreaterEqual(m['rtpush_connections_closed_total{reason="heartbeat_timeout"}'], 1)
        self.assertTrue(stalled.closed_within(5))
        # The one that reads is still served, past the timeout.
        want = self.server.publish_http(ch, "still here")
        self.assertEqual(reading.next_event()["id"], want)
        stalled.close()
        reading.close()


class SseAuth(ServerCase, unittest.TestCase):
    server_options = {"files": {"jwt_secret_file": SECRET + "\n", "channels_file": json.dumps(RULES)},
                      "allowed_origins": "https://app.example.com"}

    def token(self, sub="u1"):
        return mint_hs256(SECRET, {"sub": sub, "exp": int(time.time()) + 600})

    def test_token_and_namespace_rules(self):
        cases = [("members:x", None, 401), ("members:x", "not.a.token", 401), ("members:x", self.token(), 200),
                 ("private:x", self.token(), 403), ("open", None, 200), ("open", "not.a.token", 401)]
        for channel, token, status in cases:
            with self.subTest(channel=channel, token=token):
                s = SseStream(self.server, channel, token=token)
                self.assertEqual(s.status, status)
                if status == 401:
                    self.assertEqual(s.headers.get("www-authenticate"), "Bearer")
                if status == 200:
                    self.assertEqual(s.next_event()["event"], "subscribed")
                s.close()

    def test_foreign_origin_is_403(self):
        s = SseStream(self.server, "open", headers={"Origin": "https://evil.example.net"})
        self.assertEqual(s.status, 403)
        s.close()
        s = SseStream(self.server, "open", headers={"Origin": "https://app.example.com"})
        self.assertEqual(s.status, 200)
        s.close()


class SseTls(ServerCase, unittest.TestCase):
    server_options = {"tls": True, "max_message_bytes": 1 << 20}

    def test_stream_inside_tls(self):
        s = SseStream(self.server, "sse-tls")
        self.assertEqual(s.status, 200)
        s.next_event()
        sizes = [10, 200, 5000, 70000, 300]
        ids = [self.server.publish_http("sse-tls", {"i": i, "p": "q" * sizes[i % 5]}) for i in range(40)]
        for i, want in enumerate(ids):
            e = s.next_event()
            self.assertEqual((e["id"], e["json"]["data"]["i"]), (want, i))
        s.close()


def h2_get_status(port, cafile, path):
    """A GET over an HTTP/2 stream, by hand: the stream's :status."""
    headers = b"".join(hpack_literal(k, v) for k, v in [
        (":method", "GET"), (":scheme", "https"), (":path", path), (":authority", "127.0.0.1"),
        ("accept", "text/event-stream")])
    request = h2_frame(1, 5, 1, headers)  # END_STREAM | END_HEADERS
    for s, kind, flags, stream, body in h2_frames(port, cafile, request):
        if kind == 4 and not flags & 1:
            s.sendall(h2_frame(4, 1, 0))
        elif kind == 1 and stream == 1:
            return h2_status(body)


class SseOverHttp2(unittest.TestCase):
    def test_refused_with_421(self):
        """docs/transport.md: the write path writes whole frames to the
        socket, so a stream over HTTP/2 is refused as a WebSocket over h2 is."""
        with Server(tls=True) as server:
            self.assertEqual(h2_get_status(server.port, server.cert_path, "/sse/h2"), 421)
            self.assertIn("refusing Server-Sent Events over HTTP/2", server.log_text())
            self.assertEqual(h2_get_status(server.port, server.cert_path, "/health"), 200)  # the API serves on h2


class SseShutdown(unittest.TestCase):
    def test_stream_ends_when_the_node_stops(self):
        """SIGTERM: the node closes the listener's connection (the end of a
        close-delimited body, which EventSource answers by reconnecting),
        promptly and without a crash."""
        server = Server().start()
        s = SseStream(server, "sse-stop")
        s.next_event()
        started = time.time()
        os.killpg(server.proc.pid, signal.SIGTERM)  # as systemd stop does
        self.assertTrue(s.closed_within(10))
        self.assertLess(time.time() - started, 10)
        s.close()
        server.stop()


class SseThroughNginx(unittest.TestCase):
    def test_events_pass_unbuffered(self):
        """The installed nginx site in front: each event reaches the client
        as it is published, not when a proxy buffer fills (X-Accel-Buffering)."""
        with Server() as node, Nginx([node.port]) as nginx:
            s = SseStream(nginx, "sse-nginx")
            self.assertEqual(s.status, 200)
            self.assertEqual(s.next_event()["event"], "subscribed")
            for i in range(3):
                want = node.publish_http("sse-nginx", i)
                e = s.next_event(timeout=3)
                self.assertEqual((e["id"], e["json"]["data"]), (want, i))
            s.close()


class SseAcrossNodes(unittest.TestCase):
    def test_listener_on_one_node_publish_on_another(self):
        with Redis() as redis, Server(redis=redis.url, node_id="sse-a") as a, \
                Server(redis=redis.url, node_id="sse-b") as b:
            first = b.publish_http("sse-nodes", 0)
            second = b.publish_http("sse-nodes", 1)
            s = SseStream(a, "sse-nodes", headers={"Last-Event-ID": first})
            sub = s.next_event()["json"]
            self.assertTrue(sub["recovered"])
            self.assertEqual(s.next_event()["id"], second)  # replayed from the Redis Stream
            live = b.publish_http("sse-nodes", 2)
            self.assertEqual(s.next_event()["id"], live)
            s.close()


if __name__ == "__main__":
    unittest.main()
