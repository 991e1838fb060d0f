"""permessage-deflate (RFC 7692) and the `compression` option (SPEC section 3).

With compression on, a client that offers the extension (Python's websockets
does by default, as browsers do) gets it and receives every message
compressed on the wire (RSV1 set, the bytes inflate to the plain frame), in
every encoding; a client that does not offer it gets the same messages
plain on the same channel. What clients send compressed is read. With
compression off (the default) the extension is refused at the handshake.
"""
import json
import os
import struct
import unittest
import zlib

import websockets

from rtpush_harness import ENCODINGS, Client, RawWebSocket, Server, ServerCase

PMD = "permessage-deflate"


def payload(size, seed=0):
    """A JSON object of about `size` bytes that compresses like real data."""
    items, i, n = [], seed, 0
    while n < size:
        items.append({"sku": "A-%d" % (i % 97), "price": 12.5 + i % 7, "name": "item number %d" % i})
        n += len(json.dumps(items[-1])) + 2
        i += 1
    return {"items": items}


def inflate(data):
    """A message as a client with a fresh inflater reads it (RFC 7692 7.2.2)."""
    d = zlib.decompressobj(-15)
    return d.decompress(data + b"\x00\x00\xff\xff") + d.flush()


def deflate(data):
    """A client's compressed message: raw deflate, sync flush, tail removed."""
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    out = c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(b"\x00\x00\xff\xff")
    return out[:-4]


class RawClient(RawWebSocket):
    """A hand-made client of one encoding (rtpush-json by default) that shows
    what is on the wire: the 101 answer's headers and each frame's RSV1 bit
    and payload as sent."""

    def __init__(self, port, extensions=None, ssl_context=None, encoding="json"):
        self.codec = Client(None, encoding)
        super().__init__(port, ssl_context, extensions, subprotocol="rtpush-" + encoding)
        assert self.headers.get("sec-websocket-protocol") == "rtpush-" + encoding, self.headers
        hello = self.next_json()
        assert hello["type"] == "connection_established", hello

    @property
    def extension(self):
        return self.headers.get("sec-websocket-extensions")

    @property
    def opcode(self):
        """What this encoding's frames are: text for JSON, binary otherwise."""
        return 1 if self.codec.encoding == "json" else 2

    def send(self, data, opcode=1, compressed=False):
        self.sock.sendall(self.frame(data, opcode, compressed))

    def send_json(self, frame, compressed=False):
        """`frame` (a dict) in this client's encoding."""
        data = self.codec.encode(frame)
        data = data.encode() if isinstance(data, str) else data
        self.send(deflate(data) if compressed else data, self.opcode, compressed=compressed)

    def next_rsv1_frame(self, timeout=10):
        """(rsv1, opcode, payload) of the next whole frame (never fragmented here)."""
        first, payload = self.next_wire_frame(timeout)
        assert first & 0x80, "a fragmented frame"
        assert not first & 0x30, "RSV2/RSV3 set"
        return bool(first & 0x40), first & 15, payload

    def decode(self, data):
        return self.codec.decode(data.decode() if self.codec.encoding == "json" else data)

    def next_message(self, timeout=10):
        """(compressed on the wire, the frame as a dict)."""
        rsv1, op, data = self.next_rsv1_frame(timeout)
        assert op == self.opcode, op
        return rsv1, self.decode(inflate(data) if rsv1 else data)

    def next_json(self, timeout=10):
        """The next frame as a dict (in this client's encoding, JSON or not)."""
        return self.next_message(timeout)[1]


