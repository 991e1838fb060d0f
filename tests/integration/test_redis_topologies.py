"""The harness's Redis deployments themselves (SPEC 12's topologies, before
any node uses them): a Sentinel set and a Cluster start on 127.0.0.1, lose
a master and promote a replica with the data it confirmed; the killed
server comes back as a replica; the Cluster reshards 100 slots with their
keys, and migrate_slot holds a slot half-moved (the source answers ASK).
With passwords, nothing answers a client that did not AUTH.

Prints the time from SIGKILL to a promoted master: the product's failover
target is that detection time plus under a second."""
import subprocess
import sys
import time
import unittest

from rtpush_harness import RedisCluster, RedisSentinelSet, required_program


def unauthenticated(port, *args):
    """What a client that sends no AUTH gets (redis-cli's output)."""
    required_program("redis-cli", "test_redis_topologies")
    return subprocess.run(["redis-cli", "-p", str(port)] + list(args), capture_output=True, text=True,
                          timeout=10).stdout.strip()


def report(what, seconds):
    print("\n%s: %.2f s" % (what, seconds), file=sys.stderr)


class SentinelSet(unittest.TestCase):
    def fail_over(self, sentinels):
        """Kills the master of a started set with a key on both replicas;
        checks the promoted one has it and the old one rejoins."""
        first = sentinels.master_port()
        self.assertEqual(sentinels.master().role(), "master")
        self.assertEqual(sorted(sentinels.replica_ports() + [first]), sorted(sentinels.servers))
        sentinels.master().call("SET", "rtpush:topology", "before")
        self.assertEqual(sentinels.master().call("WAIT", 2, 5000), 2)

        start = time.monotonic()
        old = sentinels.kill_master()
        new = sentinels.wait_promoted(old)
        report("sentinel kill -> promoted (one sentinel names it, ROLE master)", time.monotonic() - start)
        self.assertEqual(old, first)
        self.assertNotEqual(new, old)
        sentinels.wait_sentinels_agree(new)
        report("sentinel kill -> all three sentinels name it", time.monotonic() - start)
        self.assertEqual(sentinels.master_port(), new)
        self.assertEqual(sentinels.server(new).call("GET", "rtpush:topology"), "before")
        # the other replica follows the new master: WAIT 1 can be met again
        sentinels.wait_replicas(new, 1)
        self.assertEqual(sentinels.server(new).call("WAIT", 1, 5000), 1)

        back = sentinels.restart(old)
        self.assertEqual(back.role(), "slave")
        self.assertEqual(back.call("GET", "rtpush:topology"), "before")
        sentinels.wait_replicas(new, 2)
        return new

    def test_a_replica_takes_over_when_the_master_dies(self):
        with RedisSentinelSet() as sentinels:
            self.assertEqual(sentinels.url, "redis+sentinel://%s/rtpush"
                             % ",".join("127.0.0.1:%d" % p for p in sentinels.sentinel_ports))
            self.fail_over(sentinels)

    def test_with_passwords_nothing_answers_a_client_without_auth(self):
        with RedisSentinelSet(master_name="other", password="data-pw", sentinel_password="sentinel-pw") as sentinels:
            self.assertTrue(sentinels.url.startswith("redis+sentinel://:data-pw@127.0.0.1:"), sentinels.url)
            self.assertTrue(sentinels.url.endswith("/other"), sentinels.url)
            self.assertTrue(sentinels.url_with("app", "pw").startswith("redis+sentinel://app:pw@"))
            for port in list(sentinels.servers) + sentinels.sentinel_ports:
                self.assertIn("NOAUTH", unauthenticated(port, "PING"), port)
            # the sentinels reach the servers and each other with their passwords
            self.fail_over(sentinels)


