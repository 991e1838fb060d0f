"""A vhost whose `rtpush` options are refused answers 503 naming the
refused option on every path of its mount, and refuses WebSocket upgrades
(SPEC 17), instead of closing connections without a status."""
import unittest

from rtpush_harness import Server, upgrade_status, wait_until

PATHS = [("GET", "health"), ("GET", "metrics"), ("POST", "publish/x"), ("GET", "sse/x"),
         ("GET", "no/such/path"), ("GET", "nodes"), ("HEAD", "health")]


class RefusedVhost(unittest.TestCase):
    def answers(self, server):
        """{(method, path): (status, body)}; status 0: closed without one."""
        out = {}
        for method, path in PATHS:
            try:
                out[(method, path)] = server.request(method, path, body='{"a":1}' if method == "POST" else None,
                                                     timeout=5)
            except OSError as e:
                out[(method, path)] = (0, repr(e))
        return out

    def check(self, server, option):
        server.launch()
        try:
            def up():  # listening: answered, or closed without an answer
                try:
                    server.get("health")
                    return True
                except OSError as e:  # urllib wraps the socket's error
                    if isinstance(getattr(e, "reason", e), ConnectionRefusedError):
                        return server.proc.poll() is not None
                    return True
            wait_until(up, 15, "the node did not answer")
            answers = self.answers(server)
            upgrades = {p: upgrade_status(server.port, protocol=p)
                        for p in ("rtpush-json", "rtpush-msgpack", "rtpush-protobuf")}
            print("refused %s: %s; upgrades %s" % (option, {k: v[0] for k, v in answers.items()},
                                                  {k: v[0] for k, v in upgrades.items()}))
            for (method, path), (status, body) in answers.items():
                self.assertEqual(status, 503, (method, path, body))
                if method != "HEAD":
                    self.assertIn(option, body, (method, path))
            for protocol, (status, head, body) in upgrades.items():
                self.assertEqual(status, 503, (protocol, head))
                self.assertIn(option.encode(), body, protocol)
            self.assertIn("event=config_refused", server.log_text())
        finally:
            server.stop()

    def test_a_bad_value(self):
        self.check(Server(history_size="lots"), "history-size")

    def test_an_unusable_file(self):
        server = Server(files={"channels_file": "{namespaces: nope"})
        self.check(server, "channels-file")


if __name__ == "__main__":
    unittest.main()
