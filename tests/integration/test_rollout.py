"""Staged rollouts with simulated fleets: a bad revision halts at its
canary wave and reverts, a good one reaches every chip wave by wave (and
across a daemon restart), a boot storm is admitted max-inflight at a time,
v2 chips follow their waves too, and the operator's commands refuse what
would go wrong."""

import concurrent.futures
import json
import os
import socket
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

FLEET = 200
GOOD = "print('good')\n"
BAD = "print('bad')\n"
BETTER = "print('better')\n"
WAIT = 60.0  # seconds before a state that should come is called missing


def chip_id(i):
    return str(100000 + i)


def compiled_source(flash):
    """Which of GOOD, BAD, BETTER the chip's compiled init.lc is of (the
    bytecode keeps string constants as they are)."""
    with open(os.path.join(flash, "init.lc"), "rb") as fp:
        code = fp.read()
    for source in (BETTER, GOOD, BAD):
        if source.split("'")[1].encode() + b"\0" in code:
            return source
    return None


def loops(chip):
    """Whether the bad revision crashes this chip's app (30% of them)."""
    return int(chip) % 10 < 3


class Fleet(harness.Case):
    """A group g of simulated legacy chips, each with its own flash."""

    def add_fleet(self, n=FLEET):
        self.chips = [chip_id(i) for i in range(n)]
        for c in self.chips:
            self.ctl("add", c, "--group", "g", "--secret", "s-" + c)
        self.flashes = {c: self.flash("flash-" + c) for c in self.chips}

    def boot_chip(self, chip, boots=2):
        return self.boot(self.flashes[chip], chip, "s-" + chip, boots=boots)

    def boot_all(self, chips, after=None):
        """Boots chips in parallel (each as often as it reboots); after(c)
        runs right after chip c's boot, in the same worker."""
        def one(c):
            res = self.boot_chip(c)
            self.assertIn(res.returncode, (harness.DEVICE_APP_STARTED,
                                           harness.DEVICE_REBOOTED),
                          res.stdout + res.stderr)
            if after is not None:
                after(c)
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            list(pool.map(one, chips))

    def holds(self, chip):
        return compiled_source(self.flashes[chip])

    def status(self, group="g"):
        res = self.ctl("rollout", "status", group, "--json")
        return json.loads(res.stdout)

    def wait_status(self, pred, what):
        deadline = time.monotonic() + WAIT
        while True:
            st = self.status()
            if pred(st):
                return st
            if time.monotonic() > deadline:
                self.fail(f"rollout never {what}: {json.dumps(st)}")
            time.sleep(0.2)

    def sql(self, query, *args):
        con = sqlite3.connect(self.db)
        try:
            return con.execute(query, args).fetchall()
        finally:
            con.close()

    def chips_given(self, revision):
        """Chips some session served revision, with an update."""
        return {r[0] for r in self.sql(
            "SELECT DISTINCT chip_id FROM sessions WHERE revision = ? "
            "AND outcome IN ('updated', 'partial')", revision)}


