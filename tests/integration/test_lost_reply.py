"""A publish whose Redis link breaks after the script went out: Redis may
have run it, so the UNAVAILABLE answer must say the message may have been
published (docs/protocol.md), never that nothing was."""
import asyncio
import json
import unittest

from rtpush_harness import Redis, Server, recv_type, wait_until


def publish_held(redis):
    """A client of Redis (the node's publish link) has sent a script Redis
    holds unanswered: CLIENT PAUSE WRITE postpones it, flag b."""
    return any("b" in c.get("flags", "") and c.get("cmd") in ("eval", "evalsha") for c in redis.client_list())


class LostReply(unittest.IsolatedAsyncioTestCase):
    async def test_link_lost_after_the_publish_was_sent(self):
        with Redis() as redis, Server(redis=redis.url) as node:
            ws, _ = await node.connect()
            # Redis reads the publish's script and answers nothing until it
            # is killed: the script went out, its reply is lost.
            received = 'rtpush_messages_received_total{type="publish"}'
            before = node.metrics()[received]
            self.assertEqual(redis.command("CLIENT", "PAUSE", "60000", "WRITE"), "+OK")
            await ws.send(json.dumps({"type": "publish", "channel": "lost", "data": 1, "ref": "p"}))
            await asyncio.to_thread(wait_until, lambda: node.metrics()[received] > before and publish_held(redis),
                                    10, "the publish did not reach Redis")
            redis.stop()
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


if __name__ == "__main__":
    unittest.main(verbosity=2)
