"""The delivery promise through nginx while a node crashes: a publisher
streams thousands of messages, the node the client is connected to is
killed with SIGKILL, the client reconnects through nginx with `since`, and
what it received equals what was published: no gap, no duplicate."""
import asyncio
import json
import time
import unittest

import websockets

from rtpush_harness import FedPublisher, Nginx, Redis, Server, recv_type, subscribe_through

MESSAGES = 4000


class Failover(unittest.IsolatedAsyncioTestCase):
    async def test_sigkill_the_clients_node_mid_stream(self):
        with Redis() as redis, Server(redis=redis.url, node_id="node-a", history_size=10000) as a, \
                Server(redis=redis.url, node_id="node-b", history_size=10000) as b, \
                Nginx([a.port, b.port]) as nginx:
            nodes = {"node-a": a, "node-b": b}

            async def connect_and_subscribe(since=None):
                ws, node, ack = await subscribe_through(nginx.ws_url, "failover", since)
                if since:
                    self.assertIs(ack["recovered"], True)
                return ws, node

            ws, node = await connect_and_subscribe()
            publisher = FedPublisher(redis.url, "failover", MESSAGES)
            received, killed, reconnects = [], None, 0
            deadline = time.time() + 120
            while len(received) < MESSAGES and time.time() < deadline:
                try:
                    frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
                except (websockets.ConnectionClosed, asyncio.TimeoutError):
                    reconnects += 1
                    ws, node = await connect_and_subscribe(since=received[-1] if received else None)
                    continue
                self.assertEqual(frame["type"], "message", frame)
                received.append(frame["id"])
                if len(received) == MESSAGES // 3 and not killed:
                    nodes[node].kill()  # crash the node serving this client
                    killed = node
            published, status = publisher.finish()
            self.assertEqual(status, 0)
            await ws.close()
            self.assertIsNotNone(killed)
            self.assertGreaterEqual(reconnects, 1)
            self.assertNotEqual(node, killed)  # the client finished on the surviving node
            self.assertEqual(len(published), MESSAGES)
            self.assertEqual(received, published)  # same ids, same order: no gap, no duplicate

    async def test_http_api_through_nginx_with_a_node_down(self):
        with Redis() as redis, Server(redis=redis.url, node_id="node-a") as a, \
                Server(redis=redis.url, node_id="node-b") as b, Nginx([a.port, b.port]) as nginx:
            import urllib.request
            base = "http://127.0.0.1:%d/" % nginx.port
            sub, _ = await b.connect()
            await sub.send(json.dumps({"type": "subscribe", "channel": "via-nginx"}))
            await recv_type(sub, "subscribed")
            a.kill()
            for i in range(6):  # every request lands on the live node
                req = urllib.request.Request(base + "publish/via-nginx", data=b'{"n":%d}' % i, method="POST")
                with urllib.request.urlopen(req, timeout=10) as r:
                    self.assertEqual(r.status, 200)
                    msg_id = json.loads(r.read())["id"]
                self.assertEqual((await recv_type(sub, "message"))["id"], msg_id)
            with urllib.request.urlopen(base + "health", timeout=10) as r:
                self.assertEqual(json.loads(r.read())["node"], "node-b")
            # the killed node leaves the registry within a minute (30 s here)
            deadline = time.time() + 60
            while time.time() < deadline:
                nodes = [n["node"] for n in json.loads(b.get("nodes")[1])["nodes"]]
                if "node-a" not in nodes:
                    break
                await asyncio.sleep(1)
            self.assertEqual(nodes, ["node-b"])
            await sub.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
