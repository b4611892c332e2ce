"""What an operator can get wrong, refused or reported before a chip pays
for it: configs that strand chips, restart configs that cannot fit, refs
that name nothing, a second daemon on one database, lost keys, moving a
fleet, and the history listing."""

import json
import os
import re
import sqlite3
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

SECRET = "operator-secret"
CHIP = "31415926"
APP = "print('app')\n"


class Case(harness.Case):
    def setUp(self):
        super().setUp()
        self.write("app.lua", APP)
        self.ctl("group", "add", "g", "--repo", self.repo,
                 "--files", "app.lua")
        self.ctl("add", CHIP, "--group", "g", "--secret", SECRET)

    def set_overrides_behind_our_back(self, text, table="chips"):
        """An inventory written by an older luaotactl, or by hand."""
        con = sqlite3.connect(self.db)
        try:
            if table == "chips":
                con.execute("UPDATE chips SET config_json = ? WHERE id = ?",
                            (text, CHIP))
            else:
                con.execute("UPDATE groups SET config_json = ?", (text,))
            con.commit()
        finally:
            con.close()


class StrandingConfigs(Case):
    """Every key the client reads gets a value it can boot with."""

    BAD_GROUP_CONFIGS = [
        ('{"port":"notanumber","server":123}', "port"),
        ('{"server":123}', "server"),
        ('{"port":0}', "port"),
        ('{"port":70000}', "port"),
        ('{"port":8266.5}', "port"),
        ('{"server":"two words"}', "server"),
        ('{"server":""}', "server"),
        ('{"ssid":5}', "ssid"),
        ('{"ssid":"' + "s" * 33 + '"}', "ssid"),
        ('{"spwd":["x"]}', "spwd"),
        ('{"leave":"yes"}', "leave"),
        ('{"gw":"300.1.1.1"}', "gw"),
        ('{"secret":"x"}', "secret"),
        ('{"files":{}}', "files"),
        ('{"chk":"abc"}', "chk"),
        ('{"id":1}', "id"),
    ]

    def test_group_add_and_set_refuse_what_would_strand_a_chip(self):
        for config, key in self.BAD_GROUP_CONFIGS:
            with self.subTest(config=config):
                res = self.ctl("group", "add", "bad", "--repo", self.repo,
                               "--files", "app.lua", "--config", config,
                               ok=False)
                self.assertEqual(res.returncode, 2, res.stderr)
                self.assertIn(f"config key {key} ", res.stderr)
                res = self.ctl("group", "set", "g", "--config", config,
                               ok=False)
                self.assertEqual(res.returncode, 2, res.stderr)
                self.assertIn(f"config key {key} ", res.stderr)
        groups = json.loads(self.ctl("group", "list", "--json").stdout)
        self.assertEqual([g["name"] for g in groups], ["g"])
        self.assertIsNone(groups[0]["config"])

    def test_good_values_are_taken(self):
        self.ctl("group", "set", "g", "--config",
                 '{"server":"ota.example.com","port":8266,"ssid":"lab",'
                 '"spwd":"","leave":false,"gw":"192.168.1.1",'
                 '"mine":{"any":"thing"}}')
        self.ctl("set", CHIP, "server=192.0.2.7", "port=1", "app=main")

    def test_set_refuses_reserved_and_bad_values(self):
        for kv, why in [("port=0", "port"), ("port=65536", "port"),
                        ("server=not_a_host!", "server"),
                        ("files=x", "files"), ("chk=x", "chk"),
                        ("secret=x", "secret"),
                        ("app=" + "a" * 40, "app")]:
            with self.subTest(kv=kv):
                res = self.ctl("set", CHIP, kv, ok=False)
                self.assertEqual(res.returncode, 2, res.stderr)
                self.assertIn(why, res.stderr)
        show = json.loads(self.ctl("show", CHIP, "--json").stdout)
        self.assertIsNone(show["config"])

    def test_stored_bad_overrides_are_never_pushed(self):
        self.set_overrides_behind_our_back('{"port":"notanumber"}')
        diff = self.ctl("diff", CHIP, ok=False)
        self.assertEqual(diff.returncode, 1)
        self.assertIn("nothing can be sent: config key port", diff.stdout)
        check = self.ctl("check", ok=False)
        self.assertEqual(check.returncode, 1)
        self.assertIn(f"chip {CHIP}: config key port", check.stdout)
        self.start()
        flash = self.flash()
        self.boot(flash, CHIP, SECRET)
        row = self.history(CHIP)[0]
        self.assertEqual(row["outcome"], "failed")
        self.assertIn("config key port", row["reason"])
        self.assertEqual(row["files_sent"], 0)
        self.assertFalse(os.path.exists(os.path.join(flash, "app.lc")))

    def test_stored_bad_overrides_never_reach_a_v2_chip(self):
        flash = self.flash("v2")
        self.ctl("add", "2718", "--group", "g", "--protocol", "v2",
                 "--secret", "s2", "--device-config",
                 os.path.join(flash, "luaOTA%2Fconfig.json"))
        self.set_overrides_behind_our_back('{"server":"two words"}',
                                           table="groups")
        self.start()
        self.boot(flash, "2718", "s2")
        row = self.history("2718")[0]
        self.assertEqual(row["outcome"], "failed", row)
        self.assertIn("config key server", row["reason"])
        self.assertFalse(os.path.exists(os.path.join(flash, "app.lc")))


