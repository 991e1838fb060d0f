"""rtpush.js (clients/js) against real lwsws nodes, through Node.js
(tests/js/integration/client.mjs prints what the client reports as JSON
lines): a node killed and restarted on the same port (messages published
before, while it is down through a second node on the same Redis, and
after: each arrives once, in id order), recovered:false once the missed
range is trimmed, and a token function refreshing short-lived tokens."""
import json
import os
import queue
import shutil
import subprocess
import threading
import time
import unittest

from rtpush_harness import Redis, Server, id_pair, wait_until

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLIENT = os.path.join(ROOT, "tests", "js", "integration", "client.mjs")
NODE = shutil.which("node")
SECRET = "js-client-test-secret"


def setUpModule():
    # Node.js is a requirement of this test, not an option: without it the
    # test fails (a skip would let CTest report rtpush.js as tested).
    if not NODE:
        raise AssertionError("node (Node.js) is not on PATH: rtpush.js cannot be tested; install nodejs")


class NodeClient:
    """One rtpush.js client in a Node.js process; events() in order."""

    def __init__(self, config):
        self.proc = subprocess.Popen([NODE, CLIENT, json.dumps(config)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines = queue.Queue()
        self.seen = []
        self.exited = False
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(json.loads(line))
        self.lines.put(None)

    def arrivals(self, seconds):
        """Events as they arrive, for up to `seconds`, each kept in `seen`;
        ends early once the process has exited (`exited`)."""
        deadline = time.time() + seconds
        while not self.exited and time.time() < deadline:
            try:
                event = self.lines.get(timeout=max(0.01, deadline - time.time()))
            except queue.Empty:
                return
            if event is None:
                self.exited = True
                return
            self.seen.append(event)
            yield event

    def wait_for(self, ready, timeout=20, what="an event"):
        """The first event, from the start, for which ready(event) holds."""
        for event in self.seen:
            if ready(event):
                return event
        for event in self.arrivals(timeout):
            if ready(event):
                return event
        if self.exited:
            raise AssertionError("the node client exited: %s\n%s" % (self.proc.wait(), self.proc.stderr.read()))
        raise AssertionError("no %s within %ss; events: %s" % (what, timeout, self.seen[-20:]))

    def drain(self, seconds):
        """Collects events for `seconds` more."""
        for _ in self.arrivals(seconds):
            pass

    def events(self, kind, **match):
        return [e for e in self.seen if e["event"] == kind and all(e.get(k) == v for k, v in match.items())]

    def subscribed(self, channels, times=1):
        """Waits until each channel was confirmed `times` times."""
        for channel in channels:
            self.wait_for(lambda e: e["event"] == "subscribed" and len(self.events("subscribed", channel=channel)) >= times,
                          what="subscribed to %s (%d)" % (channel, times))

    def states(self):
        return [e["state"] for e in self.events("state")]

    def send(self, cmd):
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()

    def close(self):
        if self.proc.poll() is None:
            try:
                self.send({"cmd": "close"})
                self.proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()


def restarted(node, **options):
    """A node again on the port of `node`, which was killed."""
    again = Server(**options)
    shutil.rmtree(again.dir, ignore_errors=True)
    again.dir, again.port = node.dir + "-again", node.port
    os.makedirs(again.dir)
    again.log_path = os.path.join(again.dir, "lwsws.log")
    return again.start()


def ids_of(client, channel):
    return [e["id"] for e in client.events("message", channel=channel)]


class Reconnect(unittest.TestCase):
    def test_restart_on_the_same_port_loses_and_doubles_nothing(self):
        with Redis() as redis, Server(redis=redis.url, node_id="b") as b:
            a = Server(redis=redis.url, node_id="a").start()
            try:
                # "early" already has a message before the subscribe: its
                # position is where an undelivered channel resumes from.
                early_before = b.publish_http("js:early", {"before": True})
                # The empty channel resumes from the node's clock at connect
                # less 1 s, which must not predate the Redis data set (a
                # since before it is recovered:false): the set is older now.
                time.sleep(1.1)
                channels = ["js:news", "js:empty", "js:early"]
                client = NodeClient({"url": a.ws_url, "channels": channels})
                try:
                    client.subscribed(channels)
                    published = [a.publish_http("js:news", {"n": n}) for n in range(5)]
                    client.wait_for(lambda e: e.get("id") == published[-1], what="the 5th message")
                    a.kill()
                    client.wait_for(lambda e: e.get("state") == "disconnected", what="disconnected")
                    # while the node is down, through the other node
                    published += [b.publish_http("js:news", {"n": n}) for n in range(5, 10)]
                    empty = [b.publish_http("js:empty", {"n": n}) for n in range(3)]
                    early = [b.publish_http("js:early", {"n": n}) for n in range(2)]
                    a = restarted(a, redis=redis.url, node_id="a")
                    client.subscribed(channels, times=2)
                    published += [a.publish_http("js:news", {"n": n}) for n in range(10, 15)]
                    client.wait_for(lambda e: e.get("id") == published[-1], what="the 15th message")
                    client.wait_for(lambda e: e.get("id") == empty[-1], what="the empty channel's messages")
                    client.wait_for(lambda e: e.get("id") == early[-1], what="the early channel's messages")
                    client.drain(0.5)
                    self.assertEqual(ids_of(client, "js:news"), published)
                    self.assertEqual([e["data"]["n"] for e in client.events("message", channel="js:news")], list(range(15)))
                    self.assertEqual(ids_of(client, "js:empty"), empty)
                    self.assertEqual(ids_of(client, "js:early"), early)
                    self.assertNotIn(early_before, ids_of(client, "js:early"))
                    for channel in ("js:news", "js:empty", "js:early"):
                        self.assertEqual([e["value"] for e in client.events("recovered", channel=channel)], [True], channel)
                    # publishing through the client works on the new connection
                    client.send({"cmd": "publish", "channel": "js:news", "data": {"n": 15}})
                    answer = client.wait_for(lambda e: e["event"] in ("published", "publish_error"), what="publish answer")
                    self.assertEqual(answer["event"], "published", answer)
                    client.wait_for(lambda e: e.get("id") == answer["id"], what="own message")
                    ids = ids_of(client, "js:news")
                    self.assertEqual(ids, sorted(ids, key=id_pair))
                    self.assertEqual(len(ids), len(set(ids)))
                finally:
                    client.close()
            finally:
                a.stop()

    def test_recovered_false_after_the_history_is_trimmed(self):
        with Redis() as redis, Server(redis=redis.url, node_id="b", history_size=3) as b:
            a = Server(redis=redis.url, node_id="a", history_size=3).start()
            try:
                client = NodeClient({"url": a.ws_url, "channels": ["js:trim"]})
                try:
                    client.subscribed(["js:trim"])
                    first = a.publish_http("js:trim", {"n": 0})
                    client.wait_for(lambda e: e.get("id") == first, what="the first message")
                    a.kill()
                    missed = [b.publish_http("js:trim", {"n": n}) for n in range(1, 11)]
                    a = restarted(a, redis=redis.url, node_id="a", history_size=3)
                    recovered = client.wait_for(lambda e: e["event"] == "recovered", what="recovered")
                    self.assertIs(recovered["value"], False)
                    client.wait_for(lambda e: e.get("id") == missed[-1], what="the last message")
                    client.drain(0.3)
                    got = ids_of(client, "js:trim")
                    # what is retained arrives, in order, once; nothing older twice
                    self.assertEqual(got[0], first)
                    self.assertEqual(got[1:], missed[-len(got) + 1:])
                    self.assertLessEqual(len(got) - 1, 3 + 1)
                finally:
                    client.close()
            finally:
                a.stop()


class Tokens(unittest.TestCase):
    def test_a_token_function_keeps_a_connection_past_its_tokens_expiry(self):
        with Server(files={"jwt_secret_file": SECRET + "\n"}, auth="required") as server:
            client = NodeClient({"url": server.ws_url, "channels": ["t"], "secret": SECRET, "sub": "u1", "ttl": 4})
            try:
                client.subscribed(["t"])
                client.drain(9)  # two token lifetimes and more: refreshed in time or closed 1008
                self.assertEqual(client.states(), ["connecting", "connected"], client.seen)
                self.assertGreaterEqual(len(client.events("token")), 3)
                self.assertGreaterEqual(len(client.events("authenticated", user="u1")), 2)
                self.assertEqual(client.events("error"), [])
                id_ = server.publish_http("t", {"late": True})
                client.wait_for(lambda e: e.get("id") == id_, what="a message after the refreshes")
            finally:
                client.close()

    def test_the_token_goes_in_an_auth_frame_unless_token_in_url(self):
        """SPEC section 17: a URL is logged by proxies and servers; the token
        goes in an `auth` frame, and `auth required` is met by it."""
        with Server(files={"jwt_secret_file": SECRET + "\n"}, auth="required") as server:
            for in_url in (False, True):
                with self.subTest(tokenInUrl=in_url):
                    client = NodeClient({"url": server.ws_url, "channels": ["t"], "secret": SECRET, "sub": "u3",
                                         "ttl": 600, "tokenInUrl": in_url})
                    try:
                        client.subscribed(["t"])  # under auth required: the token was accepted either way
                        if not in_url:  # the answer to the auth frame
                            client.wait_for(lambda e: e.get("event") == "authenticated" and e.get("user") == "u3",
                                            what="authenticated")
                        urls = [e["url"] for e in client.events("ws_url")]
                        self.assertEqual(len(urls), 1, client.seen)
                        self.assertEqual("token=" in urls[0], in_url, urls[0])
                        self.assertEqual(client.events("error"), [])
                    finally:
                        client.close()

    def test_1008_is_retried_once_with_a_fresh_token_then_reported(self):
        with Server(files={"jwt_secret_file": SECRET + "\n"}, auth="required") as server:
            client = NodeClient({"url": server.ws_url, "channels": ["t"], "secret": SECRET, "sub": "u2", "ttl": 600})
            try:
                client.wait_for(lambda e: e.get("state") == "connected", what="connected")
                wait_until(lambda: len(json.loads(server.get("users/u2")[1])["connections"]) == 1, 10, "listed")
                self.assertEqual(server.request("POST", "users/u2/disconnect")[0], 200)
                client.wait_for(lambda e: e.get("code") == 1008, what="the 1008 reported")
                client.wait_for(lambda e: len(client.events("state", state="connected")) == 2, what="one retry")
                self.assertEqual(len(client.events("token")), 2)  # a fresh token for the retry
                wait_until(lambda: len(json.loads(server.get("users/u2")[1])["connections"]) == 1, 10, "listed again")
                self.assertEqual(server.request("POST", "users/u2/disconnect")[0], 200)
                stopped = client.wait_for(lambda e: e.get("state") == "disconnected" and not e["detail"]["retrying"],
                                          what="stopped")
                self.assertEqual(stopped["detail"]["code"], 1008)
                client.drain(3)
                self.assertEqual(len(client.events("state", state="connecting")), 2)
            finally:
                client.close()


if __name__ == "__main__":
    unittest.main()
