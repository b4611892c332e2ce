"""luaota-load and the baseline, briefly, against a daemon the harness
starts: the tools bench/run relies on must report zero failures."""

import json
import os
import socket
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "tests", "integration"))
import harness  # noqa: E402

LOAD = os.path.join(harness.BUILD, "bench", "luaota-load")
BASELINE = os.path.join(harness.BUILD, "bench", "baseline")
CHIPS = 20
CONFIG = "max_connections_per_address = 1000\n"


class Load(harness.Case):
    def setUp(self):
        super().setUp()
        self.write("app.lua", "local n = 0\nfunction tick() n = n + 1 end\n")
        self.write("blob.bin", bytes(range(256)) * 6)
        self.ctl("group", "add", "bench", "--repo", self.repo,
                 "--files", "app.lua,blob.bin")
        self.inventory = os.path.join(self.dir, "chips.inv")
        with open(self.inventory, "w") as fp:
            for i in range(CHIPS):
                chip, secret = str(20000000 + i), f"bench-secret-{i}"
                self.ctl("add", chip, "--group", "bench", "--secret", secret)
                fp.write(f"{chip} {secret}\n")

    def load(self, port, pid, *args):
        res = subprocess.run(
            [LOAD, "--target", f"127.0.0.1:{port}", "--inventory",
             self.inventory, "--pid", str(pid), "--json", *map(str, args)],
            capture_output=True, text=True, timeout=120)
        self.assertEqual(res.returncode, 0, res.stderr)
        return json.loads(res.stdout)

    def test_checkins_are_current_and_none_fail(self):
        d = self.start(CONFIG)
        r = self.load(d.port, d.proc.pid, "--concurrency", 16,
                      "--duration", 2)
        self.assertEqual(r["failed"], 0, r)
        self.assertGreater(r["ok"], CHIPS, r)
        self.assertGreater(r["server"]["cpu_s"], 0, r)
        self.assertGreaterEqual(r["p99_us"], r["p50_us"])
        # Every OK! has its history row (written in batches: stopping the
        # daemon flushes the last), and each chip its "updated" one from
        # the untimed first pass that provisioned it.
        self.assertEqual(d.stop(), 0)
        self.daemon = None
        rows = self.history()
        current = [row for row in rows if row["outcome"] == "current"]
        self.assertEqual(len(current), r["ok"])
        self.assertEqual(len(rows), r["ok"] + CHIPS)
        self.assertTrue(all(row["ended_ms"] >= row["started_ms"] > 0
                            for row in current))

    def test_provisioning_completes_every_device(self):
        d = self.start(CONFIG)
        r = self.load(d.port, d.proc.pid, "--mode", "provision",
                      "--count", CHIPS, "--concurrency", 8)
        self.assertEqual((r["ok"], r["failed"]), (CHIPS, 0), r)
        size = sum(os.path.getsize(os.path.join(self.repo, name))
                   for name in ("app.lua", "blob.bin"))
        self.assertEqual(r["payload_bytes"], CHIPS * size, r)
        updated = [row for row in self.history()
                   if row["outcome"] == "updated"]
        self.assertEqual(len(updated), CHIPS)

    def test_idle_connections_are_held(self):
        d = self.start(CONFIG + "first_record_timeout = 30s\n")
        r = self.load(d.port, d.proc.pid, "--mode", "idle",
                      "--connections", 100, "--hold", 0.5)
        self.assertEqual((r["held"], r["failed"]), (100, 0), r)
        self.assertIn("bytes_per_connection", r["server"])

    def test_baseline_answers_every_checkin(self):
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(128)
        proc = subprocess.Popen([BASELINE, "--inventory", self.inventory,
                                 "--fd", str(listener.fileno())],
                                pass_fds=(listener.fileno(),))
        try:
            r = self.load(listener.getsockname()[1], proc.pid,
                          "--concurrency", 16, "--duration", 1)
        finally:
            proc.terminate()
            proc.wait()
            listener.close()
        self.assertEqual(r["failed"], 0, r)
        self.assertGreater(r["ok"], 0, r)

    def test_only_loopback_targets(self):
        res = subprocess.run([LOAD, "--target", "192.0.2.1:8266",
                              "--inventory", self.inventory, "--count", "1"],
                             capture_output=True, text=True)
        self.assertEqual(res.returncode, 2)
        self.assertIn("loopback", res.stderr)


if __name__ == "__main__":
    harness.main()