class RestartConfigSize(Case):
    """A restart that cannot fit the device's 1024 bytes is found before
    anything is sent, not after every file went out at every boot."""

    def test_set_time_refuses_overrides_that_leave_no_room(self):
        big = "x" * 1000
        res = self.ctl("group", "set", "g", "--config",
                       json.dumps({"note": big}), ok=False)
        self.assertEqual(res.returncode, 1, res.stderr)
        self.assertIn("limit 1024", res.stderr)
        res = self.ctl("set", CHIP, "app=m", "ssid=" + "s" * 32,
                       "spwd=" + "p" * 64)
        res = self.ctl("group", "set", "g", "--config",
                       json.dumps({"note": "n" * 880}), ok=False)
        self.assertEqual(res.returncode, 1, res.stderr)
        self.assertIn(f"chip {CHIP}", res.stderr)
        self.assertIn("limit 1024", res.stderr)

    def test_device_config_too_large_fails_before_the_first_command(self):
        flash = self.flash()
        # The chip's own config.json already holds much of its 1024 bytes.
        with open(os.path.join(flash, "luaOTA%2Fconfig.json"), "w") as fp:
            json.dump({"secret": SECRET, "note": "n" * 940}, fp)
        self.start()
        self.boot(flash, CHIP, SECRET)
        row = self.history(CHIP)[0]
        self.assertEqual(row["outcome"], "failed", row)
        self.assertIn("restart config would take", row["reason"])
        self.assertEqual(row["files_sent"], 0)
        self.assertFalse(os.path.exists(os.path.join(flash, "app.lc")))

    def test_diff_and_check_report_overrides_that_cannot_fit(self):
        self.set_overrides_behind_our_back(json.dumps({"note": "n" * 1000}))
        diff = self.ctl("diff", CHIP, "--json", ok=False)
        self.assertEqual(diff.returncode, 1)
        self.assertIn("limit 1024", json.loads(diff.stdout)[0]["error"])
        check = self.ctl("check", ok=False)
        self.assertEqual(check.returncode, 1)
        self.assertIn(f"chip {CHIP}: the restart config would take", check.stdout)

    def test_diff_shows_the_room_left(self):
        out = self.ctl("diff", CHIP).stdout
        self.assertIn("of 1024 bytes on the device", out)


class Refs(Case):
    def test_group_add_refuses_a_ref_that_names_nothing(self):
        env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t",
                   GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@t",
                   GIT_CONFIG_NOSYSTEM="1", HOME=self.dir)
        for args in (["init", "-q", "-b", "main"], ["add", "-A"],
                     ["commit", "-q", "-m", "one"]):
            subprocess.run(["git", "-C", self.repo, *args], env=env,
                           check=True, capture_output=True)
        res = self.ctl("group", "add", "ghost", "--repo", self.repo,
                       "--ref", "nosuchbranch", "--files", "app.lua",
                       ok=False)
        self.assertEqual(res.returncode, 1)
        self.assertIn("nosuchbranch", res.stderr)
        res = self.ctl("group", "set", "g", "--repo", self.repo,
                       "--ref", "nosuchbranch", ok=False)
        self.assertEqual(res.returncode, 1)
        self.assertEqual(
            [r["ref"] for r in json.loads(
                self.ctl("repo", "list", "--json").stdout)], [None])
        self.ctl("group", "add", "real", "--repo", self.repo,
                 "--ref", "main", "--files", "app.lua")


