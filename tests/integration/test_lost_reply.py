"""A publish whose Redis link breaks after the script went out: Redis may
have run it, so the UNAVAILABLE answer must say the message may have been
published (docs/protocol.md), never that nothing was."""
import asyncio
import json
import threading
import time
import unittest

from rtpush_harness import Redis, Server, recv_type, wait_until

# Keeps Redis busy (it reads no other command meanwhile) for 1.5 s.
BUSY = "local t = redis.call('TIME') local s = t[1] + t[2] / 1e6 " \
       "repeat t = redis.call('TIME') until t[1] + t[2] / 1e6 > s + 1.5 return 1"


class LostReply(unittest.IsolatedAsyncioTestCase):
    async def test_link_lost_after_the_publish_was_sent(self):
        with Redis() as redis, Server(redis=redis.url) as node:
            ws, _ = await node.connect()
            busy = threading.Thread(target=lambda: self.quiet(redis.command, "EVAL", BUSY, "0"))
            busy.start()
            time.sleep(0.2)
            await ws.send(json.dumps({"type": "publish", "channel": "lost", "data": 1, "ref": "p"}))
            await asyncio.sleep(0.4)  # the script is on its way to (or in) Redis, not answered
            redis.stop()
            busy.join()
            err = await recv_type(ws, "error", timeout=10)
            self.assertEqual((err["code"], err["ref"]), ("UNAVAILABLE", "p"))
            self.assertIn("may have been published", err["message"])
            # Redis down before the publish: then nothing was published, and it says so.
            wait_until(lambda: node.get("health")[0] == 503, 10, "redis down")
            await ws.send(json.dumps({"type": "publish", "channel": "lost", "data": 2, "ref": "q"}))
            err = await recv_type(ws, "error")
            self.assertEqual((err["code"], err["ref"]), ("UNAVAILABLE", "q"))
            self.assertIn("nothing was published", err["message"])
            await ws.close()

    @staticmethod
    def quiet(f, *args):
        try:
            f(*args)
        except OSError:
            pass  # Redis was killed under it


if __name__ == "__main__":
    unittest.main(verbosity=2)
