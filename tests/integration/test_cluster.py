"""Redis Cluster from the outside (SPEC 12): two nodes behind nginx on three
masters with a replica each. 300 channels spread over every master (the
shards' own keys say so); a stream of 3,000 publishes through the HTTP API
while the cluster is in trouble: (a) a master SIGKILLed (the cluster
promotes its replica), (b) slots resharded with `redis-cli --cluster
reshard` and one slot held half-migrated (the ASK window). Subscribers that
stay and subscribers that leave and resume with `since` get every
acknowledged message exactly once in order, or are told `recovered: false`;
every publish is answered (published, or 503 UNAVAILABLE), none hangs; with
PostgreSQL every message is one row at most, and through a reshard (nothing
lost) every acknowledged one is exactly one row. Also rtpush-publish
--redis redis+cluster:// end to end, and a seed that is not in cluster mode
(health 503, a clear log line, the CLI saying so)."""
import asyncio
import http.client
import json
import subprocess
import threading
import time
import unittest

import websockets

from rtpush_harness import (PUBLISH_CLI, FedPublisher, Nginx, Postgres, Redis, RedisCluster, Server, id_pair,
                            wait_until)

CHANNELS = ["room-%d" % i for i in range(300)]
MESSAGES = 3000
PUBLISHERS = 6        # threads; channel room-k is published by thread k % 6 only: its order is known
PACE = 0.012          # s between one thread's publishes: the stream lasts ~7 s, across the trouble
HTTP_TIMEOUT = 15     # a publish not answered within it "hangs"


def crc16(data):
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def bucket(channel):
    """The channel's bucket (redis_keys.h): its own slot range / 256."""
    return (crc16(channel.encode()) & 16383) >> 8


def bucket_slot(b):
    """The slot of a bucket's keys: its tag "{b<b>-<k>}" with the smallest k
    hashing into the middle quarter of the bucket's range (redis_keys.h)."""
    for k in range(100000):
        slot = crc16(b"b%d-%d" % (b, k)) & 16383
        if b * 256 + 96 <= slot <= b * 256 + 159:
            return slot


class Stream:
    """MESSAGES publishes {"c": channel, "n": n} through nginx's HTTP API from
    PUBLISHERS threads, each channel from one thread in order. Records per
    channel the acknowledged (id, n) in publish order, the n answered 503
    (may have been published), and anything else (a hang, another status)."""

    def __init__(self, port, channels=CHANNELS, count=MESSAGES):
        self.port, self.channels, self.count = port, channels, count
        self.acked = {c: [] for c in channels}
        self.unavailable = {c: set() for c in channels}
        self.problems = []
        self.sent = 0
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, args=(t,)) for t in range(PUBLISHERS)]

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def join(self):
        for t in self.threads:
            t.join()

    def run(self, first):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=HTTP_TIMEOUT)
        for n in range(first, self.count, PUBLISHERS):
            channel = self.channels[n % len(self.channels)]
            body = json.dumps({"c": channel, "n": n})
            started = time.monotonic()
            try:
                conn.request("POST", "/publish/" + channel, body, {"Content-Type": "application/json"})
                answer = conn.getresponse()
                status, text = answer.status, answer.read().decode()
            except (OSError, http.client.HTTPException) as e:
                status, text = None, "%s after %.1f s" % (e, time.monotonic() - started)
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=HTTP_TIMEOUT)
            with self.lock:
                self.sent += 1
                if status == 200:
                    self.acked[channel].append((json.loads(text)["id"], n))
                elif status == 503:
                    self.unavailable[channel].add(n)
                else:
                    self.problems.append((channel, n, status, text))
            time.sleep(PACE)
        conn.close()

    def total_acked(self):
        return sum(len(a) for a in self.acked.values())


