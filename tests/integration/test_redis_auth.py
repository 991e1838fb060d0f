"""Redis AUTH end to end (SPEC 12): nodes and rtpush-publish on a Redis that
wants a password, or an ACL user limited to rtpush's keys and channels;
refused credentials (a wrong password, an unknown user, none at all) give a
clear log line, health 503 and UNAVAILABLE, and the node recovers by itself
once Redis accepts them; and the password never shows: not in the node's
log, metrics, health, any HTTP answer, a refused vhost's 503, nor any
message of rtpush-publish."""
import asyncio
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest
import urllib.parse

from rtpush_harness import (PREFIX, PUBLISH_CLI, Client, Postgres, Redis, Server, free_port, mint_hs256,
                            persisting, upgrade_status, wait_until)

# Every secret holds MARK: whatever text shows one, whole or in part,
# percent-encoded or not, holds MARK.
MARK = "Qx7Zk"
ADMIN = MARK + "-admin/pw@with:odd%chars"  # requirepass: the default user's
ACL_PW = MARK + "-acl-user-pw"
WRONG = MARK + "-wrong-pw"
GHOST_PW = MARK + "-ghost-pw"
# What rtpush needs of an ACL user (docs/redis.md "AUTH and ACL users"):
# its keys and pub/sub channels, every command but the dangerous ones, and
# ROLE (@dangerous; a redis+sentinel:// node checks its master with it).
ACL_RULES = ["on", "~rtpush:*", "&rtpush:*", "+@all", "-@dangerous", "+role"]

SECRET = "it-redis-auth-jwt"


def url(redis_or_port, user="", password=None, db=None):
    """A redis:// URL with the user and password percent-encoded."""
    port = getattr(redis_or_port, "port", redis_or_port)
    auth = "" if password is None else "%s:%s@" % (urllib.parse.quote(user, safe=""),
                                                    urllib.parse.quote(password, safe=""))
    return "redis://%s127.0.0.1:%d%s" % (auth, port, "" if db is None else "/%d" % db)


def token(sub):
    return mint_hs256(SECRET, {"sub": sub, "exp": int(time.time()) + 600})


def assert_no_secret(text, where):
    if MARK in text:
        raise AssertionError("a password in %s:\n%s" % (where, text[-3000:]))


def assert_http_clean(node):
    """health, metrics, nodes, users, a publish and a 404: none shows a password."""
    for method, path, body in [("GET", "health", None), ("GET", "metrics", None), ("GET", "nodes", None),
                               ("GET", "users/nobody", None),
                               ("POST", "publish/secret-check", "1"), ("GET", "no/such/path", None)]:
        status, text = node.request(method, path, body)
        assert_no_secret("%d %s" % (status, text), "%s %s" % (method, path))


def cli(*args, data="1"):
    return subprocess.run([PUBLISH_CLI, *args, "--channel", "cli-auth", "--data", data],
                          capture_output=True, text=True, timeout=30)


