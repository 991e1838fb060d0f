"""Per client address limits (SPEC 17): one address flooding a node with
unfinished request heads, or nginx with connections and handshakes, does
not keep another address out. 127.0.0.2 is another client address on
loopback: lws and nginx see it as such (checked below)."""
import time
import unittest

from rtpush_harness import HeadFlood, Nginx, Server, timed_get, timed_request

FLOOD = 300  # more unfinished heads than the shipped 256 header tables
PROMPT = 2.0  # seconds: an answer, not a wait for lws's header timeout (5 s)


def probe_health(port, seconds, source="127.0.0.2"):
    """GET health from `source` every 0.3 s for `seconds`: [(status, secs)]."""
    out = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        status, secs, _ = timed_get(port, "health", source, timeout=10)
        out.append((status, round(secs, 3)))
        time.sleep(0.3)
    return out


def upgrade_head(port, path="/"):
    return ("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Protocol: rtpush-json\r\n\r\n" % (path, port)).encode()


class DirectNode(unittest.TestCase):
    def test_header_flood_from_one_address_keeps_no_other_out(self):
        # The installed configuration's global settings: ip-limit-ah, ip-limit-wsi.
        with Server(shipped_global=True) as node:
            with HeadFlood(node.port, FLOOD) as flood:
                # The flooder's own next request waits behind its capped
                # header tables: lws tells 127.0.0.1 from 127.0.0.2.
                same_status, same_secs, _ = timed_get(node.port, "health", "127.0.0.1", timeout=1.5)
                # 8 s: past lws's header timeout, so the flood has reopened
                # every connection lws closed at least once.
                probes = probe_health(node.port, 8)
            print("direct: flood opened %d connections; 127.0.0.2 health %s; 127.0.0.1 health %s in %.2f s"
                  % (flood.opened, probes, same_status, same_secs))
            self.assertGreater(flood.opened, FLOOD)  # lws closed some and the flood reopened them
            self.assertTrue(all(status == 200 for status, _ in probes), probes)
            self.assertLess(max(secs for _, secs in probes), PROMPT, probes)
            self.assertEqual(same_status, 0, "the flooding address was answered: lws did not limit it")

    def test_connections_of_one_address_are_bounded(self):
        """Past the shipped ip-limit-wsi, lws closes a new connection from
        that address as soon as it accepts it; another address connects."""
        import json
        import os
        import resource
        import select
        import socket
        from rtpush_harness import PREFIX
        with open(os.path.join(PREFIX, "share", "rtpush", "lwsws", "conf")) as f:
            limit = int(json.load(f)["global"].get("ip-limit-wsi", "0"))
        self.assertGreater(limit, 0, "the shipped configuration sets no ip-limit-wsi")
        extra = 50
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, limit + extra + 200)), hard))
        with Server(shipped_global=True) as node:
            socks = []
            try:
                for _ in range(limit + extra):
                    socks.append(socket.create_connection(("127.0.0.1", node.port), timeout=5))
                closed = set()  # lws closes them at once: wait until it has, or 5 s
                poller = select.poll()  # select() stops at descriptor 1024
                for s in socks:
                    poller.register(s, select.POLLIN)
                by_fd = {s.fileno(): s for s in socks}
                deadline = time.monotonic() + 5
                while len(closed) < extra and time.monotonic() < deadline:
                    for fd, _ in poller.poll(100):
                        poller.unregister(fd)
                        if by_fd[fd].recv(10) == b"":
                            closed.add(fd)
                other = timed_get(node.port, "health", "127.0.0.2", timeout=5)
                tail = {s.fileno() for s in socks[limit - 5:]}
            finally:
                for s in socks:
                    s.close()
            print("direct: %d connections from one address: %d closed at once; 127.0.0.2 health %d in %.2f s"
                  % (limit + extra, len(closed), other[0], other[1]))
            self.assertGreaterEqual(len(closed), extra)
            # the newest ones, past the limit (give or take the harness's own
            # health checks still closing), not the oldest timing out
            self.assertLessEqual(closed, tail)
            self.assertEqual(other[0], 200)
            self.assertLess(other[1], PROMPT)


class ThroughNginx(unittest.TestCase):
    def test_header_flood_through_nginx_keeps_no_other_out(self):
        with Server(shipped_global=True) as node, Nginx([node.port]) as nginx:
            with HeadFlood(nginx.port, FLOOD):
                probes = probe_health(nginx.port, 4)
            print("nginx: 127.0.0.2 health during the flood %s" % probes)
            self.assertTrue(all(status == 200 for status, _ in probes), probes)
            self.assertLess(max(secs for _, secs in probes), PROMPT, probes)
            self.assertIn("127.0.0.2 - ", nginx.access_log())  # nginx saw the other address

    def test_one_address_holds_a_bounded_number_of_connections(self):
        """Requests nginx holds open (here bodies that never come) count
        against the address's limit_conn; past it, 429 at once."""
        import select
        import socket
        with Server(shipped_global=True) as node, Nginx([node.port]) as nginx:
            socks = []
            try:
                for _ in range(FLOOD):
                    s = socket.create_connection(("127.0.0.1", nginx.port), timeout=5)
                    s.sendall(b"POST /publish/c HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                              b"Content-Length: 100\r\n\r\n{")
                    socks.append(s)
                # nginx answers a refused one at once; the others wait for their body
                answered = set()
                deadline = time.monotonic() + 3
                while len(answered) < FLOOD - 256 and time.monotonic() < deadline:
                    readable, _, _ = select.select([s for s in socks if s not in answered], [], [], 0.1)
                    answered.update(readable)
                refused = sum(1 for s in answered if s.recv(100).startswith(b"HTTP/1.1 429"))
                other = timed_get(nginx.port, "health", "127.0.0.2", timeout=5)
                same = timed_get(nginx.port, "health", "127.0.0.1", timeout=5)
            finally:
                for s in socks:
                    s.close()
            print("nginx: %d of %d held requests from one address refused with 429; 127.0.0.2 health %s in %.2f s; "
                  "127.0.0.1 health %s" % (refused, FLOOD, other[0], other[1], same[0]))
            self.assertGreater(refused, 0)
            self.assertLessEqual(FLOOD - refused, 256)
            self.assertEqual(other[0], 200)
            self.assertLess(other[1], PROMPT)
            self.assertEqual(same[0], 429)

    def test_handshake_rate_is_limited_per_address(self):
        with Server(shipped_global=True) as node, Nginx([node.port]) as nginx:
            statuses = []
            for _ in range(120):  # as fast as one client can, each closed once answered
                status, _, _ = timed_request(nginx.port, upgrade_head(nginx.port), "127.0.0.1", timeout=5,
                                               head_only=True)
                statuses.append(status)
            other, _, _ = timed_request(nginx.port, upgrade_head(nginx.port), "127.0.0.2", timeout=5, head_only=True)
            print("nginx: 120 handshakes from one address: %d upgraded, %d refused with 429; 127.0.0.2 then got %d"
                  % (statuses.count(101), statuses.count(429), other))
            self.assertEqual(statuses.count(101) + statuses.count(429), len(statuses), statuses)
            self.assertGreater(statuses.count(429), 0)
            self.assertGreaterEqual(statuses.count(101), 40)  # the burst passes
            self.assertEqual(other, 101)


if __name__ == "__main__":
    unittest.main()
