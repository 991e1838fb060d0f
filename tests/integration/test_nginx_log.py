"""The shipped nginx site logs no query strings (SPEC 17): a token in
`?token=` is a bearer secret and must not land in the access log."""
import unittest

from rtpush_harness import Nginx, Server, timed_get, upgrade_status, wait_until


class NginxAccessLog(unittest.TestCase):
    def test_no_query_string_in_the_access_log(self):
        with Server() as node, Nginx([node.port]) as nginx:
            status, _, _ = timed_get(nginx.port, "health?token=SECRET123", timeout=5)
            self.assertEqual(status, 200)
            # a token on a vhost without a key is refused (401), and logged
            self.assertEqual(upgrade_status(nginx.port, query="?token=SECRET456")[0], 401)
            wait_until(lambda: nginx.access_log().count("\n") >= 2, 10, "nginx logged nothing")
            log = nginx.access_log()
            print("nginx access log:\n" + log)
            self.assertIn("GET /health HTTP/1.1", log)  # the request is logged, its path ...
            self.assertNotIn("SECRET", log)  # ... without the query


if __name__ == "__main__":
    unittest.main()
