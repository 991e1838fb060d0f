"""bench/failover.sh sentinel: see there. Prints key=value lines."""
import http.client
import os
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
from rtpush_harness import RedisSentinelSet, Server  # noqa: E402

RUNS = int(os.environ.get("RUNS", "3"))
DOWN_AFTER_MS = int(os.environ.get("DOWN_AFTER_MS", "1000"))
PUBLISHES = int(os.environ.get("PUBLISHES", "3000"))


def publish(conn):
    conn.request("POST", "/publish/bench", body=b'{"n":1}', headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    r.read()
    return r.status


def first_accepted(port, since, seconds=60):
    """Seconds from `since` to the first 200, publishing every 10 ms."""
    while time.time() - since < seconds:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            if publish(conn) == 200:
                return time.time() - since
        except OSError:
            pass
        finally:
            conn.close()
        time.sleep(0.01)
    return None


def failover_runs():
    times = []
    for run in range(RUNS):
        with RedisSentinelSet(down_after_ms=DOWN_AFTER_MS) as s, Server(redis=s.url, node_id="bench") as node:
            assert first_accepted(node.port, time.time()) is not None
            old = s.master_port()
            switched = []

            def watch():  # when a sentinel first names another master
                while time.time() - killed < 60:
                    try:
                        if any(int(x.call("SENTINEL", "GET-MASTER-ADDR-BY-NAME", s.master_name)[1]) != old
                               for x in s.sentinels):
                            switched.append(time.time())
                            return
                    except (OSError, RuntimeError):
                        pass
                    time.sleep(0.005)
            killed = time.time()
            s.kill_master()
            watcher = threading.Thread(target=watch)
            watcher.start()
            t = first_accepted(node.port, killed)
            watcher.join()
            times.append(t)
            print("run=%d down_after_ms=%d kill_to_first_publish_s=%.3f kill_to_sentinels_switch_s=%.3f"
                  % (run + 1, DOWN_AFTER_MS, t, switched[0] - killed), flush=True)
    print("failover down_after_ms=%d runs=%d median_s=%.3f min_s=%.3f max_s=%.3f"
          % (DOWN_AFTER_MS, RUNS, statistics.median(times), min(times), max(times)))


def publish_latency():
    with RedisSentinelSet(down_after_ms=DOWN_AFTER_MS) as s, \
            Server(redis=s.url, node_id="bench-w0") as w0, \
            Server(redis=s.url, node_id="bench-w1", redis_wait_replicas=1) as w1:
        for rnd in range(2):  # alternating, same run
            for name, node in (("wait0", w0), ("wait1", w1)):
                conn = http.client.HTTPConnection("127.0.0.1", node.port, timeout=5)
                samples = []
                for _ in range(PUBLISHES):
                    t = time.perf_counter()
                    assert publish(conn) == 200
                    samples.append((time.perf_counter() - t) * 1e6)
                conn.close()
                samples.sort()
                print("round=%d %s publishes=%d mean_us=%.0f p50_us=%.0f p99_us=%.0f"
                      % (rnd + 1, name, PUBLISHES, statistics.mean(samples), samples[len(samples) // 2],
                         samples[int(len(samples) * 0.99)]), flush=True)


if __name__ == "__main__":
    failover_runs()
    publish_latency()
