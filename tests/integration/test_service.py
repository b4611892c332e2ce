"""luaotad as a service: systemd units, notifications, socket activation,
journald fields, configuration checks and the installed package.

The Installed cases run only when scripts/check-package has installed the
Debian packages (LUAOTA_INSTALLED=1); the meson run reports them skipped."""

import grp
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

SOURCE = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
UNITS = os.path.join(SOURCE, "contrib", "systemd")
SECRET = "service-secret"
CHIP = "13572468"
MAX_EXPOSURE = 1.5
JOURNAL_SOCKET = "/run/systemd/journal/socket"

APP = 'print("app up")\n'


def keywords():
    """The keyword table of daemon/config.c, in its order."""
    with open(os.path.join(SOURCE, "conf", "config.c")) as fp:
        text = fp.read()
    table = text[text.index("keywords[] = {"):text.index("};", text.index(
        "keywords[] = {"))]
    return re.findall(r'\{ "([a-z_]+)",', table)


def provisioned(case, flash):
    """True when the simulated flash holds the repository's app."""
    return os.path.exists(os.path.join(flash, "app.lc"))


class ServiceCase(harness.Case):
    def setUp(self):
        super().setUp()
        self.write("app.lua", APP)

    def register(self, ctl=None):
        self.ctl("group", "add", "demo", "--repo", self.repo,
                 "--files", "app.lua")
        self.ctl("add", CHIP, "--group", "demo", "--secret", SECRET)


class Units(ServiceCase):
    """The unit files, checked by systemd's own tools."""

    def copy_units(self):
        """The units with ExecStart= pointing into the build tree, since the
        installed /usr/sbin/luaotad need not exist here."""
        out = os.path.join(self.dir, "units")
        os.mkdir(out)
        for name in ("luaotad.service", "luaotad.socket",
                     "luaotad-http.socket"):
            with open(os.path.join(UNITS, name)) as fp:
                text = fp.read()
            text = text.replace("/usr/sbin/luaotad", harness.LUAOTAD)
            with open(os.path.join(out, name), "w") as fp:
                fp.write(text)
        return out

    def test_verify(self):
        if shutil.which("systemd-analyze") is None:
            self.skipTest("systemd-analyze is not installed")
        units = self.copy_units()
        res = subprocess.run(
            ["systemd-analyze", "verify", "--man=no",
             os.path.join(units, "luaotad.socket"),
             os.path.join(units, "luaotad-http.socket"),
             os.path.join(units, "luaotad.service")],
            capture_output=True, text=True, cwd=units)
        # Without systemd as PID 1 verify still loads and checks the units;
        # its complaints about the missing manager are not about them.
        problems = [line for line in res.stderr.splitlines()
                    if "luaotad" in line]
        self.assertEqual(problems, [], res.stderr)
        self.assertEqual(res.returncode, 0, res.stderr)

    def test_security_exposure(self):
        if shutil.which("systemd-analyze") is None:
            self.skipTest("systemd-analyze is not installed")
        units = self.copy_units()
        res = subprocess.run(
            ["systemd-analyze", "security", "--offline=yes", "--no-pager",
             f"--threshold={int(MAX_EXPOSURE * 10)}",
             os.path.join(units, "luaotad.service")],
            capture_output=True, text=True, cwd=units)
        match = re.search(r"Overall exposure level for luaotad.service: "
                          r"([0-9.]+)", res.stdout)
        self.assertIsNotNone(match, res.stdout + res.stderr)
        print(f"# exposure {match.group(1)}")
        self.assertLessEqual(float(match.group(1)), MAX_EXPOSURE, res.stdout)
        self.assertEqual(res.returncode, 0, res.stderr)

    def test_sysusers_and_tmpfiles_in_a_scratch_root(self):
        """The user, the state directory and the database file, laid out by
        systemd's own tools under --root, as the package's postinst does."""
        for tool in ("systemd-sysusers", "systemd-tmpfiles"):
            if shutil.which(tool) is None:
                self.skipTest(f"{tool} is not installed")
        if os.geteuid() != 0:
            self.skipTest("systemd-tmpfiles needs root to chown")
        root = os.path.join(self.dir, "root")
        os.makedirs(os.path.join(root, "etc"))
        subprocess.run(["systemd-sysusers", f"--root={root}",
                        os.path.join(UNITS, "luaota-sysusers.conf")],
                       check=True, capture_output=True)
        with open(os.path.join(root, "etc", "passwd")) as fp:
            entry = [line.split(":") for line in fp
                     if line.startswith("luaota:")]
        self.assertEqual(len(entry), 1)
        uid, gid = int(entry[0][2]), int(entry[0][3])
        self.assertEqual(entry[0][5], "/var/lib/luaota")
        subprocess.run(["systemd-tmpfiles", f"--root={root}", "--create",
                        os.path.join(UNITS, "luaota-tmpfiles.conf")],
                       check=True, capture_output=True)
        state = os.path.join(root, "var", "lib", "luaota")
        st = os.stat(state)
        self.assertEqual((st.st_uid, st.st_gid, st.st_mode & 0o7777),
                         (uid, gid, 0o750))
        st = os.stat(os.path.join(state, "luaota.db"))
        self.assertEqual((st.st_uid, st.st_mode & 0o7777, st.st_size),
                         (uid, 0o640, 0))

    def test_example_configuration_covers_every_keyword(self):
        names = keywords()
        self.assertGreater(len(names), 10)
        with open(os.path.join(SOURCE, "contrib", "luaotad.conf")) as fp:
            example = fp.read()
        with open(os.path.join(SOURCE, "docs", "luaotad.conf.5")) as fp:
            manual = fp.read()
        for name in names:
            self.assertRegex(example, rf"(?m)^#{name} = ", name)
            self.assertRegex(manual, rf"(?m)^\.It Ic {name} ", name)
        # Uncommented, the example is the defaults: it must parse.
        active = os.path.join(self.dir, "active.conf")
        with open(active, "w") as fp:
            fp.write(re.sub(r"(?m)^#([a-z_]+ = )", r"\1", example))
        res = subprocess.run([harness.LUAOTAD, "-n", "-f", active],
                             capture_output=True, text=True)
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertEqual(res.stdout, "configuration OK\n")


