"""rtpush-token (README.md "Security") and the WebSocket handshake's token and
Origin checks against a real lwsws: a minted token is accepted by a node and
makes its `sub` the connection's user; a refused handshake is answered with
HTTP 401 or 403 (not a dropped connection), whether or not the client asked
for a subprotocol."""
import asyncio
import base64
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

import websockets

from rtpush_harness import ASAN_RUNTIME, PREFIX, Client, Server, recv_type

# The sanitizer build (build-asan) runs every step several times slower on
# the same 2 cores: latency bounds are scaled by this there.
SLOW = 4 if ASAN_RUNTIME else 1

TOKEN_CLI = os.path.join(PREFIX, "bin", "rtpush-token")


def mint(*args):
    p = subprocess.run([TOKEN_CLI, *args], capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout, p.stderr


def token_for(*args):
    rc, out, err = mint(*args)
    assert rc == 0 and out.endswith("\n") and out.count(".") == 2, (rc, out, err)
    return out.strip()


def part(token, i):
    s = token.split(".")[i]
    return json.loads(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def raw_upgrade(port, query="", headers=(), subprotocol="rtpush-json"):
    """(status, head, body) of a hand-made upgrade request: the exact answer,
    which a WebSocket library hides behind an exception."""
    lines = ["GET /%s HTTP/1.1" % query, "Host: 127.0.0.1", "Upgrade: websocket", "Connection: Upgrade",
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version: 13", *headers]
    if subprotocol:
        lines.append("Sec-WebSocket-Protocol: " + subprotocol)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                return None, data, b""
            data += chunk
        head, body = data.split(b"\r\n\r\n", 1)
        status = int(head.split(b" ")[1])
        if status != 101:  # the refusal is followed by the connection's end
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                body += chunk
        return status, head.decode(), body


class Usage(unittest.TestCase):
    def test_help(self):
        rc, out, _ = mint("--help")
        self.assertEqual(rc, 0)
        for word in ("--secret-file", "--private-key-file", "--sub", "--ttl", "--channel", "--publish",
                     "--aud", "--iss", "HS256", "RS256", "ES256", "Exit status"):
            self.assertIn(word, out)

    def test_bad_usage_exits_2_with_a_reason(self):
        with tempfile.TemporaryDirectory() as d:
            secret = os.path.join(d, "secret")
            with open(secret, "w") as f:
                f.write("s3cret\n")
            empty = os.path.join(d, "empty")
            open(empty, "w").close()
            p384 = os.path.join(d, "p384.pem")
            openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384", "-out", p384)
            for args in ([], ["--sub", "1"], ["--secret-file", secret], ["--secret-file", secret, "--sub", ""],
                         ["--secret-file", secret, "--private-key-file", p384, "--sub", "1"],
                         ["--secret-file", os.path.join(d, "missing"), "--sub", "1"],
                         ["--secret-file", empty, "--sub", "1"], ["--private-key-file", p384, "--sub", "1"],
                         ["--private-key-file", secret, "--sub", "1"], ["--secret-file", secret, "--sub", "1",
                                                                        "--ttl", "-5"],
                         ["--secret-file", secret, "--sub", "1", "--ttl", "x"],
                         ["--secret-file", secret, "--sub", "1", "--bogus"], ["--secret-file", secret, "--sub", "1",
                                                                              "extra"]):
                rc, out, err = mint(*args)
                self.assertEqual((rc, out), (2, ""), args)
                self.assertTrue(err.strip(), args)

    def test_claims(self):
        with tempfile.TemporaryDirectory() as d:
            secret = os.path.join(d, "secret")
            with open(secret, "w") as f:
                f.write("s3cret\n")
            t = token_for("--secret-file", secret, "--sub", "user 42", "--ttl", "600", "--channel", "chat:*",
                          "--channel", "news", "--publish", "chat:room1", "--aud", "app", "--iss", "me")
            self.assertEqual(part(t, 0)["alg"], "HS256")
            c = part(t, 1)
            self.assertEqual((c["sub"], c["exp"] - c["iat"], c["channels"], c["publish"], c["aud"], c["iss"]),
                             ("user 42", 600, ["chat:*", "news"], ["chat:room1"], "app", "me"))
            c = part(token_for("--secret-file", secret, "--sub", "7", "--ttl", "0"), 1)
            self.assertEqual(sorted(c), ["iat", "sub"])  # --ttl 0: no exp, no empty grants


class HandshakeAndTokens(unittest.IsolatedAsyncioTestCase):
    """One vhost with an HS256 secret and allowed-origins; another with a
    P-256 public key, one with an RSA public key."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="rtpush-token-it-")
        cls.secret = os.path.join(cls.dir, "secret")
        with open(cls.secret, "w") as f:
            f.write("an HS256 secret of this vhost\n")
        cls.keys = {}
        for name, opts in (("ec", ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]),
                           ("rsa", ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"])):
            key, pub = os.path.join(cls.dir, name + ".pem"), os.path.join(cls.dir, name + ".pub.pem")
            openssl("genpkey", *opts, "-out", key)
            openssl("pkey", "-in", key, "-pubout", "-out", pub)
            cls.keys[name] = (key, pub)
        cls.server = Server(jwt_secret_file=cls.secret, allowed_origins="https://app.example.com").start()
        cls.pk_servers = {name: Server(jwt_public_key_file=pub).start() for name, (_, pub) in cls.keys.items()}

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        for s in cls.pk_servers.values():
            s.stop()
        shutil.rmtree(cls.dir, ignore_errors=True)

    async def connect(self, server, query="", subprotocol="rtpush-json", **kw):
        ws = await websockets.connect(server.ws_url + query, subprotocols=[subprotocol] if subprotocol else None,
                                      **kw)
        encoding = (subprotocol or "rtpush-json")[len("rtpush-"):]  # no subprotocol: the vhost's default, JSON
        hello = Client(ws, encoding).decode(await asyncio.wait_for(ws.recv(), 5))
        self.assertEqual(hello["type"], "connection_established")
        return ws, hello

    async def user_of(self, server, user):
        status, body = await asyncio.to_thread(server.get, "users/" + urllib.parse.quote(user, safe=""))
        self.assertEqual(status, 200, body)
        return [c["connection_id"] for c in json.loads(body)["connections"]]

    async def test_minted_token_in_the_url_makes_sub_the_user(self):
        """The handshake's token reaches the session: the connection is
        listed as the user's, in each encoding and with no subprotocol."""
        t = token_for("--secret-file", self.secret, "--sub", "u-url", "--ttl", "600")
        opened = []
        # lws decodes the query (%2E is '.'), and the token need not come first.
        for sub, query in (("rtpush-json", "?x=1&token=" + t.replace(".", "%2E")), ("rtpush-msgpack", "?token=" + t),
                           ("rtpush-protobuf", "?token=" + t), (None, "?token=" + t)):
            opened.append(await self.connect(self.server, query, sub))
        self.assertEqual(sorted(await self.user_of(self.server, "u-url")),
                         sorted(h["connection_id"] for _, h in opened))
        for ws, _ in opened:
            await ws.close()

    async def test_minted_token_in_an_auth_frame(self):
        t = token_for("--secret-file", self.secret, "--sub", "u-frame")
        ws, _ = await self.connect(self.server)
        await ws.send(json.dumps({"type": "auth", "token": t}))
        got = await recv_type(ws, "authenticated")
        self.assertEqual(got["user"], "u-frame")
        self.assertAlmostEqual(got["expires"], part(t, 1)["exp"])
        await ws.close()

    async def test_expired_token_closes_within_half_a_second_of_exp(self):
        """The plugin sweeps expiry every 200 ms (the heartbeat tick alone
        would leave a connection open up to a second past its exp)."""
        t = token_for("--secret-file", self.secret, "--sub", "u-exp", "--ttl", "2")
        exp = part(t, 1)["exp"]
        ws, _ = await self.connect(self.server, "?token=" + t)
        err = await recv_type(ws, "error", timeout=5)
        late = time.time() - exp
        self.assertEqual((err["code"], err["message"]), ("UNAUTHORIZED", "token expired"))
        self.assertTrue(-0.05 < late < 0.5 * SLOW, late)
        with self.assertRaises(websockets.exceptions.ConnectionClosed) as e:
            await asyncio.wait_for(ws.recv(), 5)
        self.assertEqual(e.exception.rcvd.code, 1008)

    async def test_public_key_vhosts_take_rs256_and_es256(self):
        for name, server in self.pk_servers.items():
            key, _ = self.keys[name]
            t = token_for("--private-key-file", key, "--sub", "pk-" + name)
            self.assertEqual(part(t, 0)["alg"], {"ec": "ES256", "rsa": "RS256"}[name])
            ws, hello = await self.connect(server, "?token=" + t)
            self.assertEqual(await self.user_of(server, "pk-" + name), [hello["connection_id"]])
            await ws.close()
            # An HS256 token, however well signed, is not for a public-key vhost.
            hs = token_for("--secret-file", self.secret, "--sub", "x")
            status, _, _ = await asyncio.to_thread(raw_upgrade, server.port, "?token=" + hs)
            self.assertEqual(status, 401)

    async def test_refused_token_is_http_401(self):
        other = os.path.join(self.dir, "other-secret")
        with open(other, "w") as f:
            f.write("not this vhost's secret\n")
        wrong = token_for("--secret-file", other, "--sub", "u")
        for query in ("?token=" + wrong, "?token=garbage", "?token=", "?a=b&token=" + wrong):
            for sub in ("rtpush-json", None):  # the default subprotocol is filtered the same way
                status, head, body = await asyncio.to_thread(raw_upgrade, self.server.port, query, (), sub)
                self.assertEqual(status, 401, (query, sub, head))
                self.assertIn("application/json", head)
                self.assertIn("error", json.loads(body))
                self.assertNotIn(wrong, head + body.decode())  # the token is never echoed
        with self.assertRaises(websockets.exceptions.InvalidStatusCode) as e:
            await websockets.connect(self.server.ws_url + "?token=" + wrong, subprotocols=["rtpush-msgpack"])
        self.assertEqual(e.exception.status_code, 401)

    async def test_origin_not_allowed_is_http_403(self):
        t = token_for("--secret-file", self.secret, "--sub", "u-origin")
        for query in ("", "?token=" + t):
            for sub in ("rtpush-protobuf", None):
                status, head, body = await asyncio.to_thread(
                    raw_upgrade, self.server.port, query, ("Origin: https://evil.example.com",), sub)
                self.assertEqual(status, 403, (query, sub, head))
                self.assertIn("error", json.loads(body))
        ws, _ = await self.connect(self.server, origin="https://app.example.com")
        await ws.close()
        ws, _ = await self.connect(self.server)  # no Origin: not a browser
        await ws.close()


class SecureExample(unittest.TestCase):
    """share/rtpush/secure (README "Security"), its files made as its README
    says: every option it sets is known, and the vhost starts with them."""

    def test_example_vhost_starts(self):
        with open(os.path.join(PREFIX, "share", "rtpush", "secure", "conf.d", "rtpush")) as f:
            vhost = json.load(f)["vhosts"][0]
        options = next(p["rtpush"] for p in vhost["ws-protocols"] if "rtpush" in p)
        with tempfile.TemporaryDirectory() as d:
            shutil.copy(os.path.join(PREFIX, "share", "rtpush", "channels.json"), d)
            for name in ("jwt-secret", "api-key"):
                with open(os.path.join(d, name), "w") as f:
                    f.write(os.urandom(16).hex() + "\n")
            local = {k: v.replace("/etc/rtpush", d) for k, v in options.items()}
            self.assertTrue(all(os.path.exists(v) for k, v in local.items() if k.endswith("-file")), local)
            with Server(**local) as server:
                t = token_for("--secret-file", os.path.join(d, "jwt-secret"), "--aud", "rtpush", "--sub", "9")
                self.assertEqual(raw_upgrade(server.port, "?token=" + t)[0], 101)
                self.assertEqual(raw_upgrade(server.port, "?token=" + t,
                                             ("Origin: https://elsewhere.example.com",))[0], 403)
                # The HTTP API's 401 carries the header the core adds to it.
                req = urllib.request.Request(server.http + "/publish/news", data=b"1", method="POST")
                with self.assertRaises(urllib.error.HTTPError) as e:
                    urllib.request.urlopen(req, timeout=10)
                self.assertEqual((e.exception.code, e.exception.headers.get("WWW-Authenticate")), (401, "Bearer"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