class Subscriber:
    """One WebSocket connection through nginx subscribed to every channel, as
    the product's client behaves: one subscribe at a time awaits its answer;
    one refused UNAVAILABLE (its shard has no master yet) is sent again a
    moment later, and a subscription the node ends (`unsubscribed` unasked:
    its replay stopped) is taken again with since = the last id seen. Never
    a second subscribe while one is unanswered: each would replay. Keeps per
    channel the (id, n) received and whether a `subscribed` said recovered:
    false. resume() reconnects with since = the last id seen everywhere."""

    ANSWER = 15  # s a subscribe may wait for its answer

    def __init__(self, url, channels, name):
        self.url, self.channels, self.name = url, channels, name
        self.got = {c: [] for c in channels}
        self.last = {}     # channel -> the newest id seen (position at the first subscribe)
        self.lost = set()  # channels told recovered: false
        self.errors = []
        self.refused = 0   # subscribes answered UNAVAILABLE (sent again)
        self.ended = 0     # subscriptions the node ended (taken again)
        self.subscribed = set()
        self.todo = []     # channels to subscribe, in turn
        self.waiting = None  # the channel whose subscribe is unanswered
        self.answer = asyncio.Event()
        self.ws = self.reader = self.keeper = None

    async def connect(self):
        for _ in range(100):  # as a client behind a proxy does: retried
            try:
                self.ws = await websockets.connect(self.url, subprotocols=["rtpush-json"], max_size=None)
                hello = json.loads(await asyncio.wait_for(self.ws.recv(), 5))
                assert hello["type"] == "connection_established", hello
                break
            except (OSError, websockets.WebSocketException, asyncio.TimeoutError):
                await asyncio.sleep(0.1)
        else:
            raise AssertionError("%s could not connect through nginx" % self.name)
        self.subscribed, self.todo, self.waiting = set(), list(self.channels), None
        self.reader = asyncio.create_task(self.read())
        self.keeper = asyncio.create_task(self.keep())
        deadline = time.monotonic() + 30
        while len(self.subscribed) < len(self.channels):
            assert not self.reader.done(), "%s: connection lost while subscribing" % self.name
            assert not self.keeper.done() or self.keeper.cancelled(), self.keeper.exception()
            assert time.monotonic() < deadline, "%s: %d of %d channels subscribed; errors %s" % (
                self.name, len(self.subscribed), len(self.channels), self.errors[:5])
            await asyncio.sleep(0.02)

    async def keep(self):
        """Subscribes the channels in `todo`, one at a time."""
        while True:
            if not self.todo:
                await asyncio.sleep(0.02)
                continue
            c = self.todo.pop(0)
            if c in self.subscribed:
                continue
            frame = {"type": "subscribe", "channel": c}
            if c in self.last:
                frame["since"] = self.last[c]
            self.waiting, self.outcome = c, None
            self.answer.clear()
            await self.ws.send(json.dumps(frame))
            while True:
                await asyncio.wait_for(self.answer.wait(), self.ANSWER)
                self.answer.clear()
                if self.outcome != "refused":
                    break
                # An UNAVAILABLE without a channel: this subscribe's, unless an
                # `unsubscribed` follows it (another subscription's replay stopped).
                ended = self.ended
                await asyncio.sleep(0.1)
                if self.ended == ended and c not in self.subscribed:
                    self.refused += 1
                    self.todo.append(c)  # again after the others
                    await asyncio.sleep(0.1)
                    break
                if c in self.subscribed:
                    break
            self.waiting = None

    async def read(self):
        try:
            async for raw in self.ws:
                f = json.loads(raw)
                if f["type"] == "message":
                    self.got[f["channel"]].append((f["id"], f["data"]["n"]))
                    self.last[f["channel"]] = f["id"]
                elif f["type"] == "subscribed":
                    self.subscribed.add(f["channel"])
                    if f.get("recovered") is False:
                        self.lost.add(f["channel"])
                    if f["channel"] not in self.last and f.get("position"):
                        self.last[f["channel"]] = f["position"]
                    if f["channel"] == self.waiting:
                        self.outcome = "subscribed"
                        self.answer.set()
                elif f["type"] == "unsubscribed" and "reason" not in f:
                    self.ended += 1
                    self.subscribed.discard(f["channel"])
                    self.todo.append(f["channel"])
                elif f["type"] == "error" and f.get("code") == "UNAVAILABLE":
                    if self.waiting is not None:
                        self.outcome = "refused"
                        self.answer.set()
                else:
                    self.errors.append(f)
        except websockets.ConnectionClosed:
            pass

    @property
    def closed(self):
        return self.reader is None or self.reader.done()

    async def leave(self):
        self.keeper.cancel()
        await self.ws.close()
        await self.reader

    async def resume(self):
        await self.connect()


