"""Rows PostgreSQL refuses go to rtpush_dead_letters and never stop the
writer (docs/persistence.md "Dead letters"); pg-backlog-rows bounds what waits for PostgreSQL
during an outage (docs/limits.md "Backlogs toward Redis and PostgreSQL")."""
import asyncio
import json
import os
import re
import subprocess
import time
import unittest

from rtpush_harness import PUBLISH_CLI, Client, Postgres, Redis, Server, persisting, recv_type, wait_until

# What an operator can add: a CHECK constraint and a trigger that raises.
REFUSE_SQL = """
ALTER TABLE rtpush_messages ADD CONSTRAINT no_bad CHECK (data::text NOT LIKE '%"bad"%');
CREATE FUNCTION rtpush_veto() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.data::text LIKE '%"veto"%' THEN RAISE EXCEPTION 'vetoed by the operator'; END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER rtpush_veto BEFORE INSERT ON rtpush_messages FOR EACH ROW EXECUTE FUNCTION rtpush_veto();
"""


def documented_replay_sql():
    """The replay of dead letters exactly as docs/persistence.md gives it."""
    doc = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "persistence.md")
    with open(doc) as f:
        return re.search(r"```sql\n(BEGIN;.*?COMMIT;)\n```", f.read(), re.S).group(1)


def value(i):
    """Every 7th row breaks the CHECK, every 11th (not 7th) the trigger."""
    if i % 7 == 3:
        return {"i": i, "kind": "bad"}
    if i % 11 == 5:
        return {"i": i, "kind": "veto"}
    return {"i": i, "kind": "good"}


def refused(v):
    return v["kind"] != "good"


def stored(pg):
    return {(c, i): json.loads(d) for c, i, d in pg.query("SELECT channel, id, data FROM rtpush_messages")}


def dead_letters(pg):
    rows = pg.query("SELECT channel, id, data, error, failed_at IS NOT NULL FROM rtpush_dead_letters")
    return {(c, i): (json.loads(d), e, ok) for c, i, d, e, ok in rows}


def wait_table(pg):
    wait_until(lambda: pg.query("SELECT to_regclass('rtpush_messages')")[0][0] == "rtpush_messages", 10,
               "table created")


def sum_metric(nodes, name):
    return sum(n.metrics()[name] for n in nodes)