class SecondDaemon(Case):
    """One database, one daemon: a second one would mark the first one's
    live sessions interrupted and share its spool."""

    def test_second_daemon_on_one_database_refuses_to_start(self):
        first = self.start()
        conf = os.path.join(self.dir, "second.conf")
        with open(conf, "w") as fp:
            fp.write("")
        res = subprocess.run(
            [harness.LUAOTAD, "-d", "-f", conf, "-D", self.db,
             "-l", "127.0.0.1:0"],
            capture_output=True, text=True, timeout=30)
        self.assertEqual(res.returncode, 1, res.stderr)
        self.assertIn(f"another luaotad (pid {first.proc.pid})", res.stderr)
        # The first one is untouched and serves on.
        self.assertIsNone(first.proc.poll())
        flash = self.flash()
        self.assertEqual(self.boot(flash, CHIP, SECRET).returncode,
                         harness.DEVICE_REBOOTED)
        self.assertEqual(self.history(CHIP)[0]["outcome"], "updated")
        with open(self.db + ".lock") as fp:
            self.assertEqual(fp.read().strip(), str(first.proc.pid))

    def test_the_lock_goes_with_its_daemon(self):
        first = self.start()
        first.proc.kill()
        first.proc.wait()
        first.stop()
        self.start()  # READY=1: the kernel dropped the dead one's lock


class KeysAndExport(Case):
    def chips(self):
        return [c["id"] for c in json.loads(
            self.ctl("list", "--json").stdout)]

    def test_a_v2_key_is_never_lost(self):
        unwritable = os.path.join(self.dir, "no-such-dir", "config.json")
        res = self.ctl("add", "777", "--group", "g", "--protocol", "v2",
                       "--device-config", unwritable, ok=False)
        self.assertEqual(res.returncode, 1)
        self.assertIn("cannot add chip 777: cannot write", res.stderr)
        self.assertNotIn("777", self.chips())
        # Nothing half done: the retry works and the key reaches the file.
        cfg = os.path.join(self.dir, "config.json")
        res = self.ctl("add", "777", "--group", "g", "--protocol", "v2",
                       "--secret", "s7", "--device-config", cfg)
        self.assertEqual(res.stdout, "")
        with open(cfg) as fp:
            key = json.load(fp)["key"]
        self.assertEqual(sorted(os.listdir(self.dir)).count("config.json"),
                         1)
        self.assertEqual(
            [n for n in os.listdir(self.dir) if n.startswith("config.json.")],
            [])
        self.assertEqual(oct(os.stat(cfg).st_mode & 0o777), "0o600")
        con = sqlite3.connect(self.db)
        stored = con.execute("SELECT v2_key FROM chips WHERE id = '777'")
        self.assertEqual(stored.fetchone()[0], key)
        con.close()
        # Without a file the key is printed once, and says what it is.
        res = self.ctl("add", "778", "--group", "g", "--protocol", "v2",
                       "--secret", "s")
        self.assertRegex(res.stdout, r"^v2 key: [0-9a-f]{64}\n$")
        res = self.ctl("add", "779", "--group", "g")
        self.assertRegex(res.stdout, r"^secret: [0-9a-f]{32}\n$")

    def test_export_with_secrets_has_protocol_and_key(self):
        cfg = os.path.join(self.dir, "config.json")
        self.ctl("add", "777", "--group", "g", "--protocol", "v2",
                 "--device-config", cfg)
        with open(cfg) as fp:
            key = json.load(fp)["key"]
        plain = json.loads(self.ctl("export").stdout)
        chips = {c["id"]: c for c in plain["chips"]}
        self.assertEqual(chips["777"]["protocol"], "v2")
        self.assertEqual(chips[CHIP]["protocol"], "legacy")
        self.assertNotIn("v2_key", chips["777"])
        self.assertNotIn("secret", chips["777"])
        full = json.loads(self.ctl("export", "--with-secrets").stdout)
        chips = {c["id"]: c for c in full["chips"]}
        self.assertEqual(chips["777"]["v2_key"], key)
        self.assertIsNone(chips[CHIP]["v2_key"])
        self.assertEqual(chips[CHIP]["secret"], SECRET)

    def test_group_list_json_names_path_and_ref(self):
        groups = json.loads(self.ctl("group", "list", "--json").stdout)
        self.assertEqual(groups[0]["path"], os.path.realpath(self.repo))
        self.assertIsNone(groups[0]["ref"])
        self.assertEqual(groups[0]["chips"], 1)


