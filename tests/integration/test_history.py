"""Bounded history on a real lwsws: history-memory-bytes holds the node's
memory (RSS) whatever the number of channels, history-ttl-secs frees a
channel's history (embedded) or expires its keys (Redis), and a `since`
that may have missed a dropped message gets recovered:false."""
import asyncio
import os
import subprocess
import time
import unittest

from rtpush_harness import ASAN_RUNTIME, PUBLISH_CLI, Redis, Server, subscribe, recv_type, wait_until

MIB = 1024 * 1024
BUDGET = 64 * MIB
PAYLOAD = "x" * 1_000_000  # a JSON string of 1 MB (under max-message-bytes)


def listening_pid(server):
    """The lwsws process that serves: the one in the server's process group
    holding the listening socket (the first process only watches it)."""
    inodes = set()
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if int(fields[1].split(":")[1], 16) == server.port and fields[3] == "0A":  # LISTEN
                inodes.add("socket:[%s]" % fields[9])
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            if os.getpgid(int(pid)) != server.proc.pid:
                continue
            for fd in os.listdir("/proc/%s/fd" % pid):
                if os.readlink("/proc/%s/fd/%s" % (pid, fd)) in inodes:
                    return int(pid)
        except OSError:
            continue
    raise AssertionError("no lwsws process listens on %d" % server.port)


def rss_bytes(pid, settle=0.3):
    """VmRSS once the last request's connection is closed (its 1 MB body
    is freed with it): memory held, not memory in flight."""
    time.sleep(settle)
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


class MemoryBudget(unittest.IsolatedAsyncioTestCase):
    async def test_budget_holds_rss_for_1000_channels_of_1mb(self):
        with Server(history_memory_bytes=BUDGET) as server:
            pid = listening_pid(server)
            # The baseline: started, and the publish path of a large message
            # run once (its code paged in, lws's HTTP buffers made), less the
            # history that holds.
            server.publish_http("warm-up", PAYLOAD)
            server.metrics()
            baseline = rss_bytes(pid) - server.metrics()["rtpush_history_bytes"]
            ids = []
            started = time.time()
            for i in range(1000):
                ids.append(server.publish_http("big-%d" % i, PAYLOAD))
                if i == 149:  # the repro: 150 x 1 MB to 150 channels
                    after_150 = rss_bytes(pid)
            elapsed = time.time() - started
            after = rss_bytes(pid)
            m = server.metrics()
            print("\nRSS baseline %.2f MiB, after 150 x 1 MB %.2f MiB, after 1000 x 1 MB %.2f MiB "
                  "(budget %d MiB; %.1f s); rtpush_history_bytes %.2f MiB, rtpush_history_channels %d"
                  % (baseline / MIB, after_150 / MIB, after / MIB, BUDGET // MIB, elapsed,
                     m["rtpush_history_bytes"] / MIB, m["rtpush_history_channels"]))
            self.assertLessEqual(m["rtpush_history_bytes"], BUDGET)
            self.assertGreater(m["rtpush_history_bytes"], BUDGET - 2 * MIB)  # it does hold up to the budget
            if not ASAN_RUNTIME:  # ASan keeps freed memory in quarantine: RSS says nothing there
                self.assertLessEqual(after, baseline + BUDGET)
                self.assertLessEqual(after_150, baseline + BUDGET)

            ws, _ = await server.connect()
            # big-0 was dropped long ago: a since before it is not recovered.
            first_ms = int(ids[0].split("-")[0])
            ack = await subscribe(ws, "big-0", since="%d-0" % (first_ms - 1))
            self.assertIs(ack["recovered"], False)
            # The newest channel's message is still held and replayed.
            last_ms = int(ids[-1].split("-")[0])
            ack = await subscribe(ws, "big-999", since="%d-0" % (last_ms - 1))
            self.assertIs(ack["recovered"], True)
            msg = await recv_type(ws, "message")
            self.assertEqual((msg["id"], len(msg["data"])), (ids[-1], len(PAYLOAD)))
            await ws.close()


