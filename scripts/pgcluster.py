#!/usr/bin/env python3
"""A private PostgreSQL cluster for tchat's scripts and benchmarks: initdb in a temporary directory, on a free
loopback port, run as `nobody` when started by root, stopped (and removed) at the end. Never a cluster someone
else runs.

    scripts/pgcluster.py start DIR      # prints the store address, e.g. postgres://tchat@127.0.0.1:41234/tchat
    scripts/pgcluster.py stop DIR       # stops it and removes DIR

As a module: `with PgCluster() as pg: pg.address ... pg.stop_server() ... pg.start_server()`.
"""

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile


def binaries():
    """The newest installed PostgreSQL's bin directory (Debian keeps them under /usr/lib/postgresql/N/bin)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return os.path.dirname(found[-1]) if found else None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgCluster:
    def __init__(self, directory=None, fsync=True, user="tchat", database="tchat"):
        self.bin = binaries()
        if self.bin is None:
            raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
        self.directory = directory or tempfile.mkdtemp(prefix="tchat-pg-")
        self.fsync = fsync
        self.user = user
        self.database = database
        self.port = None

    def _run(self, args):
        prefix = []
        if os.geteuid() == 0:
            shutil.chown(self.directory, "nobody", "nogroup")
            prefix = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
        with open(os.path.join(self.directory, "ctl.log"), "ab") as out:
            subprocess.run(prefix + args, check=True, stdout=out, stderr=out, stdin=subprocess.DEVNULL, cwd="/")

    @property
    def address(self):
        return f"postgres://{self.user}@127.0.0.1:{self.port}/{self.database}"

    def create(self):
        os.makedirs(self.directory, exist_ok=True)
        os.chmod(self.directory, 0o700)
        self._run([f"{self.bin}/initdb", "-D", f"{self.directory}/data", "-U", self.user, "--auth=trust", "-E",
                   "UTF8", "--no-sync"])
        self.port = free_port()
        self.start_server()
        self._run([f"{self.bin}/createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user, self.database])
        return self

    def start_server(self):
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c max_connections=100"
        if not self.fsync:
            options += " -c fsync=off"
        self._run([f"{self.bin}/pg_ctl", "-D", f"{self.directory}/data", "-l", f"{self.directory}/log", "-w", "-o",
                   options, "start"])

    def stop_server(self):
        self._run([f"{self.bin}/pg_ctl", "-D", f"{self.directory}/data", "-m", "immediate", "-w", "stop"])

    def psql(self, sql):
        result = subprocess.run([f"{self.bin}/psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user,
                                 "-d", self.database, "-At", "-c", sql], check=True, capture_output=True, text=True)
        return result.stdout

    def destroy(self):
        try:
            self.stop_server()
        except Exception:
            pass
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self):
        return self.create()

    def __exit__(self, *exc):
        self.destroy()


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("start", "stop"):
        print(__doc__, file=sys.stderr)
        return 2
    directory = os.path.abspath(sys.argv[2])
    if sys.argv[1] == "start":
        cluster = PgCluster(directory=directory).create()
        with open(os.path.join(directory, "port"), "w") as f:
            f.write(str(cluster.port))
        print(cluster.address)
    else:
        cluster = PgCluster(directory=directory)
        cluster.port = int(open(os.path.join(directory, "port")).read())
        cluster.destroy()
    return 0


if __name__ == "__main__":
    sys.exit(main())
