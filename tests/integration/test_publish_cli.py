"""rtpush-publish (README.md "rtpush-publish") against a real lwsws, and its usage errors."""
import asyncio
import json
import os
import shutil
import subprocess
import tempfile
import unittest

from rtpush_harness import PUBLISH_CLI, Server, ServerCase, free_port, no_frame, recv_type


def run(*args, stdin=None, api_key=None):
    """`api_key`: RTPUSH_API_KEY for the CLI; never inherited from the test's own environment."""
    env = {k: v for k, v in os.environ.items() if k != "RTPUSH_API_KEY"}
    if api_key is not None:
        env["RTPUSH_API_KEY"] = api_key
    p = subprocess.run([PUBLISH_CLI, *args], input=stdin, capture_output=True, text=True, timeout=60, env=env)
    return p.returncode, p.stdout, p.stderr


def key_file(directory, text, name="key"):
    path = os.path.join(directory, name)
    with open(path, "w") as f:
        f.write(text)
    return path


class Usage(unittest.TestCase):
    def test_help(self):
        rc, out, _ = run("--help")
        self.assertEqual(rc, 0)
        for word in ("--url", "--redis", "--channel", "--data", "standard input", "Exit status",
                     "--api-key-file", "RTPUSH_API_KEY", "Authorization: Bearer"):
            self.assertIn(word, out)

    def test_api_key_file_that_cannot_be_used_exits_2_with_the_reason(self):
        url = "http://127.0.0.1:%d/" % free_port()
        with tempfile.TemporaryDirectory() as d:
            missing = os.path.join(d, "missing")
            unreadable = key_file(d, "k\n", "unreadable")
            os.chmod(unreadable, 0)
            empty = key_file(d, "\n", "empty")
            cases = [(missing, "No such file"), (empty, "empty"), (d, "")]
            if os.geteuid() != 0:  # root reads a mode-0 file anyway
                cases.append((unreadable, "Permission denied"))
            for path, why in cases:
                rc, out, err = run("--url", url, "--api-key-file", path, "--channel", "c", "--data", "1")
                self.assertEqual((rc, out), (2, ""), path)
                self.assertIn("--api-key-file", err)
                self.assertIn(why, err)
            # Redis is not behind the API key: the option is a mistake there.
            rc, _, err = run("--redis", "redis://127.0.0.1:%d" % free_port(), "--api-key-file",
                             key_file(d, "k\n"), "--channel", "c", "--data", "1")
            self.assertEqual(rc, 2)
            self.assertIn("--url", err)

    def test_bad_usage_exits_2_with_a_reason(self):
        url = "http://127.0.0.1:%d/" % free_port()
        for args in ([], ["--channel", "c"], ["--url", url], ["--url", url, "--channel", "a b"],
                     ["--url", url, "--channel", "c", "--bogus"], ["--url"], ["--url", url, "--redis", "redis://x",
                                                                            "--channel", "c"],
                     ["--url", url, "--channel", "c", "extra"]):
            rc, out, err = run(*args)
            self.assertEqual(rc, 2, args)
            self.assertTrue(err.strip(), args)
            self.assertEqual(out, "")

    def test_redis_usage_and_redis_down(self):
        rc, _, err = run("--redis", "127.0.0.1:6379", "--channel", "c", "--data", "1")
        self.assertEqual(rc, 2)
        self.assertIn("redis://", err)
        rc, out, err = run("--redis", "redis://127.0.0.1:%d" % free_port(), "--channel", "c", "--data", "1")
        self.assertEqual((rc, out), (1, ""))
        self.assertIn("cannot reach", err)

    def test_server_down_exits_1(self):
        url = "http://127.0.0.1:%d/" % free_port()
        rc, out, err = run("--url", url, "--channel", "c", "--data", "1")
        self.assertEqual((rc, out), (1, ""))
        self.assertIn("cannot reach", err)
        rc, out, err = run("--url", url, "--channel", "c", stdin="1\n2\n")
        self.assertEqual(rc, 1)


