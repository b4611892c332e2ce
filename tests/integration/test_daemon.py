"""luaotad end to end: the daemon, luaotactl and simulated devices."""

import json
import os
import signal
import sqlite3
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

SECRET = "selftest-secret"
CHIP = "13572468"

APP = """-- the application
local count = 0
function tick()
  count = count + 1
  return count
end
print("app up")
"""

TRIMMED = """--SAFETRIM
-- a module whose comments the server strips before sending
local M = {}   -- trailing comment
    M.greeting = "hello -- not a comment"
--[[ a long
comment ]]
function M.hi()   return M.greeting .. [[
  -- kept: inside a long string ]] end
return M
"""

DATA = bytes(range(256)) * 9  # 2304 bytes: three chunks, not a .lua


def luac(source_path, out_path, version="5.1"):
    subprocess.run([f"luac{version}", "-s", "-o", out_path, source_path],
                   check=True)
    with open(out_path, "rb") as fp:
        return fp.read()


class Provisioning(harness.Case):
    def setUp(self):
        super().setUp()
        self.write("app.lua", APP)
        self.write("lib.lua", TRIMMED)
        self.write("blob.bin", DATA)
        self.ctl("group", "add", "demo", "--repo", self.repo,
                 "--files", "app.lua,lib.lua,blob.bin")
        self.ctl("add", CHIP, "--group", "demo", "--secret", SECRET)
        self.start()

    def read_flash(self, flash, name):
        with open(os.path.join(flash, name), "rb") as fp:
            return fp.read()

    def test_first_boot_provisions_then_second_is_current(self):
        flash = self.flash()
        first = self.boot(flash, CHIP, SECRET)
        self.assertEqual(self.read_flash(flash, "blob.bin"), DATA)
        self.assertFalse(os.path.exists(os.path.join(flash, "app.lua")))
        app_lc = self.read_flash(flash, "app.lc")
        expected = luac(os.path.join(self.repo, "app.lua"),
                        os.path.join(self.dir, "app.luac"))
        self.assertEqual(app_lc, expected)
        self.assertTrue(self.read_flash(flash, "lib.lc").startswith(b"\x1bLua"))
        rows = self.history(CHIP)
        self.assertEqual(len(rows), 1, rows)
        self.assertEqual(rows[0]["outcome"], "updated", rows[0])
        self.assertEqual(rows[0]["files_sent"], 3)
        self.assertEqual(rows[0]["revision"], "worktree")
        files = {f["name"]: f for f in self.session_files(rows[0]["id"])}
        self.assertEqual(files["blob.bin"]["action"], "dl")
        self.assertEqual(files["app.lua"]["action"], "cm")
        self.assertEqual(files["app.lua"]["lcsize"], len(app_lc))
        self.assertEqual(first.returncode, harness.DEVICE_REBOOTED, first.stdout)

        self.boot(flash, CHIP, SECRET)
        rows = self.history(CHIP)
        self.assertEqual(len(rows), 2)
        self.assertEqual(rows[0]["outcome"], "current", rows[0])
        self.assertEqual(rows[0]["files_sent"], 0)

    def test_safetrim_keeps_the_program(self):
        flash = self.flash()
        self.boot(flash, CHIP, SECRET)
        expected = luac(os.path.join(self.repo, "lib.lua"),
                        os.path.join(self.dir, "lib.luac"))
        self.assertEqual(self.read_flash(flash, "lib.lc"), expected)

    def test_edit_sends_only_that_file(self):
        flash = self.flash()
        self.boot(flash, CHIP, SECRET)
        self.write("app.lua", APP + "print('v2')\n")
        self.boot(flash, CHIP, SECRET)
        rows = self.history(CHIP)
        self.assertEqual(rows[0]["outcome"], "updated")
        names = [f["name"] for f in self.session_files(rows[0]["id"])]
        self.assertEqual(names, ["app.lua"])
        self.boot(flash, CHIP, SECRET)
        self.assertEqual(self.history(CHIP)[0]["outcome"], "current")

    def test_touch_without_change_sends_nothing(self):
        flash = self.flash()
        self.boot(flash, CHIP, SECRET)
        path = os.path.join(self.repo, "blob.bin")
        st = os.stat(path)
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
        self.boot(flash, CHIP, SECRET)
        self.assertEqual(self.history(CHIP)[0]["outcome"], "current")

    def test_dropped_file_is_deleted_on_the_device(self):
        flash = self.flash()
        self.boot(flash, CHIP, SECRET)
        self.assertTrue(os.path.exists(os.path.join(flash, "blob.bin")))
        self.ctl("group", "set", "demo", "--files", "app.lua,lib.lua")
        self.boot(flash, CHIP, SECRET)
        self.assertFalse(os.path.exists(os.path.join(flash, "blob.bin")))
        self.assertTrue(os.path.exists(os.path.join(flash, "app.lc")))
        rows = self.history(CHIP)
        self.assertEqual(rows[0]["outcome"], "updated")
        deleted = [f["name"] for f in self.session_files(rows[0]["id"])
                   if f["action"] == "delete"]
        self.assertEqual(deleted, ["blob.bin"])
        self.boot(flash, CHIP, SECRET)
        self.assertEqual(self.history(CHIP)[0]["outcome"], "current")

    def test_syntax_error_sends_nothing(self):
        self.write("app.lua", "local x = = 1\n")
        flash = self.flash()
        self.boot(flash, CHIP, SECRET)
        self.assertEqual(sorted(os.listdir(flash)), sorted(
            n for n in os.listdir(flash) if n.startswith("luaOTA")))
        row = self.history(CHIP)[0]
        self.assertEqual(row["outcome"], "failed")
        self.assertIn("app.lua", row["reason"])
        self.assertIn("app.lua:1:", self.daemon.read_log())

    def test_bad_signature_is_rejected(self):
        flash = self.flash()
        res = self.boot(flash, CHIP, "not-the-secret")
        self.assertEqual(res.returncode, harness.DEVICE_NO_SESSION)
        self.assertFalse(os.path.exists(os.path.join(flash, "blob.bin")))
        row = self.history(CHIP)[0]
        self.assertEqual(row["outcome"], "rejected")
        self.assertEqual(row["reason"], "bad signature")

    def test_unknown_chip_is_rejected(self):
        flash = self.flash()
        res = self.boot(flash, "99999", SECRET)
        self.assertEqual(res.returncode, harness.DEVICE_NO_SESSION)
        self.assertFalse(os.path.exists(os.path.join(flash, "blob.bin")))
        row = self.history("99999")[0]
        self.assertEqual(row["outcome"], "rejected")
        self.assertEqual(row["reason"], "unknown chip")

    def test_downgrade_to_legacy_is_refused(self):
        """A v2 chip is served over legacy until it completed a v2
        session (its firmware must get there); from then on, never."""
        chip = "24681357"
        self.ctl("add", chip, "--group", "demo", "--secret", SECRET,
                 "--protocol", "v2",
                 "--device-config", os.path.join(self.dir, "v2.json"))
        res = self.boot(self.flash("before"), chip, SECRET)
        self.assertEqual(res.returncode, harness.DEVICE_REBOOTED, res.stdout)
        con = sqlite3.connect(self.db)
        try:
            con.execute("UPDATE chips SET v2_seen = 1 WHERE id = ?", (chip,))
            con.commit()
        finally:
            con.close()
        flash = self.flash("after")
        res = self.boot(flash, chip, SECRET)
        self.assertEqual(res.returncode, harness.DEVICE_NO_SESSION)
        self.assertFalse(os.path.exists(os.path.join(flash, "blob.bin")))
        row = self.history(chip)[0]
        self.assertEqual(row["outcome"], "rejected")
        self.assertTrue(row["reason"].startswith("downgrade"))

    def test_forged_hi_gets_no_answer(self):
        """A HI that does not verify is never answered, OK! included."""
        hi = '{"a":"HI","id":%s}' % CHIP
        with socket.create_connection(("127.0.0.1", self.daemon.port)) as s:
            s.sendall(hi.encode() + b"abcdef\n")
            s.settimeout(10)
            self.assertEqual(s.recv(100), b"")
        self.assertEqual(self.history(CHIP)[0]["reason"], "bad signature")

    def test_daemon_exits_zero_on_sigterm(self):
        self.assertEqual(self.daemon.stop(), 0)
        self.daemon = None


