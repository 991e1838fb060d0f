"""PostgreSQL persistence on one node (postgres without redis): every
published message becomes exactly one row, written in batches; an outage
loses nothing."""
import asyncio
import json
import time
import unittest

from rtpush_harness import Postgres, Server, recv_type


def wait_for_backlog_zero(server, seconds=30):
    deadline = time.time() + seconds
    while time.time() < deadline:
        m = server.metrics()
        if m.get("rtpush_pg_backlog_rows") == 0 and m.get("rtpush_pg_up") == 1:
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

    async def test_batches_by_size_and_by_age(self):
        with Postgres() as pg, Server(postgres=pg.conninfo, pg_batch_size=100, pg_flush_ms=1500) as node:
            pub, _ = await node.connect()
            for i in range(250):
                await pub.send(json.dumps({"type": "publish", "channel": "batch", "data": i}))
            for _ in range(250):
                await recv_type(pub, "published")
            await asyncio.sleep(0.5)  # full batches go at once; the last 50 wait for pg-flush-ms
            self.assertEqual(int(pg.query("SELECT count(*) FROM rtpush_messages")[0][0]), 200)
            m = wait_for_backlog_zero(node)
            self.assertEqual(int(pg.query("SELECT count(*) FROM rtpush_messages")[0][0]), 250)
            self.assertEqual(m["rtpush_pg_batches_total"], 3)
            await pub.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
