"""PostgreSQL persistence on one node (postgres without redis): every
published message becomes exactly one row, written in batches; an outage
loses nothing."""
import asyncio
import json
import re
import time
import unittest

import subprocess

from rtpush_harness import PUBLISH_CLI, Postgres, Redis, Server, persisting, recv_type, wait_until


def wait_for_backlog_zero(server, seconds=30):
    deadline = time.time() + seconds
    while time.time() < deadline:
        m = server.metrics()
        if m["rtpush_pg_backlog_rows"] == 0 and m["rtpush_pg_up"] == 1:
            return m
        time.sleep(0.1)
    raise AssertionError("backlog did not drain: %s" % {k: v for k, v in server.metrics().items() if "pg" in k})


def stored(pg):
    return {(c, i): d for c, i, d in pg.query("SELECT channel, id, data FROM rtpush_messages")}


class Persistence(unittest.IsolatedAsyncioTestCase):
    async def test_every_message_exactly_one_row(self):
        with Postgres() as pg, Server(postgres=pg.conninfo) as node:
            expected = {}
            pub, _ = await node.connect()
            for i in range(2000):
                data = {"i": i, "s": "caf\u00e9 %d" % i, "big": 12345678901234567890}
                channel = "pg-%d" % (i % 7)
                await pub.send(json.dumps({"type": "publish", "channel": channel, "data": data}))
                ack = await recv_type(pub, "published")
                expected[(channel, ack["id"])] = data
            for i in range(500):
                expected[("pg-http", node.publish_http("pg-http", [i]))] = [i]
            m = wait_for_backlog_zero(node)
            rows = stored(pg)
            self.assertEqual(len(rows), len(expected))
            self.assertEqual(set(rows), set(expected))
            for key, text in rows.items():
                self.assertEqual(json.loads(text), expected[key])
            self.assertIn('"big":12345678901234567890', rows[next(k for k in rows if k[0] != "pg-http")])
            self.assertEqual(m["rtpush_pg_rows_written_total"], 2500)
            self.assertLess(m["rtpush_pg_batches_total"], 2500)  # batched, not one INSERT each
            await pub.close()

    async def test_outage_loses_nothing(self):
        with Postgres() as pg, Server(postgres=pg.conninfo, pg_flush_ms=20) as node:
            published = {("out", node.publish_http("out", i)) for i in range(100)}
            wait_for_backlog_zero(node)
            pg.stop()
            for i in range(100, 400):  # publishing goes on
                published.add(("out", node.publish_http("out", i)))
            deadline = time.time() + 10
            while time.time() < deadline and node.get("health")[0] != 503:
                await asyncio.sleep(0.1)
            status, body = node.get("health")
            self.assertEqual(status, 503)
            self.assertEqual(json.loads(body)["postgres"], "down")
            self.assertGreater(node.metrics()["rtpush_pg_backlog_rows"], 0)
            pg.start()
            m = wait_for_backlog_zero(node, 60)
            self.assertEqual(node.get("health")[0], 200)
            self.assertEqual(set(stored(pg)), published)
            self.assertEqual(m["rtpush_pg_lag_seconds"], 0)
            # the operator sees the outage once, with libpq's cause, however
            # many reconnects failed, and once its end
            # (one event line each: docs/operations.md "Logs")
            up = "event=backend_up backend=postgres "
            wait_until(lambda: up in node.log_tail(100000), 5, "recovery not logged")
            log = node.log_tail(100000)
            self.assertEqual(len(re.findall(r"rtpush: node=\S+ event=backend_down backend=postgres cause=\"?\w", log)),
                             1, log)
            self.assertEqual(log.count("event=backend_down backend=postgres "), 1, log)
            self.assertEqual(log.count(up), 1, log)

    async def test_batches_by_size_and_by_age(self):
        with Postgres() as pg, Server(postgres=pg.conninfo, pg_batch_size=100, pg_flush_ms=2000) as node:
            pub, _ = await node.connect()
            started = time.monotonic()  # no row is older: nothing is due by age before started + 2 s
            for i in range(250):
                await pub.send(json.dumps({"type": "publish", "channel": "batch", "data": i}))
            for _ in range(250):
                await recv_type(pub, "published")
            # Full batches go at once, the last 50 wait for pg-flush-ms: the
            # two batches are seen before any row can be due by age (a
            # bound from the first publish, not from this point, so a slow
            # host or build only makes it tighter, never wrong).
            count = lambda: int(pg.query("SELECT count(*) FROM rtpush_messages")[0][0])
            batches = lambda: node.metrics()["rtpush_pg_batches_total"]
            wait_until(lambda: count() >= 200 and batches() >= 2, max(0.0, started + 1.9 - time.monotonic()),
                       "two full batches were not written at once")
            self.assertEqual(count(), 200)
            m = node.metrics()
            self.assertLess(time.monotonic() - started, 2.0, "read too late to tell full batches from aged ones")
            self.assertEqual(m["rtpush_pg_batches_total"], 2)
            self.assertEqual(m['rtpush_pg_batch_rows_bucket{le="50"}'], 0)  # nothing written by age yet
            m = wait_for_backlog_zero(node, 15)
            self.assertEqual(int(pg.query("SELECT count(*) FROM rtpush_messages")[0][0]), 250)
            self.assertEqual(m["rtpush_pg_batches_total"], 3)
            self.assertEqual(m['rtpush_pg_batch_rows_bucket{le="50"}'], 1)   # the 50 sent by age
            self.assertEqual(m['rtpush_pg_batch_rows_bucket{le="100"}'], 3)  # and two full ones
            self.assertEqual(m["rtpush_pg_batch_rows_sum"], 250)
            await pub.close()