class Accepted(unittest.IsolatedAsyncioTestCase):
    """Node A with the default user's password, node B with an ACL user that
    reaches only rtpush's keys and channels, both with PostgreSQL, on one
    Redis: everything a node does through Redis works for both."""

    @classmethod
    def setUpClass(cls):
        # Each stopped (and its directory removed) after tearDownClass, or
        # as soon as a later one fails to start.
        cls.pg = cls.enterClassContext(Postgres())
        cls.redis = cls.enterClassContext(Redis(password=ADMIN))
        cls.redis.call("ACL", "SETUSER", "rtpush", ">" + ACL_PW, *ACL_RULES)
        files = {"jwt_secret_file": SECRET + "\n"}
        cls.a = cls.enterClassContext(Server(redis=url(cls.redis, password=ADMIN), postgres=cls.pg.conninfo,
                                             node_id="auth-a", pg_flush_ms=20, files=files))
        cls.b = cls.enterClassContext(Server(redis=url(cls.redis, "rtpush", ACL_PW, db=0), postgres=cls.pg.conninfo,
                                             node_id="auth-b", pg_flush_ms=20, files=files))
        persisting(cls.redis, ["auth-a", "auth-b"])

    @classmethod
    def tearDownClass(cls):
        # The whole log of each node, after everything the tests did.
        for node in (cls.a, cls.b):
            assert_no_secret(node.log_text(), "the log of " + node.options["node-id"])
        cls.a.stop()
        cls.b.stop()
        # Redis refused the ACL user nothing, its clean stop included: the
        # rules are enough for all rtpush does.
        denied = [dict(zip(e[::2], e[1::2])) for e in cls.redis.call("ACL", "LOG")]
        denied = [e for e in denied if e["username"] == "rtpush"]
        if denied:
            raise AssertionError("Redis refused the ACL user: %s" % denied)

    def test_node_start_shows_the_url_redacted(self):
        port = self.redis.port
        self.assertIn("event=node_start vhost=rtpush broker=redis://:***@127.0.0.1:%d " % port, self.a.log_text())
        self.assertIn("event=node_start vhost=rtpush broker=redis://rtpush:***@127.0.0.1:%d " % port,
                      self.b.log_text())

    def test_b_is_the_acl_user(self):
        users = {c.get("name", ""): c["user"] for c in self.redis.client_list()}
        b_users = {u for name, u in users.items() if "auth-b" in name}
        a_users = {u for name, u in users.items() if "auth-a" in name}
        self.assertEqual(b_users, {"rtpush"}, users)
        self.assertEqual(a_users, {"default"}, users)

    async def test_acl_user_on_another_database(self):
        """SELECT under the ACL user: the node's data goes to database 5."""
        with Server(redis=url(self.redis, "rtpush", ACL_PW, db=5), node_id="auth-c") as c:
            sub = await Client.open(c, "json")
            await sub.subscribe("auth-db5")
            published = c.publish_http("auth-db5", 5)
            self.assertEqual((await sub.recv_type("message"))["id"], published)
            self.assertIn("db5", self.redis.info("keyspace"))
            self.assertEqual(self.redis.call("EXISTS", "rtpush:stream:auth-db5"), 0)  # not in database 0
            await sub.close()
            assert_no_secret(c.log_text(), "the log of auth-c")

    async def test_pubsub_replay_users_and_rows(self):
        a, b = self.a, self.b
        on_b = await Client.open(b, "json", token=token("carol"))
        on_a = await Client.open(a, "json")
        for c in (on_a, on_b):
            await c.subscribe("auth-news")
        # HTTP on A, WebSocket on B: each reaches both.
        first = a.publish_http("auth-news", {"n": 1})
        for c in (on_a, on_b):
            self.assertEqual((await c.recv_type("message"))["id"], first)
        await on_b.send({"type": "publish", "channel": "auth-news", "data": {"n": 2}, "ref": "b"})
        got = {}
        for _ in range(2):
            frame = await on_b.recv()
            got[frame["type"]] = frame
        second = got["published"]["id"]
        self.assertEqual(got["message"]["id"], second)
        self.assertEqual((await on_a.recv_type("message"))["id"], second)
        # since: what B's subscriber missed, replayed through the ACL user.
        missed = [a.publish_http("auth-news", {"n": n}) for n in range(3, 8)]
        late = await Client.open(b, "json")
        ack = await late.subscribe("auth-news", since=second)
        self.assertIs(ack["recovered"], True)
        self.assertEqual([(await late.recv_type("message"))["id"] for _ in missed], missed)
        # users: carol on B, listed through A and B.
        for node in (a, b):
            def listed():
                status, body = node.request("GET", "users/carol")
                return status == 200 and [c["node"] for c in json.loads(body)["connections"]] == ["auth-b"]
            await asyncio.to_thread(wait_until, listed, 5, "carol not listed through " + node.options["node-id"])
        # the hand-off: every message one row.
        ids = [first, second] + missed

        def rows():
            return sorted(i for (i,) in self.pg.query(
                "SELECT id FROM rtpush_messages WHERE channel = 'auth-news'"))
        await asyncio.to_thread(wait_until, lambda: rows() == sorted(ids), 15, "rows missing")
        for c in (on_a, on_b, late):
            await c.close()
        for node in (a, b):
            assert_http_clean(node)
            status, body = node.get("health")
            self.assertEqual((status, json.loads(body)["redis"]), (200, "up"))

    async def test_cli_with_a_password_and_with_an_acl_user(self):
        sub = await Client.open(self.a, "json")
        await sub.subscribe("cli-auth")
        for given in (url(self.redis, password=ADMIN), url(self.redis, "rtpush", ACL_PW, db=0)):
            p = await asyncio.to_thread(cli, "--redis", given)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual((await sub.recv_type("message"))["id"], p.stdout.strip())
        await sub.close()

    def test_cli_refused_credentials_say_why_and_never_the_password(self):
        port = self.redis.port
        cases = {
            "wrong password": (url(self.redis, password=WRONG), 1,
                               "redis 127.0.0.1:%d refused AUTH: WRONGPASS" % port),
            "unknown user": (url(self.redis, "ghost", GHOST_PW), 1,
                             "redis 127.0.0.1:%d refused AUTH for user ghost: WRONGPASS" % port),
            "no password": (url(self.redis), 1,
                            "redis 127.0.0.1:%d refused the connection without a password: NOAUTH" % port),
            "unreachable": (url(free_port(), password=ADMIN), 1,
                            "cannot reach redis://127.0.0.1:"),
            "bad port": ("redis://u:%s@127.0.0.1:port" % WRONG, 2, "--redis: bad port in the redis URL"),
            "bad escape": ("redis://u:%s%%zz@127.0.0.1:1" % WRONG, 2, "--redis: bad %-escape"),
            "bad scheme": ("rediss://u:%s@127.0.0.1:1" % WRONG, 2, "--redis: the redis URL must be"),
        }
        for what, (given, code, says) in cases.items():
            with self.subTest(what):
                p = cli("--redis", given)
                self.assertEqual(p.returncode, code, p.stderr)
                self.assertIn(says, p.stderr)
                assert_no_secret(p.stdout + p.stderr, "rtpush-publish's output (%s)" % what)