class CheckConfig(ServiceCase):
    def test_errors_are_file_line_message_and_exit_1(self):
        conf = os.path.join(self.dir, "bad.conf")
        with open(conf, "w") as fp:
            fp.write("# fine\nlisten = 127.0.0.1:8266\nbogus = 1\n\n"
                     "reply_timeout = soon\nmax_connections = 0\n")
        res = subprocess.run([harness.LUAOTAD, "-n", "-f", conf],
                             capture_output=True, text=True)
        self.assertEqual(res.returncode, 1)
        self.assertEqual(res.stdout, "")
        self.assertEqual(res.stderr.splitlines(), [
            f"{conf}:3: bogus: unknown keyword",
            f"{conf}:5: reply_timeout: not a duration (e.g. 250ms, 3s)",
            f"{conf}:6: max_connections: value out of range",
            f"{conf}: configuration has errors",
        ])

    def test_missing_file_given_with_f_is_an_error(self):
        missing = os.path.join(self.dir, "none.conf")
        res = subprocess.run([harness.LUAOTAD, "-n", "-f", missing],
                             capture_output=True, text=True)
        self.assertEqual(res.returncode, 1)
        self.assertIn(f"{missing}: No such file or directory", res.stderr)


class Notifications(ServiceCase):
    """What the service manager sees over NOTIFY_SOCKET."""

    def test_ready_status_watchdog_reload_stopping(self):
        self.register()
        # 100 ms: the loop pings every 50 ms, so a few arrive promptly.
        d = self.daemon = harness.Daemon(
            self.dir, self.db, env={"WATCHDOG_USEC": "100000"})
        status = d.wait_for("STATUS=")
        self.assertRegex(status, r"^STATUS=sessions=0 checkins=0 current=0 "
                         r"updates=0 failures=0 rejected=0 refused=0 history_queued=0$")
        d.wait_for("WATCHDOG=1", count=3)
        self.assertEqual(d.notifications.index("READY=1") <
                         d.notifications.index(status), True)

        flash = self.flash()
        res = self.boot(flash, CHIP, SECRET)
        self.assertEqual(res.returncode, harness.DEVICE_REBOOTED, res.stdout)
        self.assertTrue(provisioned(self, flash))
        line = d.wait_for("STATUS=sessions=0 checkins=1 current=0 updates=1")
        self.assertIn("failures=0 rejected=0", line)

        d.proc.send_signal(signal.SIGHUP)
        d.wait_for("RELOADING=1")
        d.wait_for("MONOTONIC_USEC=")
        d.wait_for("READY=1", count=2)
        self.assertIn("event=reloaded", d.read_log())

        d.proc.send_signal(signal.SIGTERM)
        d.wait_for("STOPPING=1")
        self.assertEqual(d.proc.wait(timeout=30), 0)

    def test_no_watchdog_pings_for_another_pid(self):
        # WATCHDOG_PID names someone else: the pings are not ours to send.
        os.environ["WATCHDOG_PID"] = "1"
        try:
            d = self.daemon = harness.Daemon(self.dir, self.db)
        finally:
            del os.environ["WATCHDOG_PID"]
        d.wait_for("STATUS=")
        d.proc.send_signal(signal.SIGTERM)
        d.wait_for("STOPPING=1")
        self.assertEqual(d.proc.wait(timeout=30), 0)
        self.assertNotIn("WATCHDOG=1", d.notifications)


