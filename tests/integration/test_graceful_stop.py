"""Graceful stop (SPEC section 11; docs/operations.md "Stopping a node"):
SIGTERM to a node's process group closes every WebSocket with 1012, a
clean close on the wire, writes every accepted message to PostgreSQL, and
the serving process exits 0 within stop-timeout-secs.

lwsws forks: the root process (Server.proc) dies of the SIGTERM at once
(stock lwsws 4.1.6 does not handle it there); the serving child is the one
that stops gracefully. This process makes itself a child subreaper, so that
child becomes ours once the root is gone and its exit status can be read."""
import asyncio
import ctypes
import json
import os
import re
import signal
import socket
import struct
import threading
import time
import unittest

import websockets

from rtpush_harness import FedPublisher, Nginx, Postgres, Redis, Server, subscribe_through, wait_until

PR_SET_CHILD_SUBREAPER = 36
STOP_BOUND = 15  # seconds: stop-timeout-secs is 10 by default, plus lwsws's own exit


def become_subreaper():
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def serving_child(server):
    """The pid of lwsws's serving child (the root's only child)."""
    root = server.proc.pid
    deadline = time.time() + 10
    while time.time() < deadline:
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % pid) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == root:
                return int(pid)
        time.sleep(0.05)
    raise RuntimeError("lwsws has no serving child")


def sigterm(server, sig=signal.SIGTERM):
    """SIGTERM (or `sig`) to the node's process group, as systemd and the
    README do. Returns (the serving child's exit status, seconds from the
    signal to its exit); the root process is reaped too. The harness's
    stop() afterwards finds the group gone and checks sanitizer reports."""
    child = serving_child(server)
    start = time.monotonic()
    os.killpg(server.proc.pid, sig)
    server.proc.wait(timeout=10)
    while True:
        pid, status = os.waitpid(child, os.WNOHANG)
        if pid == child:
            return status, time.monotonic() - start
        if time.monotonic() - start > STOP_BOUND + 15:
            os.kill(child, signal.SIGKILL)
            os.waitpid(child, 0)
            raise AssertionError("the serving process did not exit within %d s" % (STOP_BOUND + 15))
        time.sleep(0.02)


