"""What an operator can get wrong, refused or reported before a chip pays
for it: configs that strand chips, restart configs that cannot fit, refs
that name nothing, a second daemon on one database, lost keys, moving a
fleet, and the history listing."""

import json
import os
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
        self.assertIn(f"chip {CHIP}: its restart config", check.stdout)

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


if __name__ == "__main__":
    harness.main()