class BadRevision(Fleet):
    def test_bad_revision_halts_at_the_canary_and_reverts(self):
        self.write("init.lua", GOOD)
        self.ctl("group", "add", "g", "--repo", self.repo,
                 "--files", "init.lua")
        self.add_fleet()
        self.start()
        self.boot_all(self.chips)
        good = self.ctl("group", "pin", "g").stdout.strip()
        self.assertRegex(good, r"^dir:[0-9a-f]{16}$")

        self.write("init.lua", BAD)
        started = json.loads(self.ctl(
            "rollout", "start", "g", "--canary", "10%", "--steps", "100%",
            "--max-failures", "10%", "--soak", "3s", "--loop-window", "3s",
            "--loop", "3", "--deadline", "60s", "--json").stdout)
        bad = started["to"]
        self.assertEqual(started["from"], good)
        self.assertNotEqual(bad, good)
        self.assertEqual(started["state"], "running")
        self.assertEqual(started["waves"][0]["chips"], FLEET // 10)
        canary = {c["id"] for c in self.status()["chips"] if c["wave"] == 1}
        self.assertEqual(len(canary), FLEET // 10)
        looping = {c for c in canary if loops(c)}
        # The test is only meaningful if the loopers exceed the limit (2).
        self.assertGreater(len(looping), 2)

        def crash_loop(c):
            # luaOTA.check runs first at every boot: a crashing app shows
            # as rapid check-ins.
            if c in looping and self.holds(c) == BAD:
                for _ in range(3):
                    self.boot_chip(c, boots=1)
        self.boot_all(self.chips, after=crash_loop)

        st = self.wait_status(lambda s: s["state"] == "halted", "halted")
        self.assertIn("reboot loop", st["reason"])
        self.assertEqual(st["wave"], 1)
        self.assertGreater(st["failed"], st["failure_limit"])
        # No chip outside the canary ever got the bad revision.
        self.assertTrue(self.chips_given(bad))
        self.assertLessEqual(self.chips_given(bad), canary)
        self.assertEqual(self.ctl("group", "show", "g", "--json")
                         .stdout.count(good), 1)

        # Every chip is served the previous revision again.
        self.boot_all(self.chips)
        for c in self.chips:
            self.assertEqual(self.holds(c), GOOD, c)
        reverted = self.sql(
            "SELECT chip_id, reason FROM sessions WHERE revision = ? AND "
            "outcome = 'updated' AND reason LIKE 'reverted: rollout%'", good)
        self.assertEqual({r[0] for r in reverted}, self.chips_given(bad))
        self.assertIn("halted", reverted[0][1])
        self.assertIn("reboot loop", reverted[0][1])
        log = self.daemon.read_log()
        self.assertIn("event=rollout-halted", log)


class GoodRevision(Fleet):
    def git(self, *args):
        env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t",
                   GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@t",
                   GIT_CONFIG_NOSYSTEM="1", HOME=self.dir)
        return subprocess.run(["git", "-C", self.repo, *args], env=env,
                              capture_output=True, text=True,
                              check=True).stdout.strip()

    def commit(self, text):
        self.write("init.lua", text)
        self.git("add", "-A")
        self.git("commit", "-q", "-m", text)
        return self.git("rev-parse", "HEAD")

    def test_good_revision_reaches_every_chip_through_all_waves(self):
        self.git("init", "-q", "-b", "main")
        first = self.commit(GOOD)
        self.ctl("group", "add", "g", "--repo", self.repo, "--ref", "main",
                 "--files", "init.lua")
        self.add_fleet()
        self.start()
        self.boot_all(self.chips)
        self.assertEqual(self.ctl("group", "pin", "g").stdout.strip(), first)
        second = self.commit(BETTER)
        # Pinned: the new commit reaches nobody before the rollout.
        self.boot_all(self.chips[:5])
        self.assertEqual(self.chips_given(second), set())

        started = json.loads(self.ctl(
            "rollout", "start", "g", "--canary", "5", "--steps",
            "25%,100%", "--soak", "1s", "--loop-window", "1s",
            "--json").stdout)
        self.assertEqual(started["to"], second)
        self.assertEqual([w["chips"] for w in started["waves"]],
                         [5, 45, 150])
        waves_seen = []
        restarted = False
        while True:
            st = self.status()
            if st["state"] == "done":
                break
            self.assertEqual(st["state"], "running", st)
            wave = st["wave"]
            waves_seen.append(wave)
            waiting = [c["id"] for c in st["chips"]
                       if c["state"] == "waiting"]
            self.boot_all(waiting)
            # Only chips of the waves served so far got the new commit.
            served = {c["id"] for c in st["chips"] if c["wave"] <= wave}
            self.assertLessEqual(self.chips_given(second), served)
            if wave == 2 and not restarted:
                # A daemon restart mid-rollout: it carries on from the
                # database.
                self.daemon.stop()
                self.start()
                restarted = True
            self.wait_status(lambda s: s["wave"] != wave or
                             s["state"] != "running", f"left wave {wave}")
        self.assertTrue(restarted)
        self.assertEqual(sorted(set(waves_seen)), [1, 2, 3])
        self.assertEqual(st["failed"], 0)
        for c in self.chips:
            self.assertEqual(self.holds(c), BETTER, c)
        group = json.loads(self.ctl("group", "show", "g", "--json").stdout)
        self.assertEqual(group["release"], second)
        updates = self.sql(
            "SELECT reason FROM sessions WHERE revision = ? AND "
            "outcome = 'updated'", second)
        self.assertEqual(len(updates), FLEET)
        self.assertTrue(all(r[0].startswith("rollout 1: wave ")
                            for r in updates), updates[:3])


class Operator(Fleet):
    """Small fleets: the commands, pause, abort, admission, v2."""

    def setUp(self):
        super().setUp()
        self.write("init.lua", GOOD)
        self.ctl("group", "add", "g", "--repo", self.repo,
                 "--files", "init.lua")

    def test_a_directory_group_must_be_pinned_before_it_changes(self):
        self.add_fleet(3)
        res = self.ctl("rollout", "start", "g", ok=False)
        self.assertEqual(res.returncode, 1)
        self.assertIn("pin it first (luaotactl group pin g)", res.stderr)
        self.ctl("group", "pin", "g")
        res = self.ctl("rollout", "start", "g", ok=False)
        self.assertIn("nothing to roll out", res.stderr)
        self.write("init.lua", "this is not lua (\n")
        res = self.ctl("rollout", "start", "g", ok=False)
        self.assertEqual(res.returncode, 1)
        self.assertIn("would not be sent", res.stderr)
        self.assertEqual(json.loads(self.ctl("rollout", "list", "--json")
                                    .stdout), [])

    def test_a_pinned_group_changes_its_files_only_by_rollout(self):
        pinned = self.ctl("group", "pin", "g").stdout.strip()
        self.write("extra.txt", "x")
        for args in (["--files", "init.lua,extra.txt"],
                     ["--action", "init.lua=dl"], ["--lua", "5.3"],
                     ["--max-file-size", "100"],
                     ["--repo", self.repo]):
            with self.subTest(args=args):
                res = self.ctl("group", "set", "g", *args, ok=False)
                self.assertEqual(res.returncode, 1, res.stderr)
                self.assertIn(f"pinned to {pinned}", res.stderr)
                self.assertIn("luaotactl group unpin g", res.stderr)
        self.ctl("group", "set", "g", "--config", '{"port":8267}')
        self.ctl("group", "unpin", "g")
        self.ctl("group", "set", "g", "--files", "init.lua,extra.txt")
        group = json.loads(self.ctl("group", "show", "g", "--json").stdout)
        self.assertIsNone(group["release"])
        self.assertEqual(len(group["files"]), 2)

    def test_bad_options_are_usage_errors(self):
        self.ctl("group", "pin", "g")
        self.write("init.lua", BAD)
        for args, text in [
                (["--steps", "10%,50%"], "must end at 100%"),
                (["--steps", "50%,10%,100%"], "waves must grow"),
                (["--canary", "0"], "--canary 0"),
                (["--max-failures", "lots"], "--max-failures lots"),
                (["--soak", "1s", "--loop-window", "1m"], "at least"),
                (["--loop", "1"], "--loop 1"),
                (["--deadline", "soon"], "--deadline soon")]:
            with self.subTest(args=args):
                res = self.ctl("rollout", "start", "g", *args, ok=False)
                self.assertEqual(res.returncode, 2, res.stderr)
                self.assertIn(text, res.stderr)

    def test_pause_resume_abort_and_unpin(self):
        self.add_fleet(10)
        self.start()
        self.boot_all(self.chips)
        good = self.ctl("group", "pin", "g").stdout.strip()
        self.write("init.lua", BETTER)
        self.ctl("rollout", "start", "g", "--canary", "3", "--steps",
                 "100%", "--soak", "1s", "--loop-window", "1s")
        res = self.ctl("rollout", "start", "g", ok=False)
        self.assertIn("has a rollout under way", res.stderr)
        res = self.ctl("group", "unpin", "g", ok=False)
        self.assertIn("abort it first", res.stderr)
        self.ctl("rollout", "pause", "g")
        res = self.ctl("rollout", "pause", "g", ok=False)
        self.assertIn("is paused: cannot pause", res.stderr)
        st = self.status()
        canary = {c["id"] for c in st["chips"] if c["wave"] == 1}
        self.assertEqual(len(canary), 3)
        # luaotactl diff previews what the daemon will serve each chip.
        for c in self.chips:
            preview = json.loads(self.ctl("diff", c, "--json").stdout)
            if isinstance(preview, list):
                preview = preview[0]
            self.assertEqual(preview["revision"],
                             st["to"] if c in canary else st["from"], c)
            self.assertEqual(preview["current"], c not in canary, c)
        self.boot_all(self.chips)
        for c in self.chips:
            self.assertEqual(self.holds(c), BETTER if c in canary else GOOD)
        # Paused: healthy as the canary is, the wave stays.  (The soak is
        # 1 s; the daemon reviews once a second.)
        wait_until = time.monotonic() + 3
        while time.monotonic() < wait_until:
            self.assertEqual(self.status()["wave"], 1)
            time.sleep(0.3)
        self.ctl("rollout", "resume", "g")
        self.wait_status(lambda s: s["wave"] == 2, "advanced")
        self.boot_all(self.chips)
        self.wait_status(lambda s: s["state"] == "done", "done")
        # A second rollout, aborted: the canary goes back.
        self.write("init.lua", BAD)
        second = json.loads(self.ctl(
            "rollout", "start", "g", "--canary", "3", "--steps", "100%",
            "--soak", "1h", "--json").stdout)
        self.assertEqual(second["id"], 2)
        self.boot_all(self.chips)
        out = self.ctl("rollout", "abort", "2").stdout
        self.assertIn("aborted", out)
        self.boot_all(self.chips)
        for c in self.chips:
            self.assertEqual(self.holds(c), BETTER, c)
        listed = json.loads(self.ctl("rollout", "list", "--json").stdout)
        self.assertEqual([(r["id"], r["state"]) for r in listed],
                         [(2, "aborted"), (1, "done")])
        self.assertEqual(listed[0]["reason"], "aborted by the operator")
        self.ctl("group", "unpin", "g")
        self.boot_all(self.chips[:1])
        self.assertEqual(self.holds(self.chips[0]), BAD)
        self.assertNotEqual(good, second["to"])

    def test_max_inflight_defers_updates_past_the_limit(self):
        self.add_fleet(2)
        self.start()
        self.boot_all(self.chips)
        self.ctl("group", "pin", "g")
        self.write("init.lua", BETTER)
        self.ctl("rollout", "start", "g", "--steps", "100%",
                 "--max-inflight", "1", "--soak", "1h")
        held, other = self.chips
        # A chip whose update session stays open holds the one slot.
        slow = socket.create_connection(("127.0.0.1", self.daemon.port))
        hello = json.dumps({"a": "HI", "id": int(held)},
                           separators=(",", ":"))
        slow.sendall(harness.record("s-" + held, hello))
        slow.settimeout(10)
        first = slow.recv(4096)
        self.assertTrue(first)  # its first command: the update is under way
        res = self.boot_chip(other)
        self.assertEqual(res.returncode, harness.DEVICE_APP_STARTED,
                         res.stdout)
        self.assertEqual(self.holds(other), GOOD)
        slow.close()
        # The slot is free again: the next boot takes the update.
        deadline = time.monotonic() + WAIT
        while self.holds(other) != BETTER:
            self.assertLess(time.monotonic(), deadline)
            self.boot_chip(other)
        rows = self.sql(
            "SELECT outcome, revision FROM sessions WHERE chip_id = ? "
            "ORDER BY id", other)
        to = self.status()["to"]
        # Its first two boots took the original files; then, while the
        # slot was taken, it was current for what it held; then updated.
        updated = rows.index(("updated", to))
        self.assertEqual([o for o, r in rows[2:updated]], ["current"])
        self.assertNotEqual(rows[2][1], to)

    def test_v2_chips_follow_their_waves(self):
        cfgs = {}
        chips = [chip_id(i) for i in range(8)]
        for c in chips:
            cfg = os.path.join(self.dir, f"{c}.json")
            self.ctl("add", c, "--group", "g", "--secret", "s-" + c,
                     "--protocol", "v2", "--device-config", cfg)
            flash = self.flash("v2-" + c)
            with open(cfg, "rb") as src, open(
                    os.path.join(flash, "luaOTA%2Fconfig.json"), "wb") as d:
                d.write(src.read())
            cfgs[c] = flash
        self.start()

        def v2_boot(c):
            return subprocess.run(
                [harness.DEVICE, "--flash", cfgs[c], "--chip-id", c,
                 "--server", f"127.0.0.1:{self.daemon.port}"],
                capture_output=True, text=True, timeout=180)

        def held(c):
            return compiled_source(cfgs[c])
        for c in chips:
            v2_boot(c)
            self.assertEqual(held(c), GOOD)
        self.ctl("group", "pin", "g")
        self.write("init.lua", BETTER)
        self.ctl("rollout", "start", "g", "--canary", "3", "--steps",
                 "100%", "--soak", "1h")
        canary = {c["id"] for c in self.status()["chips"] if c["wave"] == 1}
        for c in chips:
            v2_boot(c)
            self.assertEqual(held(c), BETTER if c in canary else GOOD, c)
        self.ctl("rollout", "abort", "g")
        for c in chips:
            v2_boot(c)
            self.assertEqual(held(c), GOOD, c)


if __name__ == "__main__":
    harness.main()