class SharedPolicy(harness.Case):
    """luaotactl previews under luaotad.conf's settings, as the daemon
    decides: what diff promises is what a boot gets."""

    def setUp(self):
        super().setUp()
        self.write("big.bin", b"b" * 200)
        self.write("small.bin", b"s" * 40)
        self.ctl("group", "add", "demo", "--repo", self.repo,
                 "--files", "big.bin,small.bin")
        self.ctl("add", CHIP, "--group", "demo", "--secret", SECRET)

    def test_max_file_size_refuses_in_diff_and_daemon_alike(self):
        self.start("max_file_size = 100\n")
        diff = self.ctl("diff", CHIP, "--json", ok=False)
        self.assertEqual(diff.returncode, 1, diff.stderr)
        preview = json.loads(diff.stdout)[0]
        self.assertIn("big.bin", preview["error"])
        check = self.ctl("check", ok=False)
        self.assertEqual(check.returncode, 1)
        self.assertIn("big.bin", check.stdout)
        flash = self.flash()
        self.boot(flash, CHIP, SECRET)
        row = self.history(CHIP)[0]
        self.assertEqual(row["outcome"], "failed", row)
        self.assertIn("big.bin", row["reason"])
        self.assertFalse(os.path.exists(os.path.join(flash, "small.bin")))

    def test_session_max_bytes_shows_in_diff(self):
        self.start("session_max_bytes = 100\n")
        out = self.ctl("diff", CHIP).stdout
        self.assertIn("fits one session: no", out)
        flash = self.flash()
        self.boot(flash, CHIP, SECRET)
        self.assertEqual(self.history(CHIP)[0]["outcome"], "partial")


