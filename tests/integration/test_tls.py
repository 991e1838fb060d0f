"""wss:// and https:// on an lwsws vhost that terminates TLS itself
("init-ssl", host-ssl-cert/host-ssl-key; a self-signed certificate made at
test time): frames must go through lws's TLS, not under it (issue 13),
in every encoding, with what the fast write path does on plain connections:
bursts, 1 MB messages, a reader that pauses and resumes."""
import asyncio
import json
import ssl
import unittest

from rtpush_harness import (ENCODINGS, Client, RawWebSocket, Server, ServerCase, h2_frame, h2_frames, h2_status,
                            hpack_literal)

SIZES = [10, 200, 5000, 70000, 300]  # small and large frames mixed: gathered, and written on their own
MEGABYTE = "x" * 1_000_000


class TlsEveryEncoding(ServerCase, unittest.IsolatedAsyncioTestCase):
    # 1 MB of data is a little more in each encoding's frame.
    server_options = {"tls": True, "history_size": 100, "max_message_bytes": 4 * 1024 * 1024}

    async def each(self, case):
        for enc in ENCODINGS:
            with self.subTest(encoding=enc):
                await case(enc, "%s-%s" % (self._testMethodName, enc))

    def test_http_api_over_https(self):
        status, body = self.server.get("health")
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body)["status"], "healthy")
        status, _ = self.server.get("metrics")
        self.assertEqual(status, 200)

    async def test_first_frame_is_a_websocket_frame_inside_tls(self):
        """The bug: connection_established went out as plaintext under TLS."""
        raw = RawWebSocket(self.server.port, self.server.ssl_context)
        op, payload = await asyncio.to_thread(raw.next_frame)
        self.assertEqual(op, 1)
        self.assertEqual(json.loads(payload)["type"], "connection_established")
        raw.close()

    async def test_subscribe_publish_and_bursts(self):
        async def case(enc, ch):
            sub = await Client.open(self.server, enc)
            pub = await Client.open(self.server, enc)
            self.assertIsNone((await sub.subscribe(ch))["position"])
            await pub.send({"type": "publish", "channel": ch, "data": {"k": "v"}, "ref": 1})
            published = await pub.recv_type("published")
            msg = await sub.recv_type("message")
            self.assertEqual((msg["id"], msg["data"]), (published["id"], {"k": "v"}))
            https_id = await asyncio.to_thread(self.server.publish_http, ch, {"via": "https"})
            msg = await sub.recv_type("message")
            self.assertEqual((msg["id"], msg["data"]), (https_id, {"via": "https"}))
            # A burst leaves coalesced: many frames, some larger than the gather buffer.
            for i in range(200):
                await pub.send({"type": "publish", "channel": ch, "data": {"i": i, "p": "q" * SIZES[i % len(SIZES)]}})
            for i in range(200):
                msg = await sub.recv_type("message", timeout=10)
                self.assertEqual(msg["data"], {"i": i, "p": "q" * SIZES[i % len(SIZES)]})
            for i in range(200):
                await pub.recv_type("published", timeout=10)
            await sub.close()
            await pub.close()
        await self.each(case)

    async def test_replay_since(self):
        async def case(enc, ch):
            ids = [await asyncio.to_thread(self.server.publish_http, ch, {"i": i}) for i in range(5)]
            c = await Client.open(self.server, enc)
            ack = await c.subscribe(ch, since=ids[1])
            self.assertIs(ack["recovered"], True)
            got = [await c.recv_type("message") for _ in range(3)]
            self.assertEqual([m["id"] for m in got], ids[2:])
            self.assertEqual([m["data"] for m in got], [{"i": 2}, {"i": 3}, {"i": 4}])
            await c.close()
        await self.each(case)

    async def test_one_megabyte_message_reaches_every_encoding(self):
        subs = {enc: await Client.open(self.server, enc) for enc in ENCODINGS}
        for c in subs.values():
            await c.subscribe("tls-megabyte")
        for enc in ENCODINGS:  # published in each encoding in turn
            with self.subTest(publisher=enc):
                pub = await Client.open(self.server, enc)
                await pub.send({"type": "publish", "channel": "tls-megabyte", "data": MEGABYTE})
                published = await pub.recv_type("published", timeout=10)
                await pub.send({"type": "publish", "channel": "tls-megabyte", "data": "after"})
                after = await pub.recv_type("published", timeout=10)
                for sub_enc, sub in subs.items():
                    msg = await sub.recv_type("message", timeout=10)
                    self.assertEqual(msg["id"], published["id"], sub_enc)
                    self.assertTrue(msg["data"] == MEGABYTE, "%s: %d bytes" % (sub_enc, len(msg["data"])))
                    msg = await sub.recv_type("message", timeout=10)
                    self.assertEqual((msg["id"], msg["data"]), (after["id"], "after"), sub_enc)
                await pub.close()
        for c in subs.values():
            await c.close()

    async def test_fragmented_client_message(self):
        async def case(enc, ch):
            c = await Client.open(self.server, enc)
            await c.subscribe(ch)
            raw = c.encode({"type": "publish", "channel": ch, "data": {"k": "v" * 3000}, "ref": "frag"})
            await c.ws.send([raw[:7], raw[7:1000], raw[1000:]])
            got = {}
            for _ in range(2):
                frame = await c.recv()
                got[frame["type"]] = frame
            self.assertEqual(got["published"]["ref"], "frag")
            self.assertEqual(got["message"]["data"], {"k": "v" * 3000})
            await c.close()
        await self.each(case)