class GracefulStop(unittest.IsolatedAsyncioTestCase):
    @classmethod
    def setUpClass(cls):
        become_subreaper()

    def assert_clean_exit(self, server, status, seconds):
        log = server.log_text()
        self.assertTrue(os.WIFEXITED(status), "the serving process died of a signal: %r\n%s" % (status, log[-3000:]))
        self.assertEqual(os.WEXITSTATUS(status), 0, log[-3000:])
        self.assertLess(seconds, STOP_BOUND, log[-3000:])
        self.assertIn("event=stop_done", log)
        self.assertNotIn("event=stop_incomplete", log)

    def test_a_raw_client_sees_1012_and_a_clean_tcp_close(self):
        server = Server().start()
        try:
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                         b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                         b"Sec-WebSocket-Protocol: rtpush-json\r\n\r\n")
            buf = b""
            while b"\r\n\r\n" not in buf:
                buf += sock.recv(4096)
            head, buf = buf.split(b"\r\n\r\n", 1)
            self.assertIn(b" 101 ", head.split(b"\r\n")[0])

            def frame():
                nonlocal buf
                while True:
                    if len(buf) >= 4:  # server frames are unmasked; none here is 64 KB or more
                        n, at = buf[1] & 0x7F, 2
                        if n == 126:
                            n, at = struct.unpack(">H", buf[2:4])[0], 4
                        if len(buf) >= at + n:
                            op, payload, buf = buf[0] & 0x0F, buf[at:at + n], buf[at + n:]
                            return op, payload
                    chunk = sock.recv(65536)
                    if not chunk:
                        raise AssertionError("the connection ended without a close frame")
                    buf += chunk

            op, payload = frame()  # connection_established
            self.assertEqual(json.loads(payload)["type"], "connection_established")
            # An SSE listener too: its stream ends (the body is close-delimited).
            sse = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            sse.sendall(b"GET /sse/stopping HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n")
            events = b""
            while b"event: subscribed" not in events:
                events += sse.recv(65536)
            status, seconds = sigterm(server)
            while True:
                chunk = sse.recv(65536)  # ConnectionResetError here would be a reset
                if not chunk:
                    break
                events += chunk
            sse.close()
            self.assertIn(b" 200 ", events.split(b"\r\n")[0])
            while op != 0x8:
                op, payload = frame()
            code = struct.unpack(">H", payload[:2])[0]
            self.assertEqual(code, 1012, payload)
            self.assertEqual(payload[2:], b"service restart")
            # Our close, masked as a client's must be; then the server's FIN:
            # recv() gives b"", where a reset would raise ConnectionResetError.
            sock.sendall(b"\x88\x82\x00\x00\x00\x00" + payload[:2])
            rest = b""
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                rest += chunk
            self.assertEqual(rest, b"")
            sock.close()
            self.assert_clean_exit(server, status, seconds)
        finally:
            server.stop()

    def test_a_long_stop_logs_its_own_cause_not_a_reload(self):
        """A stop that waits for PostgreSQL (down) until stop-timeout-secs:
        longer than the reload drain's watch period, which once took the
        stop's own closing of the listen sockets for a SIGHUP."""
        with Postgres() as pg:
            server = Server(postgres=pg.conninfo, stop_timeout_secs=5).start()
            try:
                wait_until(lambda: json.loads(server.get("health")[1])["postgres"] == "up", 10, "postgres up")
                pg.stop()
                server.publish_http("long-stop", {"i": 1})
                status, seconds = sigterm(server)
                log = server.log_text()
                self.assertGreater(seconds, 3.5, "the stop was too short to show the fault:\n" + log[-3000:])
                self.assertTrue(os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, (status, log[-3000:]))
                self.assertLess(seconds, 5 + 5, log[-3000:])
                self.assertRegex(log, r"event=stop_begin signal=15 ")
                self.assertNotIn("event=reload_drain", log)
                self.assertNotIn("SIGHUP", log)
            finally:
                server.stop()

    async def test_sigint_stops_the_same_way(self):
        # lwsws's root answers SIGINT itself: 2 s later it SIGTERMs the
        # serving child and exits 0; the child's stop must go on regardless.
        server = Server().start()
        try:
            ws, _ = await server.connect()
            status, seconds = await asyncio.get_running_loop().run_in_executor(None, sigterm, server, signal.SIGINT)
            with self.assertRaises(websockets.ConnectionClosed) as closed:
                while True:
                    await ws.recv()
            self.assertEqual(closed.exception.rcvd.code, 1012)
            self.assertEqual(server.proc.returncode, 0)  # the root, after its 2 s
            self.assert_clean_exit(server, status, seconds)
        finally:
            server.stop()

    def test_embedded_broker_writes_its_pending_batch_before_it_exits(self):
        # A large batch and the longest pg-flush-ms: at the signal, rows
        # wait in memory for the batch to fill or age.
        with Postgres() as pg:
            options = dict(postgres=pg.conninfo, pg_batch_size=100000, pg_flush_ms=2000, history_size=10000)
            server = Server(**options).start()
            try:
                published = []
                stop = threading.Event()

                def publish():
                    i = 0
                    while not stop.is_set():
                        try:
                            status, body = server.request("POST", "publish/stop-embedded", json.dumps({"i": i}),
                                                          timeout=5)
                        except OSError:
                            return  # the node stopped listening
                        if status == 200:
                            published.append(json.loads(body)["id"])
                        i += 1

                publisher = threading.Thread(target=publish)
                publisher.start()
                deadline = time.time() + 20
                while len(published) < 500 and time.time() < deadline:
                    time.sleep(0.01)
                self.assertGreaterEqual(len(published), 500)
                status, seconds = sigterm(server)
                stop.set()
                publisher.join()
                self.assert_clean_exit(server, status, seconds)
                log = server.log_text()
                # The signal did find rows waiting in memory (else this tests nothing).
                waiting = re.search(r"event=stop_begin .*rows_waiting=(\d+)", log)
                self.assertIsNotNone(waiting, log[-3000:])
                self.assertGreater(int(waiting.group(1)), 0)
                rows = [r[0] for r in pg.query("SELECT id FROM rtpush_messages WHERE channel = 'stop-embedded' "
                                               "ORDER BY id_ms, id_seq")]
                self.assertEqual(rows, published, log[-3000:])
                # Restarted on the same port and options: it serves again, and the rows are there for it.
                again = Server(**options)
                again.port = server.port
                again.start()
                try:
                    self.assertEqual(again.get("health")[0], 200)
                    count = pg.query("SELECT count(*) FROM rtpush_messages WHERE channel = 'stop-embedded'")
                    self.assertEqual(int(count[0][0]), len(published))
                finally:
                    again.stop()
            finally:
                server.stop()

    def test_with_postgresql_down_the_stop_ends_in_time_and_says_what_it_lost(self):
        with Postgres() as pg:
            server = Server(postgres=pg.conninfo, stop_timeout_secs=2).start()
            try:
                wait_until(lambda: json.loads(server.get("health")[1])["postgres"] == "up", 10, "postgres up")
                pg.stop()
                for i in range(5):
                    server.publish_http("stop-pg-down", {"i": i})
                status, seconds = sigterm(server)
                log = server.log_text()
                self.assertTrue(os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, (status, log[-3000:]))
                self.assertLess(seconds, 2 + 5, log[-3000:])  # the bound, and lwsws's exit
                self.assertRegex(log, r"event=stop_incomplete cause=stop-timeout-secs connections_dropped=0 rows_lost=5")
                self.assertRegex(log, r"event=rows_lost backend=postgres rows=5 cause=down action=stopping")
            finally:
                server.stop()

    async def test_sigterm_mid_stream_through_nginx_with_redis_and_postgres(self):
        messages = 3000
        with Redis() as redis, Postgres() as pg:
            opts = dict(redis=redis.url, postgres=pg.conninfo, history_size=10000)
            a = Server(node_id="node-a", **opts).start()
            b = Server(node_id="node-b", **opts).start()
            nodes = {"node-a": a, "node-b": b}
            try:
                with Nginx([a.port, b.port]) as nginx:
                    await self.stream_through_a_stop(redis, pg, nginx, nodes, messages)
            finally:
                for s in nodes.values():
                    s.stop()

    async def stream_through_a_stop(self, redis, pg, nginx, nodes, messages):
        closes = []

        async def connect_and_subscribe(since=None):
            ws, node, ack = await subscribe_through(nginx.ws_url, "graceful", since)
            if since:
                self.assertIs(ack["recovered"], True)
            return ws, node

        # Two clients, so that one is on each node whichever nginx picks.
        clients = [list(await connect_and_subscribe()) for _ in range(2)]
        publisher = FedPublisher(redis.url, "graceful", messages)
        received = [[] for _ in clients]
        stopped, stop_result = None, None
        loop = asyncio.get_running_loop()

        async def follow(k):
            deadline = time.time() + 120
            while len(received[k]) < messages and time.time() < deadline:
                ws, node = clients[k]
                try:
                    frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
                except websockets.ConnectionClosed as e:
                    closes.append((node, e.rcvd.code if e.rcvd else None))
                    clients[k] = list(await connect_and_subscribe(received[k][-1] if received[k] else None))
                    continue
                except asyncio.TimeoutError:
                    self.fail("client %d waited 10 s for a message" % k)
                self.assertEqual(frame["type"], "message", frame)
                received[k].append(frame["id"])

        async def stop_one():
            nonlocal stopped, stop_result
            while len(received[0]) < messages // 3:
                await asyncio.sleep(0.01)
            stopped = clients[0][1]  # the node serving the first client
            stop_result = await loop.run_in_executor(None, sigterm, nodes[stopped])

        await asyncio.gather(follow(0), follow(1), stop_one())
        published, status = await loop.run_in_executor(None, publisher.finish)
        self.assertEqual(status, 0)
        for ws, _ in clients:
            await ws.close()
        server = nodes[stopped]
        self.assert_clean_exit(server, *stop_result)
        self.assertEqual(len(published), messages)
        # The stopped node's clients were told 1012, none saw anything else.
        self.assertTrue(closes, "no client was connected to the stopped node")
        self.assertEqual({(stopped, 1012)}, set(closes))
        for k in range(len(clients)):
            self.assertEqual(received[k], published)  # every id once, in order
        # Every message exactly one row.
        survivor = [s for n, s in nodes.items() if n != stopped][0]
        deadline = time.time() + 20
        while time.time() < deadline:
            rows = pg.query("SELECT id FROM rtpush_messages WHERE channel = 'graceful' ORDER BY id_ms, id_seq")
            if len(rows) >= messages:
                break
            await asyncio.sleep(0.2)
        self.assertEqual([r[0] for r in rows], published, survivor.log_tail())


if __name__ == "__main__":
    unittest.main(verbosity=2)
