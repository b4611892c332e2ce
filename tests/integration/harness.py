"""Integration harness: runs luaotad, luaotactl and luaota-device from the
build tree in a private temporary directory per test.

The harness never guesses ports: it binds 127.0.0.1:0 itself and hands the
socket to luaotad through LISTEN_FDS, and it waits for READY=1 on its own
NOTIFY_SOCKET.  Each test's directory (logs included) is kept only when the
test fails.  Results are printed as TAP so that every case counts."""

import hashlib
import hmac
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import unittest

BUILD = os.environ.get("LUAOTA_BUILD", os.getcwd())
LUAOTAD = os.path.join(BUILD, "daemon", "luaotad")
LUAOTACTL = os.path.join(BUILD, "ctl", "luaotactl")
DEVICE = os.path.join(BUILD, "device", "luaota-device")
READY_TIMEOUT = 20.0  # seconds to wait for READY=1 before calling it broken
# tmpfs when there is one: the tests are about behaviour, not disk syncs.
SCRATCH = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None


# luaota-device exit codes (luaota-device(1)).
DEVICE_APP_STARTED = 0
DEVICE_NO_SESSION = 3  # no reply, or one it would not act on: app started
DEVICE_REBOOTED = 10


def read_device_file(flash, name):
    """A file of a simulated flash: '/' in SPIFFS names is stored as %2F."""
    with open(os.path.join(flash, name.replace("/", "%2F")), "rb") as fp:
        return fp.read()


def sign(secret, json_text):
    """The legacy 6-hex signature of json_text."""
    mac = hmac.new(secret.encode(), json_text.encode(), hashlib.md5)
    return mac.hexdigest()[-6:]


def record(secret, json_text, payload=b""):
    return json_text.encode() + sign(secret, json_text).encode() + b"\n" + payload


class Daemon:
    """A luaotad process listening on a socket the harness bound."""

    def __init__(self, workdir, database, config_text=None, extra_args=(),
                 env=None, binary=None, wrapper=(), verbose=True, http=False):
        self.workdir = workdir
        self.log_path = os.path.join(workdir, "luaotad.log")
        self.conf_path = os.path.join(workdir, "luaotad.conf")
        with open(self.conf_path, "w") as fp:
            fp.write(config_text or "")
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(4096)
        self.port = self.listener.getsockname()[1]
        # http: a second socket, named "http" as luaotad-http.socket names
        # it, for the HTTP API.
        self.http_listener = None
        self.http_port = None
        if http:
            self.http_listener = socket.socket(socket.AF_INET,
                                               socket.SOCK_STREAM)
            self.http_listener.setsockopt(socket.SOL_SOCKET,
                                          socket.SO_REUSEADDR, 1)
            self.http_listener.bind(("127.0.0.1", 0))
            self.http_listener.listen(128)
            self.http_port = self.http_listener.getsockname()[1]
        self.notify_path = os.path.join(workdir, "notify.sock")
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if os.path.exists(self.notify_path):  # a restart in the same dir
            os.unlink(self.notify_path)
        self.notify.bind(self.notify_path)
        # systemd drains its notify socket at all times, and so must we: a
        # full socket would block the daemon's sd_notify().
        self.notifications = []
        self.notified = threading.Condition()
        self.reader = threading.Thread(target=self._read_notify, daemon=True)
        self.reader.start()
        fd = self.listener.fileno()
        fds = [fd]
        env = dict(os.environ, NOTIFY_SOCKET=self.notify_path, LISTEN_FDS="1",
                   **(env or {}))
        if "LISTEN_FDNAMES" not in (env or {}):
            env.pop("LISTEN_FDNAMES", None)
        redirect = f"exec 3<&{fd};"
        if http:
            fds.append(self.http_listener.fileno())
            redirect += f" exec 4<&{fds[1]};"
            env["LISTEN_FDS"] = "2"
            env["LISTEN_FDNAMES"] = "luaotad:http"
        # LISTEN_PID (and WATCHDOG_PID) must be the daemon's own pid: the
        # shell execs it, through a wrapper that execs too (setpriv); bash,
        # as dash cannot name descriptors above 9.
        pids = "LISTEN_PID=$$"
        if "WATCHDOG_USEC" in env:
            pids += " WATCHDOG_PID=$$"
        cmd = ["bash", "-c", f'{redirect} {pids} exec "$0" "$@"',
               *wrapper, binary or LUAOTAD, "-d", *(["-v"] if verbose else []),
               "-f", self.conf_path, "-D", database, *extra_args]
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(cmd, env=env, pass_fds=tuple(fds),
                                     stdout=self.log, stderr=self.log)
        self.wait_for("READY=1")

    def _read_notify(self):
        while True:
            try:
                data = self.notify.recv(4096)
            except OSError:
                return
            if not data:
                return
            with self.notified:
                self.notifications.extend(data.decode().split("\n"))
                self.notified.notify_all()

    def wait_for(self, prefix, timeout=READY_TIMEOUT, count=1, after=0):
        """Waits for the count-th notification line starting with prefix,
        among the lines from index after on."""
        deadline = time.monotonic() + timeout
        with self.notified:
            while True:
                seen = [line for line in self.notifications[after:]
                        if line.startswith(prefix)]
                if len(seen) >= count:
                    return seen[count - 1]
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise AssertionError(
                        f"luaotad: no {prefix} (exit {self.proc.poll()}): "
                        + self.read_log()[-2000:])
                self.notified.wait(min(left, 0.5))

    def read_log(self):
        self.log.flush()
        with open(self.log_path, errors="replace") as fp:
            return fp.read()

    def stop(self):
        """SIGTERM, then the exit status (0 after a clean drain)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.listener.close()
        if self.http_listener is not None:
            self.http_listener.close()
        try:
            self.notify.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.notify.close()
        self.log.close()
        return self.proc.returncode


class Case(unittest.TestCase):
    """A test with its own directory, database and (on demand) daemon."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="luaota-it-", dir=SCRATCH)
        self.db = os.path.join(self.dir, "luaota.db")
        self.repo = os.path.join(self.dir, "repo")
        os.mkdir(self.repo)
        self.daemon = None

    def tearDown(self):
        if self.daemon is not None:
            self.daemon.stop()
        # TapResult.stopTest removes self.dir unless the test failed.

    # -- helpers ---------------------------------------------------------

    def write(self, name, data):
        path = os.path.join(self.repo, name)
        mode = "wb" if isinstance(data, bytes) else "w"
        with open(path, mode) as fp:
            fp.write(data)
        return path

    def ctl(self, *args, ok=True):
        # luaotactl previews with the daemon's settings: this test's
        # luaotad.conf once there is one, never the machine's.
        conf = os.path.join(self.dir, "luaotad.conf")
        env = dict(os.environ,
                   LUAOTA_CONF=conf if os.path.exists(conf) else "/dev/null")
        res = subprocess.run([LUAOTACTL, "-D", self.db, *args],
                             capture_output=True, text=True, env=env)
        if ok and res.returncode != 0:
            raise AssertionError(f"luaotactl {args}: {res.stderr}")
        return res

    def start(self, config="", verbose=True, http=False):
        self.daemon = Daemon(self.dir, self.db, config, verbose=verbose,
                             http=http)
        return self.daemon

    def flash(self, name="flash"):
        path = os.path.join(self.dir, name)
        os.makedirs(path, exist_ok=True)
        return path

    def boot(self, flash, chip, secret, boots=1, server=None):
        """Boots a simulated device; returns the CompletedProcess."""
        port = self.daemon.port if server is None else server
        return subprocess.run(
            [DEVICE, "--flash", flash, "--chip-id", str(chip),
             "--server", f"127.0.0.1:{port}", "--secret", secret,
             "--boots", str(boots)],
            capture_output=True, text=True, timeout=120)

    def history(self, chip=None):
        """History rows straight from the database, newest first."""
        con = sqlite3.connect(self.db)
        con.row_factory = sqlite3.Row
        try:
            if chip is None:
                rows = con.execute(
                    "SELECT * FROM sessions ORDER BY id DESC").fetchall()
            else:
                rows = con.execute(
                    "SELECT * FROM sessions WHERE chip_id = ? "
                    "ORDER BY id DESC", (str(chip),)).fetchall()
            return [dict(r) for r in rows]
        finally:
            con.close()

    def session_files(self, session_id):
        con = sqlite3.connect(self.db)
        con.row_factory = sqlite3.Row
        try:
            return [dict(r) for r in con.execute(
                "SELECT * FROM session_files WHERE session_id = ? "
                "ORDER BY id", (session_id,))]
        finally:
            con.close()


