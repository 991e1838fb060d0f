"""Connection storms (issue 13): thousands of clients arriving at once (a node
restart, a network blip) are all answered and leave the node serving; so
does a closing storm (all of them gone at once). Whether the cost is linear
in their number is a measurement, not a pass/fail here (a CPU ratio on a
shared 2-core host, or under a sanitizer, says little): bench/storm.sh prints
it (`linearity:`), and the server CPU per connection is printed below.

The clients are `rtpush-bench storm` (C, epoll, one thread): it opens every
connection at once and subscribes each as soon as it is established. A
Python client would spread the arrivals out and spend far more CPU than
the server does.
"""
import asyncio
import json
import os
import subprocess
import unittest

from rtpush_harness import PREFIX, Server, recv_type, wait_until

BENCH = os.path.join(PREFIX, "bin", "rtpush-bench")
SMALL = 1000    # a storm, and a closing storm, of each size
BIG = 6000      # a few thousand at once; the whole test takes a few seconds
CHANNEL = "storm"
ROUNDS = 2      # storms one after the other on the same node


def serving_pid(server):
    """lwsws forks the process that serves; its pid."""
    pid = server.proc.pid
    with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
        return int(f.read().split()[0])


def cpu_ns(pid):
    """CPU time of every thread of `pid`, in ns (schedstat: the 10 ms ticks of
    /proc/PID/stat are too coarse for a 1,000-connection storm)."""
    total = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                total += int(f.read().split()[0])
        except OSError:
            pass
    return total


class Storm(unittest.TestCase):
    def storm(self, server, n, messages, hold):
        """Starts n clients at once, which wait for `messages` each and then
        hold their connections `hold` seconds; returns the running client once
        every one is subscribed, and the server's CPU time per connection (us)
        until then."""
        pid = serving_pid(server)
        before = cpu_ns(pid)
        client = subprocess.Popen([BENCH, "storm", "--port", str(server.port), "--connections", str(n),
                                   "--channel", CHANNEL, "--messages", str(messages), "--hold", str(hold), "--timeout", "60"],
                                  stdout=subprocess.PIPE, text=True)
        line = client.stdout.readline()
        per_connection = (cpu_ns(pid) - before) / 1000.0 / n
        self.assertEqual(line.strip().split()[:2], ["subscribed=%d" % n, "failed=0"], line)
        self.assertEqual(json.loads(server.get("health")[1])["connections"], n)
        return client, per_connection

    def closing_storm(self, server, client):
        """The client exits: every connection it held goes at once."""
        out = client.stdout.read()
        self.assertEqual(client.wait(60), 0, out)
        wait_until(lambda: server.metrics()["rtpush_connections_active"] == 0, 15,
                   "connections still counted after the closing storm")
        return out

    def test_storms_are_answered_in_linear_time_and_leave_the_node_serving(self):
        with Server() as server:
            smalls, bigs = [], []
            for _ in range(ROUNDS):
                client, small_us = self.storm(server, SMALL, 0, 1)
                self.closing_storm(server, client)
                smalls.append(small_us)

                client, big_us = self.storm(server, BIG, 1, 0)
                bigs.append(big_us)
                # Every one of them is subscribed: one publish reaches all.
                server.publish_http(CHANNEL, {"after": "storm"})
                out = self.closing_storm(server, client)
                self.assertIn("delivered=%d expected=%d" % (BIG, BIG), out)
            print("server CPU per connection: %d at once %s us, %d at once %s us"
                  % (SMALL, ", ".join("%.1f" % u for u in smalls), BIG, ", ".join("%.1f" % u for u in bigs)))

            # The node still serves new clients, and counted every connection.
            async def still_serving():
                ws, _ = await server.connect()
                await ws.send(json.dumps({"type": "subscribe", "channel": CHANNEL}))
                await recv_type(ws, "subscribed")
                msg_id = server.publish_http(CHANNEL, {"still": "serving"})
                self.assertEqual((await recv_type(ws, "message"))["id"], msg_id)
                await ws.close()
            asyncio.run(still_serving())
            self.assertEqual(server.metrics()["rtpush_connections_total"], ROUNDS * (SMALL + BIG) + 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