class Budget(harness.Case):
    def test_update_over_budget_completes_over_several_boots(self):
        names = []
        for i in range(6):
            name = f"part{i}.bin"
            self.write(name, bytes([i]) * 3000)
            names.append(name)
        self.ctl("group", "add", "big", "--repo", self.repo,
                 "--files", ",".join(names))
        self.ctl("add", CHIP, "--group", "big", "--secret", SECRET)
        self.start("session_max_bytes = 7000\n")
        flash = self.flash()
        for _ in range(3):
            self.boot(flash, CHIP, SECRET)
        outcomes = [r["outcome"] for r in reversed(self.history(CHIP))]
        self.assertEqual(outcomes, ["partial", "partial", "updated"])
        for i, name in enumerate(names):
            with open(os.path.join(flash, name), "rb") as fp:
                self.assertEqual(fp.read(), bytes([i]) * 3000)
        self.boot(flash, CHIP, SECRET)
        self.assertEqual(self.history(CHIP)[0]["outcome"], "current")

    def test_forty_file_manifest_config_fits(self):
        names = [f"module_number_{i:02d}.txt" for i in range(40)]
        for name in names:
            self.write(name, name)
        self.ctl("group", "add", "many", "--repo", self.repo,
                 "--files", ",".join(names))
        self.ctl("add", CHIP, "--group", "many", "--secret", SECRET)
        self.start()
        flash = self.flash()
        self.boot(flash, CHIP, SECRET)
        config = harness.read_device_file(flash, "luaOTA/config.json")
        self.assertLessEqual(len(config), 1024)
        self.assertEqual(self.history(CHIP)[0]["outcome"], "updated")
        for name in names:
            self.assertTrue(os.path.exists(os.path.join(flash, name)))
        self.boot(flash, CHIP, SECRET)
        self.assertEqual(self.history(CHIP)[0]["outcome"], "current")


