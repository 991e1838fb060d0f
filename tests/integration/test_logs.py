"""The log an operator reads (docs/operations.md "Logs"): one key=value
line per event, from a real lwsws: node_start, a refused
configuration naming its option and file, and refused tokens sampled
(a flood of bad tokens is counted in full, logged a line a second)."""
import re
import time
import unittest
import urllib.error
import urllib.request

from rtpush_harness import Server


def refused_tokens(server):
    return sum(v for k, v in server.metrics().items() if k.startswith("rtpush_auth_failures_total"))


class Logs(unittest.TestCase):
    def test_start_is_an_event(self):
        with Server(node_id="log-node") as node:
            self.assertRegex(node.log_text(), r"rtpush: node=log-node event=node_start vhost=\S+ broker=embedded "
                                              r"postgres=off history=\d+\n")

    def test_refused_configuration_names_option_and_path(self):
        server = Server(files={"channels_file": "{namespaces: nope"})
        path = server.options["channels-file"]
        log = server.start_refused()
        line = next((l for l in log.splitlines() if "event=config_refused" in l), None)
        self.assertIsNotNone(line, log)
        self.assertRegex(line, r"rtpush: (node=\S+ )?event=config_refused vhost=")
        self.assertIn(" option=channels-file path=%s cause=\"channels-file %s: " % (path, path), line)

    def test_refused_tokens_are_sampled_and_counted(self):
        with Server(files={"jwt_secret_file": "s" * 32}) as node:
            started = time.time()
            for _ in range(60):
                try:
                    urllib.request.urlopen(node.http + "/sse/c?token=not-a-token", timeout=5)
                    self.fail("a bad token was accepted")
                except urllib.error.HTTPError as e:
                    self.assertEqual(e.code, 401)
            elapsed = time.time() - started
            self.assertEqual(refused_tokens(node), 60)  # every one counted
            log = node.log_text()
            lines = [l for l in log.splitlines() if "event=auth_refused" in l]
            self.assertTrue(lines, log[-3000:])
            self.assertLessEqual(len(lines), int(elapsed) + 2, lines)  # a line a second, not one each
            self.assertRegex(lines[0], r"rtpush: node=\S+ event=auth_refused reason=malformed on=")
            self.assertNotIn("not-a-token", log)
            # the next line after a quiet second says how many were dropped
            time.sleep(1.1)
            with self.assertRaises(urllib.error.HTTPError):
                urllib.request.urlopen(node.http + "/sse/c?token=not-a-token", timeout=5)
            deadline = time.time() + 5
            while time.time() < deadline:
                last = [l for l in node.log_text().splitlines() if "event=auth_refused" in l][-1]
                if last != lines[-1]:
                    break
                time.sleep(0.05)
            dropped = sum(int(n) for n in re.findall(r"suppressed=(\d+)", node.log_text()))
            logged = len([l for l in node.log_text().splitlines() if "event=auth_refused" in l])
            self.assertEqual(logged + dropped, 61)


if __name__ == "__main__":
    unittest.main()
