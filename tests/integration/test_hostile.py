"""Hostile peers: each attack runs while an honest simulated device
provisions alongside, and that device must succeed.  Sizes are bounded for
CI; LUAOTA_RELIABILITY_SCALE=N multiplies the counts for longer runs, and
LUAOTA_FLOOD_COUNT / LUAOTA_SLOWLORIS_COUNT set the bad-signature flood and
the slowloris connections exactly."""

import json
import math
import os
import random
import re
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import peers  # noqa: E402

SCALE = max(1, int(os.environ.get("LUAOTA_RELIABILITY_SCALE", "1")))
FLOOD = int(os.environ.get("LUAOTA_FLOOD_COUNT", str(1000 * SCALE)))
SLOWLORIS = int(os.environ.get("LUAOTA_SLOWLORIS_COUNT", str(200 * SCALE)))
HONEST = "13572468"
HONEST_SECRET = "honest-chip-secret"
SCRIPTED = "24681357"
SCRIPTED_SECRET = "scripted-chip-secret"
APP = "print('app up')\nfunction tick() return 1 end\n"
DATA = bytes(range(256)) * 9  # three chunks


class Hostile(harness.Case):
    config = ""
    verbose = True

    def setUp(self):
        super().setUp()
        self.write("app.lua", APP)
        self.write("blob.bin", DATA)
        self.ctl("group", "add", "g", "--repo", self.repo,
                 "--files", "app.lua,blob.bin")
        self.ctl("add", HONEST, "--group", "g", "--secret", HONEST_SECRET)
        self.ctl("add", SCRIPTED, "--group", "g", "--secret", SCRIPTED_SECRET)
        self.start(self.config, verbose=self.verbose)
        self.pid = self.daemon.proc.pid
        self.baseline = peers.open_fds(self.pid)

    def honest_start(self):
        """Boots the honest device in the background until it is current."""
        self.honest_flash = self.flash("honest")
        self.honest = subprocess.Popen(
            [harness.DEVICE, "--flash", self.honest_flash, "--chip-id", HONEST,
             "--server", f"127.0.0.1:{self.daemon.port}",
             "--secret", HONEST_SECRET, "--boots", "5"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def honest_check(self):
        out, _ = self.honest.communicate(timeout=120)
        self.assertEqual(self.honest.returncode, harness.DEVICE_APP_STARTED,
                         out)
        self.assertEqual(harness.read_device_file(self.honest_flash,
                                                  "blob.bin"), DATA)
        self.assertTrue(os.path.exists(os.path.join(self.honest_flash,
                                                    "app.lc")))
        # Attacks may use the same chip id from other addresses.
        rows = [r for r in self.history(HONEST)
                if r["peer"].startswith("127.0.0.1:")]
        self.assertEqual(rows[0]["outcome"], "current", rows[0])
        self.assertIn("updated", [r["outcome"] for r in rows])

    def alongside(self, attack):
        """Runs attack() in a thread while the honest device provisions."""
        failure = []

        def run():
            try:
                attack()
            except BaseException as e:  # reported in the main thread
                failure.append(e)

        t = threading.Thread(target=run)
        t.start()
        self.honest_start()
        self.honest_check()
        t.join(timeout=600)
        self.assertFalse(t.is_alive(), "attack did not finish")
        if failure:
            raise failure[0]
        peers.wait_fds(self.pid, self.baseline)
        self.assertIsNone(self.daemon.proc.poll(), "daemon died")


class Framing(Hostile):
    def test_megabyte_line_without_newline(self):
        def attack():
            s = peers.connect(self.daemon.port, "127.0.0.2")
            peers.send_quietly(s, b"{" + b"x" * (1 << 20))
            peers.wait_closed(s)
            s.close()
        self.alongside(attack)
        reasons = [r["reason"] for r in self.history()
                   if r["chip_id"] is None]
        self.assertTrue(any("malformed first record" in (r or "")
                            for r in reasons), reasons)

    def test_records_over_the_cap(self):
        def attack():
            # A signed HI longer than max_record_size, then one announcing
            # a payload far above a chunk, then a negative one.
            pad = "p" * 8192
            for extra in ({"pad": pad}, {"data": 1 << 30}, {"data": -5}):
                s = peers.connect(self.daemon.port, "127.0.0.2")
                peers.send_quietly(s, peers.hello(HONEST, HONEST_SECRET,
                                                  extra))
                self.assertEqual(peers.wait_closed(s), b"")
                s.close()
        self.alongside(attack)
        # The last two share a reason: summed up at exit (a minute's window).
        self.assertEqual(self.daemon.stop(), 0)
        self.daemon = None
        rejected = [r for r in self.history() if r["outcome"] == "rejected"]
        self.assertEqual(sum(recorded(r)[1] for r in rejected), 3, rejected)

    def test_random_bytes(self):
        seed = int(os.environ.get("LUAOTA_SEED", random.randrange(1 << 30)))
        print(f"# seed {seed}", flush=True)
        rng = random.Random(seed)

        def attack():
            for _ in range(100 * SCALE):
                n = rng.randrange(1, 8192)
                data = bytes(rng.randrange(256) for _ in range(n))
                if rng.random() < 0.5:  # some look like records
                    data = data[:n // 2].replace(b"\n", b"") + b"\n" + data
                s = peers.connect(self.daemon.port, "127.0.0.2")
                peers.send_quietly(s, data)
                try:
                    s.shutdown(socket.SHUT_WR)
                except OSError:
                    pass  # already closed by the daemon
                peers.wait_closed(s)
                s.close()
        self.alongside(attack)


SUMMARY = re.compile(r"(.*) \((\d+) similar rejections from "
                     r"(\S+|other addresses) suppressed\)")


def recorded(row):
    """(reason, rejections) a rejected row records: a row of its own is
    one, a summary row the number it names."""
    m = SUMMARY.fullmatch(row["reason"] or "")
    return (m.group(1), int(m.group(2))) if m else (row["reason"], 1)


def rejections(rows, reason):
    """(rows, rejections) that rows record for reason."""
    mine = [recorded(r)[1] for r in rows if recorded(r)[0] == reason]
    return len(mine), sum(mine)


class Floods(Hostile):
    verbose = False  # count warnings: debug lines would mix in
    window = 2  # seconds: summary rows come during the test
    config = f"rejection_window = {window}s\n"

    def test_bad_signature_flood_is_logged_rate_limited(self):
        count = FLOOD
        print(f"# {count} bad signatures", flush=True)
        start = time.monotonic()

        took = []

        def attack():
            for i in range(count):
                s = peers.connect(self.daemon.port, "127.0.0.2")
                peers.send_quietly(s, peers.hello(HONEST, "wrong-secret",
                                                  {"n": i}))
                self.assertEqual(peers.wait_closed(s), b"")
                s.close()
            took.append(time.monotonic() - start)
        self.alongside(attack)
        print(f"# flood sent in {took[0]:.1f} s", flush=True)
        log = peers.wait_log(self.daemon, "event=warnings-suppressed")
        warned = [line for line in log.splitlines()
                  if "bad signature" in line and "session-end" in line]
        self.assertLessEqual(len(warned), 100, "warnings not rate-limited")
        self.assertGreater(len(warned), 0)
        # Every rejection is recorded, in a bounded number of rows: the
        # last window's summary follows once it ends.
        peers.wait_until(lambda: rejections(self.history(HONEST),
                                            "bad signature")[1] >= count,
                         "the rejections to add up")
        elapsed = time.monotonic() - start
        rows, total = rejections(self.history(HONEST), "bad signature")
        self.assertEqual(total, count)
        # One row of its own and one summary per window, at most.
        self.assertLessEqual(rows, 2 * (math.ceil(elapsed / self.window)
                                        + 1))
        print(f"# {rows} rows in {elapsed:.1f} s (the warnings' 10 s "
              "window included)", flush=True)
        # The chip is not locked out for its real owner.
        res = self.boot(self.honest_flash, HONEST, HONEST_SECRET)
        self.assertEqual(res.returncode, harness.DEVICE_APP_STARTED,
                         res.stdout)
        self.assertEqual(self.history(HONEST)[0]["outcome"], "current")

    def test_unknown_chips(self):
        rng = random.Random(7)

        def attack():
            for _ in range(300 * SCALE):
                chip = str(rng.randrange(10**8))
                s = peers.connect(self.daemon.port, "127.0.0.2")
                peers.send_quietly(s, peers.hello(chip, "any"))
                self.assertEqual(peers.wait_closed(s), b"")
                s.close()
        self.alongside(attack)
        peers.wait_until(lambda: rejections(self.history(),
                                            "unknown chip")[1] >= 300 * SCALE,
                         "the rejections to add up")
        rows, total = rejections(self.history(), "unknown chip")
        self.assertEqual(total, 300 * SCALE)
        self.assertLess(rows, 300 * SCALE)


class Summaries(Hostile):
    """The default window (a minute): summaries are written at exit."""

    def test_rejection_summaries_written_at_shutdown(self):
        for i in range(50):
            s = peers.connect(self.daemon.port, "127.0.0.2")
            peers.send_quietly(s, peers.hello(HONEST, "wrong-secret"))
            peers.wait_closed(s)
            s.close()
        for i in range(20):
            s = peers.connect(self.daemon.port, "127.0.0.2")
            peers.send_quietly(s, peers.hello(str(90000000 + i), "any"))
            peers.wait_closed(s)
            s.close()
        # Another address has windows of its own.
        s = peers.connect(self.daemon.port, "127.0.0.3")
        peers.send_quietly(s, peers.hello(HONEST, "wrong-secret"))
        peers.wait_closed(s)
        s.close()
        self.assertEqual(self.daemon.stop(), 0)
        self.daemon = None
        rows = self.history()
        self.assertEqual(rejections(rows, "bad signature"), (3, 51))
        self.assertEqual(rejections(rows, "unknown chip"), (2, 20))
        by_reason = {r["reason"]: r for r in rows}
        summary = by_reason["bad signature (49 similar rejections from "
                            "127.0.0.2 suppressed)"]
        self.assertEqual(summary["chip_id"], HONEST)
        self.assertEqual(summary["peer"], "127.0.0.2")
        self.assertEqual(summary["outcome"], "rejected")
        self.assertLessEqual(summary["started_ms"], summary["ended_ms"])
        # Each unknown chip named another id: the summary names none.
        summary = by_reason["unknown chip (19 similar rejections from "
                            "127.0.0.2 suppressed)"]
        self.assertIsNone(summary["chip_id"])


class Slow(Hostile):
    # Short limits so that the test stays short; the honest session needs
    # well under a second.
    config = ("session_deadline = 4s\nsession_budget = 3s\n"
              "first_record_timeout = 2s\n"
              "max_connections_per_address = 1000\n")

    def test_slowloris_is_closed_by_the_deadline(self):
        count = SLOWLORIS
        print(f"# {count} slow connections", flush=True)

        def attack():
            socks = [peers.connect(self.daemon.port, "127.0.0.3")
                     for _ in range(count)]
            hi = peers.hello(HONEST, HONEST_SECRET)
            closed = set()
            i = 0
            # One byte a second each (the attack itself, not a timing
            # assertion): the idle timeout never fires, the deadline does.
            while len(closed) < count and i < 120:
                for s in socks:
                    if s not in closed and not peers.send_quietly(
                            s, hi[i:i + 1]):
                        closed.add(s)
                i += 1
                r, _, _ = peers.select.select(
                    [s for s in socks if s not in closed], [], [], 1.0)
                for s in r:
                    try:
                        if not s.recv(100):
                            closed.add(s)
                    except OSError:
                        closed.add(s)
            self.assertEqual(len(closed), count, "slow peers still open")
            for s in socks:
                s.close()
        self.alongside(attack)
        log = self.daemon.read_log()
        self.assertIn("session deadline", log)

    def test_half_open_connections(self):
        def attack():
            silent = [peers.connect(self.daemon.port, "127.0.0.4")
                      for _ in range(20)]
            half = []
            hi = peers.hello(HONEST, HONEST_SECRET)
            for _ in range(20):
                s = peers.connect(self.daemon.port, "127.0.0.4")
                s.sendall(hi[:len(hi) // 2])
                s.shutdown(socket.SHUT_WR)
                half.append(s)
            # A verified HI for a chip that needs an update, then silence:
            # the reply timeout ends it.
            mute = peers.connect(self.daemon.port, "127.0.0.4")
            mute.sendall(peers.hello(SCRIPTED, SCRIPTED_SECRET))
            peers.wait_all_closed(silent + half + [mute])
            for s in silent + half + [mute]:
                s.close()
        self.alongside(attack)
        row = self.history(SCRIPTED)[0]
        self.assertEqual(row["outcome"], "failed", row)
        self.assertRegex(row["reason"], "timed out|deadline")


class Caps(Hostile):
    config = ("max_connections = 12\nmax_connections_per_address = 4\n"
              "first_record_timeout = 60s\nreply_timeout = 60s\n"
              "session_deadline = 120s\nsession_budget = 20s\n")

    def sessions_open(self, n):
        """Waits for STATUS= to report n open sessions."""
        self.daemon.wait_for(f"STATUS=sessions={n} ",
                             timeout=peers.EVENT_TIMEOUT,
                             after=len(self.daemon.notifications))

    def test_caps_in_total_and_per_address(self):
        held = [peers.connect(self.daemon.port, "127.0.0.5")
                for _ in range(4)]
        self.sessions_open(4)
        # The fifth from the same address is refused at once...
        extra = peers.connect(self.daemon.port, "127.0.0.5")
        self.assertEqual(peers.wait_closed(extra), b"")
        peers.wait_log(self.daemon, "reason=max_connections_per_address")
        # ...while another address, and the honest device, are served.
        self.honest_start()
        self.honest_check()
        # Fill the total cap from other addresses.
        for a in range(6, 8):
            held += [peers.connect(self.daemon.port, f"127.0.0.{a}")
                     for _ in range(4)]
        self.sessions_open(12)
        over = peers.connect(self.daemon.port, "127.0.0.9")
        self.assertEqual(peers.wait_closed(over), b"")
        peers.wait_log(self.daemon, "reason=max_connections\n")
        # At the total cap a device gets no session and starts its app.
        res = self.boot(self.honest_flash, HONEST, HONEST_SECRET)
        self.assertEqual(res.returncode, harness.DEVICE_NO_SESSION,
                         res.stdout)
        # One slot frees: the device is served again.
        held.pop().close()
        self.sessions_open(11)
        res = self.boot(self.honest_flash, HONEST, HONEST_SECRET)
        self.assertEqual(res.returncode, harness.DEVICE_APP_STARTED,
                         res.stdout)
        for s in held:
            s.close()
        self.sessions_open(0)
        peers.wait_fds(self.pid, self.baseline)


class Replies(Hostile):
    """A device holding a real secret but answering with hostile content."""

    def scripted(self, answer):
        return peers.scripted_device(self.daemon.port, SCRIPTED,
                                     SCRIPTED_SECRET, answer, "127.0.0.2")

    def test_hostile_names_in_replies(self):
        # The daemon does not send ls yet: these names ride on ordinary
        # replies, and must be ignored, never acted on or logged raw.
        names = {"../x": 1, "/etc/passwd": 2, "a\u0000b": 3,
                 "luaOTA/../../x": 5, "x" * 300: 6}

        def answer(cmd):
            reply = dict({"s": "OK"}, **names)
            if cmd.get("a") == "cm":
                reply["lcsize"] = 10
            return harness.record(SCRIPTED_SECRET,
                                  json.dumps(reply, separators=(",", ":")))

        def attack():
            got = self.scripted(answer)
            self.assertEqual(got[-1].get("a"), "restart", got)
        self.alongside(attack)
        self.assertEqual(self.history(SCRIPTED)[0]["outcome"], "updated")
        # A 4 KB name makes the reply longer than max_record_size: the
        # session fails there, cleanly.
        names["n" * 4096] = 4
        got = self.scripted(answer)
        self.assertNotEqual(got[-1].get("a"), "restart", got)
        row = self.history(SCRIPTED)[0]
        self.assertEqual(row["outcome"], "failed", row)
        self.assertIn("malformed reply", row["reason"])
        self.assertIsNone(self.daemon.proc.poll())

    def test_hostile_status_text_is_escaped_in_the_log(self):
        def answer(cmd):
            text = json.dumps({"s": "bad\nFORGED event=x \u0000 \x1b[2J"},
                              separators=(",", ":"))
            return harness.record(SCRIPTED_SECRET, text)
        self.alongside(lambda: self.scripted(answer))
        row = self.history(SCRIPTED)[0]
        self.assertEqual(row["outcome"], "failed")
        for line in self.daemon.read_log().splitlines():
            self.assertFalse(line.startswith("FORGED"), line)
            self.assertNotIn("\x1b", line)

    def test_more_bytes_than_asked(self):
        def answer(cmd):
            return harness.record(SCRIPTED_SECRET, '{"s":"OK"}') + b"X" * 300
        self.alongside(lambda: self.scripted(answer))
        row = self.history(SCRIPTED)[0]
        self.assertEqual(row["outcome"], "failed", row)
        self.assertIn("more bytes than the record announced", row["reason"])

    def test_reply_announcing_a_huge_payload(self):
        def answer(cmd):
            return harness.record(SCRIPTED_SECRET,
                                  '{"s":"OK","data":100000000}')
        self.alongside(lambda: self.scripted(answer))
        row = self.history(SCRIPTED)[0]
        self.assertEqual(row["outcome"], "failed", row)
        self.assertIn("malformed reply", row["reason"])


if __name__ == "__main__":
    harness.main()
