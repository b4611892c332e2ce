"""luaotactl pull: a file read back from a chip with ul at its next boot."""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

SECRET = "pull-secret"
CHIP = "11112222"
DATA = bytes(range(256)) * 9 + b"tail"  # 2308 bytes: three ul chunks


class Pull(harness.Case):
    def setUp(self):
        super().setUp()
        self.write("data.bin", DATA)
        self.ctl("group", "add", "g", "--repo", self.repo,
                 "--files", "data.bin")
        self.ctl("add", CHIP, "--group", "g", "--secret", SECRET)
        self.start()
        self.flashdir = self.flash()
        self.boot(self.flashdir, CHIP, SECRET)
        self.assertEqual(self.history(CHIP)[0]["outcome"], "updated")

    def pulls(self):
        return json.loads(self.ctl("pulls", CHIP, "--json").stdout)

    def test_pull_reads_the_file_and_leaves_the_chip_current(self):
        pull_id = self.ctl("pull", CHIP, "data.bin").stdout.strip()
        self.assertEqual(self.pulls()[0]["state"], "pending")
        self.boot(self.flashdir, CHIP, SECRET)
        p = self.pulls()[0]
        self.assertEqual((p["state"], p["size"]), ("done", len(DATA)))
        out = os.path.join(self.dir, "pulled")
        self.ctl("pulls", "show", pull_id, "--output", out)
        with open(out, "rb") as fp:
            self.assertEqual(fp.read(), DATA)
        # The chip restarted unchanged: its next boot is current.
        self.boot(self.flashdir, CHIP, SECRET)
        self.assertEqual(self.history(CHIP)[0]["outcome"], "current")

    def test_pull_of_a_missing_file(self):
        self.ctl("pull", CHIP, "nothing.txt")
        self.boot(self.flashdir, CHIP, SECRET)
        p = self.pulls()[0]
        self.assertEqual(p["state"], "missing")
        self.boot(self.flashdir, CHIP, SECRET)
        self.assertEqual(self.history(CHIP)[0]["outcome"], "current")

    def test_pull_of_an_unknown_chip_fails(self):
        res = self.ctl("pull", "999", "x", ok=False)
        self.assertEqual(res.returncode, 1)
        self.assertIn("luaotactl: cannot pull from chip 999: no such chip",
                      res.stderr)


if __name__ == "__main__":
    harness.main()