class DeadLetters(unittest.IsolatedAsyncioTestCase):
    def check(self, pg, expected, nodes, seconds=30):
        """Every good row once, every refused one dead-lettered with
        PostgreSQL's message, counted, and the nodes healthy."""
        good = {k: v for k, v in expected.items() if not refused(v)}
        bad = {k: v for k, v in expected.items() if refused(v)}

        def done():
            return len(stored(pg)) >= len(good) and \
                int(pg.query("SELECT count(*) FROM rtpush_dead_letters")[0][0]) >= len(bad)
        wait_until(done, seconds, "rows or dead letters missing: %d of %d written" % (len(stored(pg)), len(good)))
        # Every row a node took is resolved (written or dead-lettered) before
        # the tables are compared: a row still on its way would change them.
        wait_until(lambda: all(n.metrics()["rtpush_pg_backlog_rows"] == 0 for n in nodes), 10,
                   "rows still waiting for PostgreSQL")
        self.assertEqual(stored(pg), good)
        dead = dead_letters(pg)
        self.assertEqual(set(dead), set(bad))
        for key, (data, error, has_time) in dead.items():
            self.assertEqual(data, bad[key])
            self.assertTrue(has_time)
            if bad[key]["kind"] == "bad":
                self.assertIn('violates check constraint "no_bad"', error)
            else:
                self.assertIn("vetoed by the operator", error)
        self.assertEqual(sum_metric(nodes, "rtpush_pg_dead_letters_total"), len(bad))
        for n in nodes:
            wait_until(lambda: n.get("health")[0] == 200, 10, "node not healthy")
            self.assertEqual(n.metrics()["rtpush_pg_backlog_rows"], 0)

    async def test_embedded_refused_rows_in_the_same_batch(self):
        with Postgres() as pg, Server(postgres=pg.conninfo, pg_flush_ms=300) as node:
            wait_table(pg)
            pg.query(REFUSE_SQL)
            expected = {}
            ws, _ = await node.connect()
            for i in range(300):  # sent together: good and refused rows share batches
                await ws.send(json.dumps({"type": "publish", "channel": "dl", "data": value(i)}))
            for i in range(300):
                expected[("dl", (await recv_type(ws, "published"))["id"])] = value(i)
            self.check(pg, expected, [node])
            # the writer goes on: later messages are written too
            for i in range(300, 320):
                expected[("dl", node.publish_http("dl", value(i)))] = value(i)
            self.check(pg, expected, [node])
            self.assertIn("rtpush_dead_letters", node.log_tail(400))
            # the operator lifts the refusal and replays them as documented
            pg.query("ALTER TABLE rtpush_messages DROP CONSTRAINT no_bad; "
                     "DROP TRIGGER rtpush_veto ON rtpush_messages")
            pg.query(documented_replay_sql())
            self.assertEqual(stored(pg), expected)
            self.assertEqual(dead_letters(pg), {})
            await ws.close()

    async def test_binary_payload_dead_letter(self):
        # A binary payload is kept as bytea's hex form: data::bytea gives the bytes back.
        with Postgres() as pg, Server(postgres=pg.conninfo) as node:
            wait_table(pg)
            pg.query("ALTER TABLE rtpush_messages ADD CONSTRAINT no_ff CHECK (get_byte(data_bin, 0) <> 255)")
            mp = await Client.open(node, "msgpack")
            raw = {"keep": bytes([1, 0, 2]), "refuse": bytes([255, 0, 92, 120])}
            ids = {}
            for name, data in raw.items():
                await mp.send({"type": "publish", "channel": "bin", "data": data})
                ids[name] = (await mp.recv_type("published"))["id"]
            wait_until(lambda: node.metrics()["rtpush_pg_backlog_rows"] == 0, 10, "rows resolved")
            rows = pg.query("SELECT id, encode(data_bin, 'hex') FROM rtpush_messages")
            self.assertEqual(rows, [[ids["keep"], "010002"]])
            dead = pg.query("SELECT id, kind, encode(data::bytea, 'hex') FROM rtpush_dead_letters")
            self.assertEqual(dead, [[ids["refuse"], "binary", "ff005c78"]])
            self.assertEqual(node.metrics()["rtpush_pg_dead_letters_total"], 1)
            pg.query("ALTER TABLE rtpush_messages DROP CONSTRAINT no_ff")
            pg.query(documented_replay_sql())
            self.assertEqual(pg.query("SELECT encode(data_bin, 'hex') FROM rtpush_messages WHERE id = '%s'"
                                      % ids["refuse"]), [["ff005c78"]])
            await mp.close()

    async def test_two_nodes_on_redis_none_sticks(self):
        with Postgres() as pg, Redis() as redis, \
                Server(redis=redis.url, postgres=pg.conninfo, node_id="da", pg_batch_size=100) as a, \
                Server(redis=redis.url, postgres=pg.conninfo, node_id="db", pg_batch_size=100) as b:
            wait_table(pg)
            pg.query(REFUSE_SQL)
            persisting(redis, ["da", "db"])
            lines = "".join(json.dumps(value(i)) + "\n" for i in range(1000))
            p = subprocess.run([PUBLISH_CLI, "--redis", redis.url, "--channel", "dlr"], input=lines,
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 0, p.stderr)
            expected = {("dlr", msg_id): value(i) for i, msg_id in enumerate(p.stdout.split())}
            for i in range(1000, 1050):
                expected[("dlr", (a if i % 2 else b).publish_http("dlr", value(i)))] = value(i)
            self.check(pg, expected, [a, b])
            wait_until(lambda: redis.command("XLEN", "rtpush:persist") == ":0", 10, "hand-off not drained")
            with_pending = subprocess.run(["redis-cli", "-p", str(redis.port), "XPENDING", "rtpush:persist",
                                           "writers"], capture_output=True, text=True).stdout.split()
            self.assertEqual(with_pending[0], "0")  # every entry acknowledged