def notify_socket(path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    return sock


def read_until(sock, wanted, proc, timeout=harness.READY_TIMEOUT):
    """Collects notification lines until one equals wanted."""
    lines = []
    deadline = time.monotonic() + timeout
    while wanted not in lines:
        if proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"no {wanted}: {lines}")
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            lines.extend(sock.recv(4096).decode().split("\n"))
        except socket.timeout:
            pass
    return lines


class SocketActivation(ServiceCase):
    def stop(self, proc):
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(timeout=30), 0)

    def test_systemd_socket_activate(self):
        """systemd-socket-activate cannot bind port 0, so it binds a Unix
        socket: a forged check-in over it reaches the history."""
        tool = shutil.which("systemd-socket-activate")
        if tool is None:
            self.skipTest("systemd-socket-activate is not installed; the "
                          "harness passes LISTEN_FDS in every other test")
        self.register()
        notify = notify_socket(os.path.join(self.dir, "notify.sock"))
        path = os.path.join(self.dir, "luaotad.sock")
        log_path = os.path.join(self.dir, "luaotad.log")
        # systemd-socket-activate passes only the variables it is told to.
        cmd = [tool, "--fdname=luaotad", "-l", path,
               "-E", f"NOTIFY_SOCKET={notify.getsockname()}",
               harness.LUAOTAD, "-d", "-v", "-f", os.devnull, "-D", self.db]
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(cmd, stdout=log, stderr=log)
        try:
            # Like systemd, the tool starts the daemon on the first
            # connection, which the daemon then serves.
            deadline = time.monotonic() + harness.READY_TIMEOUT
            while not os.path.exists(path):
                self.assertLess(time.monotonic(), deadline, "no socket")
                self.assertIsNone(proc.poll())
                notify.settimeout(0.05)
                try:
                    notify.recv(1)
                except socket.timeout:
                    pass
            hi = '{"a":"HI","id":%s}' % CHIP
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.connect(path)
                s.sendall(hi.encode() + b"abcdef\n")
                read_until(notify, "READY=1", proc)
                s.settimeout(10)
                self.assertEqual(s.recv(100), b"")
            self.stop(proc)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            notify.close()
        with open(log_path) as fp:
            text = fp.read()
        self.assertIn("event=inherited fd=3 name=luaotad", text)
        self.assertNotIn("event=listening address=0.0.0.0", text)
        self.assertEqual(self.history(CHIP)[0]["reason"], "bad signature")

    def test_names_and_foreign_descriptors(self):
        """LISTEN_FDNAMES as systemd sets it; a passed descriptor that is
        not a listening stream socket is closed, the listener served."""
        self.register()
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        port = listener.getsockname()[1]
        stray = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        notify = notify_socket(os.path.join(self.dir, "notify.sock"))
        env = dict(os.environ, NOTIFY_SOCKET=notify.getsockname(),
                   LISTEN_FDS="2", LISTEN_FDNAMES="luaotad:stored")
        cmd = ["sh", "-c",
               f'exec 3<&{listener.fileno()} 4<&{stray.fileno()}; '
               'LISTEN_PID=$$ exec "$0" "$@"',
               harness.LUAOTAD, "-d", "-v", "-f", os.devnull, "-D", self.db]
        log_path = os.path.join(self.dir, "luaotad.log")
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(
                cmd, env=env, stdout=log, stderr=log,
                pass_fds=(listener.fileno(), stray.fileno()))
        try:
            read_until(notify, "READY=1", proc)
            flash = self.flash()
            res = subprocess.run(
                [harness.DEVICE, "--flash", flash, "--chip-id", CHIP,
                 "--server", f"127.0.0.1:{port}", "--secret", SECRET],
                capture_output=True, text=True, timeout=120)
            self.assertEqual(res.returncode, harness.DEVICE_REBOOTED,
                             res.stdout)
            self.stop(proc)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            listener.close()
            stray.close()
            notify.close()
        with open(log_path) as fp:
            text = fp.read()
        self.assertIn("event=inherited fd=3 name=luaotad", text)
        self.assertIn("event=ignored-fd fd=4 name=stored", text)
        self.assertEqual(len(re.findall("event=listening", text)), 1, text)


