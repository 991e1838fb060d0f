"""A real PostgreSQL for a test."""
import os
import shutil
import signal
import subprocess
import tempfile

from ..processes import TempDirService, free_port, wait_until


class Postgres(TempDirService):
    """A real PostgreSQL 15 in a temporary data directory on its own port.
    As root (CI) it runs as the postgres user: the server refuses root."""

    BIN = "/usr/lib/postgresql/15/bin"

    def __init__(self):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="rtpush-pg-")
        self.data = os.path.join(self.dir, "data")
        self.proc = None
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
        subprocess.run(self.as_user + [os.path.join(self.BIN, "initdb"), "-D", self.data, "-U", "postgres",
                                       "--auth=trust", "-E", "UTF8", "--no-sync"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    @property
    def conninfo(self):
        return "host=127.0.0.1 port=%d user=postgres dbname=postgres connect_timeout=3" % self.port

    def start(self):
        with open(os.path.join(self.dir, "postgres.log"), "a") as log:
            self.proc = subprocess.Popen(
                self.as_user + [os.path.join(self.BIN, "postgres"), "-D", self.data, "-p", str(self.port),
                                "-h", "127.0.0.1", "-k", self.dir, "-c", "fsync=off"],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_until(lambda: subprocess.run([os.path.join(self.BIN, "pg_isready"), "-h", "127.0.0.1", "-p",
                                           str(self.port)], capture_output=True).returncode == 0,
                   30, "postgres did not start")
        return self

    def query(self, sql):
        """Rows of a query, each a list of column texts."""
        out = subprocess.run([os.path.join(self.BIN, "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U",
                              "postgres", "-d", "postgres", "-At", "-F", "\t", "-c", sql],
                             capture_output=True, text=True, check=True).stdout
        return [line.split("\t") for line in out.splitlines()]

    def stop(self):
        if self.proc:
            try:
                os.killpg(self.proc.pid, signal.SIGINT)  # fast shutdown
                self.proc.wait(timeout=20)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
            self.proc = None
