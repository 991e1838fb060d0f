"""Who a message and a subscription belong to, on a real lwsws (SPEC
sections 3, 4 and 8; docs/protocol.md "Identity and tokens"): a refresh
that narrows `channels` ends the subscriptions it no longer permits,
personal channels are written to by their listed users only, every message
an authenticated connection publishes carries its server-set `user` (live,
replayed, through Redis to another node, over SSE), a `sub` with `,` or `#`
is refused, and jwt-leeway-secs allows clock skew on `exp` and `nbf`, in
verification and in the expiry sweep. Frame-level rules run in every
encoding."""
import json
import time
import unittest

import websockets

from rtpush_harness import (ENCODINGS, Client, Postgres, Redis, Server, ServerCase, mint_hs256, upgrade_status,
                            wait_until)
from test_auth_ws import authenticate, quiet
from test_postgres import persisting
from test_sse import SseStream

SECRET = "it-identity-secret-0123456789"
RULES = {"namespaces": {
    "": {"subscribe": "authenticated", "publish": "authenticated"},
    "open": {"subscribe": "any", "publish": "any"},
    "orders": {"subscribe": "token", "publish": "token"},
    "chat": {"subscribe": "authenticated", "publish": "authenticated"},
}}
VHOST = {"files": {"jwt_secret_file": SECRET, "channels_file": json.dumps(RULES)}}


def token(sub, ttl=600, **claims):
    body = {"sub": sub, "exp": int(time.time()) + ttl}
    body.update(claims)
    return mint_hs256(SECRET, body)


def reason_of(frame, encoding):
    """An `unsubscribed` frame's reason: the `reason` key in JSON and
    MessagePack; Protocol Buffers' Frame has no such field, it is `code`."""
    return frame.get("code") if encoding == "protobuf" else frame.get("reason")


class RefreshNarrowing(ServerCase, unittest.IsolatedAsyncioTestCase):
    server_options = VHOST

    async def test_refresh_without_a_channel_ends_its_subscription(self):
        for enc in ENCODINGS:
            with self.subTest(encoding=enc):
                sub = "n-" + enc
                c = await Client.open(self.server, enc)
                await authenticate(c, token(sub, channels=["orders:a-" + enc, "orders:b-" + enc]))
                await c.subscribe("orders:a-" + enc)
                await c.subscribe("orders:b-" + enc)
                await c.subscribe("dm#%s,7" % sub)
                # the refresh drops orders:b from `channels`
                await c.send({"type": "auth", "token": token(sub, channels=["orders:a-" + enc])})
                ended = await c.recv_type("unsubscribed")
                self.assertEqual(ended["channel"], "orders:b-" + enc)
                self.assertEqual(reason_of(ended, enc), "FORBIDDEN", ended)
                self.assertEqual((await c.recv_type("authenticated"))["user"], sub)
                # it delivers nothing more; what is still permitted goes on
                self.server.publish_http("orders:b-" + enc, {"after": 1})
                self.server.publish_http("orders:a-" + enc, {"after": 2})
                self.server.publish_http("dm#%s,7" % sub, {"after": 3})
                got = [await c.recv_type("message"), await c.recv_type("message")]
                self.assertEqual([(m["channel"], m["data"]) for m in got],
                                 [("orders:a-" + enc, {"after": 2}), ("dm#%s,7" % sub, {"after": 3})])
                await quiet(c, 0.3)
                # an unsubscribe the client asks for still has no reason
                await c.send({"type": "unsubscribe", "channel": "orders:a-" + enc})
                mine = await c.recv_type("unsubscribed")
                self.assertIsNone(reason_of(mine, enc), mine)
                await c.close()

    async def test_a_refresh_that_keeps_every_channel_ends_nothing(self):
        c = await Client.open(self.server, "json")
        await authenticate(c, token("keep", channels=["orders:*"]))
        await c.subscribe("orders:x")
        await authenticate(c, token("keep", channels=["orders:x"]))
        self.server.publish_http("orders:x", 1)
        self.assertEqual((await c.recv_type("message"))["data"], 1)
        await c.close()