class ListenAddresses(harness.Case):
    """An address that cannot be listened on as written is an error, in -n
    and at start, never a different port."""

    def test_check_and_start_refuse_bad_listen_addresses(self):
        conf = os.path.join(self.dir, "bad.conf")
        for bad in ("127.0.0.1:99999", "300.1.1.1:5", "*:-1"):
            with self.subTest(listen=bad):
                with open(conf, "w") as fp:
                    fp.write(f"listen = {bad}\n")
                res = subprocess.run([harness.LUAOTAD, "-n", "-f", conf],
                                     capture_output=True, text=True)
                self.assertEqual(res.returncode, 1, res.stdout)
                self.assertIn(f"{conf}:1: listen: ", res.stderr)
                res = subprocess.run(
                    [harness.LUAOTAD, "-d", "-f", "/dev/null", "-D",
                     self.db, "-l", bad],
                    capture_output=True, text=True, timeout=30)
                self.assertEqual(res.returncode, 1, res.stderr)
                self.assertIn(f"-l {bad}: ", res.stderr)


class MoveFleet(Case):
    """Moving costs one full update per chip at the new server (its copy
    of the inventory never recorded the fingerprint the old one gave),
    then the chip is current there, with the configuration moved along."""

    def test_a_moved_chip_is_updated_once_then_current(self):
        self.write("lib.lua", "return 1\n")
        self.ctl("group", "set", "g", "--files", "app.lua,lib.lua")
        self.start()
        flash = self.flash()
        self.boot(flash, CHIP, SECRET)
        self.assertEqual(self.history(CHIP)[0]["outcome"], "updated")
        self.ctl("group", "set", "g", "--config",
                 '{"server":"10.0.0.2","port":8266}')
        new_dir = os.path.join(self.dir, "new-server")
        os.mkdir(new_dir)
        new_db = os.path.join(new_dir, "luaota.db")
        self.ctl("backup", new_db)
        # At the old server the chip takes the new configuration...
        self.boot(flash, CHIP, SECRET)
        with open(os.path.join(flash, "luaOTA%2Fconfig.json")) as fp:
            self.assertEqual(json.load(fp)["server"], "10.0.0.2")
        self.assertEqual(self.history(CHIP)[0]["files_sent"], 0)
        # ...and at the new one it is sent every file once.
        new = harness.Daemon(new_dir, new_db)
        try:
            self.boot(flash, CHIP, SECRET, server=new.port)
            self.boot(flash, CHIP, SECRET, server=new.port)
        finally:
            new.stop()
        con = sqlite3.connect(new_db)
        rows = con.execute("SELECT outcome, files_sent FROM sessions "
                           "WHERE chip_id = ? ORDER BY id DESC LIMIT 2",
                           (CHIP,)).fetchall()
        con.close()
        self.assertEqual(rows, [("current", 0), ("updated", 2)])
        with open(os.path.join(flash, "luaOTA%2Fconfig.json")) as fp:
            self.assertEqual(json.load(fp)["server"], "10.0.0.2")


class Import(harness.Case):
    def test_a_default_secret_is_reported_with_what_to_do(self):
        self.write("init.lua", APP)
        with open(os.path.join(self.repo, "default.json"), "w") as fp:
            json.dump({"secret": "shared-secret", "files": ["init.lua"]}, fp)
        with open(os.path.join(self.repo, "ESP-123.json"), "w") as fp:
            json.dump({"secret": "own-secret", "files": ["init.lua"]}, fp)
        res = self.ctl("import", self.repo)
        self.assertIn("warning: dropped the secret of default.json", res.stdout)
        advice = re.search(r"'luaotactl add CHIPID --group (\S+) --secret -'",
                           res.stdout)
        self.assertIsNotNone(advice, res.stdout)
        self.assertNotIn("shared-secret", res.stdout + res.stderr)
        self.assertIn("created chip 123", res.stdout)
        # The advice works as printed.
        subprocess.run([harness.LUAOTACTL, "-D", self.db, "add", "456",
                        "--group", advice.group(1), "--secret", "-"],
                       input="shared-secret\n", text=True, check=True,
                       capture_output=True,
                       env=dict(os.environ, LUAOTA_CONF="/dev/null"))
        self.start()
        res = self.boot(self.flash(), "456", "shared-secret")
        self.assertEqual(res.returncode, harness.DEVICE_REBOOTED, res.stdout)


if __name__ == "__main__":
    harness.main()
