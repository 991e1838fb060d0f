"""Input validation on a real lwsws (docs/limits.md "Input validation"): strict JSON
on every path, channel names, the size of a message in every encoding it is
delivered in, and JSON <-> MessagePack conversion in linear time."""
import asyncio
import base64
import json
import time
import unittest

import websockets

from rtpush_harness import ASAN_RUNTIME, Client, Redis, Server, ServerCase, no_frame, recv_type

# The sanitizer build (build-asan) runs every step several times slower on
# the same 2 cores: latency bounds are scaled by this there.
SLOW = 4 if ASAN_RUNTIME else 1


async def nothing_retained(server, channel):
    """A `since` subscribe gets no message: nothing was stored."""
    c = await Client.open(server, "json")
    ack = await c.subscribe(channel, since="0-0")
    empty = ack["position"] is None
    await no_frame(c.ws, 0.3)
    await c.close()
    return empty


async def error_then_1009(client):
    err = await client.recv_type("error")
    try:
        extra = await asyncio.wait_for(client.ws.recv(), 5)
        raise AssertionError("frame after MESSAGE_TOO_LARGE: %r" % extra[:200])
    except websockets.ConnectionClosed as closed:
        return err, closed.code


class StrictJson(ServerCase, unittest.IsolatedAsyncioTestCase):
    server_options = {"history_size": 100}

    INJECTION = '{"a":1},"id":"9-0","channel":"x"'

    async def test_http_body_with_trailing_bytes_is_refused(self):
        sub = await Client.open(self.server, "json")
        await sub.subscribe("inj")
        status, body = self.server.request("POST", "publish/inj", self.INJECTION)
        self.assertEqual(status, 400, body)
        self.assertIn("trailing", json.loads(body)["error"])
        await no_frame(sub.ws, 0.3)  # nothing reached the subscriber
        await sub.close()
        self.assertTrue(await nothing_retained(self.server, "inj"))

    async def test_http_body_invalid_utf8_or_raw_control_is_refused(self):
        for body in [b'{"a":"\xff"}', b'{"a":"\xc0\xaf"}', b'{"a":"\xed\xa0\x80"}', b'{"a":"x\x01y"}',
                     b'"tab\there"', b'01', b'[1,]', b'1 2']:
            with self.subTest(body=body):
                status, text = self.server.request("POST", "publish/bad-http", body)
                self.assertEqual(status, 400, text)
        self.assertTrue(await nothing_retained(self.server, "bad-http"))

    async def test_ws_frame_with_trailing_bytes_is_invalid_json(self):
        sub = await Client.open(self.server, "json")
        await sub.subscribe("inj-ws")
        pub = await Client.open(self.server, "json")
        # The HTTP body's trick in a frame: the object ends after data, the rest trails.
        await pub.send_raw('{"type":"publish","channel":"inj-ws","data":{"a":1}},"id":"9-0","channel":"x"}')
        self.assertEqual((await pub.recv_type("error"))["code"], "INVALID_JSON")
        await pub.send_raw('{"type":"publish","channel":"inj-ws","data":{"a":1}} {"type":"heartbeat"}')
        self.assertEqual((await pub.recv_type("error"))["code"], "INVALID_JSON")
        await no_frame(sub.ws, 0.3)
        await sub.close()
        await pub.close()
        self.assertTrue(await nothing_retained(self.server, "inj-ws"))

    async def test_raw_control_and_invalid_utf8_in_a_string_are_invalid_json(self):
        c = await Client.open(self.server, "json")
        # A raw control character is valid UTF-8: a text frame carries it.
        await c.send_raw('{"type":"publish","channel":"ctl","data":"a\x01b"}')
        self.assertEqual((await c.recv_type("error"))["code"], "INVALID_JSON")
        # lws refuses invalid UTF-8 in text frames itself: JSON in a binary frame.
        for bad in [b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe2\x82"]:
            with self.subTest(bytes=bad):
                await c.send_raw(b'{"type":"publish","channel":"ctl","data":"' + bad + b'"}')
                self.assertEqual((await c.recv_type("error"))["code"], "INVALID_JSON")
        await c.send({"type": "heartbeat"})  # the connection is still fine
        await c.recv_type("heartbeat_ack")
        await c.close()
        self.assertTrue(await nothing_retained(self.server, "ctl"))

    async def test_channel_with_nul_or_invalid_utf8_is_invalid_channel(self):
        c = await Client.open(self.server, "json")
        await c.subscribe("news")
        await c.send_raw('{"type":"subscribe","channel":"news\\u0000x","ref":1}')
        err = await c.recv_type("error")
        self.assertEqual((err["code"], err["ref"]), ("INVALID_CHANNEL", 1))
        await c.send_raw('{"type":"publish","channel":"news\\u0000x","data":1}')
        self.assertEqual((await c.recv_type("error"))["code"], "INVALID_CHANNEL")
        await c.send_raw('{"type":"publish","channel":"news\\ud800","data":1}')  # a lone surrogate
        self.assertEqual((await c.recv_type("error"))["code"], "INVALID_CHANNEL")
        await no_frame(c.ws, 0.3)  # nothing published to `news`
        mp = await Client.open(self.server, "msgpack")
        import msgpack
        await mp.send_raw(msgpack.packb({"type": "subscribe", "channel": b"news\xff"}, use_bin_type=False))
        self.assertEqual((await mp.recv_type("error"))["code"], "INVALID_CHANNEL")
        await mp.close()
        await c.close()

    async def test_protobuf_data_with_trailing_bytes_reaches_json_as_base64(self):
        sub = await Client.open(self.server, "json")
        await sub.subscribe("pb-trail")
        pub = await Client.open(self.server, "protobuf")
        raw = b'{"a":1} trailing'
        await pub.send({"type": "publish", "channel": "pb-trail", "data": raw})
        await pub.recv_type("published")
        msg = await sub.recv_type("message")
        self.assertEqual(msg.get("encoding"), "base64")
        self.assertEqual(base64.b64decode(msg["data"]), raw)
        # A ref that is not strict JSON is refused.
        m = pub.encode({"type": "publish", "channel": "pb-trail", "data": {"a": 1}})
        frame = __import__("rtpush_harness").protobuf_module().Frame()
        frame.ParseFromString(m)
        frame.ref = '{"r":1} x'
        await pub.send_raw(frame.SerializeToString())
        self.assertEqual((await pub.recv_type("error"))["code"], "INVALID_FRAME")
        await sub.close()
        await pub.close()


class SizeAfterConversion(ServerCase, unittest.IsolatedAsyncioTestCase):
    server_options = {"history_size": 100}  # max-message-bytes: the default, 1048576

    async def test_msgpack_control_bytes_growing_past_the_limit_get_1009(self):
        import msgpack
        c = await Client.open(self.server, "msgpack")
        frame = msgpack.packb({"type": "publish", "channel": "grow", "data": "\x01" * 1040000}, use_bin_type=True)
        self.assertLess(len(frame), 1048576)  # the frame itself fits; as JSON it would be 6,240,0xx bytes
        await c.send_raw(frame)
        err, code = await error_then_1009(c)
        self.assertEqual(err["code"], "MESSAGE_TOO_LARGE")
        self.assertEqual(code, 1009)
        self.assertTrue(await nothing_retained(self.server, "grow"))

    async def test_json_payload_growing_past_the_limit_as_msgpack(self):
        # "1.5" is 4 bytes with its comma in JSON, 9 bytes as a MessagePack float64.
        data = [1.5] * 200000
        body = json.dumps(data, separators=(",", ":"))
        self.assertLess(len(body), 1048576)
        status, text = self.server.request("POST", "publish/grow-http", body)
        self.assertEqual(status, 413, text)
        c = await Client.open(self.server, "json")
        await c.send({"type": "publish", "channel": "grow-ws", "data": data})
        err, code = await error_then_1009(c)
        self.assertEqual((err["code"], code), ("MESSAGE_TOO_LARGE", 1009))
        self.assertTrue(await nothing_retained(self.server, "grow-http"))
        self.assertTrue(await nothing_retained(self.server, "grow-ws"))

    async def test_binary_payload_growing_past_the_limit_as_base64(self):
        c = await Client.open(self.server, "protobuf")
        await c.send({"type": "publish", "channel": "grow-b64", "data": b"\xff" * 900000})  # base64: 1,200,000
        err, code = await error_then_1009(c)
        self.assertEqual((err["code"], code), ("MESSAGE_TOO_LARGE", 1009))
        self.assertTrue(await nothing_retained(self.server, "grow-b64"))

    async def test_deep_payload_converts_in_linear_time(self):
        depth = 990
        payload = "[" * depth + json.dumps("x" * 1000000) + "]" * depth
        sub = await Client.open(self.server, "msgpack")
        await sub.subscribe("deep")
        pub = await Client.open(self.server, "json")
        other = await Client.open(self.server, "json")
        frame = '{"type":"publish","channel":"deep","data":' + payload + "}"
        self.assertLess(len(frame), 1048576)

        worst = 0.0
        done = asyncio.Event()

        async def heartbeats():
            nonlocal worst
            while not done.is_set():
                t0 = time.monotonic()
                await other.send({"type": "heartbeat"})
                await other.recv_type("heartbeat_ack")
                worst = max(worst, time.monotonic() - t0)
                await asyncio.sleep(0.01)

        pinger = asyncio.create_task(heartbeats())
        await asyncio.sleep(0.05)
        await pub.send_raw(frame)
        msg = await sub.recv_type("message", timeout=10)
        await asyncio.sleep(0.05)
        done.set()
        await pinger
        value, levels = msg["data"], 0
        while isinstance(value, list):
            value, levels = value[0], levels + 1
        self.assertEqual((levels, len(value)), (depth, 1000000))
        self.assertLess(worst, 0.1 * SLOW, "another client's heartbeat_ack waited %.3f s" % worst)
        for c in (sub, pub, other):
            await c.close()


class OldRedisEntries(unittest.IsolatedAsyncioTestCase):
    """Entries an older build wrote as JSON that is not strict JSON reach
    clients as bytes (base64 for JSON subscribers), from history and live."""

    async def test_replayed_and_live_entries_that_are_not_strict_json_go_out_as_bytes(self):
        broken = '{"a":1},"id":"9-0","channel":"x"'
        with Redis() as redis, Server(redis=redis.url, history_size=100) as node:
            ms = int(time.time() * 1000)
            old_id = "%d-0" % ms
            redis.command("XADD", "rtpush:stream:old", old_id, "k", "j", "d", broken)
            c = await Client.open(node, "json")
            await c.subscribe("old", since="0-0")
            msg = await c.recv_type("message")
            self.assertEqual((msg["id"], msg.get("encoding")), (old_id, "base64"))
            self.assertEqual(base64.b64decode(msg["data"]).decode(), broken)
            live_id = "%d-0" % (ms + 1)
            redis.command("XADD", "rtpush:stream:old", live_id, "k", "j", "d", "[1] 2")
            redis.command("PUBLISH", "rtpush:live:old", "%s j[1] 2" % live_id)  # "<id> <kind><data>"
            msg = await c.recv_type("message")
            self.assertEqual((msg["id"], msg.get("encoding")), (live_id, "base64"))
            self.assertEqual(base64.b64decode(msg["data"]), b"[1] 2")
            await c.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
