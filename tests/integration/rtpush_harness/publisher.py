"""rtpush-publish fed from a thread: a steady stream of publishes."""
import subprocess
import threading
import time

from .env import PUBLISH_CLI


class FedPublisher:
    """rtpush-publish --redis on `channel`, fed {"i": n} for n < count, a
    line every `pace` s (~0.5 ms) from a thread: a steady stream while a
    test breaks something."""

    def __init__(self, redis_url, channel, count, pace=0.0005):
        self.cli = subprocess.Popen([PUBLISH_CLI, "--redis", redis_url, "--channel", channel],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

        def feed():
            for i in range(count):
                self.cli.stdin.write('{"i":%d}\n' % i)
                self.cli.stdin.flush()
                time.sleep(pace)
            self.cli.stdin.close()
        self.feeder = threading.Thread(target=feed)
        self.feeder.start()
        # Read as it prints: 4,000 ids are more than a pipe holds (64 KiB),
        # and a CLI blocked on a full stdout stops reading its input, which
        # blocked the feeder until the test's deadline.
        self.output = []
        self.reader = threading.Thread(target=lambda: self.output.append(self.cli.stdout.read()))
        self.reader.start()

    def finish(self):
        """Waits until all is fed; (the ids it printed, its exit status)."""
        self.feeder.join()
        self.reader.join()
        published = "".join(self.output).split()
        self.cli.stdout.close()
        return published, self.cli.wait()
