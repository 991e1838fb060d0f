"""SIGHUP under load on a real lwsws (docs/operations.md "Reloading a node
(SIGHUP)"): lwsws's watcher passes the signal to its serving child, which
closes its listening socket, and forks a new child that loads the plugins
again; rtpush ends the old child 3 s later the graceful way (1012 closes,
every row written). For those seconds two copies of the plugin run with the
same options (the same node-id, PostgreSQL, Redis consumer).

What a user relies on, checked here with publishers and subscribers running:
no publish fails (a refused connect in the gap is retried), every subscriber
gets every message exactly once, in order (the only close it sees is 1012,
after which it reconnects with `since`), every message is exactly one
PostgreSQL row, the new child serves new connections, the old child exits
within 3 s + stop-timeout-secs, and (Redis, same node-id) the old child's
exit leaves the new child's users registered."""
import asyncio
import json
import time
import unittest
import urllib.error

import websockets

from rtpush_harness import Client, Postgres, Redis, Server, mint_hs256, wait_until

SECRET = "reload-secret"
PER_PUBLISHER = 250
PUBLISHERS = 2
RELOAD_GRACE_SECS = 3  # lws-plugins/reload_drain.h kReloadGraceSecs


def token(sub):
    return mint_hs256(SECRET, {"sub": sub, "exp": int(time.time()) + 600})


def id_key(i):
    ms, seq = i.split("-")
    return int(ms), int(seq)


def publish_retrying(server, channel, value):
    """One HTTP publish. A refused connect means nothing was sent: between
    the old child closing its listener and the new one binding, lwsws has
    no listener for about a second (docs/operations.md). Anything else fails."""
    deadline = time.time() + 15
    while True:
        try:
            return server.publish_http(channel, value)
        except urllib.error.URLError as e:
            if not isinstance(e.reason, ConnectionRefusedError) or time.time() > deadline:
                raise
            time.sleep(0.05)


class Subscriber:
    """Keeps a subscription to one channel, reconnecting with `since` when
    the server closes the connection; records every message id."""

    def __init__(self, server, channel, tok=None):
        self.server, self.channel, self.token = server, channel, tok
        self.ids, self.errors, self.closes, self.unrecovered = [], [], [], []
        self.client = None
        self.node = None
        self.task = None

    async def connect(self):
        self.client = await Client.open(self.server, "json", token=self.token)
        self.node = self.client.hello["node"]
        answer = await self.client.subscribe(self.channel, since=self.ids[-1] if self.ids else None)
        if self.ids and answer.get("recovered") is False:
            self.unrecovered.append(answer)

    async def run(self):
        while True:
            try:
                frame = await self.client.recv(timeout=3600)
            except websockets.ConnectionClosed as closed:
                if self.stopping:
                    return
                self.closes.append(closed.code)
                await asyncio.sleep(0.1)
                await self.connect()
                continue
            if frame["type"] == "message":
                self.ids.append(frame["id"])
            elif frame["type"] == "error":
                self.errors.append(frame)

    async def start(self):
        self.stopping = False
        await self.connect()
        self.task = asyncio.create_task(self.run())
        return self

    async def close(self):
        # Closed, not cancelled: a cancel racing a frame's arrival can be
        # swallowed by wait_for (Python 3.11), and the reader would go on.
        # The reader may be reconnecting (a 1012) meanwhile: close whatever
        # client it holds until it has returned.
        self.stopping = True
        while True:
            await self.client.close()
            try:
                return await asyncio.wait_for(asyncio.shield(self.task), 1)
            except asyncio.TimeoutError:
                continue

    async def reconnect(self):
        """The documented reconnect: close, connect again with `since`."""
        await self.close()
        await self.start()