class Refused(unittest.IsolatedAsyncioTestCase):
    """Credentials Redis refuses: the node says why, is unhealthy and
    answers UNAVAILABLE, and recovers by itself once Redis takes them."""

    async def check(self, redis, given, cause, accept):
        node = Server(redis=given, node_id="refused")
        node.launch()
        try:
            def down():
                try:
                    return node.get("health")[0] == 503
                except OSError:
                    return False
            await asyncio.to_thread(wait_until, down, 15, "the node never answered health")
            status, body = node.get("health")
            self.assertEqual((status, json.loads(body)["redis"]), (503, "down"))
            status, body = node.request("POST", "publish/refused", "1")
            self.assertEqual(status, 503, body)  # SPEC 5: 503 broker unavailable
            self.assertIn("error", json.loads(body))
            ws = await Client.open(node, "json")
            await ws.send({"type": "publish", "channel": "refused", "data": 1, "ref": "r"})
            err = await ws.recv_type("error")
            self.assertEqual((err["code"], err["ref"]), ("UNAVAILABLE", "r"))
            assert_no_secret(json.dumps(err), "the WebSocket error")
            await asyncio.to_thread(wait_until, lambda: "event=backend_down backend=redis " in node.log_text(), 5,
                                    "no backend_down line")
            line = re.search(r".*event=backend_down backend=redis .*", node.log_text()).group(0)
            self.assertIn("addr=127.0.0.1:%d" % redis.port, line)
            self.assertIn(cause, line)
            assert_http_clean(node)

            accept()  # Redis now takes the node's credentials: no restart

            def up():
                return node.get("health")[0] == 200
            await asyncio.to_thread(wait_until, up, 15, "the node did not recover by itself")
            sub = await Client.open(node, "json")
            await sub.subscribe("refused")
            published = node.publish_http("refused", "after")
            self.assertEqual((await sub.recv_type("message"))["id"], published)
            await ws.send({"type": "publish", "channel": "refused", "data": 2, "ref": "again"})
            self.assertEqual((await ws.recv_type("published"))["ref"], "again")
            await asyncio.to_thread(wait_until, lambda: "event=backend_up backend=redis " in node.log_text(), 5,
                                    "no backend_up line")
            self.assertEqual(node.log_text().count("event=backend_down backend=redis "), 1, node.log_text())
            for c in (ws, sub):
                await c.close()
            assert_http_clean(node)
            assert_no_secret(node.log_text(), "the node's log")
            print("refused, then accepted: %s" % line.split("event=", 1)[1])
        finally:
            node.stop()

    async def test_wrong_password(self):
        with Redis(password=ADMIN) as redis:
            def accept():
                redis.call("CONFIG", "SET", "requirepass", WRONG)
                redis.password = WRONG
            await self.check(redis, url(redis, password=WRONG), 'cause="redis refused AUTH: WRONGPASS', accept)

    async def test_unknown_acl_user(self):
        with Redis(password=ADMIN) as redis:
            await self.check(redis, url(redis, "ghost", GHOST_PW),
                             'cause="redis refused AUTH for user ghost: WRONGPASS',
                             lambda: redis.call("ACL", "SETUSER", "ghost", ">" + GHOST_PW, *ACL_RULES))

    async def test_no_password(self):
        with Redis(password=ADMIN) as redis:
            def accept():
                redis.call("CONFIG", "SET", "requirepass", "")
                redis.password = None
            await self.check(redis, url(redis),
                             'cause="redis refused the connection without a password: NOAUTH', accept)