class Cluster(unittest.TestCase):
    def fill(self, cluster, count):
        """`count` keys written to their masters, each confirmed by its replica."""
        keys = ["rtpush:topology:%d" % i for i in range(count)]
        for key in keys:
            port = cluster.master_of(cluster.keyslot(key))
            cluster.call(port, "SET", key, key)
            self.assertEqual(cluster.call(port, "WAIT", 1, 5000), 1)
        return keys

    def assert_keys_on_their_masters(self, cluster, keys):
        found = cluster.keys_by_master("rtpush:topology:*")
        self.assertEqual(sorted(k for ks in found.values() for k in ks), sorted(keys))
        for port, ks in found.items():
            for key in ks:
                self.assertEqual(cluster.master_of(cluster.keyslot(key)), port, key)

    def test_failover_reshard_and_a_slot_moved_by_hand(self):
        with RedisCluster() as cluster:
            masters = cluster.masters()
            self.assertEqual([p for p, _ in masters], sorted(cluster.seed_ports))
            self.assertEqual(sum(last - first + 1 for _, ranges in masters for first, last in ranges), 16384)
            self.assertEqual(cluster.url, "redis+cluster://" + ",".join("127.0.0.1:%d" % p
                                                                           for p in cluster.seed_ports))
            keys = self.fill(cluster, 200)
            self.assert_keys_on_their_masters(cluster, keys)

            old, slots = masters[0]
            start = time.monotonic()
            cluster.kill_master(old)
            new = cluster.wait_failover(old)
            report("cluster kill -> promoted (cluster_state ok everywhere)", time.monotonic() - start)
            self.assertNotIn(new, [p for p, _ in masters])
            self.assertEqual(dict(cluster.masters())[new], slots)
            self.assert_keys_on_their_masters(cluster, keys)

            cluster.restart(old)
            self.assertEqual(cluster.node(old).role(), "slave")
            self.assertNotIn(old, dict(cluster.masters()))

            source, target = [p for p, _ in cluster.masters()][:2]
            before = {p: sum(l - f + 1 for f, l in r) for p, r in cluster.masters()}
            start = time.monotonic()
            cluster.wait_reshard(cluster.reshard(source, target, 100))
            report("cluster reshard of 100 slots", time.monotonic() - start)
            after = {p: sum(l - f + 1 for f, l in r) for p, r in cluster.masters()}
            self.assertEqual((after[source], after[target]), (before[source] - 100, before[target] + 100))
            self.assert_keys_on_their_masters(cluster, keys)

            key = keys[0]
            slot = cluster.keyslot(key)
            source = cluster.master_of(slot)
            target = [p for p, _ in cluster.masters() if p != source][0]
            asked = []

            def half_moved(moved):
                if moved:  # the key is on the target now: the source sends the client there
                    with self.assertRaises(RuntimeError) as ask:
                        cluster.call(source, "GET", key)
                    asked.append(str(ask.exception))
            moved = cluster.migrate_slot(slot, source, target, batch=1, pause_between=half_moved)
            self.assertGreaterEqual(moved, 1)
            self.assertEqual(asked[0], "ASK %d 127.0.0.1:%d" % (slot, target))
            cluster.wait_stable()
            self.assertEqual(cluster.master_of(slot), target)
            self.assertEqual(cluster.call(target, "GET", key), key)
            self.assert_keys_on_their_masters(cluster, keys)

    def test_with_a_password_nothing_answers_a_client_without_auth(self):
        with RedisCluster(password="cluster-pw") as cluster:
            self.assertTrue(cluster.url.startswith("redis+cluster://:cluster-pw@127.0.0.1:"), cluster.url)
            for port in cluster.nodes:
                self.assertIn("NOAUTH", unauthenticated(port, "PING"), port)
            keys = self.fill(cluster, 50)
            old = cluster.masters()[0][0]
            cluster.kill_master(old)
            cluster.wait_failover(old)  # replicas reach their masters with masterauth
            self.assert_keys_on_their_masters(cluster, keys)
            source, target = [p for p, _ in cluster.masters()][:2]
            cluster.wait_reshard(cluster.reshard(source, target, 100))  # MIGRATE with AUTH
            self.assert_keys_on_their_masters(cluster, keys)


if __name__ == "__main__":
    unittest.main(verbosity=2)
