"""Faults: a locked database, kill -9 mid-session, a repository that
changes under the daemon, a damaged database, a full disk, a full flash and
connections dropped at every record.  Bounded for CI; LUAOTA_KILL_ROUNDS
and LUAOTA_RELIABILITY_SCALE make longer runs."""

import hashlib
import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import peers  # noqa: E402

SCALE = max(1, int(os.environ.get("LUAOTA_RELIABILITY_SCALE", "1")))
KILL_ROUNDS = int(os.environ.get("LUAOTA_KILL_ROUNDS", str(20 * SCALE)))
CHIP = "13572468"
SECRET = "fault-chip-secret"
APP = "print('app up')\nfunction tick() return 1 end\n"
DATA = bytes(range(256)) * 9  # three chunks


def digest(path):
    with open(path, "rb") as fp:
        return hashlib.sha256(fp.read()).hexdigest()


class Faults(harness.Case):
    def setUp(self):
        super().setUp()
        self.mounts = []

    def tearDown(self):
        super().tearDown()
        for m in reversed(self.mounts):
            subprocess.run(["umount", "-l", m], check=False)

    def tmpfs(self, name, size):
        """A small tmpfs (root only): the way to fill a disk on purpose."""
        if os.geteuid() != 0:
            self.skipTest("mounting a small tmpfs needs root")
        path = os.path.join(self.dir, name)
        os.makedirs(path, exist_ok=True)
        if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}",
                           "tmpfs", path]).returncode != 0:
            self.skipTest("mount -t tmpfs is not permitted here")
        self.mounts.append(path)
        return path

    def last_row(self, chip=CHIP):
        """The chip's newest history row once its session has ended (the
        device may exit before the daemon has finished the row)."""
        peers.wait_until(lambda: self.history(chip) and
                         self.history(chip)[0]["outcome"] != "started",
                         "the session to end")
        return self.history(chip)[0]

    def group(self, files=("app.lua", "blob.bin")):
        self.write("app.lua", APP)
        self.write("blob.bin", DATA)
        self.ctl("group", "add", "g", "--repo", self.repo,
                 "--files", ",".join(files))

    def converges(self, flash, chip=CHIP, secret=SECRET):
        """Boots until current; the flash then matches the repository."""
        res = self.boot(flash, chip, secret, boots=6)
        self.assertEqual(res.returncode, harness.DEVICE_APP_STARTED,
                         res.stdout + res.stderr)
        self.assertEqual(harness.read_device_file(flash, "blob.bin"),
                         open(os.path.join(self.repo, "blob.bin"),
                              "rb").read())
        self.assertTrue(os.path.exists(os.path.join(flash, "app.lc")))
        self.assertEqual(self.last_row(chip)["outcome"], "current")


class LockedDatabase(Faults):
    def test_checkins_while_a_writer_holds_the_lock(self):
        self.group()
        chips = [str(2000000 + i) for i in range(3)]
        for c in chips:
            self.ctl("add", c, "--group", "g", "--secret", "s" + c)
        self.start()
        flashes = {c: self.flash("f" + c) for c in chips}
        self.converges(flashes[chips[0]], chips[0], "s" + chips[0])
        rows_before = len(self.history())
        # Another writer holds the write lock (as luaotactl in a long
        # transaction would) for the whole of these check-ins.
        holder = sqlite3.connect(self.db, isolation_level=None, timeout=30)
        holder.execute("BEGIN IMMEDIATE")
        holder.execute("UPDATE chips SET label = 'held' WHERE id = ?",
                       (chips[2],))
        expected = []
        # Truly current: OK! (exit 0).
        r = self.boot(flashes[chips[0]], chips[0], "s" + chips[0])
        self.assertEqual(r.returncode, harness.DEVICE_APP_STARTED, r.stdout)
        expected.append((chips[0], "current"))
        # New device: provisioned, never a false OK!.
        r = self.boot(flashes[chips[1]], chips[1], "s" + chips[1])
        self.assertEqual(r.returncode, harness.DEVICE_REBOOTED, r.stdout)
        expected.append((chips[1], "updated"))
        # The repository changes: the formerly current device is not
        # current any more, whatever the lock.
        self.write("blob.bin", DATA[::-1])
        r = self.boot(flashes[chips[0]], chips[0], "s" + chips[0])
        self.assertEqual(r.returncode, harness.DEVICE_REBOOTED, r.stdout)
        expected.append((chips[0], "updated"))
        # What it now holds could not be recorded under the lock, so its
        # next check-in is not trusted as current: resent, never a false OK!.
        r = self.boot(flashes[chips[0]], chips[0], "s" + chips[0])
        self.assertEqual(r.returncode, harness.DEVICE_REBOOTED, r.stdout)
        expected.append((chips[0], "updated"))
        peers.wait_log(self.daemon, "event=history-failed")
        self.assertIsNone(self.daemon.proc.poll())
        holder.execute("COMMIT")
        holder.close()
        peers.wait_log(self.daemon, "event=history-flushed")
        rows = self.history()[:len(self.history()) - rows_before]
        got = [(r["chip_id"], r["outcome"]) for r in reversed(rows)]
        self.assertEqual(got, expected)
        # Per-file rows and last_seen came through too.
        updated = [r for r in rows if r["outcome"] == "updated"]
        self.assertTrue(all(self.session_files(r["id"]) for r in updated))
        con = sqlite3.connect(self.db)
        seen = con.execute("SELECT last_seen FROM chips WHERE id = ?",
                           (chips[1],)).fetchone()[0]
        con.close()
        self.assertTrue(seen)
        # With the lock gone the device converges.
        self.converges(flashes[chips[0]], chips[0], "s" + chips[0])


