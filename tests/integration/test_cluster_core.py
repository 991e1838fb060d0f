"""Two lwsws nodes on a real Redis Cluster (three masters, three replicas;
SPEC 12): 300 channels published on one node reach subscribers on the
other, each channel's keys live on the master that serves its bucket (every
master holds some), a `since` replay reads the channel's stream on its
master, and with PostgreSQL every message is exactly one row."""
import asyncio
import json
import time
import unittest

from rtpush_harness import Postgres, Redis, RedisCluster, Server, recv_type, subscribe, wait_until

CHANNELS = ["room-%d" % i for i in range(300)]


class TwoNodesOnACluster(unittest.IsolatedAsyncioTestCase):
    async def test_publish_receive_replay_and_rows(self):
        with RedisCluster() as cluster, Postgres() as pg, \
                Server(redis=cluster.url, postgres=pg.conninfo, node_id="ca", pg_flush_ms=20) as a, \
                Server(redis=cluster.url, postgres=pg.conninfo, node_id="cb", pg_flush_ms=20) as b:
            for node in (a, b):
                wait_until(lambda: node.get("health")[0] == 200, 20, "a node never saw the cluster whole")
            # two connections (max-channels-per-connection is 256)
            subs = [(await b.connect())[0] for _ in range(2)]
            for i, channel in enumerate(CHANNELS):
                await subscribe(subs[i % 2], channel)
            ids = {}
            for i, channel in enumerate(CHANNELS):
                ids[channel] = a.publish_http(channel, {"n": i})
            got = {}
            for k, sub in enumerate(subs):
                for _ in CHANNELS[k::2]:
                    msg = await asyncio.wait_for(recv_type(sub, "message"), 10)
                    self.assertNotIn(msg["channel"], got, "a message came twice")
                    got[msg["channel"]] = msg
            self.assertEqual(len(got), len(CHANNELS))
            for i, channel in enumerate(CHANNELS):
                self.assertEqual(got[channel]["id"], ids[channel])
                self.assertEqual(got[channel]["data"], {"n": i})
            for sub in subs:
                await sub.close()

            # Every channel's stream is on the master serving its bucket, and
            # every master holds some.
            streams = cluster.keys_by_master("rtpush:{*}:stream:*")
            self.assertEqual(len(streams), 3)
            for port, keys in streams.items():
                self.assertGreater(len(keys), 0, "master %d holds no channel" % port)
            self.assertEqual(sum(len(k) for k in streams.values()), len(CHANNELS))

            # since: the second publish of each of 30 channels replayed on node a
            later = {c: b.publish_http(c, {"second": c}) for c in CHANNELS[:30]}
            replay, _ = await a.connect()
            for channel in CHANNELS[:30]:
                ack = await subscribe(replay, channel, since=ids[channel])
                self.assertIs(ack["recovered"], True)
                msg = await asyncio.wait_for(recv_type(replay, "message"), 10)
                self.assertEqual((msg["id"], msg["data"]), (later[channel], {"second": channel}))
            await replay.close()

            # The node registry is shared (its keys under {presence}).
            status, body = a.get("nodes")
            self.assertEqual(status, 200)
            self.assertEqual({"ca", "cb"}, {n["node"] for n in json.loads(body)["nodes"]})
            self.assertEqual(len([k for keys in cluster.keys_by_master("rtpush:{presence}:nodes").values()
                                  for k in keys]), 1)

            # Exactly one row per message, whichever node wrote it.
            total = len(CHANNELS) + 30
            wait_until(lambda: int(pg.query("SELECT count(*) FROM rtpush_messages")[0][0]) >= total, 20,
                       "not every message reached postgres")
            rows = pg.query("SELECT channel, id, count(*) FROM rtpush_messages GROUP BY channel, id")
            self.assertEqual(len(rows), total)
            self.assertTrue(all(int(n) == 1 for (_, _, n) in rows))


class NotACluster(unittest.TestCase):
    def test_a_seed_without_cluster_mode_is_named_in_the_log(self):
        """redis+cluster:// naming a Redis that is not in cluster mode: 503
        health, publishes refused as UNAVAILABLE, one log line that says
        why."""
        with Redis() as redis:
            node = Server(redis="redis+cluster://127.0.0.1:%d" % redis.port, node_id="nc")
            node.launch()  # (start() waits for a health 200 that never comes)
            try:
                self.not_a_cluster(node)
            finally:
                node.stop()

    def not_a_cluster(self, node):
        wait_until(lambda: "not in cluster mode" in node.log_text(), 15, "no log line names the cause")
        wait_until(lambda: self.answers(node), 15, "the node never answered")
        self.assertEqual(node.get("health")[0], 503)
        status, body = node.request("POST", "publish/x", json.dumps(1))
        self.assertEqual(status, 503, body)  # UNAVAILABLE over HTTP
        time.sleep(2)  # the map is asked every second: still one line
        self.assertEqual(node.log_text().count("not in cluster mode"), 1)

    @staticmethod
    def answers(node):
        try:
            node.get("health")
            return True
        except OSError:
            return False


if __name__ == "__main__":
    unittest.main()
