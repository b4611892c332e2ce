"""luaotad serving a git ref: files as committed, followed as the ref moves."""

import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

SECRET = "git-secret"
CHIP = "24681357"


class GitRef(harness.Case):
    def git(self, *args):
        env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t",
                   GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@t",
                   GIT_CONFIG_NOSYSTEM="1", HOME=self.dir)
        res = subprocess.run(["git", "-C", self.repo, *args], env=env,
                             capture_output=True, text=True, check=True)
        return res.stdout.strip()

    def commit(self, message):
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        return self.git("rev-parse", "HEAD")

    def setUp(self):
        super().setUp()
        self.git("init", "-q", "-b", "main")
        self.write("app.lua", 'print("one")\n')
        self.write("data.txt", "first\n")
        self.first = self.commit("first")
        self.ctl("repo", "add", "code", self.repo, "--ref", "main")
        self.ctl("group", "add", "g", "--repo", self.repo, "--ref", "main",
                 "--files", "app.lua,data.txt")
        self.ctl("add", CHIP, "--group", "g", "--secret", SECRET)
        self.start()

    def read(self, flash, name):
        with open(os.path.join(flash, name)) as fp:
            return fp.read()

    def test_committed_files_are_sent_with_the_commit_id(self):
        flash = self.flash()
        self.boot(flash, CHIP, SECRET)
        self.assertEqual(self.read(flash, "data.txt"), "first\n")
        row = self.history(CHIP)[0]
        self.assertEqual(row["outcome"], "updated")
        self.assertEqual(row["revision"], self.first)

    def test_working_tree_change_without_commit_sends_nothing(self):
        flash = self.flash()
        self.boot(flash, CHIP, SECRET)
        self.write("data.txt", "uncommitted\n")
        self.boot(flash, CHIP, SECRET)
        self.assertEqual(self.history(CHIP)[0]["outcome"], "current")
        self.assertEqual(self.read(flash, "data.txt"), "first\n")

    def test_commit_on_the_ref_is_sent(self):
        flash = self.flash()
        self.boot(flash, CHIP, SECRET)
        self.write("data.txt", "second\n")
        second = self.commit("second")
        self.boot(flash, CHIP, SECRET)
        rows = self.history(CHIP)
        self.assertEqual(rows[0]["outcome"], "updated")
        self.assertEqual(rows[0]["revision"], second)
        self.assertEqual(self.read(flash, "data.txt"), "second\n")
        names = [f["name"] for f in self.session_files(rows[0]["id"])]
        self.assertEqual(names, ["data.txt"])
        hist = json.loads(self.ctl("history", CHIP, "--json").stdout)
        self.assertEqual([h["revision"] for h in hist], [second, self.first])

    def test_ref_is_followed_across_a_repack(self):
        # The daemon keeps the repository open between check-ins: it must
        # still see refs packed away and objects moved into new packs.
        flash = self.flash()
        self.boot(flash, CHIP, SECRET)
        self.write("data.txt", "second\n")
        second = self.commit("second")
        self.git("gc", "-q", "--prune=now")
        self.boot(flash, CHIP, SECRET)
        self.assertEqual(self.history(CHIP)[0]["revision"], second)
        self.assertEqual(self.read(flash, "data.txt"), "second\n")
        self.write("data.txt", "third\n")
        third = self.commit("third")
        self.git("repack", "-q", "-a", "-d")
        self.boot(flash, CHIP, SECRET)
        row = self.history(CHIP)[0]
        self.assertEqual(row["outcome"], "updated")
        self.assertEqual(row["revision"], third)
        self.assertEqual(self.read(flash, "data.txt"), "third\n")

    def test_commit_on_another_branch_is_not_sent(self):
        flash = self.flash()
        self.boot(flash, CHIP, SECRET)
        self.git("checkout", "-q", "-b", "other")
        self.write("data.txt", "other\n")
        self.commit("elsewhere")
        self.boot(flash, CHIP, SECRET)
        self.assertEqual(self.history(CHIP)[0]["outcome"], "current")

    def test_repo_show_and_diff_name_the_commit(self):
        shown = json.loads(self.ctl("repo", "show", "code", "--json").stdout)
        self.assertEqual(shown["revision"], self.first)
        self.assertEqual(shown["ref"], "main")
        diff = json.loads(self.ctl("diff", CHIP, "--json").stdout)
        self.assertEqual(diff[0]["revision"], self.first)
        self.assertEqual([s["name"] for s in diff[0]["send"]],
                         ["app.lua", "data.txt"])
        flash = self.flash()
        self.boot(flash, CHIP, SECRET)
        diff = json.loads(self.ctl("diff", CHIP, "--json").stdout)
        self.assertTrue(diff[0]["current"])

    def test_unknown_ref_is_refused(self):
        res = self.ctl("repo", "add", "bad", self.repo, "--ref", "nope",
                       ok=False)
        self.assertEqual(res.returncode, 1)
        self.assertIn("luaotactl: cannot add repository bad:", res.stderr)


if __name__ == "__main__":
    harness.main()