class Spool(Faults):
    def test_history_survives_kill_9_while_the_database_is_locked(self):
        """Rows the locked store refused are spooled: a kill -9 loses none
        of them, and a session cut mid-way is recorded as interrupted."""
        self.group()
        n = 4 * SCALE
        chips = [str(5000000 + i) for i in range(n + 2)]
        for c in chips:
            self.ctl("add", c, "--group", "g", "--secret", "s" + c)
        current, stalled, fresh = chips[0], chips[1], chips[2:]
        self.start()
        flashes = {c: self.flash("f" + c) for c in chips}
        self.converges(flashes[current], current, "s" + current)
        before = len(self.history())
        holder = sqlite3.connect(self.db, isolation_level=None, timeout=30)
        holder.execute("BEGIN IMMEDIATE")
        holder.execute("UPDATE chips SET label = 'held' WHERE id = ?",
                       (current,))
        # Under the lock: one OK! (batched), n provisioning sessions, one
        # rejection, and one session left hanging after its first command.
        r = self.boot(flashes[current], current, "s" + current)
        self.assertEqual(r.returncode, harness.DEVICE_APP_STARTED, r.stdout)
        procs = [subprocess.Popen(
            [harness.DEVICE, "--flash", flashes[c], "--chip-id", c,
             "--server", f"127.0.0.1:{self.daemon.port}", "--secret",
             "s" + c], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True) for c in fresh]
        restarted = 0
        for p in procs:
            p.communicate(timeout=120)
            restarted += p.returncode == harness.DEVICE_REBOOTED
        self.assertEqual(restarted, n)
        bad = peers.connect(self.daemon.port, "127.0.0.2")
        peers.send_quietly(bad, peers.hello(fresh[0], "wrong-secret"))
        peers.wait_closed(bad)
        bad.close()
        hang = peers.connect(self.daemon.port)
        hang.sendall(peers.hello(stalled, "s" + stalled))
        self.assertIsNotNone(peers.read_record(hang))  # its first command
        # Every finished session waits in the queue: 1 + n + 1 rows.
        queued = f"history_queued={n + 2}"
        peers.wait_until(lambda: any(queued in line for line in
                                     self.daemon.notifications),
                         "the rows to be queued")
        self.daemon.proc.send_signal(signal.SIGKILL)
        self.daemon.proc.wait()
        hang.close()
        self.daemon.stop()
        holder.execute("COMMIT")
        holder.close()
        spool = self.db + ".spool"
        # A crash inside write() leaves a torn last line: skipped.
        with open(spool, "ab") as fp:
            fp.write(b'{"v":1,"id":0,"chip":"9')
        self.start()
        rows = self.history()[:len(self.history()) - before]
        got = sorted((r["chip_id"], r["outcome"]) for r in rows)
        want = sorted([(current, "current"), (fresh[0], "rejected"),
                       (stalled, "interrupted")] +
                      [(c, "updated") for c in fresh])
        self.assertEqual(got, want)  # none missing, none falsely completed
        log = self.daemon.read_log()
        self.assertIn("torn last line", log)
        # The n provisioning sessions spooled their start and their end.
        self.assertIn(f"event=history-replayed file={spool} "
                      f"rows={2 * n + 3}", log)
        for r in rows:
            self.assertNotEqual(r["ended_ms"], 0, r)
            if r["outcome"] == "updated":
                self.assertTrue(self.session_files(r["id"]), r)
        self.assertEqual(os.path.getsize(spool), 0)
        con = sqlite3.connect(self.db)
        self.assertEqual(con.execute("PRAGMA integrity_check").fetchone()[0],
                         "ok")
        seen = con.execute("SELECT count(*) FROM chips WHERE last_seen > 0"
                           ).fetchone()[0]
        con.close()
        self.assertEqual(seen, n + 2)
        # A second start replays nothing and duplicates nothing.
        self.daemon.stop()
        self.start()
        self.assertEqual(len(self.history()) - before, len(rows))
        for c in fresh:
            self.converges(flashes[c], c, "s" + c)


