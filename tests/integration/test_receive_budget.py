"""receive-bytes-per-sec (SPEC section 3; docs/limits.md "Per connection"):
what one WebSocket connection may make the node read and parse a second,
counted after permessage-deflate has inflated it. A compressed flood (1 MB
heartbeats of one repeated byte, about 1 KB each on the wire) is closed
with 1008 within a couple of seconds, having cost the service thread a
bounded amount of CPU, and the node keeps answering others meanwhile; a
client that stays under the rate is never touched."""
import json
import os
import socket
import threading
import time
import unittest
import zlib

from rtpush_harness import RawWebSocket, Server
from test_history import listening_pid

PMD = "permessage-deflate"


def deflate(data):
    """A client's compressed message: raw deflate, sync flush, tail removed (RFC 7692)."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    out = c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)
    return out[:-4]


def heartbeat_of_size(n):
    head = '{"type":"heartbeat","pad":"'
    return (head + "a" * (n - len(head) - 2) + '"}').encode()


def thread_cpu(pid):
    """CPU seconds of the service thread (the process's main thread)."""
    with open("/proc/%d/task/%d/stat" % (pid, pid)) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def read_until_close(ws, seconds):
    """Reads frames for up to `seconds`: (close code or None, when it came)."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            op, payload = ws.next_frame(timeout=max(0.05, deadline - time.time()))
        except (socket.timeout, AssertionError):
            continue
        except OSError:  # reset after the close frame was read, or instead of it
            return None, time.time()
        if op == 8:
            return (int.from_bytes(payload[:2], "big") if len(payload) >= 2 else None), time.time()
    return None, None


def ack_latency(ws):
    sent = time.time()
    ws.send_text(json.dumps({"type": "heartbeat"}))
    ws.wait_for("heartbeat_ack", timeout=10)
    return time.time() - sent


class CompressedFlood(unittest.TestCase):
    def test_compressed_flood_is_closed_with_1008_and_the_node_stays_responsive(self):
        with Server(compression="on") as server:
            pid = listening_pid(server)  # its main thread is the service thread
            other = RawWebSocket(server.port)
            flood = RawWebSocket(server.port, extensions=PMD)
            self.assertTrue(flood.headers.get("sec-websocket-extensions", "").startswith(PMD), flood.headers)
            flood.wait_for("connection_established")
            other.wait_for("connection_established")
            body = deflate(heartbeat_of_size(1_000_000))  # under max-message-bytes (1 MiB)
            frame = flood.frame(body, rsv1=True)
            frames = 600  # ~600 KB on the wire, 600 MB once inflated
            sent = [0]

            def send():
                flood.sock.settimeout(15)
                try:
                    for _ in range(frames):
                        flood.sock.sendall(frame)
                        sent[0] += 1
                except OSError:  # the server stopped reading or closed: the point
                    pass

            cpu_before = thread_cpu(pid)
            started = time.time()
            sender = threading.Thread(target=send, daemon=True)
            sender.start()
            latencies = []
            closer = {}

            def watch():
                closer["code"], closer["at"] = read_until_close(flood, 20)

            watcher = threading.Thread(target=watch, daemon=True)
            watcher.start()
            while watcher.is_alive() and time.time() - started < 20:
                latencies.append(ack_latency(other))
                time.sleep(0.1)
            watcher.join(25)
            cpu = thread_cpu(pid) - cpu_before
            closed_after = closer["at"] - started if closer.get("at") else None
            print("\n%d KB compressed frames: %d sent, close code %s after %s s; service thread CPU %.2f s; "
                  "heartbeat latency of another client max %.3f s"
                  % (len(frame) // 1024, sent[0], closer.get("code"),
                     "%.2f" % closed_after if closed_after is not None else "-", cpu, max(latencies or [0])))
            self.assertEqual(closer.get("code"), 1008, "a compressed flood must be closed with 1008")
            self.assertLess(closed_after, 5)
            self.assertLess(cpu, 1.5, "the flood cost the service thread too much CPU")
            self.assertLess(max(latencies), 2.0)
            self.assertLess(ack_latency(other), 2.0)  # and still answers afterwards
            sender.join(20)
            flood.close()
            other.close()
            closes = server.metrics()['rtpush_connections_closed_total{reason="receive_rate"}']
            self.assertEqual(closes, 1)


class WithinBudget(unittest.TestCase):
    def test_a_client_under_the_rate_is_unaffected_one_over_it_is_closed(self):
        rate = 200_000
        with Server(receive_bytes_per_sec=rate, max_message_bytes=65536) as server:
            slow = RawWebSocket(server.port)
            fast = RawWebSocket(server.port)
            slow.wait_for("connection_established")
            fast.wait_for("connection_established")
            msg = heartbeat_of_size(20_000).decode()
            # The slow one: 100 KB/s for 4 s, half the rate; every frame answered.
            started = time.time()
            for i in range(20):
                while time.time() < started + i * 0.2:
                    time.sleep(0.01)
                slow.send_text(msg)
                slow.wait_for("heartbeat_ack", timeout=5)
            # The fast one: 1 MB at once, past the burst (2 x 64 KiB) and the rate.
            fast.sock.settimeout(10)
            try:
                for _ in range(50):
                    fast.send_text(msg)
            except OSError:
                pass
            code, _ = read_until_close(fast, 10)
            self.assertEqual(code, 1008)
            # The slow one is still served.
            slow.send_text(json.dumps({"type": "heartbeat"}))
            slow.wait_for("heartbeat_ack")
            slow.close()
            fast.close()


if __name__ == "__main__":
    unittest.main()
