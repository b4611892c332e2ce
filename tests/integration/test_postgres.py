"""Several luaotad on one PostgreSQL inventory (a private server the test
starts): simulated devices spread over them, one killed with SIGKILL in
the middle of sessions while the others keep serving, a history that stays
true, v2 release counters that never go backwards, and luaotactl working
against the same database."""

import concurrent.futures
import json
import os
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "support"))
import harness  # noqa: E402
import pgserver  # noqa: E402

FLEET = 30
WAIT = 60.0

SERVER = None


def setUpModule():
    global SERVER
    SERVER = pgserver.PgServer().start()


def tearDownModule():
    SERVER.stop()


def chip_id(i):
    return str(300000 + i)


class Shared(harness.Case):
    def setUp(self):
        super().setUp()
        self.db = SERVER.new_database()
        self.daemons = []
        self.write("init.lua", "print('one')\n")
        self.ctl("group", "add", "g", "--repo", self.repo, "--files",
                 "init.lua")

    def tearDown(self):
        for d in self.daemons:
            d.stop()
        super().tearDown()

    def sql(self, query):
        return SERVER.psql_rows(query, self.db)

    def start_daemon(self, name):
        """A daemon with its own directory (log, spool) on the shared
        inventory."""
        work = os.path.join(self.dir, name)
        os.makedirs(work, exist_ok=True)
        d = harness.Daemon(work, self.db,
                           f"spool = {os.path.join(work, 'spool')}\n")
        self.daemons.append(d)
        return d

    def add_fleet(self, n=FLEET):
        self.chips = [chip_id(i) for i in range(n)]
        for c in self.chips:
            self.ctl("add", c, "--group", "g", "--secret", "s-" + c)
        self.flashes = {c: self.flash("flash-" + c) for c in self.chips}

    def boot(self, flash, chip, secret, boots=2, server=None):
        return super().boot(flash, chip, secret, boots=boots, server=server)

    def test_daemons_share_the_inventory(self):
        self.add_fleet()
        daemons = [self.start_daemon(f"d{i}") for i in range(3)]

        def provision(i, c):
            port = daemons[i % 3].port
            return self.boot(self.flashes[c], c, "s-" + c, server=port)

        with concurrent.futures.ThreadPoolExecutor(max_workers=12) as ex:
            results = list(ex.map(provision, range(FLEET), self.chips))
        for c, res in zip(self.chips, results):
            self.assertEqual(res.returncode, harness.DEVICE_APP_STARTED,
                             c + res.stderr)
        # One history, with every daemon's rows: an update then a
        # check-in per chip, each chip last seen current.
        listed = {c["id"]: c for c in json.loads(
            self.ctl("list", "--json").stdout)}
        for c in self.chips:
            self.assertEqual(listed[c]["last_outcome"], "current", c)
        rows = json.loads(self.ctl("history", "--limit", "0",
                                   "--json").stdout)
        self.assertEqual(len(rows), 2 * FLEET)
        self.assertEqual(sorted(r["outcome"] for r in rows),
                         ["current"] * FLEET + ["updated"] * FLEET)
        # A change made with luaotactl reaches chips through any daemon.
        self.write("init.lua", "print('two')\n")
        res = self.boot(self.flashes[self.chips[0]], self.chips[0],
                        "s-" + self.chips[0], server=daemons[2].port)
        self.assertEqual(res.returncode, harness.DEVICE_APP_STARTED,
                         res.stderr)
        self.assertEqual(json.loads(self.ctl(
            "history", self.chips[0], "--json").stdout)[1]["outcome"],
            "updated")

    def test_a_killed_daemon_leaves_a_true_history(self):
        # Big files and a slow device link: sessions are in flight when
        # the daemon dies.
        self.write("big.bin", os.urandom(12000))
        self.ctl("group", "set", "g", "--files", "init.lua,big.bin")
        self.add_fleet(12)
        a = self.start_daemon("a")
        b = self.start_daemon("b")

        def boot_a(c):
            return self.boot(self.flashes[c], c, "s-" + c, boots=1,
                             server=a.port)

        with concurrent.futures.ThreadPoolExecutor(max_workers=12) as ex:
            futures = [ex.submit(boot_a, c) for c in self.chips]
            # Killed once the first sessions have begun.
            deadline = time.monotonic() + WAIT
            while time.monotonic() < deadline:
                if self.sql("SELECT count(*) FROM sessions WHERE "
                            "outcome = 'started'")[0][0] != "0":
                    break
            a.proc.send_signal(signal.SIGKILL)
            a.proc.wait()
            for f in futures:
                f.result()
        started = int(self.sql("SELECT count(*) FROM sessions WHERE "
                               "outcome = 'started'")[0][0])
        self.assertGreater(started, 0)
        # The other daemon keeps serving: every chip gets its files.
        for c in self.chips:
            res = self.boot(self.flashes[c], c, "s-" + c, server=b.port)
            self.assertEqual(res.returncode, harness.DEVICE_APP_STARTED,
                             c + res.stderr)
            self.assertEqual(json.loads(self.ctl(
                "history", c, "--limit", "1", "--json").stdout)[0]
                ["outcome"], "current")
        # No row claims what did not happen: A's open rows are still open
        # (B does not touch a live daemon's rows) ...
        self.assertEqual(int(self.sql(
            "SELECT count(*) FROM sessions WHERE outcome = 'started'")
            [0][0]), started)
        # ... until A comes back and marks them interrupted, and only them.
        a2 = harness.Daemon(os.path.join(self.dir, "a"), self.db,
                            f"spool = {os.path.join(self.dir, 'a', 'spool')}"
                            "\n")
        self.daemons.append(a2)
        self.assertEqual(self.sql("SELECT count(*) FROM sessions WHERE "
                                  "outcome = 'started'")[0][0], "0")
        self.assertEqual(int(self.sql(
            "SELECT count(*) FROM sessions WHERE outcome = 'interrupted'")
            [0][0]), started)
        self.assertIn(f"event=interrupted-sessions count={started}",
                      a2.read_log())
        # No chip was updated twice: a session cut short on A either
        # left its files (B then answers current) or not (B sends them).
        updated = [r[0] for r in self.sql(
            "SELECT chip_id FROM sessions WHERE outcome = 'updated'")]
        self.assertEqual(len(updated), len(set(updated)))

    def test_v2_release_counters_never_go_backwards(self):
        cfg = os.path.join(self.dir, "v2.json")
        self.ctl("add", "400000", "--group", "g", "--protocol", "v2",
                 "--device-config", cfg)
        flash = self.flash("v2")
        with open(cfg, "rb") as src, \
                open(os.path.join(flash, "luaOTA%2Fconfig.json"), "wb") as d:
            d.write(src.read())
        daemons = [self.start_daemon("a"), self.start_daemon("b")]
        for i in range(6):
            self.write("init.lua", f"print({i})\n")
            res = subprocess.run(
                [harness.DEVICE, "--flash", flash, "--chip-id", "400000",
                 "--server", f"127.0.0.1:{daemons[i % 2].port}"],
                capture_output=True, text=True, timeout=120)
            self.assertEqual(res.returncode, harness.DEVICE_REBOOTED,
                             res.stdout + res.stderr)
        counters = [int(r[0]) for r in self.sql(
            "SELECT rc FROM v2_releases WHERE chip_id = '400000' ORDER BY "
            "issued, rc")]
        self.assertEqual(counters, list(range(1, 7)))

    def test_history_spools_while_the_database_is_away(self):
        self.add_fleet(2)
        d = self.start_daemon("a")
        first, second = self.chips
        res = self.boot(self.flashes[first], first, "s-" + first,
                        server=d.port)
        self.assertEqual(res.returncode, harness.DEVICE_APP_STARTED)
        SERVER.pause()
        try:
            # The inventory cannot be read: the device starts its
            # application unchanged, and the row waits in the spool.
            res = self.boot(self.flashes[second], second, "s-" + second,
                            server=d.port)
            self.assertNotEqual(res.returncode, harness.DEVICE_REBOOTED)
            spool = os.path.join(self.dir, "a", "spool")
            self.assertGreater(os.path.getsize(spool), 0)
        finally:
            SERVER.resume()
        # Once the database is back the row is written, nothing lost.
        deadline = time.monotonic() + WAIT
        rows = []
        while time.monotonic() < deadline:
            rows = self.sql("SELECT outcome, reason FROM sessions WHERE "
                            f"chip_id = '{second}'")
            if rows:
                break
            d.wait_for("STATUS=", count=len([
                n for n in d.notifications if n.startswith("STATUS=")]) + 1)
        self.assertEqual(len(rows), 1, d.read_log()[-2000:])
        self.assertEqual(rows[0][0], "failed")
        self.assertIn("inventory unavailable", rows[0][1])
        # And the daemon serves again.
        res = self.boot(self.flashes[second], second, "s-" + second,
                        server=d.port)
        self.assertEqual(res.returncode, harness.DEVICE_APP_STARTED,
                         res.stderr)

    def test_rejection_windows_are_shared(self):
        # A flood of bad signatures from one address, spread over two
        # daemons: one row for the first, the rest counted in summaries.
        self.add_fleet(1)
        chip = self.chips[0]
        a, b = self.start_daemon("a"), self.start_daemon("b")
        for i in range(10):
            res = self.boot(self.flash(f"bad{i}"), chip, "wrong", boots=1,
                            server=(a, b)[i % 2].port)
            self.assertNotEqual(res.returncode, harness.DEVICE_REBOOTED)
        for d in (a, b):
            self.assertEqual(d.stop(), 0)  # the summaries are written
        self.daemons = []
        rows = [r[0] for r in self.sql(
            "SELECT reason FROM sessions WHERE outcome = 'rejected'")]
        firsts = [r for r in rows if "suppressed" not in r]
        self.assertEqual(firsts, ["bad signature"], rows)
        counted = 0
        for r in rows:
            if "suppressed" in r:
                counted += int(r.split("(")[1].split()[0])
        self.assertEqual(1 + counted, 10, rows)

    def test_max_inflight_holds_across_daemons(self):
        self.add_fleet(2)
        a, b = self.start_daemon("a"), self.start_daemon("b")
        for c in self.chips:
            self.boot(self.flashes[c], c, "s-" + c, server=a.port)
        self.ctl("group", "pin", "g")
        self.write("init.lua", "print('next')\n")
        to = json.loads(self.ctl("rollout", "start", "g", "--steps", "100%",
                                 "--max-inflight", "1", "--soak", "1h",
                                 "--json").stdout)["to"]
        held, other = self.chips
        # An update session held open on daemon a takes the one slot.
        slow = socket.create_connection(("127.0.0.1", a.port))
        hello = json.dumps({"a": "HI", "id": int(held)},
                           separators=(",", ":"))
        slow.sendall(harness.record("s-" + held, hello))
        slow.settimeout(WAIT)
        self.assertTrue(slow.recv(4096))  # its first command: under way
        # Daemon b counts it too: the other chip is answered current.
        res = self.boot(self.flashes[other], other, "s-" + other,
                        server=b.port)
        self.assertEqual(res.returncode, harness.DEVICE_APP_STARTED,
                         res.stdout)
        listed = {c["id"]: c for c in json.loads(
            self.ctl("list", "--json").stdout)}
        self.assertNotEqual(listed[other]["revision"], to)
        slow.close()
        # Once the slot is given back, b serves the update.
        deadline = time.monotonic() + WAIT
        while True:
            self.boot(self.flashes[other], other, "s-" + other,
                      server=b.port)
            listed = {c["id"]: c for c in json.loads(
                self.ctl("list", "--json").stdout)}
            if listed[other]["revision"] == to:
                break
            self.assertLess(time.monotonic(), deadline)
        self.assertEqual(self.sql("SELECT count(*) FROM rollout_slots")[0][0],
                         "0")

    def test_a_second_daemon_on_one_spool_is_refused(self):
        self.start_daemon("a")
        work = os.path.join(self.dir, "a")
        res = subprocess.run(
            [harness.LUAOTAD, "-d", "-f", os.path.join(work, "luaotad.conf"),
             "-D", self.db, "-l", "127.0.0.1:0"],
            capture_output=True, text=True, timeout=30)
        self.assertEqual(res.returncode, 1)
        self.assertIn("another luaotad", res.stderr)
        self.assertIn("spool", res.stderr)

    def test_luaotactl_and_passwords(self):
        # The URL is logged without its password.
        res = subprocess.run(
            [harness.LUAOTACTL, "-D",
             "postgresql://luaota:hunter2@127.0.0.1:1/nothing", "list"],
            capture_output=True, text=True)
        self.assertEqual(res.returncode, 1)
        self.assertNotIn("hunter2", res.stderr)
        # The test server trusts its socket: a password is ignored there,
        # but must not be shown.
        self.db = self.db.replace("postgresql://luaota@",
                                  "postgresql://luaota:hunter2@")
        d = self.start_daemon("a")
        self.assertNotIn("hunter2", d.read_log())
        self.assertIn("event=ready database=postgresql://luaota:***@",
                      d.read_log())


if __name__ == "__main__":
    harness.main()