class PersonalPublish(ServerCase, unittest.IsolatedAsyncioTestCase):
    server_options = VHOST

    async def test_only_listed_users_write_into_a_personal_channel(self):
        for enc in ENCODINGS:
            with self.subTest(encoding=enc):
                ch = "chat:dm#42,7-" + enc
                u42 = await Client.open(self.server, enc, token=token("42"))
                u7 = await Client.open(self.server, enc, token=token("7-" + enc))
                u99 = await Client.open(self.server, enc, token=token("99"))
                await u42.subscribe(ch)
                await u99.send({"type": "publish", "channel": ch, "data": "from 99", "ref": 1})
                err = await u99.recv_type("error")
                self.assertEqual((err["code"], err["ref"]), ("FORBIDDEN", 1))
                await quiet(u42, 0.3)
                await u7.send({"type": "publish", "channel": ch, "data": "from 7"})
                self.assertEqual((await u7.recv_type("published"))["channel"], ch)
                got = await u42.recv_type("message")
                self.assertEqual((got["data"], got.get("user")), ("from 7", "7-" + enc))
                for c in (u42, u7, u99):
                    await c.close()

    def test_a_sub_with_a_comma_or_hash_is_refused(self):
        for sub in ("42,7", "dm#42"):
            with self.subTest(sub=sub):
                self.assertEqual(upgrade_status(self.server.port, "?token=" + token(sub))[0], 401)


class PublisherAttribution(ServerCase, unittest.IsolatedAsyncioTestCase):
    server_options = VHOST

    async def test_messages_carry_the_publishers_sub_live_replayed_and_over_sse(self):
        for enc in ENCODINGS:
            with self.subTest(encoding=enc):
                ch = "open:who-" + enc
                reader = await Client.open(self.server, enc)
                await reader.subscribe(ch)
                sse = SseStream(self.server, ch)
                self.assertEqual(sse.status, 200)
                author = await Client.open(self.server, enc, token=token("alice"))
                anon = await Client.open(self.server, enc)
                # a client-sent `user` is ignored: the server sets it
                await author.send({"type": "publish", "channel": ch, "data": 1, "user": "mallory"})
                await author.recv_type("published")
                await anon.send({"type": "publish", "channel": ch, "data": 2, "user": "mallory"})
                self.server.publish_http(ch, 3)
                live = [await reader.recv_type("message") for _ in range(3)]
                self.assertEqual([(m["data"], m.get("user")) for m in live], [(1, "alice"), (2, None), (3, None)])
                events = []
                while len(events) < 3:
                    event = sse.next_event()
                    if event["event"] == "message":
                        events.append(event["json"])
                sse.close()
                self.assertEqual([(e["data"], e.get("user")) for e in events], [(1, "alice"), (2, None), (3, None)])
                late = await Client.open(self.server, enc)
                await late.subscribe(ch, since="0-0")
                replayed = [await late.recv_type("message") for _ in range(3)]
                self.assertEqual([(m["data"], m.get("user")) for m in replayed],
                                 [(1, "alice"), (2, None), (3, None)])
                for c in (reader, author, anon, late):
                    await c.close()

    async def test_through_redis_to_another_node_and_its_replay(self):
        with Redis() as redis, Server(redis=redis.url, node_id="a", **VHOST) as a, \
                Server(redis=redis.url, node_id="b", **VHOST) as b:
            reader = await Client.open(b, "json")
            await reader.subscribe("open:x")
            author = await Client.open(a, "json", token=token("bob"))
            await author.send({"type": "publish", "channel": "open:x", "data": "hi"})
            await author.recv_type("published")
            got = await reader.recv_type("message", timeout=10)
            self.assertEqual((got["data"], got.get("user")), ("hi", "bob"))
            late = await Client.open(b, "msgpack")
            await late.subscribe("open:x", since="0-0")
            replayed = await late.recv_type("message")
            self.assertEqual((replayed["data"], replayed.get("user")), ("hi", "bob"))
            for c in (reader, author, late):
                await c.close()


