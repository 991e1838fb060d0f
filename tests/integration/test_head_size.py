"""Request heads and the shipped configuration (SPEC 17): a head larger
than the node takes gets 431, not a silent close; a token of the size
docs/limits.md allows (8 KB) fits the shipped configuration, directly and
through the shipped nginx site."""
import unittest

from rtpush_harness import Nginx, Server, mint_hs256, timed_get, upgrade_status

SECRET = "s" * 32


def token_of_size(size):
    """A valid HS256 token (sub "u") padded with a claim to `size` bytes."""
    base = mint_hs256(SECRET, {"sub": "u", "pad": ""})
    pad = "x" * ((size - len(base)) * 3 // 4)
    token = mint_hs256(SECRET, {"sub": "u", "pad": pad})
    while len(token) > size:
        pad = pad[:-1]
        token = mint_hs256(SECRET, {"sub": "u", "pad": pad})
    return token


class HeadSize(unittest.TestCase):
    def test_a_head_larger_than_the_node_takes_gets_431(self):
        with Server(shipped_global=True) as node:
            for size in (20000, 70000):
                status, secs, data = timed_get(node.port, "health?token=" + "t" * size, timeout=5)
                print("a %d byte query: status %d after %.2f s" % (size, status, secs))
                self.assertEqual(status, 431, data[:200])
            self.assertEqual(node.get("health")[0], 200)  # and it still serves

    def test_a_token_of_the_documented_size_fits(self):
        token = token_of_size(8192)
        self.assertGreater(len(token), 8188)
        with Server(shipped_global=True, files={"jwt_secret_file": SECRET}) as node:
            direct = upgrade_status(node.port, query="?token=" + token)[0]
            with Nginx([node.port]) as nginx:
                proxied = upgrade_status(nginx.port, query="?token=" + token)[0]
            print("an 8192 byte token: direct %d, through nginx %d" % (direct, proxied))
            self.assertEqual(direct, 101)
            self.assertEqual(proxied, 101)


if __name__ == "__main__":
    unittest.main()