def check_stream(test, stream, subscribers):
    """What every subscriber got against what was acknowledged."""
    test.assertEqual(stream.problems, [], "publishes neither published nor UNAVAILABLE (hung or failed)")
    for c in stream.channels:
        ids = [id_pair(i) for i, _ in stream.acked[c]]
        # ids after the trouble are greater than every id handed out before it
        test.assertEqual(ids, sorted(set(ids)), "acknowledged ids of %s not increasing" % c)
    for sub in subscribers:
        test.assertEqual(sub.errors, [], sub.name)
        for c in stream.channels:
            got = sub.got[c]
            ids = [id_pair(i) for i, _ in got]
            test.assertEqual(ids, sorted(set(ids)), "%s %s: out of order or doubled" % (sub.name, c))
            ns = [n for _, n in got]
            test.assertEqual(len(ns), len(set(ns)), "%s %s: a message twice" % (sub.name, c))
            acked = dict(stream.acked[c])
            for msg_id, n in got:  # nothing that was not published, each with its own id
                if msg_id in acked:
                    test.assertEqual(acked[msg_id], n, (sub.name, c, msg_id))
                else:
                    test.assertIn(n, stream.unavailable[c], "%s %s: %s was never published" % (sub.name, c, msg_id))
            if c not in sub.lost:
                missing = [i for i in acked if i not in {g for g, _ in got}]
                test.assertEqual(missing, [], "%s %s: acknowledged messages never delivered and no "
                                 "recovered:false" % (sub.name, c))


def redirects(servers):
    """rtpush_redis_redirects_total by kind, summed over the nodes (SPEC 12:
    both kinds always there)."""
    out = {"moved": 0, "ask": 0}
    for s in servers:
        m = s.metrics()
        for kind in out:
            key = 'rtpush_redis_redirects_total{kind="%s"}' % kind
            assert key in m, "GET metrics has no %s" % key
            out[kind] += m[key]
    return out


class ClusterCase(unittest.IsolatedAsyncioTestCase):
    def nodes(self, cluster, pg=None, **more):
        options = {"redis": cluster.url, "history_size": 1000, "max_channels_per_connection": 1000, **more}
        if pg:
            options.update(postgres=pg.conninfo, pg_flush_ms=20)
        return (Server(node_id="node-a", **options), Server(node_id="node-b", **options))

    async def run_stream(self, nginx, trouble):
        """The stream with subscribers that stay and that resume; `trouble()`
        (in a thread) once a third is published. Returns (stream, subscribers)."""
        for c in CHANNELS:  # every channel has a message before anyone subscribes: a position to resume from
            self.assertEqual(self.publish(nginx, c, {"warm": c})[0], 200)
        stayers = [Subscriber(nginx.ws_url, CHANNELS, "stayer-%d" % i) for i in range(2)]
        resumers = [Subscriber(nginx.ws_url, CHANNELS, "resumer-%d" % i) for i in range(2)]
        for sub in stayers + resumers:
            await sub.connect()
        stream = Stream(nginx.port).start()
        while stream.sent < MESSAGES // 3:
            await asyncio.sleep(0.02)
        for sub in resumers:
            await sub.leave()
        trouble_done = asyncio.ensure_future(asyncio.to_thread(trouble))
        await asyncio.sleep(1)
        await resumers[0].resume()  # during the trouble
        await trouble_done
        await resumers[1].resume()  # after it
        await asyncio.to_thread(stream.join)
        for sub in stayers:  # a stayer whose node dropped it resumes too (never expected here)
            self.assertFalse(sub.closed, sub.name)

        def delivered():
            return all(sub.got[c] and sub.got[c][-1][0] == stream.acked[c][-1][0]
                       for sub in stayers + resumers for c in CHANNELS
                       if stream.acked[c] and c not in sub.lost)
        deadline = time.monotonic() + 20
        while not delivered() and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.3)  # anything doubled after the last one
        print("per subscriber: UNAVAILABLE answers (subscribed again) %s; subscriptions ended by the node (taken "
              "again with since) %s; channels told recovered:false %s" % (
                  {s_.name: s_.refused for s_ in stayers + resumers}, {s_.name: s_.ended for s_ in stayers + resumers},
                  {s_.name: len(s_.lost) for s_ in stayers + resumers}))
        for sub in stayers + resumers:
            await sub.leave()
        return stream, stayers + resumers

    def publish(self, nginx, channel, value):
        conn = http.client.HTTPConnection("127.0.0.1", nginx.port, timeout=HTTP_TIMEOUT)
        try:
            conn.request("POST", "/publish/" + channel, json.dumps(value), {"Content-Type": "application/json"})
            r = conn.getresponse()
            return r.status, r.read().decode()
        finally:
            conn.close()

    def assert_spread(self, cluster):
        """Every master holds some of the channels' streams (SCAN on each)."""
        streams = {port: [k for k in keys if ":stream:" in k]
                   for port, keys in cluster.keys_by_master("rtpush:*:stream:room-*").items()}
        counts = {port: len(keys) for port, keys in streams.items()}
        print("\nchannels per master: %s" % counts)
        self.assertEqual(sum(counts.values()), len(CHANNELS), counts)
        self.assertEqual(len(counts), 3, counts)
        self.assertTrue(all(n > 0 for n in counts.values()), counts)

    def assert_health(self, servers, status):
        for s in servers:
            wait_until(lambda: s.get("health")[0] == status, 30,
                       "%s health is not %d: %s" % (s.log_path, status, s.get("health")))

    def rows(self, pg):
        """{(channel, id): count} of rtpush_messages."""
        out = {}
        for channel, msg_id in pg.query("SELECT channel, id FROM rtpush_messages WHERE channel LIKE 'room-%'"):
            out[(channel, msg_id)] = out.get((channel, msg_id), 0) + 1
        return out

    def wait_rows(self, pg, stream):
        want = {(c, i) for c in CHANNELS for i, _ in stream.acked[c]}
        wait_until(lambda: want <= set(self.rows(pg)), 30, "acknowledged messages missing from PostgreSQL")
        time.sleep(0.5)  # nothing written twice after
        return self.rows(pg)


