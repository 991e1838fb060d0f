"""The HTTP API's identity rules on a real lwsws (README "Security"): the API
key (`api-key-file`, `Authorization: Bearer`), foreign origins, `health`
and `metrics` left open, `rtpush-publish --api-key-file` / RTPUSH_API_KEY,
and a user's connections (`GET users/<u>`, `POST users/<u>/disconnect`) on
one node and across two nodes sharing a Redis."""
import asyncio
import json
import os
import subprocess
import time
import unittest

import websockets

from rtpush_harness import ENCODINGS, PUBLISH_CLI, Client, Redis, Server, ServerCase, mint_hs256, wait_until

SECRET = "it-http-secret"
KEY = "it-api-key-7f3a9c"
ORIGIN = "https://app.example.com"


def token(sub, ttl=600):
    return mint_hs256(SECRET, {"sub": sub, "exp": int(time.time()) + ttl})


def bearer(key=KEY):
    return {"Authorization": "Bearer " + key}


def vhost(**options):
    return dict(files={"jwt_secret_file": SECRET + "\n", "api_key_file": KEY + "\n"}, **options)


class ApiKey(ServerCase, unittest.IsolatedAsyncioTestCase):
    server_options = vhost(allowed_origins=ORIGIN)

    PROTECTED = [("POST", "publish/key-test", "{\"a\":1}"), ("GET", "nodes", None),
                 ("GET", "users/someone", None), ("POST", "users/someone/disconnect", "")]

    def assert_401_json(self, status, body):
        self.assertEqual(status, 401, body)
        self.assertIsInstance(json.loads(body), dict)  # a JSON error body

    def test_protected_endpoints_need_the_key(self):
        refused = {"no header": {}, "wrong key": bearer("wrong"), "key with a suffix": bearer(KEY + "x"),
                   "key prefix": bearer(KEY[:-1]), "Basic scheme": {"Authorization": "Basic " + KEY},
                   "no scheme": {"Authorization": KEY}, "empty bearer": {"Authorization": "Bearer "}}
        for method, path, body in self.PROTECTED:
            for what, headers in refused.items():
                with self.subTest(path=path, refused=what):
                    self.assert_401_json(*self.server.request(method, path, body, headers=headers))
            with self.subTest(path=path, key="right"):
                status, text = self.server.request(method, path, body, headers=bearer())
                self.assertEqual(status, 200, text)
                json.loads(text)

    async def test_refused_publish_reaches_nobody(self):
        sub = await Client.open(self.server, "json")
        await sub.subscribe("key-guarded")
        status, _ = self.server.request("POST", "publish/key-guarded", "1", headers=bearer("wrong"))
        self.assertEqual(status, 401)
        status, body = self.server.request("POST", "publish/key-guarded", "2", headers=bearer())
        self.assertEqual(status, 200, body)
        got = await sub.recv_type("message")
        self.assertEqual((got["id"], got["data"]), (json.loads(body)["id"], 2))
        await sub.close()

    def test_health_and_metrics_stay_open(self):
        for path in ("health", "metrics"):
            with self.subTest(path=path):
                self.assertEqual(self.server.get(path)[0], 200)
                self.assertEqual(self.server.request("GET", path, headers=bearer("wrong"))[0], 200)

    def test_foreign_origin_is_refused_even_with_the_key(self):
        status, body = self.server.request("POST", "publish/origin-test", "1",
                                           headers=dict(bearer(), Origin="https://evil.example.net"))
        self.assertEqual(status, 403, body)
        status, body = self.server.request("GET", "nodes", headers=dict(bearer(), Origin="https://evil.example.net"))
        self.assertEqual(status, 403, body)
        self.assertEqual(self.server.request("POST", "publish/origin-test", "1",
                                             headers=dict(bearer(), Origin=ORIGIN))[0], 200)
        self.assertEqual(self.server.request("POST", "publish/origin-test", "1", headers=bearer())[0], 200)

    def test_rtpush_publish_with_the_key(self):
        key_file = os.path.join(self.server.dir, "cli-key")
        with open(key_file, "w") as f:
            f.write(KEY + "\n")
        url = ["--url", self.server.http + "/", "--channel", "cli-key", "--data", "{\"n\":1}"]
        env = {k: v for k, v in os.environ.items() if k != "RTPUSH_API_KEY"}
        without = subprocess.run([PUBLISH_CLI] + url, capture_output=True, text=True, env=env)
        self.assertEqual(without.returncode, 1, without.stderr)
        with_file = subprocess.run([PUBLISH_CLI, "--api-key-file", key_file] + url, capture_output=True, text=True,
                                   env=env)
        self.assertEqual(with_file.returncode, 0, with_file.stderr)
        self.assertRegex(with_file.stdout.strip(), r"^\d+-\d+$")
        with_env = subprocess.run([PUBLISH_CLI] + url, capture_output=True, text=True,
                                  env=dict(env, RTPUSH_API_KEY=KEY))
        self.assertEqual(with_env.returncode, 0, with_env.stderr)
        self.assertNotIn(KEY, with_file.stdout + with_file.stderr + with_env.stdout + with_env.stderr)


