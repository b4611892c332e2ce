"""Secrets never leak: after a run that provisions, rejects, fails and
reconfigures WiFi, nothing the run produced (daemon log, history rows,
luaotactl listings, device output) holds a chip secret or a WiFi password."""

import json
import os
import sqlite3
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import peers  # noqa: E402

CHIPS = {"13572468": "chip-secret-alpha-7f3a", "24681357": "chip-secret-beta-91c2"}
OLD_WIFI = "wifi-password-old-5d1e"
NEW_WIFI = "wifi-password-new-c4b8"
SECRETS = list(CHIPS.values()) + [OLD_WIFI, NEW_WIFI]


class Secrets(harness.Case):
    def test_no_secret_in_anything_the_run_produced(self):
        self.write("app.lua", "print('up')\n")
        self.write("bad.lua", "print('up')\n")
        self.ctl("group", "add", "g", "--repo", self.repo,
                 "--files", "app.lua",
                 "--config", json.dumps({"ssid": "net", "spwd": NEW_WIFI}))
        self.ctl("group", "add", "broken", "--repo", self.repo,
                 "--files", "bad.lua,missing.lua")
        chips = list(CHIPS)
        self.ctl("add", chips[0], "--group", "g", "--secret", CHIPS[chips[0]])
        self.ctl("add", chips[1], "--group", "broken",
                 "--secret", CHIPS[chips[1]])
        self.start()
        outputs = []
        for chip, secret in CHIPS.items():
            flash = self.flash("f" + chip)
            # The device's own configuration carries the old WiFi password.
            with open(os.path.join(flash, "luaOTA%2Fconfig.json"), "w") as fp:
                json.dump({"ssid": "net", "spwd": OLD_WIFI,
                           "server": "127.0.0.1",
                           "port": self.daemon.port}, fp)
            res = self.boot(flash, chip, secret, boots=3)
            outputs += [res.stdout, res.stderr]
            # A wrong secret, and a forged HI carrying the password.
            res = self.boot(self.flash("x" + chip), chip, "wrong")
            outputs += [res.stdout, res.stderr]
            s = peers.connect(self.daemon.port)
            s.sendall(peers.hello(chip, "wrong", {"spwd": OLD_WIFI}))
            peers.wait_closed(s)
            s.close()
        # The WiFi change reached the device (so it did travel)...
        cfg = harness.read_device_file(self.flash("f" + chips[0]),
                                       "luaOTA/config.json").decode()
        self.assertIn(NEW_WIFI, cfg)
        for args in (("history", "--limit", "0"), ("history", "--json",
                                                   "--limit", "0"),
                     ("list",), ("list", "--json")):
            res = self.ctl(*args)
            outputs += [res.stdout, res.stderr]
        self.assertEqual(self.daemon.stop(), 0)
        produced = {"daemon log": self.daemon.read_log()
                    if not self.daemon.log.closed else
                    open(self.daemon.log_path).read()}
        self.daemon = None
        for i, text in enumerate(outputs):
            produced[f"output {i}"] = text
        con = sqlite3.connect(self.db)
        for table in ("sessions", "session_files"):
            rows = con.execute(f"SELECT * FROM {table}").fetchall()
            self.assertTrue(rows, table)
            produced[table] = repr(rows)
        con.close()
        # ...and nowhere else.
        for where, text in produced.items():
            for secret in SECRETS:
                self.assertNotIn(secret, text, where)


if __name__ == "__main__":
    harness.main()