def parse_journal(datagram):
    """Fields of one native journal protocol entry."""
    fields = {}
    data = datagram
    while data:
        nl = data.index(b"\n")
        line = data[:nl]
        if b"=" in line:
            key, value = line.split(b"=", 1)
            data = data[nl + 1:]
        else:  # KEY\n<64-bit little-endian length><value>\n
            key = line
            size = int.from_bytes(data[nl + 1:nl + 9], "little")
            value = data[nl + 9:nl + 9 + size]
            data = data[nl + 10 + size:]
        fields[key.decode()] = value.decode(errors="replace")
    return fields


class Journal(ServiceCase):
    """Under systemd, lines go to journald with CHIP_ID= and friends: a
    stand-in journald socket receives what luaotad sends."""

    def test_session_fields(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to stand in for journald at "
                          + JOURNAL_SOCKET)
        if os.path.exists(JOURNAL_SOCKET):
            self.skipTest("a real journald owns " + JOURNAL_SOCKET)
        self.register()
        made = []
        path = os.path.dirname(JOURNAL_SOCKET)
        while not os.path.isdir(path):
            made.insert(0, path)
            path = os.path.dirname(path)
        for p in made:
            os.mkdir(p)
        journal = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            journal.bind(JOURNAL_SOCKET)
            entries = self.run_under_journal(journal)
        finally:
            journal.close()
            os.unlink(JOURNAL_SOCKET)
            for p in reversed(made):
                os.rmdir(p)
        ready = [e for e in entries if "event=ready" in e["MESSAGE"]]
        self.assertEqual(len(ready), 1, entries)
        self.assertNotIn("CHIP_ID", ready[0])
        self.assertEqual(ready[0]["PRIORITY"], "6")
        ends = [e for e in entries if "event=session-end" in e["MESSAGE"]]
        self.assertEqual(len(ends), 1, entries)
        end = ends[0]
        self.assertEqual(end["CHIP_ID"], CHIP)
        self.assertRegex(end["PEER"], r"^127\.0\.0\.1:[0-9]+$")
        self.assertEqual(end["OUTCOME"], "updated")
        self.assertEqual(end["SESSION_ID"], str(self.history(CHIP)[0]["id"]))

    def run_under_journal(self, journal):
        stderr_path = os.path.join(self.dir, "stderr")
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        port = listener.getsockname()[1]
        notify = notify_socket(os.path.join(self.dir, "notify.sock"))
        with open(stderr_path, "wb") as err:
            st = os.fstat(err.fileno())
            env = dict(os.environ, NOTIFY_SOCKET=notify.getsockname(),
                       LISTEN_FDS="1",
                       JOURNAL_STREAM=f"{st.st_dev}:{st.st_ino}")
            cmd = ["sh", "-c", f'exec 3<&{listener.fileno()}; '
                   'LISTEN_PID=$$ exec "$0" "$@"',
                   harness.LUAOTAD, "-f", os.devnull, "-D", self.db]
            proc = subprocess.Popen(cmd, env=env, stdout=err, stderr=err,
                                    pass_fds=(listener.fileno(),))
        try:
            read_until(notify, "READY=1", proc)
            res = subprocess.run(
                [harness.DEVICE, "--flash", self.flash(), "--chip-id", CHIP,
                 "--server", f"127.0.0.1:{port}", "--secret", SECRET],
                capture_output=True, text=True, timeout=120)
            self.assertEqual(res.returncode, harness.DEVICE_REBOOTED,
                             res.stdout)
            proc.send_signal(signal.SIGTERM)
            self.assertEqual(proc.wait(timeout=30), 0)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            listener.close()
            notify.close()
        with open(stderr_path) as fp:
            self.assertEqual(fp.read(), "", "lines went to stderr")
        entries = []
        journal.setblocking(False)
        while True:
            try:
                entries.append(parse_journal(journal.recv(65536)))
            except BlockingIOError:
                return entries


