"""A node's publishes before its first Redis connection (a node just
started, the new child of a reload): they wait for that connection, at most
5 s, instead of a 503 (docs/limits.md); past the 5 s, the 503 of an outage."""
import contextlib
import threading
import time
import unittest

from rtpush_harness import Redis, Server, wait_until


@contextlib.contextmanager
def node_stopped(node):
    try:
        yield node
    finally:
        node.__exit__(None, None, None)
        node.cleanup()


def serving(server):
    """The node listens (health answers, 503 while Redis is down)."""
    try:
        return server.get("health")[0] in (200, 503)
    except OSError:
        return False


class FirstConnection(unittest.TestCase):
    def test_a_publish_before_the_first_connection_waits_for_it(self):
        redis = Redis()  # not started yet: the node comes up without it
        node = Server(redis=redis.url)  # not `with`: that waits for a healthy node
        with node_stopped(node):
            node.launch()
            wait_until(lambda: serving(node), 15, "the node did not listen")
            answer = {}

            def publish():
                started = time.time()
                answer["result"] = node.request("POST", "publish/first", "1", timeout=20)
                answer["took"] = time.time() - started
            t = threading.Thread(target=publish)
            t.start()
            time.sleep(1)
            try:
                redis.start()
                t.join(20)
                status, body = answer["result"]
                self.assertEqual(status, 200, body)
                self.assertGreater(answer["took"], 0.9)  # it waited for Redis
                self.assertEqual(redis.call("XLEN", "rtpush:stream:first"), 1)
            finally:
                redis.stop()

    def test_past_5_s_the_wait_ends_in_503(self):
        redis = Redis()  # never started
        node = Server(redis=redis.url)  # not `with`: that waits for a healthy node
        with node_stopped(node):
            node.launch()
            wait_until(lambda: serving(node), 15, "the node did not listen")
            started = time.time()
            status, body = node.request("POST", "publish/never", "1", timeout=30)
            took = time.time() - started
            self.assertEqual(status, 503, body)
            self.assertIn("redis is unavailable", body)
            self.assertGreater(took, 4)   # the wait (5 s from the first publish waiting)
            self.assertLess(took, 15)
            # Once the wait is over, an outage answers at once.
            started = time.time()
            self.assertEqual(node.request("POST", "publish/never", "1", timeout=30)[0], 503)
            self.assertLess(time.time() - started, 2)


if __name__ == "__main__":
    unittest.main()
