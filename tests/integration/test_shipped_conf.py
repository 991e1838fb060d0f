"""The configurations the install ships (share/rtpush/lwsws, from conf/lwsws;
share/rtpush/multinode/node-a and node-b, from conf/multinode, and the same
two on Redis Sentinel and Redis Cluster, from conf/sentinel and
conf/cluster) start and serve as they are: only what a second copy on this
machine must change is changed (each vhost's port; the nodes' Redis URL:
its hosts and ports). A node that warns of
an `unknown option` fails the test (it would run on the default), and one
message is published and received through each.

Every other test writes its own configuration (rtpush_harness.Server), so
without this one a shipped file could name an option the plugin does not
know, or miss a protocol, and the suite would still pass."""
import asyncio
import json
import os
import unittest

from rtpush_harness import ENCODINGS, PREFIX, Client, Redis, RedisCluster, RedisSentinelSet, Server

SHARE = os.path.join(PREFIX, "share", "rtpush")


class ShippedServer(Server):
    """An lwsws started on a copy of an installed configuration directory
    (its global `conf` and `conf.d/rtpush`) instead of the tests' own.
    `options`: rtpush options to set in the copy (the Redis address)."""

    def __init__(self, conf_dir, **options):
        super().__init__()
        self.conf_dir = conf_dir
        self.overrides = {k.replace("_", "-"): str(v) for k, v in options.items()}

    def write_conf(self):
        os.makedirs(os.path.join(self.dir, "conf.d"), exist_ok=True)
        with open(os.path.join(self.conf_dir, "conf")) as f:
            glob = json.load(f)
        with open(os.path.join(self.dir, "conf"), "w") as f:
            json.dump(glob, f)
        with open(os.path.join(self.conf_dir, "conf.d", "rtpush")) as f:
            vhosts = json.load(f)
        assert len(vhosts["vhosts"]) == 1, vhosts  # one port to move
        for vhost in vhosts["vhosts"]:
            vhost["port"] = str(self.port)
            for protocol in vhost["ws-protocols"]:
                if "rtpush" in protocol:
                    for name, value in self.overrides.items():
                        assert name in protocol["rtpush"], "the shipped file has no %s to change" % name
                        protocol["rtpush"][name] = value
        with open(os.path.join(self.dir, "conf.d", "rtpush"), "w") as f:
            json.dump(vhosts, f)

    def assert_no_unknown_option(self, test):
        unknown = [line for line in self.log_text().splitlines() if "unknown option" in line]
        test.assertEqual(unknown, [], "the shipped configuration names options the node does not know")


async def one_message(test, publisher, subscriber, channel):
    """A client of each encoding subscribed on `subscriber`, one message
    published over HTTP on `publisher`: it reaches all of them (a shipped
    file missing an encoding's protocol fails here)."""
    clients = [await Client.open(subscriber, enc) for enc in ENCODINGS]
    try:
        for c in clients:
            await c.subscribe(channel)
        msg_id = await asyncio.to_thread(publisher.publish_http, channel, {"shipped": channel})
        for c in clients:
            got = await c.recv_type("message", timeout=10)
            test.assertEqual((got["channel"], got["id"], got["data"]), (channel, msg_id, {"shipped": channel}),
                             c.encoding)
    finally:
        for c in clients:
            await c.close()


class ShippedConfigurations(unittest.IsolatedAsyncioTestCase):
    async def test_lwsws_conf_starts_and_serves(self):
        with ShippedServer(os.path.join(SHARE, "lwsws")) as node:
            await one_message(self, node, node, "shipped-lwsws")
            node.assert_no_unknown_option(self)
            status, body = node.get("health")
            self.assertEqual(status, 200, body)

    async def two_nodes_share_a_message(self, name, redis_url):
        """share/rtpush/NAME/node-a and node-b on `redis_url`: both healthy,
        one message from a to every encoding on b."""
        with ShippedServer(os.path.join(SHARE, name, "node-a"), redis=redis_url) as a, \
                ShippedServer(os.path.join(SHARE, name, "node-b"), redis=redis_url) as b:
            for node, node_id in ((a, "node-a"), (b, "node-b")):
                status, body = node.get("health")
                self.assertEqual((status, json.loads(body).get("node")), (200, node_id), body)
            await one_message(self, a, b, "shipped-" + name)
            for node in (a, b):
                node.assert_no_unknown_option(self)

    async def test_multinode_confs_start_and_share_a_message(self):
        with Redis() as redis:
            await self.two_nodes_share_a_message("multinode", redis.url)

    async def test_sentinel_confs_start_and_share_a_message(self):
        # The shipped redis-wait-replicas 1 stays: the set has two replicas.
        with RedisSentinelSet() as sentinels:
            await self.two_nodes_share_a_message("sentinel", sentinels.url)

    async def test_cluster_confs_start_and_share_a_message(self):
        with RedisCluster() as cluster:
            await self.two_nodes_share_a_message("cluster", cluster.url)


if __name__ == "__main__":
    unittest.main(verbosity=2)
