"""A real Redis Sentinel deployment for a test: a master, two replicas and
three sentinels on 127.0.0.1 (SPEC 12, redis+sentinel://)."""
import shutil
import tempfile

from ..processes import DistinctPorts, TempDirService, wait_until
from .redis import Redis


def fields(flat):
    """A Redis reply of alternating names and values as a dict."""
    return dict(zip(flat[::2], flat[1::2]))


class RedisSentinelSet(TempDirService):
    """One master, two replicas (so WAIT 1 still has a replica after a
    failover), three sentinels (quorum 2), each server in its own directory
    under this set's. start() returns once both replicas are in sync and
    every sentinel sees the two replicas and the two other sentinels.

    `password`: every server's requirepass and masterauth, the sentinels'
    auth-pass (and the URL's). `sentinel_password`: the sentinels' own
    requirepass (and sentinel-pass, so they still talk to each other); the
    product gets it as `redis-sentinel-password`, not in the URL.

    Threads: the test's; every process a child in its own session, stopped
    by PID (sentinels first, so none fails over while the set goes away)."""

    def __init__(self, master_name="rtpush", down_after_ms=1000, failover_timeout_ms=3000,
                 password=None, sentinel_password=None):
        self.master_name = master_name
        self.password = password
        self.sentinel_password = sentinel_password
        self.dir = tempfile.mkdtemp(prefix="rtpush-sentinel-")
        # No wait before a full sync (Redis waits 5 s for more replicas to
        # share it): a replica that (re)joins is in sync at once.
        quick_sync = ["--repl-diskless-sync-delay", "0"]
        port = DistinctPorts()
        master = Redis(quick_sync, password=password, parent=self.dir, port=port())
        replicas = [Redis(quick_sync + ["--replicaof", "127.0.0.1", str(master.port)], password=password,
                          parent=self.dir, port=port()) for _ in range(2)]
        self.servers = {r.port: r for r in [master] + replicas}
        self.first_master = master.port
        settings = ["--sentinel", "resolve-hostnames", "no",
                    "--sentinel", "monitor", master_name, "127.0.0.1", str(master.port), "2",
                    "--sentinel", "down-after-milliseconds", master_name, str(down_after_ms),
                    "--sentinel", "failover-timeout", master_name, str(failover_timeout_ms),
                    "--sentinel", "parallel-syncs", master_name, "1"]
        if password is not None:
            settings += ["--sentinel", "auth-pass", master_name, password]
        if sentinel_password is not None:
            settings += ["--sentinel", "sentinel-pass", sentinel_password]
        self.sentinels = [Redis(settings, password=sentinel_password, sentinel=True, parent=self.dir, port=port())
                          for _ in range(3)]

    @property
    def url(self):
        """redis+sentinel://[:PASSWORD@]127.0.0.1:S1,...,127.0.0.1:S3/MASTER"""
        return self.url_with("" if self.password is not None else None, self.password)

    def url_with(self, user, password):
        """The URL with this user and password (None, None: none; "" user:
        a password alone, `:PASSWORD@`). Not percent-encoded: tests choose
        passwords that need none."""
        auth = "" if user is None and password is None else "%s:%s@" % (user or "", password or "")
        return "redis+sentinel://%s%s/%s" % (auth, ",".join("127.0.0.1:%d" % s.port for s in self.sentinels),
                                             self.master_name)

    @property
    def sentinel_ports(self):
        return [s.port for s in self.sentinels]

    def start(self):
        try:
            for server in self.servers.values():
                server.start()
            for sentinel in self.sentinels:
                sentinel.start()
            self.wait_replicas(self.first_master, 2, 20)
            wait_until(self._sentinels_see_everyone, 30, "the sentinels did not find the replicas and each other")
        except BaseException:
            self.stop()
            shutil.rmtree(self.dir, ignore_errors=True)
            raise
        return self

    def _sentinels_see_everyone(self):
        for sentinel in self.sentinels:
            state = fields(sentinel.call("SENTINEL", "MASTER", self.master_name))
            if (state["flags"] != "master" or int(state["num-slaves"]) != 2
                    or int(state["num-other-sentinels"]) != 2):
                return False
        return True

    def server(self, port):
        """The Redis on that port (master or replica): command(), call()."""
        return self.servers[port]

    def master_port(self):
        """The master's port as the first sentinel that answers names it."""
        for sentinel in self.sentinels:
            if sentinel.running:
                try:
                    return int(sentinel.call("SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.master_name)[1])
                except OSError:
                    continue
        raise RuntimeError("no sentinel answers")

    def master(self):
        return self.servers[self.master_port()]

    def replica_ports(self):
        master = self.master_port()
        return [p for p in self.servers if p != master]

    def kill_master(self):
        """SIGKILLs the master; its port."""
        port = self.master_port()
        self.servers[port].kill()
        return port

    def wait_promoted(self, old_port, seconds=30):
        """The new master's port, once a sentinel names a master other than
        `old_port` and that server itself says ROLE master."""
        found = []

        def promoted():
            for sentinel in self.sentinels:
                if not sentinel.running:
                    continue
                try:
                    port = int(sentinel.call("SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.master_name)[1])
                    if port != old_port and self.servers[port].role() == "master":
                        found.append(port)
                        return True
                except (OSError, RuntimeError):
                    continue
            return False
        wait_until(promoted, seconds, "no replica promoted within %d s of losing master %d" % (seconds, old_port))
        return found[0]

    def wait_sentinels_agree(self, port, seconds=30):
        """Until every live sentinel names `port` as the master (after
        wait_promoted the others learn it from the first within a second or
        so; master_port() asks the first that answers)."""
        def agree():
            return all(int(s.call("SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.master_name)[1]) == port
                       for s in self.sentinels if s.running)
        wait_until(lambda: _quiet(agree), seconds, "the sentinels do not all name %d" % port)

    def wait_replicas(self, master_port, count, seconds=30):
        """Until `master_port` has `count` replicas online (WAIT `count` can
        be met): after a failover the other replica first resyncs."""
        def online():
            info = self.servers[master_port].info("replication")
            return (info.get("role") == "master"
                    and sum("state=online" in v for k, v in info.items() if k.startswith("slave") and k[5:].isdigit())
                    >= count)
        wait_until(lambda: _quiet(online), seconds, "%d has not %d replicas online" % (master_port, count))

    def restart(self, port, seconds=30, as_replica=True):
        """Starts the killed server on `port` again; returns once it is a
        replica of the current master, in sync. `as_replica`: it starts with
        `replicaof` the current master in its redis.conf, as a server that
        comes back after a failover is usually started (a second or two).
        False: it starts as it was and the sentinels turn a returning old
        master into a replica themselves, after their own delay (~15 s here),
        serving its empty data set as a master meanwhile."""
        server = self.servers[port]
        master = self.master_port()
        if as_replica and master != port:
            with open(server.conf, "a") as f:
                f.write('replicaof "127.0.0.1" "%d"\n' % master)
        server.start()

        def replica_in_sync():
            info = server.info("replication")
            return (info.get("role") == "slave" and info.get("master_link_status") == "up"
                    and int(info.get("master_port", 0)) == self.master_port())
        wait_until(lambda: _quiet(replica_in_sync), seconds, "%d did not rejoin as a replica" % port)
        return server

    def stop(self):
        for sentinel in self.sentinels:
            sentinel.stop()
        for server in self.servers.values():
            server.stop()


def _quiet(check):
    """`check()`, an error reply (LOADING, a replica not ready) as false."""
    try:
        return check()
    except RuntimeError:
        return False