class TlsPausedReader(unittest.IsolatedAsyncioTestCase):
    async def test_paused_reader_resumes_and_gets_everything_in_order(self):
        """Readers that stop fill their sockets (lws keeps what TLS could not
        send, the rest waits in the node's queue); once they read again,
        every message arrives whole and in order."""
        with Server(tls=True, send_queue_bytes=64 * 1024 * 1024) as server:
            clients = [await Client.open(server, enc) for enc in ENCODINGS]
            for c in clients:
                await c.subscribe("tls-paused")
                c.ws.transport.pause_reading()
            for i in range(300):  # about 3 MB to each reader while none reads
                await asyncio.to_thread(server.publish_http, "tls-paused", {"i": i, "p": "q" * SIZES[i % len(SIZES)]})
            # Their sockets are full: frames wait in the send queues.
            self.assertGreater(server.metrics()["rtpush_send_queue_bytes"], 0)
            for c in clients:
                c.ws.transport.resume_reading()
            for c in clients:
                for i in range(300):
                    msg = await c.recv_type("message", timeout=20)
                    self.assertEqual(msg["data"], {"i": i, "p": "q" * SIZES[i % len(SIZES)]}, c.encoding)
            for c in clients:
                await c.send({"type": "heartbeat"})
                await c.recv_type("heartbeat_ack")
                await c.close()
            m = server.metrics()
            self.assertEqual(m["rtpush_send_queue_bytes"], 0)
            self.assertEqual(m["rtpush_slow_consumers_total"], 0)

    async def test_paused_reader_gets_megabyte_frames_whole_and_in_order(self):
        """1 MB frames, each between small ones, to readers that stopped: the
        socket fills in the middle of a frame (written in 64 KB pieces, the
        rest of it handed to lws once OpenSSL reports the socket full), and
        the small ones, alone in their queue, go without being gathered.
        Once they read again every frame arrives whole and in order."""
        def payload(i):
            return {"i": i, "p": (MEGABYTE if i % 2 else "s") + str(i)}
        with Server(tls=True, send_queue_bytes=64 * 1024 * 1024, max_message_bytes=4 * 1024 * 1024) as server:
            clients = [await Client.open(server, enc) for enc in ENCODINGS]
            for c in clients:
                await c.subscribe("tls-paused-megabyte")
                c.ws.transport.pause_reading()
            for i in range(32):  # 16 MB to each reader while none reads: more than its socket buffers hold
                await asyncio.to_thread(server.publish_http, "tls-paused-megabyte", payload(i))
            self.assertGreater(server.metrics()["rtpush_send_queue_bytes"], 0)
            for c in clients:
                c.ws.transport.resume_reading()
            for c in clients:
                for i in range(32):
                    msg = await c.recv_type("message", timeout=20)
                    self.assertTrue(msg["data"] == payload(i), "%s: message %d" % (c.encoding, i))
                await c.close()
            m = server.metrics()
            self.assertEqual(m["rtpush_send_queue_bytes"], 0)
            self.assertEqual(m["rtpush_slow_consumers_total"], 0)


def h2_websocket_status(port, cafile):
    """Opens a WebSocket over HTTP/2 (RFC 8441 extended CONNECT) by hand; returns
    the stream's :status, 0 when the stream is reset without one."""
    headers = b"".join(hpack_literal(k, v) for k, v in [
        (":method", "CONNECT"), (":protocol", "websocket"), (":scheme", "https"), (":path", "/"),
        (":authority", "127.0.0.1"), ("sec-websocket-version", "13"), ("sec-websocket-protocol", "rtpush-json")])
    sent = False
    for s, kind, flags, stream, body in h2_frames(port, cafile):
        if kind == 4 and not flags & 1:  # the server's SETTINGS: ack, then ask
            enables_connect = any(body[i:i + 6] == b"\x00\x08\x00\x00\x00\x01" for i in range(0, len(body), 6))
            assert enables_connect, "lws no longer offers extended CONNECT: this test tests nothing"
            s.sendall(h2_frame(4, 1, 0))
            if not sent:
                s.sendall(h2_frame(1, 4, 1, headers))
                sent = True
        elif kind == 1 and stream == 1:
            return h2_status(body)
        elif kind == 3 and stream == 1:
            return 0  # RST_STREAM: refused without a status


class TlsWebSocketOverHttp2(unittest.IsolatedAsyncioTestCase):
    def test_refused_per_connection_and_alpn_http11_avoids_it(self):
        """lws accepts WebSockets over HTTP/2 streams on a TLS vhost with h2 in
        its ALPN (the default); the write path cannot serve them, so they are
        refused with 421 and a line in the log, and the node serves on."""
        with Server(tls=True) as server:
            self.assertEqual(h2_websocket_status(server.port, server.cert_path), 421)
            self.assertIn("refusing a WebSocket over HTTP/2", server.log_text())
            self.assertEqual(server.get("health")[0], 200)

    async def test_alpn_http11_vhost_serves_clients_that_offer_h2(self):
        with Server(tls=True, vhost={"alpn": "http/1.1"}) as server:
            ctx = ssl.create_default_context(cafile=server.cert_path)
            ctx.set_alpn_protocols(["h2", "http/1.1"])  # as a browser
            ws, hello = await server.connect(ssl=ctx)
            self.assertEqual(ws.transport.get_extra_info("ssl_object").selected_alpn_protocol(), "http/1.1")
            await ws.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