def assert_every_encoding_compressed_on_the_wire(test, server, channel, ssl_context=None):
    """For each encoding, one client that negotiated permessage-deflate and
    one that did not, on the same channel: a large message reaches the first
    with RSV1 set and its payload inflates to exactly the bytes the second
    gets plain (the codec's frame), in the encoding's opcode; a message below
    the threshold reaches both plain."""
    for enc in ENCODINGS:
        with test.subTest(encoding=enc, tls=bool(ssl_context)):
            ch = "%s-%s" % (channel, enc)
            z = RawClient(server.port, PMD, ssl_context=ssl_context, encoding=enc)
            p = RawClient(server.port, ssl_context=ssl_context, encoding=enc)
            try:
                test.assertTrue((z.extension or "").startswith(PMD), z.headers)
                test.assertIsNone(p.extension, p.headers)
                for c in (z, p):
                    c.send_json({"type": "subscribe", "channel": ch})
                    rsv1, sub = c.next_message()
                    test.assertEqual(sub["type"], "subscribed", sub)
                    test.assertFalse(rsv1)  # frames other than messages go plain
                big, small = payload(20000, 7), {"s": 1}
                ids = [server.publish_http(ch, v) for v in (big, small)]
                rsv1, op, wire = z.next_rsv1_frame()
                _, plain_op, plain = p.next_rsv1_frame()
                test.assertTrue(rsv1, "a 20 KB %s message must arrive compressed" % enc)
                test.assertEqual((op, plain_op), (z.opcode, z.opcode))
                test.assertEqual(inflate(wire), plain)
                test.assertLess(len(wire), len(plain) / 2)
                m = p.decode(plain)
                test.assertEqual((m["type"], m["id"], m["data"]), ("message", ids[0], big))
                for c in (z, p):
                    rsv1, m = c.next_message()
                    test.assertFalse(rsv1, "a message below the threshold goes plain")
                    test.assertEqual((m["id"], m["data"]), (ids[1], small))
            finally:
                z.close()
                p.close()



async def open_client(server, encoding, compression):
    """A websockets client of `encoding`: `compression` "deflate" offers the
    extension (websockets' default), None does not."""
    extra = {"ssl": server.ssl_context} if server.ssl_context else {}
    ws = await websockets.connect(server.ws_url, subprotocols=["rtpush-" + encoding], max_size=None,
                                  compression=compression, **extra)
    c = Client(ws, encoding)
    c.hello = await c.recv()
    assert c.hello["type"] == "connection_established", c.hello
    return c


def negotiated(client):
    return client.ws.response_headers.get("Sec-WebSocket-Extensions")


def mask_xor(data, mask):
    return bytes(b ^ mask[i % 4] for i, b in enumerate(data))


