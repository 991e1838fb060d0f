"""rtpush-publish (README.md "rtpush-publish") against a real lwsws, and its usage errors."""
import asyncio
import json
import subprocess
import unittest

from rtpush_harness import ServerCase, PUBLISH_CLI, free_port, recv_type


def run(*args, stdin=None):
    p = subprocess.run([PUBLISH_CLI, *args], input=stdin, capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


class Usage(unittest.TestCase):
    def test_help(self):
        rc, out, _ = run("--help")
        self.assertEqual(rc, 0)
        for word in ("--url", "--redis", "--channel", "--data", "standard input", "Exit status"):
            self.assertIn(word, out)

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


if __name__ == "__main__":
    unittest.main(verbosity=2)