class MasterKilled(ClusterCase):
    async def kill_mid_stream(self, cluster, nginx, restart=False):
        """The stream while a master is SIGKILLed and its replica promoted;
        with `restart`, the dead master is started again after it and
        rejoins as the new master's replica."""
        victim = cluster.masters()[1][0]
        killed_at = []

        def trouble():
            killed_at.append(time.monotonic())
            cluster.kill_master(victim)
            promoted = cluster.wait_failover(victim)
            print("\nmaster %d killed; %d promoted after %.1f s" % (
                victim, promoted, time.monotonic() - killed_at[0]))
            if restart:
                cluster.restart(victim)
                print("%d back as a replica after %.1f s" % (victim, time.monotonic() - killed_at[0]))
        return await self.run_stream(nginx, trouble)

    async def test_a_master_sigkilled_mid_stream(self):
        with RedisCluster(node_timeout_ms=1000) as cluster, Postgres() as pg:
            a, b = self.nodes(cluster, pg)
            with a, b, Nginx([a.port, b.port]) as nginx:
                self.assert_health([a, b], 200)
                stream, subs = await self.kill_mid_stream(cluster, nginx)
                print("acknowledged %d, unavailable %d of %d" % (
                    stream.total_acked(), sum(len(u) for u in stream.unavailable.values()), MESSAGES))
                check_stream(self, stream, subs)
                self.assertGreater(stream.total_acked(), MESSAGES // 2)
                self.assert_spread(cluster)
                self.assert_health([a, b], 200)
                for node in (a, b):  # each node followed the new master
                    wait_until(lambda: node.metrics().get("rtpush_redis_failovers_total", 0) >= 1, 15,
                               "%s counted no failover" % node.options["node-id"])
                # every message at most one row (without WAIT an acknowledged
                # one may die with the master: its subscribers were told)
                rows = self.rows(pg)
                self.assertEqual([k for k, n in rows.items() if n > 1], [])
                # after the failover every publish is accepted again, on every shard
                for c in CHANNELS[:30]:
                    self.assertEqual(self.publish(nginx, c, {"after": 1})[0], 200, c)


    async def test_with_redis_wait_replicas_no_acknowledged_message_is_lost(self):
        """SPEC 12: with redis-wait-replicas 1 a `published` message is on a
        replica, so it survives its master: every subscriber, stayer or
        resumer, gets every acknowledged message (no recovered:false, the
        killed shard's channels included) and each is one PostgreSQL row."""
        with RedisCluster(node_timeout_ms=1000) as cluster, Postgres() as pg:
            a, b = self.nodes(cluster, pg, redis_wait_replicas=1)
            with a, b, Nginx([a.port, b.port]) as nginx:
                self.assert_health([a, b], 200)
                # One replica a master: the promoted one has none until the
                # dead master rejoins, and meanwhile every WAIT 1 on it runs
                # out its timeout (publishes UNAVAILABLE, and the commands
                # behind a WAIT on that link wait with it: docs/redis.md).
                stream, subs = await self.kill_mid_stream(cluster, nginx, restart=True)
                print("acknowledged %d, unavailable %d of %d" % (
                    stream.total_acked(), sum(len(u) for u in stream.unavailable.values()), MESSAGES))
                self.assertEqual({sub.name: sorted(sub.lost) for sub in subs if sub.lost}, {},
                                 "recovered:false although every acknowledged message was on a replica")
                check_stream(self, stream, subs)
                self.assertGreater(stream.total_acked(), MESSAGES // 2)
                rows = self.wait_rows(pg, stream)
                acked = {(c, i) for c in CHANNELS for i, _ in stream.acked[c]}
                self.assertEqual([k for k in acked if rows.get(k) != 1], [], "acknowledged, not exactly one row")
                self.assertEqual([k for k, n in rows.items() if n > 1], [])


class Resharded(ClusterCase):
    async def test_slots_resharded_and_one_held_half_migrated_mid_stream(self):
        with RedisCluster(node_timeout_ms=1000) as cluster, Postgres() as pg:
            a, b = self.nodes(cluster, pg)
            with a, b, Nginx([a.port, b.port]) as nginx:
                self.assert_health([a, b], 200)
                m1, m2, m3 = cluster.master_of(0), cluster.master_of(8000), cluster.master_of(16000)
                by_bucket = {}
                for c in CHANNELS:
                    by_bucket.setdefault(bucket(c), []).append(c)
                slot_of = {b_: bucket_slot(b_) for b_ in by_bucket}
                # the bucket of m2 with the most channels: its slot is held half-migrated to m3
                held = max((b_ for b_ in by_bucket if cluster.master_of(slot_of[b_]) == m2),
                           key=lambda b_: len(by_bucket[b_]))
                before = redirects([a, b])
                cli = []
                cli_channel = next(c for c in ("cli-%d" % i for i in range(10000)) if bucket(c) == held)

                def trouble():
                    # m1's first 600 slots (buckets 0-2: their channels and tags) to m3
                    reshard = cluster.reshard(m1, m3, 600)
                    time.sleep(0.5)  # past redis-cli's check of the cluster: it refuses open slots
                    # the CLI publishes on one of the held bucket's channels while it moves
                    cli.append(FedPublisher(cluster.url, cli_channel, 300, pace=0.01))
                    migrate_holding(cluster, by_bucket[held], m2, m3, seconds=1.5)
                    cluster.wait_reshard(reshard)
                stream, subs = await self.run_stream(nginx, trouble)
                published, status = cli[0].finish()
                unavailable = sum(len(u) for u in stream.unavailable.values())
                print("\nacknowledged %d, unavailable %d of %d; redirects before %s after %s" % (
                    stream.total_acked(), unavailable, MESSAGES, before, redirects([a, b])))
                check_stream(self, stream, subs)
                # a reshard loses nothing: no subscriber is told recovered:false
                self.assertEqual([(s_.name, sorted(s_.lost)) for s_ in subs if s_.lost], [])
                self.assertGreater(stream.total_acked(), MESSAGES * 9 // 10)
                self.assertEqual((status, len(published)), (0, 300))
                after = redirects([a, b])
                self.assertGreater(after["ask"], before["ask"])  # the held slot's ASK window
                self.assertEqual(cluster.master_of(slot_of[held]), m3)
                # A slot moved while nobody listens on its channels (no
                # sunsubscribe tells the nodes): they learn it from MOVED.
                quiet = next(b_ for b_ in by_bucket if cluster.master_of(slot_of[b_]) == m2)
                cluster.migrate_slot(slot_of[quiet], m2, m1)
                for node in (a, b):
                    for c in by_bucket[quiet]:
                        self.assertEqual(node.request("POST", "publish/" + c, '{"quiet":1}')[0], 200, c)
                self.assertGreater(redirects([a, b])["moved"], after["moved"])
                self.assert_spread(cluster)
                rows = self.wait_rows(pg, stream)
                self.assertEqual([k for k, n in rows.items() if n != 1], [])


def migrate_holding(cluster, channels, from_port, to_port, seconds):
    """Moves a bucket's slot by hand, holding it `seconds` with every key
    moved but the first channel's: publishes on the others get ASK (none of
    their keys is left on the source), on that one TRYAGAIN."""
    slot = cluster.keyslot(cluster_key(cluster, channels[0]))
    source, target = cluster.node_id(from_port), cluster.node_id(to_port)
    cluster.call(to_port, "CLUSTER", "SETSLOT", slot, "IMPORTING", source)
    cluster.call(from_port, "CLUSTER", "SETSLOT", slot, "MIGRATING", target)

    def move(keys):
        if keys:
            cluster.call(from_port, "MIGRATE", "127.0.0.1", to_port, "", 0, 5000, "KEYS", *keys)
    kept = ":" + channels[0]
    keys = cluster.call(from_port, "CLUSTER", "GETKEYSINSLOT", slot, 10000)
    move([k for k in keys if not k.endswith(kept)])
    time.sleep(seconds)  # the ASK window
    move(cluster.call(from_port, "CLUSTER", "GETKEYSINSLOT", slot, 10000))
    for port in (to_port, from_port) + tuple(p for p, _ in cluster.masters() if p not in (from_port, to_port)):
        cluster.call(port, "CLUSTER", "SETSLOT", slot, "NODE", target)


def cluster_key(cluster, channel):
    """The channel's stream key as the masters hold it (found by SCAN)."""
    for keys in cluster.keys_by_master("rtpush:*:stream:" + channel).values():
        for k in keys:
            if k.endswith(":stream:" + channel):
                return k
    raise AssertionError("no stream key for " + channel)


class PublishCli(ClusterCase):
    async def test_rtpush_publish_through_the_cluster_reaches_subscribers(self):
        with RedisCluster(node_timeout_ms=1000) as cluster:
            a, b = self.nodes(cluster)
            with a, b:
                self.assert_health([a, b], 200)
                channels = ["cli-%d" % i for i in range(12)]  # on several shards
                subs = []
                for server, c in zip([a, b] * 6, channels):
                    ws, _ = await server.connect()
                    await ws.send(json.dumps({"type": "subscribe", "channel": c}))
                    self.assertEqual(json.loads(await asyncio.wait_for(ws.recv(), 5))["type"], "subscribed")
                    subs.append(ws)
                for ws, c in zip(subs, channels):
                    out = subprocess.run([PUBLISH_CLI, "--redis", cluster.url, "--channel", c],
                                         input="".join('{"n":%d}\n' % n for n in range(50)),
                                         capture_output=True, text=True, timeout=30)
                    self.assertEqual((out.returncode, out.stderr), (0, ""))
                    ids = out.stdout.split()
                    self.assertEqual(len(ids), 50)
                    got = [json.loads(await asyncio.wait_for(ws.recv(), 5)) for _ in ids]
                    self.assertEqual([(f["id"], f["data"]["n"]) for f in got], list(zip(ids, range(50))))
                    await ws.close()
                masters = {cluster.master_of(cluster.keyslot(cluster_key(cluster, c))) for c in channels}
                self.assertEqual(len(masters), 3, "the CLI's channels sit on every master")
                # the same channel through a seed list whose first seed is down: the next one answers
                dead = "127.0.0.1:1"
                url = cluster.url.replace("redis+cluster://", "redis+cluster://%s," % dead)
                out = subprocess.run([PUBLISH_CLI, "--redis", url, "--channel", channels[0], "--data", "1"],
                                     capture_output=True, text=True, timeout=30)
                self.assertEqual((out.returncode, out.stderr), (0, ""))


class NotACluster(unittest.TestCase):
    def test_a_seed_not_in_cluster_mode_is_named(self):
        with Redis() as redis:
            url = "redis+cluster://127.0.0.1:%d" % redis.port
            node = Server(redis=url, node_id="plain")
            node.launch()  # it never serves healthy: start() would wait for 200
            try:
                wait_until(lambda: node.get("health")[0] == 503, 15, "health is not 503")
                self.assertEqual(json.loads(node.get("health")[1])["redis"], "down")
                wait_until(lambda: "cluster support disabled" in node.log_text()
                           or "not in cluster mode" in node.log_text(), 15, "no log line names the problem")
                status, body = node.request("POST", "publish/room-1", "1")
                self.assertEqual(status, 503, body)
            finally:
                node.stop()
            out = subprocess.run([PUBLISH_CLI, "--redis", url, "--channel", "room-1", "--data", "1"],
                                 capture_output=True, text=True, timeout=30)
            self.assertEqual(out.returncode, 1)
            self.assertIn("127.0.0.1:%d is not in cluster mode" % redis.port, out.stderr)
            # a refused password: said so, never shown
            out = subprocess.run([PUBLISH_CLI, "--redis", "redis+cluster://app:s3cret-pw@127.0.0.1:%d" % redis.port,
                                  "--channel", "room-1", "--data", "1"], capture_output=True, text=True, timeout=30)
            self.assertEqual(out.returncode, 1)
            self.assertIn("refused AUTH", out.stderr)
            self.assertNotIn("s3cret-pw", out.stderr + out.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