def wait_for_rows(pg, want, seconds):
    deadline = time.time() + seconds
    while time.time() < deadline:
        n = int(pg.query("SELECT count(*) FROM rtpush_messages")[0][0])
        if n >= want:
            return n
        time.sleep(0.2)
    return int(pg.query("SELECT count(*) FROM rtpush_messages")[0][0])


class WithRedis(unittest.IsolatedAsyncioTestCase):
    """Two nodes on Redis share the writing through the hand-off Stream."""

    async def test_every_node_and_the_cli_exactly_one_row_each(self):
        with Postgres() as pg, Redis() as redis, \
                Server(redis=redis.url, postgres=pg.conninfo, node_id="pa") as a, \
                Server(redis=redis.url, postgres=pg.conninfo, node_id="pb") as b:
            persisting(redis, ["pa", "pb"])
            expected = {}
            ws, _ = await a.connect()
            for i in range(1000):
                await ws.send(json.dumps({"type": "publish", "channel": "pr-ws", "data": {"i": i}}))
                expected[("pr-ws", (await recv_type(ws, "published"))["id"])] = {"i": i}
            for i in range(500):
                expected[("pr-http", b.publish_http("pr-http", i))] = i
            lines = "".join('{"cli":%d}\n' % i for i in range(1500))
            p = subprocess.run([PUBLISH_CLI, "--redis", redis.url, "--channel", "pr-cli"], input=lines,
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 0, p.stderr)
            for i, msg_id in enumerate(p.stdout.split()):
                expected[("pr-cli", msg_id)] = {"cli": i}
            self.assertEqual(wait_for_rows(pg, len(expected), 30), len(expected))
            # Everything written is acknowledged, so nothing can come again.
            wait_until(lambda: redis.call("XLEN", "rtpush:persist") == 0 and not any(
                redis.pending_by_consumer().values()), 10, "hand-off not drained")
            rows = stored(pg)
            self.assertEqual(len(rows), len(expected))
            self.assertEqual({k: json.loads(v) for k, v in rows.items()}, expected)
            # Doubles would show here: the primary key hides a row written
            # twice, the writers' counts do not (every batch they committed).
            wa = a.metrics()["rtpush_pg_rows_written_total"]
            wb = b.metrics()["rtpush_pg_rows_written_total"]
            self.assertEqual(wa + wb, len(expected))
            self.assertGreater(wa, 0)  # the writing was shared
            self.assertGreater(wb, 0)
            self.assertEqual(redis.command("XLEN", "rtpush:persist"), ":0")
            await ws.close()

    async def test_flushall_does_not_stop_the_writer(self):
        """A FLUSHALL drops the hand-off Stream and its consumer group: the
        node makes them again, and what is published after is written."""
        with Postgres() as pg, Redis() as redis, \
                Server(redis=redis.url, postgres=pg.conninfo, node_id="fa", pg_flush_ms=20) as a:
            persisting(redis, ["fa"])
            before = {a.publish_http("fl", i) for i in range(5)}
            self.assertEqual(wait_for_rows(pg, 5, 30), 5)
            redis.call("FLUSHALL")
            persisting(redis, [])  # switched on again and the group made again
            after = {a.publish_http("fl", i) for i in range(5, 10)}
            self.assertEqual(wait_for_rows(pg, 10, 30), 10)
            self.assertEqual({i for (c, i) in stored(pg)}, before | after)

    async def test_node_killed_right_after_a_burst(self):
        with Postgres() as pg, Redis() as redis, \
                Server(redis=redis.url, postgres=pg.conninfo, node_id="ka", pg_batch_size=200) as a, \
                Server(redis=redis.url, postgres=pg.conninfo, node_id="kb", pg_batch_size=200) as b:
            persisting(redis, ["ka", "kb"])
            pg.stop()  # rows pile up as pending entries: some read by each node, none written
            lines = "".join('{"k":%d}\n' % i for i in range(3000))
            p = subprocess.run([PUBLISH_CLI, "--redis", redis.url, "--channel", "burst"], input=lines,
                               capture_output=True, text=True, timeout=60)
            published = set(p.stdout.split())
            self.assertEqual(len(published), 3000)
            wait_until(lambda: redis.pending_by_consumer().get("ka", 0) > 0, 10, "node A read no entries")
            held_by_a = redis.pending_by_consumer()["ka"]
            a.kill()  # node A dies holding unacknowledged entries
            pg.start()
            # B writes its own, then claims A's after they sit idle (15 s)
            self.assertEqual(wait_for_rows(pg, 3000, 60), 3000)
            rows = stored(pg)
            self.assertEqual({i for (c, i) in rows}, published)
            self.assertEqual(b.metrics()["rtpush_pg_up"], 1)
            # The claim happened: A's entries left A's pending list, and B
            # committed every row (A wrote none: PostgreSQL was down).
            wait_until(lambda: not any(redis.pending_by_consumer().values()), 10, "entries still pending")
            self.assertGreater(held_by_a, 0)
            self.assertEqual(b.metrics()["rtpush_pg_rows_written_total"], 3000)

    async def test_batch_with_rows_already_written(self):
        # Rows written before (a retry after a lost answer, a claimed batch):
        # the fast INSERT fails on them and the batch goes again with ON
        # CONFLICT DO NOTHING: every row once, the earlier ones untouched.
        with Postgres() as pg, Redis() as redis:
            redis.command("HSET", "rtpush:config", "persist", "1")
            redis.command("XGROUP", "CREATE", "rtpush:persist", "writers", "0", "MKSTREAM")
            lines = "".join('{"d":%d}\n' % i for i in range(100))
            p = subprocess.run([PUBLISH_CLI, "--redis", redis.url, "--channel", "dup"], input=lines,
                               capture_output=True, text=True, timeout=60)
            ids = p.stdout.split()
            self.assertEqual(len(ids), 100)
            with Server(postgres=pg.conninfo):  # creates the table (embedded: writes nothing here)
                wait_until(lambda: pg.query("SELECT to_regclass('rtpush_messages')")[0][0] == "rtpush_messages",
                           10, "table created")
            for i in range(0, 100, 10):
                ms, seq = ids[i].split("-")
                pg.query("INSERT INTO rtpush_messages (channel, id, id_ms, id_seq, data, published_at) "
                         "VALUES ('dup', '%s', %s, %s, '\"before\"', now())" % (ids[i], ms, seq))
            with Server(redis=redis.url, postgres=pg.conninfo, node_id="dup") as node:
                self.assertEqual(wait_for_rows(pg, 100, 30), 100)
                wait_until(lambda: redis.command("XLEN", "rtpush:persist") == ":0", 10, "hand-off drained")
                rows = stored(pg)
                self.assertEqual(len(rows), 100)
                for i, msg_id in enumerate(ids):
                    want = "before" if i % 10 == 0 else {"d": i}
                    self.assertEqual(json.loads(rows[("dup", msg_id)]), want)
                self.assertEqual(node.metrics()["rtpush_pg_rows_written_total"], 100)


if __name__ == "__main__":
    unittest.main(verbosity=2)