class OpenApi(unittest.TestCase):
    def test_without_api_key_file_the_api_is_open(self):
        with Server(files={"jwt_secret_file": SECRET}) as server:
            self.assertEqual(server.request("POST", "publish/open", "1")[0], 200)
            status, body = server.get("users/nobody")
            self.assertEqual(status, 200, body)
            self.assertEqual(json.loads(body), {"user": "nobody", "connections": []})


async def disconnected(client):
    """error UNAUTHORIZED "disconnected", then close 1008."""
    err = await client.recv(5)
    assert (err["type"], err.get("code"), err.get("message")) == ("error", "UNAUTHORIZED", "disconnected"), err
    try:
        await client.recv(5)
        raise AssertionError("frame after disconnected")
    except websockets.ConnectionClosed as closed:
        assert closed.code == 1008, closed


class Users(ServerCase, unittest.IsolatedAsyncioTestCase):
    server_options = vhost(node_id="users-node")

    def users(self, user, server=None):
        status, body = (server or self.server).request("GET", "users/" + user, headers=bearer())
        self.assertEqual(status, 200, body)
        out = json.loads(body)
        self.assertEqual(out["user"], user)
        return out["connections"]

    async def test_list_and_disconnect_a_user_in_every_encoding(self):
        t0 = time.time()
        alice = []
        for i, enc in enumerate(ENCODINGS):  # by handshake token and by auth frame, in turn
            if i % 2 == 0:
                c = await Client.open(self.server, enc, token=token("alice"))
            else:
                c = await Client.open(self.server, enc)
                await c.send({"type": "auth", "token": token("alice")})
                await c.recv_type("authenticated")
            alice.append(c)
        bob = await Client.open(self.server, "json", token=token("bob"))
        anon = await Client.open(self.server, "json")
        conns = self.users("alice")
        self.assertEqual(sorted(c["connection_id"] for c in conns),
                         sorted(c.hello["connection_id"] for c in alice))
        for c in conns:
            self.assertEqual(c["node"], "users-node")
            self.assertGreaterEqual(c["connected_at"], t0 - 1)
            self.assertLessEqual(c["connected_at"], time.time() + 1)
        self.assertEqual([c["connection_id"] for c in self.users("bob")], [bob.hello["connection_id"]])

        status, body = self.server.request("POST", "users/alice/disconnect", "", headers=bearer())
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body), {"user": "alice", "disconnected": 3})
        for c in alice:
            await disconnected(c)
        for c in (bob, anon):  # nobody else
            await c.send({"type": "heartbeat"})
            await c.recv_type("heartbeat_ack")
        await asyncio.to_thread(wait_until, lambda: self.users("alice") == [], 5, "alice still listed")
        self.assertEqual(len(self.users("bob")), 1)
        await bob.close()
        await asyncio.to_thread(wait_until, lambda: self.users("bob") == [], 5, "a closed connection still listed")
        await anon.close()

    def test_unknown_user(self):
        self.assertEqual(self.users("nobody-here"), [])
        status, body = self.server.request("POST", "users/nobody-here/disconnect", "", headers=bearer())
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body), {"user": "nobody-here", "disconnected": 0})


class UsersAcrossNodes(unittest.IsolatedAsyncioTestCase):
    async def test_user_on_b_listed_and_disconnected_through_a(self):
        with Redis() as redis, Server(redis=redis.url, **vhost(node_id="node-a")) as a, \
                Server(redis=redis.url, **vhost(node_id="node-b")) as b:
            on_b = [await Client.open(b, "json", token=token("carol")), await Client.open(b, "protobuf")]
            await on_b[1].send({"type": "auth", "token": token("carol")})
            await on_b[1].recv_type("authenticated")
            on_a = await Client.open(a, "msgpack", token=token("carol"))
            other = await Client.open(b, "json", token=token("dave"))

            def listed():
                status, body = a.request("GET", "users/carol", headers=bearer())
                return status == 200 and len(json.loads(body)["connections"]) == 3
            await asyncio.to_thread(wait_until, listed, 5, "carol's connections not all listed through node A")
            conns = json.loads(a.request("GET", "users/carol", headers=bearer())[1])["connections"]
            self.assertEqual(sorted((c["node"], c["connection_id"]) for c in conns),
                             sorted([("node-b", on_b[0].hello["connection_id"]),
                                     ("node-b", on_b[1].hello["connection_id"]),
                                     ("node-a", on_a.hello["connection_id"])]))

            status, body = a.request("POST", "users/carol/disconnect", "", headers=bearer())
            self.assertEqual(status, 200, body)
            self.assertEqual(json.loads(body), {"user": "carol", "disconnected": 3})
            for c in on_b + [on_a]:
                await disconnected(c)
            await other.send({"type": "heartbeat"})
            await other.recv_type("heartbeat_ack")

            def gone():
                status, body = b.request("GET", "users/carol", headers=bearer())
                return status == 200 and json.loads(body)["connections"] == []
            await asyncio.to_thread(wait_until, gone, 5, "carol still listed on node B")
            await other.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