class NoRowsFault(unittest.IsolatedAsyncioTestCase):
    async def test_server_error_keeps_rows_and_backs_off(self):
        # Every write fails as if the disk were full (SQLSTATE 53100, no
        # row's fault): nothing is dead-lettered, rows wait, the retries
        # back off instead of hammering the server, and all are written once
        # it is fixed.
        with Postgres() as pg, Server(postgres=pg.conninfo, pg_flush_ms=20) as node:
            wait_table(pg)
            pg.query("CREATE FUNCTION rtpush_full() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                     "RAISE EXCEPTION 'no space left' USING ERRCODE = 'disk_full'; END $$; "
                     "CREATE TRIGGER rtpush_full BEFORE INSERT ON rtpush_messages FOR EACH ROW "
                     "EXECUTE FUNCTION rtpush_full()")
            published = {node.publish_http("full", i) for i in range(5)}
            time.sleep(6)
            m = node.metrics()
            self.assertLess(m["rtpush_pg_write_errors_total"], 25)  # was about 10 a second
            self.assertEqual(m["rtpush_pg_dead_letters_total"], 0)
            self.assertEqual(m["rtpush_pg_backlog_rows"], 5)
            self.assertIn("no space left", node.log_tail(200))
            pg.query("DROP TRIGGER rtpush_full ON rtpush_messages")
            wait_until(lambda: node.metrics()["rtpush_pg_backlog_rows"] == 0, 15, "rows written")
            self.assertEqual({i for (i,) in pg.query("SELECT id FROM rtpush_messages")}, published)
            self.assertEqual(pg.query("SELECT count(*) FROM rtpush_dead_letters"), [["0"]])
            wait_until(lambda: node.get("health")[0] == 200, 10, "healthy again")


class BacklogBound(unittest.IsolatedAsyncioTestCase):
    async def test_embedded_refuses_past_pg_backlog_rows(self):
        with Postgres() as pg, Server(postgres=pg.conninfo, pg_flush_ms=20, pg_backlog_rows=50) as node:
            published = {node.publish_http("bl", i) for i in range(10)}
            wait_until(lambda: node.metrics()["rtpush_pg_backlog_rows"] == 0, 10, "first rows written")
            pg.stop()
            for i in range(50):  # up to the bound: accepted
                published.add(node.publish_http("bl", i))
            status, body = node.request("POST", "publish/bl", "1")
            self.assertEqual(status, 503, body)
            self.assertIn("pg-backlog-rows", json.loads(body)["error"])
            ws, _ = await node.connect()
            await ws.send(json.dumps({"type": "publish", "channel": "bl", "data": 1, "ref": "r"}))
            err = await recv_type(ws, "error")
            self.assertEqual((err["code"], err["ref"]), ("UNAVAILABLE", "r"))
            self.assertEqual(node.metrics()["rtpush_pg_backlog_rows"], 50)
            pg.start()
            wait_until(lambda: node.metrics()["rtpush_pg_backlog_rows"] == 0, 60, "backlog written")
            ids = [i for (_, i) in pg.query("SELECT channel, id FROM rtpush_messages")]
            self.assertEqual(len(ids), 60)  # none lost, none doubled, nothing refused was written
            self.assertEqual(set(ids), published)
            published.add(node.publish_http("bl", "after"))  # accepted again
            await ws.close()

    async def test_redis_refuses_past_pg_backlog_rows(self):
        with Postgres() as pg, Redis() as redis, \
                Server(redis=redis.url, postgres=pg.conninfo, node_id="ba", pg_backlog_rows=50) as node:
            wait_until(lambda: redis.command("HGET", "rtpush:config", "persist") == "$1", 10, "persist on")
            published = {node.publish_http("blr", i) for i in range(10)}
            wait_until(lambda: redis.command("XLEN", "rtpush:persist") == ":0", 10, "first rows written")
            pg.stop()
            lines = "".join("%d\n" % i for i in range(80))
            p = subprocess.run([PUBLISH_CLI, "--redis", redis.url, "--channel", "blr"], input=lines,
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 1)
            self.assertIn("pg-backlog-rows", p.stderr)
            accepted = p.stdout.split()
            self.assertEqual(len(accepted), 50)
            published.update(accepted)
            self.assertEqual(redis.command("XLEN", "rtpush:persist"), ":50")
            # nothing refused was published: the channel's stream holds only the accepted ones
            self.assertEqual(redis.command("XLEN", "rtpush:stream:blr"), ":60")
            status, body = node.request("POST", "publish/blr", "1")
            self.assertEqual(status, 503, body)
            ws, _ = await node.connect()
            await ws.send(json.dumps({"type": "publish", "channel": "blr", "data": 1, "ref": "w"}))
            err = await recv_type(ws, "error")
            self.assertEqual((err["code"], err["ref"]), ("UNAVAILABLE", "w"))
            pg.start()
            wait_until(lambda: redis.command("XLEN", "rtpush:persist") == ":0", 60, "hand-off drained")
            ids = [i for (_, i) in pg.query("SELECT channel, id FROM rtpush_messages")]
            self.assertEqual(len(ids), 60)
            self.assertEqual(set(ids), published)
            node.publish_http("blr", "after")  # accepted again
            await ws.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
