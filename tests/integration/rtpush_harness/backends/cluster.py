"""A real Redis Cluster for a test: three masters and their replicas on
127.0.0.1 (SPEC 12, redis+cluster://), made by `redis-cli --cluster create`."""
import os
import shutil
import subprocess
import tempfile

from ..env import required_program
from ..processes import DistinctPorts, TempDirService, wait_until
from .redis import Redis


def slot_ranges(fields):
    """CLUSTER NODES' slot fields ("0-5460", "5461", "[93->-id]" for a slot
    being moved) as [(first, last)]."""
    ranges = []
    for f in fields:
        if f.startswith("["):
            continue
        first, _, last = f.partition("-")
        ranges.append((int(first), int(last or first)))
    return ranges


class RedisCluster(TempDirService):
    """`masters` masters with `replicas_per_master` replicas each, every
    node in its own directory under this cluster's, cluster-node-timeout
    `node_timeout_ms` (small: failovers are quick). start() returns once
    every node says cluster_state:ok, all agree on the slot map and every
    replica is in sync with its master.

    `password`: every node's requirepass and masterauth (redis-cli gets it
    with -a).

    Threads: the test's; every process a child in its own session, stopped
    by PID. reshard() runs redis-cli in the background: the test waits for
    it with wait_reshard()."""

    def __init__(self, masters=3, replicas_per_master=1, node_timeout_ms=1000, password=None):
        required_program("redis-cli", "RedisCluster")  # --cluster create, reshard
        self.password = password
        self.replicas_per_master = replicas_per_master
        self.dir = tempfile.mkdtemp(prefix="rtpush-cluster-")
        settings = ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                    "--cluster-node-timeout", str(node_timeout_ms),
                    # no wait before a full sync: a replica is in sync at once
                    "--repl-diskless-sync-delay", "0"]
        # The cluster bus on a free port of its own: the default, port +
        # 10000, may be taken (or past 65535 for a free port above 55535).
        fresh_port = DistinctPorts()
        nodes = [Redis(settings + ["--cluster-port", str(fresh_port())], password=password, parent=self.dir,
                       port=fresh_port())
                 for _ in range(masters * (1 + replicas_per_master))]
        self.nodes = {n.port: n for n in nodes}
        self.seed_ports = [n.port for n in nodes[:masters]]  # --cluster create makes the first ones masters
        self.killed_slots = {}  # port killed by kill_master: the slots it served

    @property
    def url(self):
        """redis+cluster://[:PASSWORD@]127.0.0.1:P1,... (the first masters as seeds)."""
        return self.url_with("" if self.password is not None else None, self.password)

    def url_with(self, user, password, seeds=None):
        """The URL with this user and password (None, None: none; "" user:
        `:PASSWORD@`) and these seed ports (default: the first masters).
        Not percent-encoded: tests choose passwords that need none."""
        auth = "" if user is None and password is None else "%s:%s@" % (user or "", password or "")
        return "redis+cluster://%s%s" % (auth, ",".join("127.0.0.1:%d" % p for p in (seeds or self.seed_ports)))

    def cli(self):
        """redis-cli with this cluster's password, if any."""
        return ["redis-cli"] + ([] if self.password is None else ["-a", self.password, "--no-auth-warning"])

    def start(self):
        try:
            for node in self.nodes.values():
                node.start()
            create = subprocess.run(self.cli() + ["--cluster", "create"]
                                    + ["127.0.0.1:%d" % p for p in self.nodes]
                                    + ["--cluster-replicas", str(self.replicas_per_master), "--cluster-yes"],
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60)
            if create.returncode != 0:
                raise RuntimeError("redis-cli --cluster create failed:\n" + create.stdout[-3000:])
            self.wait_stable(30)
            masters = {port for port, _ in self.masters()}
            if masters != set(self.seed_ports):
                raise RuntimeError("--cluster create chose masters %s, not %s" % (sorted(masters), self.seed_ports))
        except BaseException:
            self.stop()
            shutil.rmtree(self.dir, ignore_errors=True)
            raise
        return self

    # --- asking the nodes -------------------------------------------------

    def node(self, port):
        return self.nodes[port]

    def call(self, port, *args):
        return self.nodes[port].call(*args)

    def command(self, port, *args):
        return self.nodes[port].command(*args)

    def live_ports(self):
        return [p for p, n in self.nodes.items() if n.running]

    def cluster_nodes(self, port=None):
        """CLUSTER NODES as seen by `port` (default: the first live node):
        [{id, port, flags: set, master: id or None, slots: [(first, last)]}]."""
        port = port or self.live_ports()[0]
        rows = []
        for line in self.call(port, "CLUSTER", "NODES").splitlines():
            f = line.split()
            rows.append({"id": f[0], "port": int(f[1].split("@")[0].rsplit(":", 1)[1]), "flags": set(f[2].split(",")),
                         "master": None if f[3] == "-" else f[3], "slots": slot_ranges(f[8:])})
        return rows

    def node_id(self, port):
        return self.call(port, "CLUSTER", "MYID")

    def masters(self, port=None):
        """[(port, [(first, last), ...])] of the live masters (none flagged
        fail), sorted by port, as `port` (default: a live node) sees them."""
        return sorted((n["port"], n["slots"]) for n in self.cluster_nodes(port)
                      if "master" in n["flags"] and not n["flags"] & {"fail", "fail?", "noaddr"}
                      and self.nodes[n["port"]].running)

    def slot_map(self, port):
        """{(first, last): master port} as CLUSTER SLOTS on `port` says."""
        return {(s[0], s[1]): int(s[2][1]) for s in self.call(port, "CLUSTER", "SLOTS")}

    def master_of(self, slot):
        for (first, last), port in self.slot_map(self.live_ports()[0]).items():
            if first <= slot <= last:
                return port
        raise RuntimeError("slot %d served by no master" % slot)

    def keyslot(self, key):
        return self.call(self.live_ports()[0], "CLUSTER", "KEYSLOT", key)

    def keys_by_master(self, pattern="rtpush:*"):
        """{master port: sorted keys matching `pattern`} (SCAN on each live master)."""
        out = {}
        for port, _ in self.masters():
            cursor, keys = "0", []
            while True:
                cursor, batch = self.call(port, "SCAN", cursor, "MATCH", pattern, "COUNT", "1000")
                keys += batch
                if cursor == "0":
                    break
            out[port] = sorted(keys)
        return out

    def cluster_ok(self):
        """Every live node says cluster_state:ok and the same slot map,
        covering all 16384 slots, each served by a live master; every
        live replica is in sync with its master."""
        maps, roles = [], []
        live = set(self.live_ports())
        for port in live:
            node = self.nodes[port]
            if "cluster_state:ok" not in node.call("CLUSTER", "INFO"):
                return False
            maps.append(self.slot_map(port))
            # which live node is a master, as this node sees it: a node
            # back from a kill first still thinks itself its slots' master
            roles.append({(n["port"], "master" in n["flags"]) for n in self.cluster_nodes(port)
                          if n["port"] in live})
            info = node.info("replication")
            if (info["role"] == "master") != ((port, True) in roles[-1]):
                return False
            if info["role"] == "slave" and info.get("master_link_status") != "up":
                return False
        if any(m != maps[0] for m in maps) or any(r != roles[0] for r in roles):
            return False
        covered = sum(last - first + 1 for first, last in maps[0])
        return covered == 16384 and set(maps[0].values()) <= live

    def wait_stable(self, seconds=30):
        wait_until(lambda: _quiet(self.cluster_ok), seconds,
                   "the cluster is not ok / the nodes disagree on the slot map")

    # --- failover ---------------------------------------------------------

    def kill_master(self, port):
        """SIGKILLs the master on `port` (its slots are remembered for
        wait_failover)."""
        slots = dict(self.masters()).get(port)
        if slots is None:
            raise ValueError("%d is not a live master" % port)
        self.killed_slots[port] = slots
        self.nodes[port].kill()

    def wait_failover(self, old_port, seconds=30):
        """The port of the replica promoted for `old_port`'s slots, once every
        live node says cluster_state:ok and agrees on the slot map."""
        slots = self.killed_slots[old_port]
        found = []

        def promoted():
            if not self.cluster_ok():
                return False
            owners = {port for port, ranges in self.masters() if set(slots) <= set(ranges)}
            owners.discard(old_port)
            if len(owners) == 1:
                found.append(owners.pop())
                return True
            return False
        wait_until(lambda: _quiet(promoted), seconds,
                   "no replica took over %d's slots within %d s" % (old_port, seconds))
        return found[0]

    def restart(self, port, seconds=30):
        """Starts the killed node on `port` again (its nodes.conf keeps its
        identity: an old master rejoins as a replica of the one promoted
        for its slots); returns once the cluster is stable again."""
        self.nodes[port].start()
        self.wait_stable(seconds)
        return self.nodes[port]

    # --- moving slots -----------------------------------------------------

    def reshard(self, from_port, to_port, slots):
        """`redis-cli --cluster reshard` moving `slots` slots from one master
        to another, in the background (a test runs it mid-stream); its
        output goes to reshard.log. wait_reshard(returned process) waits."""
        log = open(os.path.join(self.dir, "reshard.log"), "a")
        try:
            return subprocess.Popen(self.cli() + ["--cluster", "reshard", "127.0.0.1:%d" % from_port,
                                                  "--cluster-from", self.node_id(from_port),
                                                  "--cluster-to", self.node_id(to_port),
                                                  "--cluster-slots", str(slots), "--cluster-yes"],
                                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True)
        finally:
            log.close()

    def wait_reshard(self, proc, seconds=60):
        """Until the reshard exits (status 0, else its log is raised) and the
        cluster is stable with the new slot map."""
        try:
            proc.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()
            raise RuntimeError("the reshard did not finish in %d s:\n%s" % (seconds, self._reshard_log()))
        if proc.returncode != 0:
            raise RuntimeError("the reshard failed (%d):\n%s" % (proc.returncode, self._reshard_log()))
        self.wait_stable(seconds)

    def _reshard_log(self):
        with open(os.path.join(self.dir, "reshard.log"), errors="replace") as f:
            return f.read()[-3000:]

    def migrate_slot(self, slot, from_port, to_port, batch=100, pause_between=None):
        """Moves one slot by hand, as the Redis Cluster tutorial does:
        SETSLOT IMPORTING on the target, MIGRATING on the source, MIGRATE
        its keys `batch` at a time, then SETSLOT NODE on the target, the
        source and the other masters. `pause_between(moved)` (if given) is
        called once the slot is marked and after each batch, with how many
        keys have moved so far: while it runs the slot is half-migrated
        (the source answers ASK for a key it no longer has)."""
        source, target = self.node_id(from_port), self.node_id(to_port)
        self.call(to_port, "CLUSTER", "SETSLOT", slot, "IMPORTING", source)
        self.call(from_port, "CLUSTER", "SETSLOT", slot, "MIGRATING", target)
        moved = 0
        if pause_between:
            pause_between(moved)
        auth = [] if self.password is None else ["AUTH", self.password]
        while True:
            keys = self.call(from_port, "CLUSTER", "GETKEYSINSLOT", slot, batch)
            if not keys:
                break
            self.call(from_port, "MIGRATE", "127.0.0.1", to_port, "", 0, 5000, *auth, "KEYS", *keys)
            moved += len(keys)
            if pause_between:
                pause_between(moved)
        self.call(to_port, "CLUSTER", "SETSLOT", slot, "NODE", target)
        self.call(from_port, "CLUSTER", "SETSLOT", slot, "NODE", target)
        for port, _ in self.masters():
            if port not in (from_port, to_port):
                self.call(port, "CLUSTER", "SETSLOT", slot, "NODE", target)
        return moved

    def stop(self):
        for node in self.nodes.values():
            node.stop()


def _quiet(check):
    """`check()`, an error reply (CLUSTERDOWN, LOADING) as false."""
    try:
        return check()
    except RuntimeError:
        return False