class CompressionOn(ServerCase, unittest.IsolatedAsyncioTestCase):
    server_options = {"compression": "on", "history_size": 100}

    async def test_offering_and_plain_clients_get_the_same_messages_in_every_encoding(self):
        for enc in ENCODINGS:
            with self.subTest(encoding=enc):
                ch = "both-" + enc
                z = await open_client(self.server, enc, "deflate")
                p = await open_client(self.server, enc, None)
                self.assertTrue(negotiated(z).startswith(PMD), negotiated(z))
                self.assertIsNone(negotiated(p))
                await z.subscribe(ch)
                await p.subscribe(ch)
                values = [payload(1000, 1), {"small": 1}, payload(20000, 2)]
                ids = [self.server.publish_http(ch, v) for v in values]
                for c in (z, p):
                    got = [await c.recv_type("message") for _ in values]
                    self.assertEqual([m["id"] for m in got], ids)
                    self.assertEqual([m["data"] for m in got], values)
                await z.close()
                await p.close()

    def test_on_the_wire_messages_are_compressed_for_the_client_that_negotiated(self):
        z = RawClient(self.server.port, PMD + "; client_max_window_bits")
        p = RawClient(self.server.port)
        try:
            self.assertTrue(z.extension and z.extension.startswith(PMD), z.headers)
            self.assertIsNone(p.extension)
            for c in (z, p):
                c.send_json({"type": "subscribe", "channel": "wire"})
                rsv1, sub = c.next_message()
                self.assertEqual(sub["type"], "subscribed")
                self.assertFalse(rsv1)  # frames other than messages go plain
            big, small = payload(1000), {"s": 1}
            ids = [self.server.publish_http("wire", v) for v in (big, small)]
            rsv1, m = z.next_message()
            self.assertTrue(rsv1, "a 1 KB message must arrive compressed")
            self.assertEqual((m["id"], m["data"]), (ids[0], big))
            rsv1, m = z.next_message()
            self.assertFalse(rsv1, "a message below the threshold goes plain")
            self.assertEqual((m["id"], m["data"]), (ids[1], small))
            for i, v in zip(ids, (big, small)):
                rsv1, m = p.next_message()
                self.assertFalse(rsv1)
                self.assertEqual((m["id"], m["data"]), (i, v))
        finally:
            z.close()
            p.close()

    def test_on_the_wire_every_encoding_is_compressed(self):
        # A server that compressed JSON only (and sent MessagePack or
        # Protocol Buffers plain after negotiating) passes every test that
        # looks through a client library: those read plain frames too.
        assert_every_encoding_compressed_on_the_wire(self, self.server, "wire-enc")

    def test_compressed_bytes_are_smaller_and_replay_is_compressed(self):
        values = [payload(1000, i) for i in range(3)]
        ids = [self.server.publish_http("replayed", v) for v in values]
        z = RawClient(self.server.port, PMD)
        try:
            z.send_json({"type": "subscribe", "channel": "replayed", "since": "0-0"})
            self.assertEqual(z.next_json()["type"], "subscribed")
            for i, v in zip(ids, values):
                rsv1, op, data = z.next_rsv1_frame()
                self.assertTrue(rsv1)
                m = json.loads(inflate(data))
                self.assertEqual((m["id"], m["data"]), (i, v))
                self.assertLess(len(data), len(json.dumps(m)) / 2)
        finally:
            z.close()

    def test_client_sent_compressed_messages_are_read(self):
        # By hand: a masked, compressed publish with RSV1, and one sent
        # fragmented (RSV1 on the first fragment only, RFC 7692 section 6.1).
        sub = RawClient(self.server.port)
        pub = RawClient(self.server.port, PMD)
        try:
            sub.send_json({"type": "subscribe", "channel": "from-client"})
            self.assertEqual(sub.next_json()["type"], "subscribed")
            value = payload(3000)
            pub.send_json({"type": "publish", "channel": "from-client", "data": value, "ref": 1}, compressed=True)
            ack = pub.next_json()
            self.assertEqual((ack["type"], ack["ref"]), ("published", 1), ack)
            m = sub.next_json()
            self.assertEqual((m["id"], m["data"]), (ack["id"], value))

            body = deflate(json.dumps({"type": "publish", "channel": "from-client", "data": value, "ref": 2}).encode())
            half = len(body) // 2
            for first, part, fin in ((True, body[:half], False), (False, body[half:], True)):
                mask = os.urandom(4)
                head = bytes([(0x80 if fin else 0) | (0x40 if first else 0) | (1 if first else 0)])
                head += bytes([0x80 | 126]) + struct.pack(">H", len(part))
                pub.sock.sendall(head + mask + mask_xor(part, mask))
            ack = pub.next_json()
            self.assertEqual((ack["type"], ack["ref"]), ("published", 2), ack)
            self.assertEqual(sub.next_json()["data"], value)
        finally:
            sub.close()
            pub.close()

    async def test_websockets_client_publishes_compressed_in_every_encoding(self):
        for enc in ENCODINGS:
            with self.subTest(encoding=enc):
                ch = "ws-pub-" + enc
                pub = await open_client(self.server, enc, "deflate")
                sub = await open_client(self.server, enc, None)
                self.assertTrue(negotiated(pub).startswith(PMD))
                await sub.subscribe(ch)
                value = payload(5000, 3)
                await pub.send({"type": "publish", "channel": ch, "data": value})
                ack = await pub.recv_type("published")
                m = await sub.recv_type("message")
                self.assertEqual((m["id"], m["data"]), (ack["id"], value))
                await pub.close()
                await sub.close()

    async def test_a_megabyte_message_compressed_both_ways(self):
        value = payload(900 * 1024, 5)  # the publish frame stays under max-message-bytes (1 MiB)
        pub = await open_client(self.server, "json", "deflate")
        sub = await open_client(self.server, "json", "deflate")
        raw = RawClient(self.server.port, PMD)
        try:
            await sub.subscribe("mega")
            raw.send_json({"type": "subscribe", "channel": "mega"})
            self.assertEqual(raw.next_json()["type"], "subscribed")
            await pub.send({"type": "publish", "channel": "mega", "data": value})
            ack = await pub.recv_type("published", timeout=20)
            m = await sub.recv_type("message", timeout=20)
            self.assertEqual((m["id"], m["data"]), (ack["id"], value))
            rsv1, op, data = raw.next_rsv1_frame(timeout=20)
            self.assertTrue(rsv1)
            plain = inflate(data)
            self.assertEqual(json.loads(plain)["data"], value)
            self.assertLess(len(data), len(plain) / 4)
        finally:
            raw.close()
            await pub.close()
            await sub.close()

    def test_offer_asking_for_a_smaller_server_window_goes_plain(self):
        # lws 4.1.6 cannot answer server_max_window_bits, and we compress
        # with window 15: the extension is declined and the connection works.
        c = RawClient(self.server.port, PMD + "; server_max_window_bits=10")
        try:
            self.assertIsNone(c.extension, c.headers)
            c.send_json({"type": "subscribe", "channel": "window"})
            self.assertEqual(c.next_json()["type"], "subscribed")
            value = payload(1000)
            self.server.publish_http("window", value)
            rsv1, m = c.next_message()
            self.assertFalse(rsv1)
            self.assertEqual(m["data"], value)
        finally:
            c.close()