GUIDE = os.path.join(SOURCE, "docs", "operators-guide.md")


def guide_blocks():
    """The runnable command lines of the operator's guide: its sh blocks."""
    with open(GUIDE) as fp:
        return [block.strip("\n").splitlines() for block in
                re.findall(r"(?ms)^```sh\n(.*?)^```", fp.read())]


class OperatorsGuide(ServiceCase):
    """Runs the guide's command lines as written, in its order, with
    /srv/luaota a scratch directory and 8266 the test daemon's port."""

    def setUp(self):
        super().setUp()
        self.blocks = guide_blocks()
        repo = os.path.join(self.dir, "greenhouse")
        os.mkdir(repo)
        with open(os.path.join(repo, "init.lua"), "w") as fp:
            fp.write('dofile("app.lc")\n')
        with open(os.path.join(repo, "app.lua"), "w") as fp:
            fp.write(APP)
        build = os.path.dirname(os.path.dirname(harness.LUAOTAD))
        self.env = dict(os.environ, LUAOTA_DB=self.db, PATH=os.pathsep.join(
            [os.path.dirname(harness.LUAOTAD),
             os.path.dirname(harness.LUAOTACTL),
             os.path.dirname(harness.DEVICE),
             os.environ.get("PATH", "")]))
        self.env.pop("LUAOTA_BUILD", None)
        self.state = os.path.join(self.dir, "guide-state.sh")
        with open(self.state, "w") as fp:
            fp.write("SECRET=\n")
        self.assertTrue(build)

    def block(self, first_word):
        """The guide's block whose first line starts with first_word."""
        for block in self.blocks:
            if block[0].startswith(first_word):
                return block
        self.fail(f"the guide has no sh block starting {first_word!r}")

    def run_block(self, block, ok=True):
        port = self.daemon.port if self.daemon else 8266
        text = "\n".join(block).replace("/srv/luaota", self.dir)
        text = text.replace("127.0.0.1:8266", f"127.0.0.1:{port}")
        # $SECRET carries over from one block to the next, as in one shell.
        script = f'set -e\n. "{self.state}"\n{text}\n' \
            f'echo "SECRET=\'$SECRET\'" > "{self.state}"\n'
        res = subprocess.run(["sh", "-c", script], env=self.env,
                             capture_output=True, text=True, cwd=self.dir,
                             timeout=120)
        if ok:
            self.assertEqual(res.returncode, 0, (block, res.stdout,
                                                 res.stderr))
        return res

    def has_command(self, words):
        res = subprocess.run([harness.LUAOTACTL, "--help"],
                             capture_output=True, text=True)
        return f"  {words} " in res.stdout + res.stderr

    def test_install_lines_are_what_check_package_runs(self):
        with open(os.path.join(SOURCE, "scripts", "check-package")) as fp:
            script = fp.read()
        for line in self.block("scripts/build-deb"):
            self.assertIn(line, script)

    def test_walk_through(self):
        self.assertEqual(self.run_block(self.block("luaotad -n")).stdout,
                         "configuration OK\n")
        register = self.block("luaotactl group add greenhouse ")
        out = self.run_block(register).stdout
        self.assertIn("13572468", out)
        self.start()
        boot = self.block("mkdir -p /srv/luaota/sim-")
        flash = os.path.join(self.dir, "sim-13572468")
        first = self.run_block(boot, ok=False)
        self.assertEqual(first.returncode, harness.DEVICE_REBOOTED,
                         first.stdout + first.stderr)
        with open(os.path.join(flash, "luaOTA%2Fconfig.json")) as fp:
            self.assertIn('"ssid":"greenhouse-wifi"', fp.read())
        second = self.run_block(boot, ok=False)
        self.assertEqual(second.returncode, harness.DEVICE_APP_STARTED,
                         second.stdout + second.stderr)

        history = self.run_block(self.block("luaotactl history ")).stdout
        self.assertIn("updated", history)
        self.assertIn("current", history)
        failed = self.run_block(self.block("luaotactl history --failed"))
        self.assertNotIn("updated", failed.stdout)


    def test_v2_chip(self):
        self.run_block(self.block("luaotactl group add greenhouse "))
        self.run_block(self.block("mkdir -p /srv/luaota/sim-24681357"))
        self.start()
        boot = self.block("luaota-device --flash /srv/luaota/sim-24681357")
        first = self.run_block(boot, ok=False)
        self.assertEqual(first.returncode, harness.DEVICE_REBOOTED,
                         first.stdout + first.stderr)
        flash = os.path.join(self.dir, "sim-24681357")
        with open(os.path.join(flash, "luaOTA%2Fconfig.json")) as fp:
            config = json.load(fp)
        self.assertEqual(config["spwd"], "wifi-password")
        second = self.run_block(boot, ok=False)
        self.assertEqual(second.returncode, harness.DEVICE_APP_STARTED,
                         second.stdout + second.stderr)
        self.assertEqual([r["outcome"] for r in self.history("24681357")],
                         ["current", "updated"])

    def test_silent_chips(self):
        """A chip is silent until the daemon accepts a check-in from it; a
        rejected one does not count."""
        silent = self.block("luaotactl list --silent-for ")
        self.run_block(self.block("luaotactl group add greenhouse "))
        self.ctl("add", "24681357", "--group", "greenhouse", "--secret",
                 "right-secret")
        before = self.run_block(silent).stdout
        self.assertIn("13572468", before)
        self.assertIn("24681357", before)
        self.assertIn("never", before)
        self.start()
        first = self.run_block(self.block("mkdir -p /srv/luaota/sim-"),
                               ok=False)
        self.assertEqual(first.returncode, harness.DEVICE_REBOOTED,
                         first.stdout + first.stderr)
        self.boot(self.flash("impostor"), "24681357", "wrong-secret")
        self.assertEqual(self.history("24681357")[0]["outcome"], "rejected")
        after = self.run_block(silent).stdout
        self.assertNotIn("13572468", after)
        self.assertIn("24681357", after)

    def provision(self):
        """The guide's registration and a first boot."""
        self.run_block(self.block("luaotactl group add greenhouse "))
        self.start()
        boot = self.block("mkdir -p /srv/luaota/sim-")
        first = self.run_block(boot, ok=False)
        self.assertEqual(first.returncode, harness.DEVICE_REBOOTED,
                         first.stdout + first.stderr)
        return boot

    def test_move_fleet(self):
        if not self.has_command("group set"):
            self.skipTest("luaotactl group set is not in this build yet")
        boot = self.provision()
        self.run_block(self.block("luaotactl group set greenhouse "))
        moved = self.run_block(boot, ok=False)
        self.assertEqual(moved.returncode, harness.DEVICE_REBOOTED,
                         moved.stdout + moved.stderr)
        flash = os.path.join(self.dir, "sim-13572468")
        with open(os.path.join(flash, "luaOTA%2Fconfig.json")) as fp:
            self.assertIn('"server":"10.0.0.2"', fp.read())

    def test_backup(self):
        if not self.has_command("backup"):
            self.skipTest("luaotactl backup is not in this build yet")
        self.provision()
        self.run_block(self.block("luaotactl backup "))
        res = subprocess.run(
            [harness.LUAOTACTL, "-D", os.path.join(self.dir, "backup.db"),
             "history", "13572468"], capture_output=True, text=True)
        self.assertIn("updated", res.stdout, res.stderr)

    def test_watch_the_fleet(self):
        """The guide's token reads the API and the metrics."""
        self.run_block(self.block("luaotactl group add greenhouse "))
        out = self.run_block(self.block("luaotactl token add grafana ")).stdout
        token = re.search(r"^token: (lota_[0-9a-f]{64})$", out, re.M)
        self.assertIsNotNone(token, out)
        self.daemon = harness.Daemon(self.dir, self.db, http=True)
        for path in ("/api/v1/summary", "/metrics"):
            req = urllib.request.Request(
                f"http://127.0.0.1:{self.daemon.http_port}{path}",
                headers={"Authorization": "Bearer " + token.group(1)})
            with urllib.request.urlopen(req, timeout=30) as res:
                self.assertEqual(res.status, 200)
                body = res.read().decode()
            if path == "/metrics":
                self.assertIn('luaotad_chips{last_outcome="never"} 1', body)
                self.assertNotIn("13572468", body)
            else:
                self.assertEqual(json.loads(body)["chips"], 1)
        # Read-only: a write is refused.
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.daemon.http_port}/api/v1/chips",
            data=b'{"id": "1", "group": "greenhouse"}', method="POST",
            headers={"Authorization": "Bearer " + token.group(1),
                     "Content-Type": "application/json"})
        with self.assertRaises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req, timeout=30)
        self.assertEqual(e.exception.code, 403)

    def test_git_ref(self):
        if not self.has_command("repo add"):
            self.skipTest("luaotactl repo add (git refs) is not in this "
                          "build yet")
        git = os.path.join(self.dir, "greenhouse.git")
        subprocess.run(["git", "init", "-q", "-b", "production", git],
                       check=True)
        shutil.copy(os.path.join(self.dir, "greenhouse", "init.lua"), git)
        shutil.copy(os.path.join(self.dir, "greenhouse", "app.lua"), git)
        subprocess.run(["git", "-C", git, "add", "."], check=True)
        subprocess.run(["git", "-C", git, "-c", "user.name=t", "-c",
                        "user.email=t@example.org", "commit", "-qm", "app"],
                       check=True)
        self.run_block(self.block("luaotactl repo add "))