class RepositoryRecheck(harness.Case):
    """What a group gets is kept between check-ins: a working tree is
    looked at again after repository_recheck, the inventory at once."""

    def settled_write(self, name, data):
        # Modified an hour ago, as a checkout would be: its stat stamp can
        # be trusted, so nothing forces a look at every check-in.
        path = self.write(name, data)
        past = time.time() - 3600
        os.utime(path, (past, past))

    def setUp(self):
        super().setUp()
        self.settled_write("app.lua", APP)
        self.settled_write("blob.bin", DATA)
        self.ctl("group", "add", "demo", "--repo", self.repo,
                 "--files", "app.lua,blob.bin")
        self.ctl("add", CHIP, "--group", "demo", "--secret", SECRET)

    def sent(self):
        row = self.history(CHIP)[0]
        self.assertEqual(row["outcome"], "updated", row)
        return [f["name"] for f in self.session_files(row["id"])]

    def test_edit_is_seen_once_the_recheck_interval_passed(self):
        self.start("repository_recheck = 300ms\n")
        flash = self.flash()
        self.boot(flash, CHIP, SECRET)
        self.boot(flash, CHIP, SECRET)
        self.assertEqual(self.history(CHIP)[0]["outcome"], "current")
        self.settled_write("app.lua", APP + "print('v2')\n")
        time.sleep(0.5)  # past the interval: the files are stat()ed again
        self.boot(flash, CHIP, SECRET)
        self.assertEqual(self.sent(), ["app.lua"])
        with open(os.path.join(flash, "app.lc"), "rb") as fp:
            self.assertIn(b"v2", fp.read())
        self.boot(flash, CHIP, SECRET)
        self.assertEqual(self.history(CHIP)[0]["outcome"], "current")

    def test_inventory_change_is_seen_at_once(self):
        self.start("repository_recheck = 60s\n")
        flash = self.flash()
        self.boot(flash, CHIP, SECRET)
        self.settled_write("app.lua", APP + "print('v2')\n")
        # Within the interval the group's files are not looked at again.
        self.boot(flash, CHIP, SECRET)
        self.assertEqual(self.history(CHIP)[0]["outcome"], "current")
        # Any change to the inventory drops what was kept.
        self.ctl("group", "set", "demo", "--files", "app.lua,blob.bin")
        self.boot(flash, CHIP, SECRET)
        self.assertEqual(self.sent(), ["app.lua"])
        self.ctl("reprovision", CHIP)
        self.boot(flash, CHIP, SECRET)
        self.assertEqual(sorted(self.sent()), ["app.lua", "blob.bin"])

    def test_reload_drops_what_was_kept(self):
        self.start("repository_recheck = 60s\n")
        flash = self.flash()
        self.boot(flash, CHIP, SECRET)
        self.settled_write("app.lua", APP + "print('v2')\n")
        count = len(self.daemon.notifications)
        self.daemon.proc.send_signal(signal.SIGHUP)
        self.daemon.wait_for("READY=1", after=count)
        self.boot(flash, CHIP, SECRET)
        self.assertEqual(self.sent(), ["app.lua"])


class Fleet(harness.Case):
    def test_200_devices_at_once(self):
        self.write("app.lua", APP)
        self.write("blob.bin", DATA)
        self.ctl("group", "add", "fleet", "--repo", self.repo,
                 "--files", "app.lua,blob.bin")
        chips = [str(1000000 + i) for i in range(200)]
        for chip in chips:
            self.ctl("add", chip, "--group", "fleet", "--secret", "s" + chip)
        self.start("max_connections_per_address = 1000\n")
        procs = []
        # Real devices bring their own CPUs: here 200 simulators share two
        # cores with the daemon, so they run at a lower priority and
        # without the leak check at exit.  Each boots until its application
        # starts: updated, rebooted, then told it is current.
        env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0")
        for chip in chips:
            flash = self.flash("flash-" + chip)
            procs.append(subprocess.Popen(
                [harness.DEVICE, "--flash", flash, "--chip-id", chip,
                 "--server", f"127.0.0.1:{self.daemon.port}",
                 "--secret", "s" + chip, "--boots", "4"],
                stdout=open(flash + ".log", "w"), stderr=subprocess.STDOUT,
                env=env, preexec_fn=lambda: os.nice(15)))
        for p in procs:
            p.wait(timeout=300)
        for chip in chips:
            flash = os.path.join(self.dir, "flash-" + chip)
            with open(os.path.join(flash, "blob.bin"), "rb") as fp:
                self.assertEqual(fp.read(), DATA, chip)
            self.assertTrue(os.path.exists(os.path.join(flash, "app.lc")))
        rows = self.history()
        updated = {r["chip_id"] for r in rows if r["outcome"] == "updated"}
        current = {r["chip_id"] for r in rows if r["outcome"] == "current"}
        self.assertEqual(updated, set(chips))
        self.assertEqual(current, set(chips))


if __name__ == "__main__":
    harness.main()