class Kill9(Faults):
    def test_kill_9_during_provisioning(self):
        seed = int(os.environ.get("LUAOTA_SEED", random.randrange(1 << 30)))
        print(f"# seed {seed} rounds {KILL_ROUNDS}", flush=True)
        rng = random.Random(seed)
        names = [f"part{i}.bin" for i in range(6)]
        for i, n in enumerate(names):
            self.write(n, bytes([i]) * 2500)
        self.ctl("group", "add", "g", "--repo", self.repo,
                 "--files", ",".join(names))
        chips = [str(3000000 + i) for i in range(4)]
        for c in chips:
            self.ctl("add", c, "--group", "g", "--secret", "s" + c)
        answered = {c: 0 for c in chips}  # boots that got OK! or commands
        restarts = {c: 0 for c in chips}  # boots that received restart
        cut = 0  # sessions a kill left open ("started" rows)
        for rnd in range(3 * KILL_ROUNDS):
            # A loaded machine may finish every session before the kill:
            # go on (within bounds) until kills have hit sessions.
            if rnd >= KILL_ROUNDS and cut > 0:
                break
            # Every round has work: some files change.
            changed = rng.sample(names, rng.randrange(1, len(names) + 1))
            for n in changed:
                self.write(n, bytes(rng.randrange(256) for _ in range(2500)))
            self.start()
            sent_before = self.daemon.read_log().count("event=file-sent")
            procs = {c: subprocess.Popen(
                [harness.DEVICE, "--flash", self.flash("f" + c),
                 "--chip-id", c, "--server",
                 f"127.0.0.1:{self.daemon.port}", "--secret", "s" + c],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                for c in chips}
            # The fault itself: after a random number of files went out
            # (or once every device is done), plus a random instant.
            # At most all files but one: some session is still under way.
            k = rng.randrange(1, max(2, len(changed) * len(chips)))
            # A session takes milliseconds: watch the log closely.
            deadline = time.monotonic() + peers.EVENT_TIMEOUT
            while not (self.daemon.read_log().count("event=file-sent")
                       >= sent_before + k
                       or all(p.poll() is not None for p in procs.values())):
                self.assertLess(time.monotonic(), deadline,
                                "the sessions did not progress")
                time.sleep(0.0005)
            time.sleep(rng.uniform(0, 0.002))
            self.daemon.proc.send_signal(signal.SIGKILL)
            self.daemon.proc.wait()
            con = sqlite3.connect(self.db)
            cut += con.execute("SELECT count(*) FROM sessions "
                               "WHERE outcome = 'started'").fetchone()[0]
            con.close()
            self.daemon.listener.close()  # later connects are refused
            for c, p in procs.items():
                out, _ = p.communicate(timeout=60)
                if p.returncode == harness.DEVICE_REBOOTED:
                    restarts[c] += 1
                if p.returncode in (0, 1, 4, harness.DEVICE_REBOOTED):
                    answered[c] += 1
            self.daemon.stop()
            self.daemon = None
        con = sqlite3.connect(self.db)
        self.assertEqual(con.execute("PRAGMA integrity_check").fetchone()[0],
                         "ok")
        con.close()
        self.start()
        outcomes = [r["outcome"] for r in self.history()]
        print("# outcomes " + " ".join(
            f"{o}={outcomes.count(o)}" for o in sorted(set(outcomes))),
            flush=True)
        self.assertNotIn("started", outcomes)
        self.assertIn("interrupted", outcomes)  # the kills hit sessions
        for c in chips:
            rows = self.history(c)
            # None missing, none falsely completed.
            self.assertGreaterEqual(len(rows), answered[c], rows)
            done = sum(r["outcome"] in ("updated", "partial") for r in rows)
            self.assertLessEqual(done, restarts[c], rows)
        for c in chips:
            flash = os.path.join(self.dir, "f" + c)
            res = self.boot(flash, c, "s" + c, boots=6)
            self.assertEqual(res.returncode, harness.DEVICE_APP_STARTED,
                             res.stdout)
            for n in names:
                self.assertEqual(digest(os.path.join(flash, n)),
                                 digest(os.path.join(self.repo, n)), (c, n))


class Repository(Faults):
    def setUp(self):
        super().setUp()
        self.group()
        self.ctl("add", CHIP, "--group", "g", "--secret", SECRET)
        self.start()

    def test_file_deleted_mid_session(self):
        """The session sends the snapshot it resolved; the next check-in
        fails cleanly until the file is back."""
        saved = open(os.path.join(self.repo, "blob.bin"), "rb").read()
        deleted = []

        def answer(cmd):
            if not deleted:
                os.unlink(os.path.join(self.repo, "blob.bin"))
                deleted.append(1)
            reply = {"s": "OK"}
            if cmd.get("a") == "cm":
                reply["lcsize"] = 10
            import json
            return harness.record(SECRET, json.dumps(reply))
        got = peers.scripted_device(self.daemon.port, CHIP, SECRET, answer)
        self.assertEqual(got[-1].get("a"), "restart", got)
        flash = self.flash()
        self.boot(flash, CHIP, SECRET)
        row = self.last_row()
        self.assertEqual(row["outcome"], "failed", row)
        self.assertIn("blob.bin", row["reason"])
        self.assertFalse(os.path.exists(os.path.join(flash, "app.lc")))
        self.write("blob.bin", saved)
        self.converges(flash)

    def test_file_unreadable(self):
        path = os.path.join(self.repo, "blob.bin")
        flash = self.flash()
        if os.geteuid() == 0:
            # root reads any mode: a directory in its place cannot be read.
            os.unlink(path)
            os.mkdir(path)
        else:
            os.chmod(path, 0)
        self.boot(flash, CHIP, SECRET)
        row = self.last_row()
        self.assertEqual(row["outcome"], "failed", row)
        self.assertIn("blob.bin", row["reason"])
        if os.path.isdir(path):
            os.rmdir(path)
        else:
            os.unlink(path)
        self.write("blob.bin", DATA)
        self.converges(flash)

    def test_repository_directory_disappears(self):
        flash = self.flash()
        self.converges(flash)
        self.write("blob.bin", DATA[::-1])
        os.rename(self.repo, self.repo + ".gone")
        res = self.boot(flash, CHIP, SECRET)
        self.assertNotEqual(res.returncode, harness.DEVICE_REBOOTED)
        row = self.last_row()
        self.assertEqual(row["outcome"], "failed", row)
        self.assertIsNone(self.daemon.proc.poll())
        os.rename(self.repo + ".gone", self.repo)
        self.converges(flash)


class Database(Faults):
    def corrupt_and_start(self, offset, data):
        self.group()
        self.ctl("add", CHIP, "--group", "g", "--secret", SECRET)
        with open(self.db, "r+b") as fp:
            fp.seek(offset)
            fp.write(data)
        before = digest(self.db)
        conf = os.path.join(self.dir, "luaotad.conf")
        open(conf, "w").close()
        # A daemon that starts anyway never exits: the timeout fails it.
        res = subprocess.run([harness.LUAOTAD, "-d", "-f", conf, "-D",
                              self.db, "-l", "127.0.0.1:0"],
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(res.returncode, 1, res.stderr)
        self.assertEqual(digest(self.db), before, "database was modified")
        return res.stderr

    def test_garbage_header_is_refused(self):
        log = self.corrupt_and_start(0, b"this is not sqlite at all")
        self.assertIn("not a database", log)

    def test_damaged_page_is_refused(self):
        # Page 2 onwards hold the schema's tables: zero one of them.
        log = self.corrupt_and_start(4096 * 2, b"\xa5" * 4096)
        self.assertIn("refusing a damaged database", log)


class FullDisk(Faults):
    def test_state_directory_full(self):
        state = self.tmpfs("state", "2m")
        self.db = os.path.join(state, "luaota.db")
        self.group()
        chips = [str(4000000 + i) for i in range(3)]
        for c in chips:
            self.ctl("add", c, "--group", "g", "--secret", "s" + c)
        self.start()
        # Fill what is left, then check in.
        filler = os.path.join(state, "filler")
        with open(filler, "wb") as fp:
            try:
                while True:
                    fp.write(b"\0" * 65536)
                    fp.flush()
            except OSError:
                pass
        flashes = {c: self.flash("f" + c) for c in chips}
        for c in chips:
            r = self.boot(flashes[c], c, "s" + c)
            self.assertIn(r.returncode, (harness.DEVICE_REBOOTED,
                                         harness.DEVICE_APP_STARTED),
                          r.stdout)
        log = peers.wait_log(self.daemon, "event=history-failed")
        self.assertIsNone(self.daemon.proc.poll(), "daemon died")
        self.assertLessEqual(log.count("event=history-failed"), 10)
        # The spool beside the database cannot take them either: the rows
        # stay in memory, with warnings as limited.
        log = peers.wait_log(self.daemon, "event=spool-failed")
        self.assertLessEqual(log.count("event=spool-failed"), 10)
        os.unlink(filler)
        peers.wait_log(self.daemon, "event=history-flushed")
        for c in chips:
            self.assertTrue(self.history(c), c)
            self.converges(flashes[c], c, "s" + c)


class DeviceSide(Faults):
    def setUp(self):
        super().setUp()
        self.group()
        self.ctl("add", CHIP, "--group", "g", "--secret", SECRET)
        self.start()

    def test_flash_full_in_the_middle_of_a_file(self):
        flash = self.tmpfs("flash", "64k")
        big = os.urandom(12000)
        self.write("blob.bin", big)
        filler = os.path.join(flash, "filler")
        with open(filler, "wb") as fp:
            fp.write(b"\0" * (64 * 1024 - 8 * 1024))
        res = self.boot(flash, CHIP, SECRET)
        self.assertNotEqual(res.returncode, harness.DEVICE_REBOOTED)
        row = self.last_row()
        self.assertEqual(row["outcome"], "failed", row)
        self.assertIn("blob.bin", row["reason"])
        files = self.session_files(row["id"])
        self.assertEqual([(f["name"], f["action"], f["result"])
                          for f in files if f["name"] == "blob.bin"],
                         [("blob.bin", "dl", "write failed (blob.bin)")])
        self.assertFalse(os.path.exists(os.path.join(flash, "blob.bin")))
        os.unlink(filler)
        self.converges(flash)

    def test_connection_dropped_at_every_record(self):
        """A proxy cuts the connection before its k-th forwarded record,
        for every k of a whole session; the device converges after each."""
        flash = self.flash()
        k = 1
        while True:
            proxy = Proxy(self.daemon.port, cut_at=k)
            self.boot(flash, CHIP, SECRET, server=proxy.port)
            proxy.close()
            self.assertIsNone(self.daemon.proc.poll())
            if not proxy.cut:
                break  # the whole session passed: every k was tried
            # Every file on the flash is whole: old or new, never torn.
            for name in os.listdir(flash):
                self.assertNotIn(".~stage", name)
            self.converges(flash)
            self.write("blob.bin", os.urandom(len(DATA)))
            k += 1
        self.assertGreater(k, 6)
        peers.wait_until(lambda: "started" not in [
            r["outcome"] for r in self.history(CHIP)], "history rows")


class Proxy:
    """Forwards one connection to the daemon and cuts both sides before
    forwarding its cut_at-th chunk (in lock-step, one chunk = one record)."""

    def __init__(self, port, cut_at):
        self.target = port
        self.cut_at = cut_at
        self.cut = False
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        import select
        try:
            a, _ = self.sock.accept()
        except OSError:
            return
        b = socket.create_connection(("127.0.0.1", self.target))
        count = 0
        try:
            while True:
                r, _, _ = select.select([a, b], [], [], 60)
                if not r:
                    return
                for s in r:
                    data = s.recv(65536)
                    if not data:
                        return
                    count += 1
                    if count == self.cut_at:
                        self.cut = True
                        return
                    (b if s is a else a).sendall(data)
        except OSError:
            return
        finally:
            a.close()
            b.close()

    def close(self):
        self.thread.join(timeout=120)
        self.sock.close()


if __name__ == "__main__":
    harness.main()
