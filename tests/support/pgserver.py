#!/usr/bin/env python3
"""A private PostgreSQL server for the tests: a new cluster in a temporary
directory, listening only on a Unix socket there, gone when the tests end.
No system service is involved.  As root, the cluster runs as the
'postgres' user (PostgreSQL refuses to run as root).

  pgserver.py -- COMMAND...   runs COMMAND with $LUAOTA_TEST_PG set to the
                              URL of an empty database, then stops it

Python tests import it: with PgServer() as pg: pg.url, pg.new_database()."""

import glob
import os
import pwd
import shutil
import subprocess
import sys
import tempfile

PORT = 5432  # names the socket file only: no TCP listener


def bindir():
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        sys.exit("pgserver: no PostgreSQL server (apt-get install postgresql)")
    return os.path.dirname(found[-1])


class PgServer:
    def __init__(self):
        self.bin = bindir()
        scratch = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
        self.dir = tempfile.mkdtemp(prefix="luaota-pg-", dir=scratch)
        self.data = os.path.join(self.dir, "data")
        self.sock = self.dir
        self.user = None
        self.databases = 0
        if os.geteuid() == 0:
            self.user = pwd.getpwnam("postgres")
            os.chown(self.dir, self.user.pw_uid, self.user.pw_gid)
            os.chmod(self.dir, 0o755)

    def run(self, *cmd, **kw):
        """Runs a server tool as the cluster's owner."""
        if self.user is not None:
            cmd = ("setpriv", f"--reuid={self.user.pw_uid}",
                   f"--regid={self.user.pw_gid}", "--clear-groups") + cmd
        return subprocess.run(cmd, check=True, capture_output=True,
                              text=True, **kw)

    def start(self):
        self.run(os.path.join(self.bin, "initdb"), "-D", self.data,
                 "-U", "luaota", "--auth=trust", "-E", "UTF8", "--no-sync",
                 "--locale=C")
        self.resume()
        return self

    def resume(self):
        """Starts the server (again, after pause)."""
        # Fast and private: no fsync (a test's data need not survive a
        # power cut), no TCP, the socket in our directory.
        opts = (f"-c listen_addresses='' -c unix_socket_directories={self.sock}"
                f" -c port={PORT} -c fsync=off -c synchronous_commit=off"
                f" -c full_page_writes=off -c max_connections=200")
        self.run(os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-w",
                 "-t", "60", "-l", os.path.join(self.dir, "server.log"),
                 "-o", opts, "start")

    def pause(self):
        """Stops the server, keeping its data: the database is away.  A
        clean stop ("fast": clients cut off): with fsync off, only an
        orderly shutdown keeps the last commits."""
        self.run(os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-w",
                 "-m", "fast", "stop")

    def url(self, database="postgres"):
        return (f"postgresql://luaota@/{database}?host={self.sock}"
                f"&port={PORT}")

    def psql(self, sql, database="postgres"):
        return subprocess.run(
            [os.path.join(self.bin, "psql"), "-X", "-q", "-v",
             "ON_ERROR_STOP=1", "-d", self.url(database), "-c", sql],
            check=True, capture_output=True, text=True).stdout

    def psql_rows(self, sql, url):
        """The rows of a query on the database at url, as lists of text
        (the SQL goes through standard input: it may be long)."""
        out = subprocess.run(
            [os.path.join(self.bin, "psql"), "-X", "-q", "-A", "-t", "-F",
             "\t", "-v", "ON_ERROR_STOP=1", "-d", url, "-f", "-"],
            input=sql, check=True, capture_output=True, text=True).stdout
        return [line.split("\t") for line in out.splitlines()]

    def new_database(self):
        """The URL of a new, empty database."""
        self.databases += 1
        name = f"luaota_{self.databases}"
        self.psql(f"CREATE DATABASE {name}")
        return self.url(name)

    def stop(self):
        try:
            self.run(os.path.join(self.bin, "pg_ctl"), "-D", self.data,
                     "-m", "immediate", "stop")
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def main():
    args = sys.argv[1:]
    if args[:1] == ["--"]:
        args = args[1:]
    if not args:
        sys.exit(__doc__)
    with PgServer() as pg:
        url = pg.new_database()
        env = dict(os.environ, LUAOTA_TEST_PG=url,
                   LUAOTA_TEST_PG_ADMIN=pg.url())
        sys.exit(subprocess.run(args, env=env).returncode)


if __name__ == "__main__":
    main()
