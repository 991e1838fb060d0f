"""rtpush-publish fed from a thread: a steady stream of publishes."""
import subprocess
import threading
import time

from .env import PUBLISH_CLI


class FedPublisher:
    """rtpush-publish --redis on `channel`, fed {"i": n} for n < count, a
    line every ~0.5 ms from a thread: a steady stream while a test breaks
    something."""

    def __init__(self, redis_url, channel, count):
        self.cli = subprocess.Popen([PUBLISH_CLI, "--redis", redis_url, "--channel", channel],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

        def feed():
            for i in range(count):
                self.cli.stdin.write('{"i":%d}\n' % i)
                self.cli.stdin.flush()
                time.sleep(0.0005)
            self.cli.stdin.close()
        self.feeder = threading.Thread(target=feed)
        self.feeder.start()

    def finish(self):
        """Waits until all is fed; (the ids it printed, its exit status)."""
        self.feeder.join()
        published = self.cli.stdout.read().split()
        self.cli.stdout.close()
        return published, self.cli.wait()