class AgainstServer(ServerCase, unittest.IsolatedAsyncioTestCase):
    server_options = {"max_message_bytes": 1000}

    async def subscriber(self, channel):
        ws, _ = await self.server.connect()
        await ws.send(json.dumps({"type": "subscribe", "channel": channel}))
        await recv_type(ws, "subscribed")
        return ws

    async def test_data_prints_the_id_subscribers_see(self):
        ws = await self.subscriber("cli/1")
        for url in (self.server.http + "/", self.server.http):
            rc, out, err = await asyncio.to_thread(run, "--url", url, "--channel", "cli/1", "--data", '{"a": [1, 2]}')
            self.assertEqual(rc, 0, err)
            msg = await recv_type(ws, "message")
            self.assertEqual(out, msg["id"] + "\n")
            self.assertEqual(msg["data"], {"a": [1, 2]})
        await ws.close()

    async def test_stdin_lines_in_order_and_failures(self):
        ws = await self.subscriber("cli-2")
        lines = '{"n":0}\n\n[1]\nnot json\n"s"\n' + json.dumps("x" * 2000) + "\n7\n"
        rc, out, err = await asyncio.to_thread(run, "--url", self.server.http, "--channel", "cli-2", stdin=lines)
        self.assertEqual(rc, 1)
        self.assertIn("line 4", err)   # not JSON
        self.assertIn("413", err)      # too large
        ids = out.split()
        self.assertEqual(len(ids), 4)
        got = [await recv_type(ws, "message") for _ in ids]
        self.assertEqual([m["id"] for m in got], ids)
        self.assertEqual([m["data"] for m in got], [{"n": 0}, [1], "s", 7])
        await ws.close()

    async def test_many_lines(self):
        """2,000 lines: 2,000 distinct ids in order, each line delivered once as its own message."""
        ws, _ = await self.server.connect()
        await ws.send(json.dumps({"type": "subscribe", "channel": "cli-3"}))
        await recv_type(ws, "subscribed")
        lines = "".join('{"i":%d}\n' % i for i in range(2000))
        rc, out, err = await asyncio.to_thread(run, "--url", self.server.http, "--channel", "cli-3", stdin=lines)
        self.assertEqual(rc, 0, err)
        ids = out.split()
        self.assertEqual(len(ids), 2000)
        pairs = [tuple(map(int, i.split("-"))) for i in ids]
        self.assertEqual(pairs, sorted(set(pairs)))  # distinct and increasing
        got = [await recv_type(ws, "message") for _ in range(2000)]
        self.assertEqual([m["id"] for m in got], ids)
        self.assertEqual([m["data"] for m in got], [{"i": i} for i in range(2000)])
        await ws.close()


class WithApiKey(unittest.IsolatedAsyncioTestCase):
    """A vhost with api-key-file: the CLI sends the key from --api-key-file
    or RTPUSH_API_KEY (the option wins); without it, or with a wrong one,
    the server answers 401 and the CLI exits 1 saying so."""
    KEY = "k3y-0f-th1s-v#ost"

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="rtpush-cli-key-")
        cls.good = key_file(cls.dir, cls.KEY + "\n", "good")
        cls.bad = key_file(cls.dir, "not-the-key\n", "bad")
        cls.server = Server(api_key_file=cls.good).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def publish(self, *extra, **kw):
        return run("--url", self.server.http, "--channel", "keyed", *extra, **kw)

    async def test_without_the_key_401_exit_1(self):
        ws, _ = await self.server.connect()
        await ws.send(json.dumps({"type": "subscribe", "channel": "keyed"}))
        await recv_type(ws, "subscribed")
        for kw in ({}, {"api_key": ""}, {"api_key": "not-the-key"}):
            rc, out, err = await asyncio.to_thread(self.publish, "--data", "1", **kw)
            self.assertEqual((rc, out), (1, ""), kw)
            self.assertIn("401", err)
            self.assertIn("API key", err)
        rc, out, err = await asyncio.to_thread(self.publish, "--api-key-file", self.bad, "--data", "1")
        self.assertEqual((rc, out), (1, ""))
        self.assertIn("401", err)
        # Standard input stops at the first 401: every later line would be refused too.
        rc, out, err = await asyncio.to_thread(self.publish, stdin="1\n2\n3\n")
        self.assertEqual((rc, out), (1, ""))
        self.assertEqual(err.count("401"), 1, err)
        await no_frame(ws)  # nothing was published
        await ws.close()

    async def test_key_file_or_environment_publishes(self):
        ws, _ = await self.server.connect()
        await ws.send(json.dumps({"type": "subscribe", "channel": "keyed"}))
        await recv_type(ws, "subscribed")
        for args, kw in ((("--api-key-file", self.good), {}),
                         ((), {"api_key": self.KEY}),
                         (("--api-key-file", self.good), {"api_key": "not-the-key"})):  # the option wins
            rc, out, err = await asyncio.to_thread(self.publish, *args, "--data", '{"k":1}', **kw)
            self.assertEqual(rc, 0, (args, kw, err))
            msg = await recv_type(ws, "message")
            self.assertEqual(out, msg["id"] + "\n")
            self.assertEqual(msg["data"], {"k": 1})
        await ws.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
