"""One channel, every encoding: the protocol's cases run over each encoding
(one table, every case times every encoding), and messages published in one
encoding reach subscribers of the others as docs/protocol.md says."""
import base64
import unittest

from rtpush_harness import ENCODINGS, Client, ServerCase

# What each encoding calls a request it cannot read.
UNREADABLE = {"json": "INVALID_JSON", "msgpack": "INVALID_FRAME", "protobuf": "INVALID_FRAME"}


class EveryCaseEveryEncoding(ServerCase, unittest.IsolatedAsyncioTestCase):
    server_options = {"history_size": 100}

    async def each(self, case):
        for enc in ENCODINGS:
            with self.subTest(encoding=enc):
                await case(enc, "%s-%s" % (case.__name__.strip("_"), enc))

    async def test_connection_established(self):
        async def case(enc, ch):
            c = await Client.open(self.server, enc)
            self.assertEqual(c.hello["heartbeat_interval"], 25)
            self.assertTrue(c.hello["connection_id"])
            self.assertIsInstance(c.hello["timestamp"], float)
            await c.close()
        await self.each(case)

    async def test_publish_subscribe_and_ref(self):
        async def case(enc, ch):
            sub = await Client.open(self.server, enc)
            pub = await Client.open(self.server, enc)
            ack = await sub.subscribe(ch)
            self.assertIsNone(ack["position"])
            self.assertNotIn("recovered", ack)
            value = {"n": 12345678901234567890, "s": "caf\u00e9", "l": [1, -2, 2.5, None, True]}
            await pub.send({"type": "publish", "channel": ch, "data": value, "ref": {"r": [1]}})
            published = await pub.recv_type("published")
            self.assertEqual(published["ref"], {"r": [1]})
            msg = await sub.recv_type("message")
            self.assertEqual((msg["id"], msg["data"]), (published["id"], value))
            await sub.send({"type": "unsubscribe", "channel": ch})
            self.assertEqual((await sub.recv_type("unsubscribed"))["channel"], ch)
            await sub.send({"type": "heartbeat"})
            self.assertIsInstance((await sub.recv_type("heartbeat_ack"))["timestamp"], float)
            await sub.close()
            await pub.close()
        await self.each(case)

    async def test_replay_since(self):
        async def case(enc, ch):
            ids = [self.server.publish_http(ch, {"i": i}) for i in range(5)]
            c = await Client.open(self.server, enc)
            ack = await c.subscribe(ch, since=ids[1])
            self.assertIs(ack["recovered"], True)
            self.assertEqual(ack["position"], ids[-1])
            got = [await c.recv_type("message") for _ in range(3)]
            self.assertEqual([m["id"] for m in got], ids[2:])
            self.assertEqual([m["data"] for m in got], [{"i": 2}, {"i": 3}, {"i": 4}])
            await c.close()
        await self.each(case)

    async def test_errors(self):
        async def case(enc, ch):
            c = await Client.open(self.server, enc)
            await c.send({"type": "dance", "ref": 7})
            err = await c.recv_type("error")
            self.assertEqual((err["code"], err["ref"]), ("UNKNOWN_MESSAGE_TYPE", 7))
            await c.send({"type": "subscribe", "channel": "has space"})
            self.assertEqual((await c.recv_type("error"))["code"], "INVALID_CHANNEL")
            await c.send({"type": "publish", "channel": ch})
            self.assertEqual((await c.recv_type("error"))["code"], UNREADABLE[enc])
            await c.send_raw("{nope" if enc == "json" else b"\xc1\xff\x00")
            self.assertEqual((await c.recv_type("error"))["code"], UNREADABLE[enc])
            await c.send({"type": "heartbeat"})  # the connection is still fine
            await c.recv_type("heartbeat_ack")
            await c.close()
        await self.each(case)


class Interop(ServerCase, unittest.IsolatedAsyncioTestCase):
    server_options = {}

    async def test_published_in_each_received_in_the_others(self):
        value = {"k": [1, 2.5, "x", None, {"deep": True}], "big": 9007199254740993}
        for publisher in ENCODINGS:
            with self.subTest(publisher=publisher):
                ch = "interop-" + publisher
                subs = {enc: await Client.open(self.server, enc) for enc in ENCODINGS}
                for s in subs.values():
                    await s.subscribe(ch)
                pub = await Client.open(self.server, publisher)
                await pub.send({"type": "publish", "channel": ch, "data": value})
                msg_id = (await pub.recv_type("published"))["id"]
                for enc, s in subs.items():
                    msg = await s.recv_type("message")
                    self.assertEqual((msg["id"], msg["data"]), (msg_id, value), enc)
                    self.assertNotIn("encoding", msg)
                for c in list(subs.values()) + [pub]:
                    await c.close()

    async def test_bytes_reach_json_as_base64(self):
        ch = "interop-bin"
        js = await Client.open(self.server, "json")
        mp = await Client.open(self.server, "msgpack")
        pb = await Client.open(self.server, "protobuf")
        for c in (js, mp, pb):
            await c.subscribe(ch)
        raw = bytes([0, 255, 1, 128]) + "caf\u00e9".encode()
        await mp.send({"type": "publish", "channel": ch, "data": raw})
        own = {f["type"]: f for f in [await mp.recv(), await mp.recv()]}  # its message and `published`, either order
        self.assertEqual(set(own), {"message", "published"})
        j = await js.recv_type("message")
        self.assertEqual((j["data"], j["encoding"]), (base64.b64encode(raw).decode(), "base64"))
        m = own["message"]
        self.assertEqual(m["data"], raw)  # bin stays bin
        self.assertNotIn("encoding", m)
        self.assertEqual((await pb.recv_type("message"))["data"], raw)  # the same bytes
        # and bytes published in Protocol Buffers (not JSON text) travel the same way
        await pb.send({"type": "publish", "channel": ch, "data": b"\xff\x00not json"})
        self.assertEqual((await js.recv_type("message"))["data"], base64.b64encode(b"\xff\x00not json").decode())
        self.assertEqual((await mp.recv_type("message"))["data"], b"\xff\x00not json")
        for c in (js, mp, pb):
            await c.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