class CompressionOverTls(unittest.IsolatedAsyncioTestCase):
    async def test_wss_clients_publish_and_receive_compressed_in_every_encoding(self):
        # A compressed client message larger than one read: lws reads a TLS
        # record's decrypted bytes one rx buffer at a time, and the inflater
        # must have used up each piece before the next read replaces it
        # (lws 4.1.6 did not: "invalid distance too far back" from 16 KB on).
        # A subscriber that negotiated gets the messages compressed, one
        # that did not gets them plain, on the same channel.
        sizes = (16 * 1024, 100 * 1024, 900 * 1024)  # 900 KB stays under max-message-bytes
        with Server(tls=True, compression="on") as server:
            for enc in ENCODINGS:
                with self.subTest(encoding=enc):
                    ch = "tls-" + enc
                    pub = await open_client(server, enc, "deflate")
                    z = await open_client(server, enc, "deflate")
                    p = await open_client(server, enc, None)
                    for c in (pub, z):
                        self.assertTrue((negotiated(c) or "").startswith(PMD), negotiated(c))
                    self.assertIsNone(negotiated(p))
                    await z.subscribe(ch)
                    await p.subscribe(ch)
                    values = [payload(n, i) for i, n in enumerate(sizes)]
                    ids = []
                    for v in values:
                        await pub.send({"type": "publish", "channel": ch, "data": v})
                        ids.append((await pub.recv_type("published", timeout=20))["id"])
                    for c in (z, p):
                        got = [await c.recv_type("message", timeout=20) for _ in values]
                        self.assertEqual([m["id"] for m in got], ids)
                        self.assertEqual([m["data"] for m in got], values)
                    for c in (pub, z, p):
                        await c.close()
            # On the wire, inside TLS, in every encoding: RSV1 set, the bytes
            # inflate to the frame a plain client gets.
            assert_every_encoding_compressed_on_the_wire(self, server, "tls-raw", server.ssl_context)


class CompressedPublishersAtOnce(ServerCase, unittest.TestCase):
    server_options = {"compression": "on"}

    def test_clients_sending_large_compressed_messages_at_the_same_time(self):
        # Plain ws://, several clients' compressed publishes arriving
        # interleaved: lws reads every connection into one buffer, and the
        # inflater must be done with a piece of one client's message before
        # another's is read over it (lws 4.1.6 was not: a client's message
        # was inflated from another's bytes, and was refused as invalid, or
        # dropped the connection with a zlib error).
        n, ch = 6, "at-once"
        sub = RawClient(self.server.port)
        pubs = [RawClient(self.server.port, PMD) for _ in range(n)]
        try:
            sub.send_json({"type": "subscribe", "channel": ch})
            self.assertEqual(sub.next_json()["type"], "subscribed")
            values = [payload(200 * 1024, 10 + i) for i in range(n)]
            wires = [p.frame(deflate(json.dumps({"type": "publish", "channel": ch, "data": v, "ref": i}).encode()),
                             rsv1=True)
                     for i, (p, v) in enumerate(zip(pubs, values))]
            # Round robin, 1 KB at a time: every connection has bytes waiting
            # while the others' are read.
            for off in range(0, max(len(w) for w in wires), 1024):
                for p, w in zip(pubs, wires):
                    p.sock.sendall(w[off:off + 1024])
            for i, p in enumerate(pubs):
                ack = p.next_json(timeout=20)
                self.assertEqual((ack["type"], ack.get("ref")), ("published", i), ack)
            got = [sub.next_json(timeout=20) for _ in values]
            self.assertEqual(sorted(json.dumps(m["data"]) for m in got), sorted(json.dumps(v) for v in values))
        finally:
            for c in pubs + [sub]:
                c.close()