class PublisherInPostgres(unittest.IsolatedAsyncioTestCase):
    """The row keeps the publisher, and a replay from PostgreSQL (past the
    hot history) carries it: on the embedded broker and through Redis's
    hand-off stream."""

    async def check(self, pg, node, channel):
        # a replay from before the node's start is not known complete: start
        # from a message of this run
        since = node.publish_http(channel, "start")
        author = await Client.open(node, "json", token=token("carol"))
        for n in range(3):
            await author.send({"type": "publish", "channel": channel, "data": n})
            await author.recv_type("published")
        node.publish_http(channel, "api")
        await author.close()
        rows = lambda: pg.query("SELECT data::text, coalesce(publisher, '-') FROM rtpush_messages "
                                "WHERE channel = '%s' ORDER BY id_ms, id_seq" % channel)
        wait_until(lambda: len(rows()) == 5, 10, "five rows")
        self.assertEqual(rows(), [['"start"', "-"], ["0", "carol"], ["1", "carol"], ["2", "carol"], ['"api"', "-"]])
        late = await Client.open(node, "msgpack")
        ack = await late.subscribe(channel, since=since)  # history-size 1: the first three come from PostgreSQL
        self.assertIs(ack["recovered"], True)
        got = [await late.recv_type("message") for _ in range(4)]
        self.assertEqual([(m["data"], m.get("user")) for m in got],
                         [(0, "carol"), (1, "carol"), (2, "carol"), ("api", None)])
        await late.close()

    async def test_embedded_broker(self):
        with Postgres() as pg, Server(postgres=pg.conninfo, history_size=1, **VHOST) as node:
            await self.check(pg, node, "open:pg-embedded")

    async def test_through_redis(self):
        with Postgres() as pg, Redis() as redis, \
                Server(postgres=pg.conninfo, redis=redis.url, history_size=1, **VHOST) as node:
            persisting(redis, [])
            await self.check(pg, node, "open:pg-redis")


def expired_5s_ago():
    return mint_hs256(SECRET, {"sub": "skewed", "exp": int(time.time()) - 5})


class Leeway(unittest.IsolatedAsyncioTestCase):
    async def test_a_token_expired_5s_ago_is_accepted_with_leeway_30_only(self):
        with Server(jwt_leeway_secs=30, **VHOST) as lenient, Server(**VHOST) as strict:
            self.assertEqual(upgrade_status(lenient.port, "?token=" + expired_5s_ago())[0], 101)
            self.assertEqual(upgrade_status(strict.port, "?token=" + expired_5s_ago())[0], 401)
            c = await Client.open(lenient, "json")
            self.assertEqual((await authenticate(c, expired_5s_ago()))["user"], "skewed")
            await c.close()
            c = await Client.open(strict, "json")
            await c.send({"type": "auth", "token": expired_5s_ago()})
            err = await c.recv_type("error")
            self.assertEqual(err["code"], "UNAUTHORIZED")
            await c.close()

    async def test_the_expiry_sweep_waits_for_the_leeway(self):
        leeway = 2
        with Server(jwt_leeway_secs=leeway, **VHOST) as server:
            exp = int(time.time()) + 1
            c = await Client.open(server, "json", token=mint_hs256(SECRET, {"sub": "sweep", "exp": exp}))
            err = await c.recv_type("error", timeout=10)
            closed_at = time.time()
            self.assertEqual((err["code"], err["message"]), ("UNAUTHORIZED", "token expired"))
            with self.assertRaises(websockets.ConnectionClosed) as closed:
                await c.recv(5)
            self.assertEqual(closed.exception.code, 1008)
            print("leeway %d s: closed %.3f s after exp" % (leeway, closed_at - exp))
            self.assertGreaterEqual(closed_at, exp + leeway - 0.05)
            self.assertLess(closed_at, exp + leeway + 1.25)


class LeewayOption(unittest.TestCase):
    def test_past_300_is_refused(self):
        log = Server(jwt_leeway_secs=301, **VHOST).start_refused()
        self.assertIn("jwt-leeway-secs", log)


if __name__ == "__main__":
    unittest.main(verbosity=2)