class NodesGenerator(unittest.TestCase):
    """rtpush-nodes passes a URL with credentials through to the nodes'
    configuration as it is, and never prints it."""

    def generate(self, redis):
        out = tempfile.mkdtemp(prefix="rtpush-nodes-")
        self.addCleanup(shutil.rmtree, out, ignore_errors=True)
        run = subprocess.run([os.path.join(PREFIX, "bin", "rtpush-nodes"), "--prefix", PREFIX, "--out", out,
                              "--nodes", "2", "--redis", redis], capture_output=True, text=True, timeout=30)
        return out, run

    def test_credentials_pass_through_unprinted(self):
        given = url(6379, "rtpush", ACL_PW, db=2)
        out, run = self.generate(given)
        self.assertEqual(run.returncode, 0, run.stderr)
        assert_no_secret(run.stdout + run.stderr, "rtpush-nodes' output")
        for name in ("node1", "node2"):
            with open(os.path.join(out, "nodes", name, "conf.d", "rtpush")) as f:
                options = json.load(f)["vhosts"][0]["ws-protocols"][0]["rtpush"]
            self.assertEqual(options["redis"], given)

    def test_a_refused_url_is_not_echoed(self):
        for given in ("rediss://u:%s@127.0.0.1:1" % WRONG, "redis://u:%s@127.0.0.1:1/notadb" % WRONG):
            _, run = self.generate(given)
            self.assertEqual(run.returncode, 2, run.stderr)
            self.assertIn("--redis", run.stderr)
            assert_no_secret(run.stdout + run.stderr, "rtpush-nodes' refusal")


class RefusedUrl(unittest.TestCase):
    """A `redis` option refused as malformed: the refused vhost's answers
    and the log name the problem, never the password."""

    def test_malformed_urls_with_a_password(self):
        for given, says in [("redis://u:%s@127.0.0.1:port" % WRONG, "bad port in the redis URL"),
                            ("redis://u:%s%%zz@127.0.0.1:1" % WRONG, "bad %-escape"),
                            ("rediss://u:%s@127.0.0.1:1" % WRONG, "the redis URL must be")]:
            with self.subTest(given.split(":")[0]):
                node = Server(redis=given)
                node.launch()
                try:
                    def refused():
                        try:
                            return node.get("health")[0] == 503
                        except OSError:
                            return False
                    wait_until(refused, 15, "the vhost was not refused")
                    for method, path in [("GET", "health"), ("GET", "metrics"), ("POST", "publish/x")]:
                        status, body = node.request(method, path, "1" if method == "POST" else None)
                        self.assertEqual(status, 503)
                        self.assertIn("redis", body)
                        assert_no_secret(body, "the refused vhost's %s %s" % (method, path))
                    status, head, body = upgrade_status(node.port, protocol="rtpush-json")
                    self.assertEqual(status, 503)
                    assert_no_secret(head + body.decode(errors="replace"), "the refused upgrade")
                    log = node.log_text()
                    self.assertIn("event=config_refused", log)
                    self.assertIn(says, log)
                    assert_no_secret(log, "the refused node's log")
                finally:
                    node.stop()


if __name__ == "__main__":
    unittest.main(verbosity=2)