INSTALLED = os.environ.get("LUAOTA_INSTALLED") == "1"


class Installed(ServiceCase):
    """The Debian packages as installed: run by scripts/check-package."""

    def setUp(self):
        if not INSTALLED:
            self.skipTest("the packages are tested by scripts/check-package "
                          "after installing them")
        super().setUp()
        harness.LUAOTACTL = "/usr/sbin/luaotactl"
        harness.DEVICE = "/usr/bin/luaota-device"

    def test_user_and_directories(self):
        user = pwd.getpwnam("luaota")
        self.assertEqual(grp.getgrgid(user.pw_gid).gr_name, "luaota")
        st = os.stat("/var/lib/luaota")
        self.assertEqual((st.st_uid, st.st_mode & 0o777),
                         (user.pw_uid, 0o750))
        st = os.stat("/var/lib/luaota/luaota.db")
        self.assertEqual(st.st_uid, user.pw_uid)
        self.assertTrue(os.path.isfile("/etc/luaota/luaotad.conf"))
        for unit in ("luaotad.service", "luaotad.socket",
                     "luaotad-http.socket"):
            self.assertTrue(os.path.isfile(f"/lib/systemd/system/{unit}"))
        res = subprocess.run(["/usr/sbin/luaotad", "-n"],
                             capture_output=True, text=True)
        self.assertEqual(res.returncode, 0, res.stderr)

    def test_installed_daemon_provisions_as_luaota(self):
        """Started as the service would: user luaota, the packaged
        configuration, a state directory laid out as tmpfiles.d does."""
        user = pwd.getpwnam("luaota")
        state = os.path.join(self.dir, "state")
        os.mkdir(state, 0o750)
        os.chown(state, user.pw_uid, user.pw_gid)
        self.db = os.path.join(state, "luaota.db")
        with open(self.db, "wb"):
            pass
        os.chown(self.db, user.pw_uid, user.pw_gid)
        # The daemon reads the repository and answers on the notify socket.
        os.chmod(self.dir, 0o755)
        self.register()  # root's luaotactl, as an operator runs it
        # UMask=0077 as in the unit; the notify socket must take luaota's
        # datagrams, so it is bound with an open umask.
        wrapper = ["sh", "-c", 'umask 077; exec "$@"', "sh", "setpriv",
                   f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}",
                   "--clear-groups", "--"]
        old = os.umask(0)
        try:
            d = self.daemon = harness.Daemon(
                self.dir, self.db, binary="/usr/sbin/luaotad",
                wrapper=wrapper,
                extra_args=("-f", "/etc/luaota/luaotad.conf"))
        finally:
            os.umask(old)
        flash = self.flash()
        res = self.boot(flash, CHIP, SECRET)
        self.assertEqual(res.returncode, harness.DEVICE_REBOOTED, res.stdout)
        self.assertTrue(provisioned(self, flash))
        res = self.boot(flash, CHIP, SECRET)
        self.assertEqual(res.returncode, harness.DEVICE_APP_STARTED,
                         res.stdout)
        hist = self.ctl("history", CHIP, "--json").stdout
        self.assertIn('"updated"', hist)
        self.assertIn('"current"', hist)
        for name in os.listdir(state):
            self.assertEqual(os.stat(os.path.join(state, name)).st_uid,
                             user.pw_uid, name)
        self.assertEqual(d.stop(), 0)
        self.daemon = None


if __name__ == "__main__":
    harness.main()