def publish_text_of_length(length, channel, ref, compressible):
    """A JSON publish frame of exactly `length` bytes whose data is a string
    (compressible: one repeated phrase; otherwise pseudo-random letters,
    which deflate can shrink only to about three quarters)."""
    head = '{"type":"publish","channel":"%s","ref":%d,"data":"' % (channel, ref)
    n = length - len(head) - 2
    assert n > 0
    if compressible:
        body = ("abc def " * (n // 8 + 1))[:n]
    else:
        rnd = os.urandom(n)
        body = "".join(chr(97 + b % 26) for b in rnd)
    text = head + body + '"}'
    assert len(text) == length
    return text


class InflateOutputBoundaries(ServerCase, unittest.TestCase):
    server_options = {"compression": "on"}

    def test_messages_inflating_to_exact_multiples_of_the_receive_buffer(self):
        # lws inflates a client's message one receive buffer (256 bytes,
        # kRxBufferSize) of output at a time; a message whose inflated size
        # is exactly a multiple of it ends with the inflater's output full
        # and its input used up, the step where the deflate tail
        # (00 00 ff ff, added back by lws) must still be fed to zlib. Sizes
        # on each side of the boundary, compressible and not, whole and
        # fragmented: every one is read whole and published.
        ch = "inflate-edges"
        sub = RawClient(self.server.port)
        pub = RawClient(self.server.port, PMD)
        try:
            sub.send_json({"type": "subscribe", "channel": ch})
            self.assertEqual(sub.next_json()["type"], "subscribed")
            ref = 0
            for length in (255, 256, 257, 511, 512, 513, 1023, 1024, 1025, 4096, 65536, 65537):
                for compressible in (True, False):
                    for fragmented in (False, True):
                        ref += 1
                        with self.subTest(length=length, compressible=compressible, fragmented=fragmented):
                            text = publish_text_of_length(length, ch, ref, compressible)
                            body = deflate(text.encode())
                            if not fragmented:
                                pub.sock.sendall(pub.frame(body, rsv1=True))
                            else:
                                half = max(1, len(body) // 2)
                                for first, part, fin in ((True, body[:half], False), (False, body[half:], True)):
                                    mask = os.urandom(4)
                                    head = bytes([(0x80 if fin else 0) | (0x40 if first else 0) | (1 if first else 0)])
                                    head += (bytes([0x80 | len(part)]) if len(part) < 126
                                             else bytes([0x80 | 126]) + struct.pack(">H", len(part)))
                                    pub.sock.sendall(head + mask + mask_xor(part, mask))
                            ack = pub.next_json(timeout=20)
                            self.assertEqual((ack["type"], ack.get("ref")), ("published", ref), ack)
                            m = sub.next_json(timeout=20)
                            self.assertEqual((m["id"], m["data"]), (ack["id"], json.loads(text)["data"]))
        finally:
            sub.close()
            pub.close()

class CompressionOff(ServerCase, unittest.IsolatedAsyncioTestCase):
    server_options = {}  # the default: off

    async def test_offering_client_gets_no_extension(self):
        for enc in ENCODINGS:
            with self.subTest(encoding=enc):
                c = await open_client(self.server, enc, "deflate")
                self.assertIsNone(negotiated(c))
                await c.subscribe("off-" + enc)
                value = payload(1000)
                self.server.publish_http("off-" + enc, value)
                self.assertEqual((await c.recv_type("message"))["data"], value)
                await c.close()

    def test_raw_offer_is_refused_and_messages_go_plain(self):
        c = RawClient(self.server.port, PMD + "; client_max_window_bits")
        try:
            self.assertIsNone(c.extension, c.headers)
            c.send_json({"type": "subscribe", "channel": "off-raw"})
            self.assertEqual(c.next_json()["type"], "subscribed")
            value = payload(1000)
            self.server.publish_http("off-raw", value)
            rsv1, m = c.next_message()
            self.assertFalse(rsv1)
            self.assertEqual(m["data"], value)
        finally:
            c.close()


if __name__ == "__main__":
    unittest.main()