class TapResult(unittest.TextTestResult):
    """Prints one TAP line per test."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.count = 0
        self.failed_now = False

    def startTest(self, test):
        super().startTest(test)
        self.failed_now = False

    def stopTest(self, test):
        super().stopTest(test)
        workdir = getattr(test, "dir", None)
        if workdir is None:
            return
        if self.failed_now:
            print(f"# kept {workdir}", flush=True)
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    def _tap(self, ok, test, detail=None):
        self.count += 1
        self.failed_now = self.failed_now or not ok
        print(f"{'ok' if ok else 'not ok'} {self.count} - {test.id()}",
              flush=True)
        if detail:
            for line in detail.rstrip().splitlines():
                print(f"# {line}", flush=True)

    def addSuccess(self, test):
        super().addSuccess(test)
        self._tap(True, test)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._tap(False, test, self._exc_info_to_string(err, test))

    def addError(self, test, err):
        super().addError(test, err)
        self._tap(False, test, self._exc_info_to_string(err, test))

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self.count += 1
        print(f"ok {self.count} - {test.id()} # SKIP {reason}", flush=True)


def main():
    """Runs the calling module's tests, printing TAP."""
    module = sys.modules["__main__"]
    suite = unittest.defaultTestLoader.loadTestsFromModule(module)
    if len(sys.argv) > 1:
        suite = unittest.TestSuite(
            t for t in _flatten(suite) if any(a in t.id() for a in sys.argv[1:]))
    print(f"1..{suite.countTestCases()}", flush=True)
    runner = unittest.TextTestRunner(stream=open(os.devnull, "w"),
                                     resultclass=TapResult, verbosity=0)
    result = runner.run(suite)
    sys.exit(0 if result.wasSuccessful() else 1)


def _flatten(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from _flatten(t)
        else:
            yield t