class EmbeddedTtl(unittest.IsolatedAsyncioTestCase):
    async def test_history_dropped_after_ttl(self):
        with Server(history_ttl_secs=2) as server:
            m1 = server.publish_http("short", {"n": 1})
            m2 = server.publish_http("short", {"n": 2})
            ws, _ = await server.connect()
            ack = await subscribe(ws, "short", since=m1)
            self.assertIs(ack["recovered"], True)
            self.assertEqual((await recv_type(ws, "message"))["id"], m2)
            await ws.close()
            self.assertEqual(server.metrics()["rtpush_history_channels"], 1)
            self.assertGreater(server.metrics()["rtpush_history_bytes"], 0)

            wait_until(lambda: server.metrics()["rtpush_history_channels"] == 0, 6,
                       "the channel's history outlived history-ttl-secs")
            self.assertEqual(server.metrics()["rtpush_history_bytes"], 0)
            ws, _ = await server.connect()
            ack = await subscribe(ws, "short", since=m1)  # m2 came after it, and is gone
            self.assertIs(ack["recovered"], False)
            self.assertIsNone(ack["position"])
            await ws.close()
            ws, _ = await server.connect()
            ack = await subscribe(ws, "short", since=m2)  # nothing came after m2
            self.assertIs(ack["recovered"], True)
            # Published to again: a since before the drop stays unrecovered.
            m3 = server.publish_http("short", {"n": 3})
            self.assertEqual((await recv_type(ws, "message"))["id"], m3)
            await ws.close()
            ws, _ = await server.connect()
            self.assertIs((await subscribe(ws, "short", since=m1))["recovered"], False)
            await ws.close()


def redis_int(redis, *args):
    reply = redis.command(*args)
    assert reply.startswith(":"), reply
    return int(reply[1:])


class RedisTtl(unittest.IsolatedAsyncioTestCase):
    async def test_keys_expire_then_since_is_not_recovered(self):
        with Redis() as redis, Server(redis=redis.url, history_size=1, history_ttl_secs=2) as server:
            ids = [server.publish_http("exp", {"n": n}) for n in range(3)]
            for key in ("rtpush:stream:exp", "rtpush:trimmed:exp"):
                ttl = redis_int(redis, "PTTL", key)
                self.assertTrue(0 < ttl <= 2000, (key, ttl))
            ws, _ = await server.connect()
            ack = await subscribe(ws, "exp", since=ids[1])
            self.assertIs(ack["recovered"], True)
            self.assertEqual((await recv_type(ws, "message"))["id"], ids[2])
            await ws.close()

            wait_until(lambda: redis_int(redis, "EXISTS", "rtpush:stream:exp", "rtpush:trimmed:exp") == 0, 6,
                       "the channel's keys did not expire")
            ws, _ = await server.connect()
            ack = await subscribe(ws, "exp", since=ids[1])  # ids[2] is gone
            self.assertIs(ack["recovered"], False)
            self.assertIsNone(ack["position"])
            await ws.close()
            # Redis keeps no record of an expired channel: a since up to
            # history-ttl-secs ago may have missed an expired message (ids[2]
            # itself is such a since), a later one cannot have.
            ws, _ = await server.connect()
            self.assertIs((await subscribe(ws, "exp", since=ids[2]))["recovered"], False)
            await ws.close()
            recent = server.publish_http("other", 1)
            ws, _ = await server.connect()
            self.assertIs((await subscribe(ws, "exp", since=recent))["recovered"], True)
            # The stream made anew keeps that floor: a since before the
            # expiry is still not recovered, one after it is.
            new = server.publish_http("exp", {"n": 3})
            self.assertEqual((await recv_type(ws, "message"))["id"], new)
            await ws.close()
            ws, _ = await server.connect()
            self.assertIs((await subscribe(ws, "exp", since=ids[2]))["recovered"], False)
            await ws.close()
            ws, _ = await server.connect()
            ack = await subscribe(ws, "exp", since=recent)
            self.assertIs(ack["recovered"], True)
            self.assertEqual((await recv_type(ws, "message"))["id"], new)
            await ws.close()

    def test_cli_expires_as_the_nodes_do(self):
        with Redis() as redis, Server(redis=redis.url, history_ttl_secs=30):
            # the reply's first line: "$2" is the length of "30"
            wait_until(lambda: redis.command("HGET", "rtpush:config", "history-ttl-secs") == "$2", 5,
                       "the node did not record history-ttl-secs")
            subprocess.run([PUBLISH_CLI, "--redis", redis.url, "--channel", "cli-exp"], input=b'{"a":1}\n',
                           check=True, capture_output=True, timeout=10)
            ttl = redis_int(redis, "PTTL", "rtpush:stream:cli-exp")
            self.assertTrue(25000 < ttl <= 30000, ttl)


if __name__ == "__main__":
    unittest.main()