class ReloadUnderLoad(unittest.IsolatedAsyncioTestCase):
    async def run_reload(self, server, pg, channel, reconnect, before_drain=None, may_be_unrecovered=False):
        """Publishers and subscribers running; SIGHUP after a third of the
        messages. `reconnect`: how many subscribers reconnect (with `since`)
        after the reload; the others stay on the old child. `before_drain`:
        awaited while the old child still has its connections.
        `may_be_unrecovered`: a reconnect may be told `recovered: false`."""
        subs = [await Subscriber(server, channel).start() for _ in range(4)]
        published = []
        third = asyncio.Event()

        async def publisher(p):
            for i in range(PER_PUBLISHER):
                published.append(await asyncio.to_thread(publish_retrying, server, channel, {"p": p, "i": i}))
                if len(published) >= PUBLISHERS * PER_PUBLISHER // 3:
                    third.set()
                await asyncio.sleep(0.004)

        publishers = [asyncio.create_task(publisher(p)) for p in range(PUBLISHERS)]
        await asyncio.wait([asyncio.create_task(third.wait())] + publishers, return_when=asyncio.FIRST_COMPLETED)
        for p in publishers:
            if p.done():
                p.result()  # a failed publisher fails the test now, not after a hang
        old, new = await asyncio.to_thread(server.reload)
        self.assertEqual(len(old), 1, old)
        for s in subs[:reconnect]:
            await s.reconnect()
        fresh = await Subscriber(server, channel).start()  # the new child serves new connections
        await asyncio.gather(*publishers)
        self.assertEqual(len(published), PUBLISHERS * PER_PUBLISHER)

        expected = sorted(published, key=id_key)
        for n, s in enumerate(subs):
            await asyncio.to_thread(wait_until, lambda: len(s.ids) >= len(expected), 20,
                                    "subscriber %d got %d of %d" % (n, len(s.ids), len(expected)))
            self.assertEqual(s.ids, expected, "subscriber %d: not every message exactly once, in order" % n)
            self.assertEqual(s.errors, [], "subscriber %d" % n)
            if not may_be_unrecovered:
                self.assertEqual(s.unrecovered, [], "subscriber %d" % n)
            # The only close a client sees is the documented one: 1012.
            self.assertEqual(set(s.closes) - {1012}, set(), "subscriber %d: closes %s" % (n, s.closes))
        self.assertEqual(fresh.errors, [])
        # The subscriber that came to the new child while the publishers ran
        # got what was published from its subscribe on: some messages (an
        # empty list would pass any subset check), each once and in order,
        # up to the last one.
        await asyncio.to_thread(wait_until, lambda: fresh.ids[-1:] == expected[-1:], 20,
                                "the fresh subscriber did not get the last message: %d ids" % len(fresh.ids))
        self.assertEqual(fresh.ids, expected[-len(fresh.ids):], "the fresh subscriber: not a tail of the messages")

        # Every message one row. A double row cannot show in the table (its
        # primary key, and the writer's ON CONFLICT DO NOTHING): doubles are
        # looked for where they would show, in each subscriber's exact list
        # above.
        def rows():
            return pg.query("SELECT id FROM rtpush_messages WHERE channel = '%s'" % channel)
        await asyncio.to_thread(wait_until, lambda: len(rows()) >= len(published), 30,
                                "not every message reached PostgreSQL")
        ids = [r[0] for r in rows()]
        self.assertEqual(sorted(ids, key=id_key), expected)

        if before_drain:
            await before_drain()
        # The old child ends by itself within the documented bound (grace +
        # stop-timeout-secs), closing what is still connected to it with 1012.
        await asyncio.to_thread(wait_until, lambda: old[0] not in server.children(), RELOAD_GRACE_SECS + 10 + 5,
                                "the old child did not exit after the reload")
        for s in subs + [fresh]:
            await s.close()
        self.assertEqual(server.children(), [new])
        return subs, new

    async def test_reload_with_redis_and_postgres(self):
        with Postgres() as pg, Redis() as redis, \
                Server(redis=redis.url, postgres=pg.conninfo, node_id="reload-node", pg_flush_ms=50,
                       files={"jwt_secret_file": SECRET + "\n"}) as server:
            before = await Client.open(server, "json", token=token("olga"))
            after = []

            def users(user):
                status, body = server.get("users/" + user)
                self.assertEqual(status, 200, body)
                return sorted(c["connection_id"] for c in json.loads(body)["connections"])

            await asyncio.to_thread(wait_until, lambda: users("olga") == [before.hello["connection_id"]], 8,
                                    "olga is not registered")

            async def user_on_the_new_child():
                after.append(await Client.open(server, "json", token=token("nina")))
                await asyncio.to_thread(wait_until, lambda: users("nina") == [after[0].hello["connection_id"]], 8,
                                        "the new child's user is not registered")

            await self.run_reload(server, pg, "reload-redis", reconnect=2, before_drain=user_on_the_new_child)
            # olga was on the old child: closed with 1012 and no longer listed.
            # The old child's exit must not take the new child's users (same
            # node-id) with it, now or at a later heartbeat.
            self.assertEqual(users("olga"), [])
            self.assertEqual(users("nina"), [after[0].hello["connection_id"]])
            await asyncio.sleep(6)
            self.assertEqual(users("nina"), [after[0].hello["connection_id"]])
            await after[0].close()
            await before.close()

    async def test_reload_embedded_broker_with_postgres(self):
        # The embedded broker lives in each child: subscribers still on the
        # old child see what is published through the new one only after
        # their reconnect (two do it at once, two when the old child closes
        # them with 1012). The new child may answer `recovered: false` then:
        # the old child's last rows may not be in PostgreSQL yet, and it can
        # vouch only for its own memory (docs/operations.md). Every message
        # must still arrive exactly once.
        with Postgres() as pg, Server(postgres=pg.conninfo, pg_flush_ms=50) as server:
            await self.run_reload(server, pg, "reload-embedded", reconnect=2, may_be_unrecovered=True)


if __name__ == "__main__":
    unittest.main()
