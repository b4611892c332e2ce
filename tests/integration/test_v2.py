"""Protocol v2 end to end: luaotad and simulated v2 devices, with a proxy
on the path that plays the attacker (docs/protocol.md part 2).  Tests are
named after the attack they stop."""

import hashlib
import hmac
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

CHIP = "24681357"
SECRET = "legacy-secret"
APP = "-- the application\nprint('app up')\n"
MB = 1024 * 1024
TAG_LEN = 32


def blob(n, seed):
    """n reproducible, incompressible-looking bytes."""
    out = bytearray()
    counter = 0
    while len(out) < n:
        out += hashlib.sha256(b"%s:%d" % (seed, counter)).digest()
        counter += 1
    return bytes(out[:n])


def split_records(buf):
    """Splits complete v2 records off buf: ([(json, record bytes)], rest)."""
    out = []
    while True:
        nl = buf.find(b"\n")
        if nl < 0:
            return out, buf
        header = json.loads(buf[:nl - TAG_LEN])
        end = nl + 1 + int(header.get("data", 0))
        if len(buf) < end:
            return out, buf
        out.append((header, buf[:end]))
        buf = buf[end:]


class Proxy:
    """Stands between devices and luaotad.  Each record the server sends
    goes through on_record(index, header, record) which returns the bytes
    to forward, or None to cut the connection there.  Everything the server
    sent is kept in .sent (per connection)."""

    def __init__(self, target_port, on_record=None):
        self.target_port = target_port
        self.on_record = on_record or (lambda i, h, r: r)
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.port = self.listener.getsockname()[1]
        self.sent = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                dev, _ = self.listener.accept()
            except OSError:
                return
            srv = socket.create_connection(("127.0.0.1", self.target_port))
            self.sent.append(b"")
            threading.Thread(target=self._up, args=(dev, srv),
                             daemon=True).start()
            self._down(dev, srv, len(self.sent) - 1)

    @staticmethod
    def _up(dev, srv):
        try:
            while True:
                data = dev.recv(65536)
                if not data:
                    break
                srv.sendall(data)
        except OSError:
            pass
        try:
            srv.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def _down(self, dev, srv, conn):
        buf, index = b"", 0
        try:
            while True:
                data = srv.recv(65536)
                if not data:
                    break
                self.sent[conn] += data
                records, buf = split_records(buf + data)
                for header, rec in records:
                    out = self.on_record(index, header, rec)
                    index += 1
                    if out is None:
                        raise ConnectionAbortedError
                    dev.sendall(out)
        except (OSError, ConnectionAbortedError):
            pass
        for s in (dev, srv):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def close(self):
        self.listener.close()


def hmac256(key, *parts):
    return hmac.new(key, b"".join(parts), hashlib.sha256).digest()


class Client:
    """A scripted v2 device speaking raw records: for attacks on the
    server side."""

    def __init__(self, port, chip, key_hex):
        self.key = bytes.fromhex(key_hex)
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.chip = chip
        self.send_seq = self.recv_seq = 0
        self.k = hmac256(self.key, b"luaOTA2 hello")
        self.nd = os.urandom(16)
        self.buf = b""

    def tag(self, direction, seq, js, payload=b""):
        mac = hmac256(self.k, direction, seq.to_bytes(8, "big"),
                      len(js).to_bytes(4, "big"), js, payload)
        return mac[:16].hex().encode()

    def send(self, obj):
        js = json.dumps(obj, separators=(",", ":")).encode()
        self.sock.sendall(js + self.tag(b"D", self.send_seq, js) + b"\n")
        self.send_seq += 1

    def hello(self, rc=0, mh="0" * 64):
        self.send({"v": 2, "a": "hello", "id": self.chip,
                   "nd": self.nd.hex(), "rc": rc, "mh": mh, "last": "none",
                   "lua": "5.1", "free": 4 * MB, "rx": 4096, "win": 4,
                   "staged": []})

    def recv(self):
        """The next server record (header, payload), checked; None at EOF."""
        while True:
            records, self.buf = split_records(self.buf)
            if records:
                header, rec = records[0]
                self.buf = b"".join(r for _, r in records[1:]) + self.buf
                break
            data = self.sock.recv(65536)
            if not data:
                return None
            self.buf += data
        nl = rec.find(b"\n")
        js, tag, payload = rec[:nl - TAG_LEN], rec[nl - TAG_LEN:nl], rec[
            nl + 1:]
        if self.recv_seq == 0:
            self.k = hmac256(self.key, b"luaOTA2 session", self.nd,
                             bytes.fromhex(header["ns"]))
        if tag != self.tag(b"S", self.recv_seq, js, payload):
            raise AssertionError("server record failed its tag")
        self.recv_seq += 1
        return header, payload

    def close(self):
        self.sock.close()


class V2(harness.Case):
    def setUp(self):
        super().setUp()
        self.write("app.lua", APP)
        self.write("data.bin", blob(20000, b"data"))
        self.ctl("group", "add", "g", "--repo", self.repo,
                 "--files", "app.lua,data.bin")
        self.add_chip(CHIP)
        self.start()

    def add_chip(self, chip):
        cfg = os.path.join(self.dir, f"{chip}.json")
        self.ctl("add", chip, "--group", "g", "--secret", SECRET,
                 "--protocol", "v2", "--device-config", cfg)
        with open(cfg) as fp:
            self.key = json.load(fp)["key"]
        return cfg

    def v2_flash(self, name="flash", chip=CHIP):
        """A device flash holding the config luaotactl wrote."""
        flash = self.flash(name)
        with open(os.path.join(self.dir, f"{chip}.json"), "rb") as src, \
                open(os.path.join(flash, "luaOTA%2Fconfig.json"), "wb") as d:
            d.write(src.read())
        return flash

    def v2_boot(self, flash, port=None, chip=CHIP):
        port = self.daemon.port if port is None else port
        return subprocess.run(
            [harness.DEVICE, "--flash", flash, "--chip-id", chip,
             "--server", f"127.0.0.1:{port}"],
            capture_output=True, text=True, timeout=180)

    def boot_against(self, flash, answer):
        """Boots the device against a fake server: answer(hello bytes)
        returns what it sends back before hanging up."""
        fake = socket.socket()
        fake.bind(("127.0.0.1", 0))
        fake.listen(1)

        def serve():
            con, _ = fake.accept()
            try:
                con.sendall(answer(con.recv(4096)))
                con.recv(4096)
            except OSError:
                pass  # the device hung up: what it should do
            con.close()

        t = threading.Thread(target=serve, daemon=True)
        t.start()
        res = self.v2_boot(flash, fake.getsockname()[1])
        t.join()
        fake.close()
        return res

    def files(self, flash):
        """The application files of a flash (luaOTA/ state left out)."""
        return {n: harness.read_device_file(flash, n)
                for n in os.listdir(flash) if not n.startswith("luaOTA%2F")}

    def sql(self, query, *args):
        con = sqlite3.connect(self.db)
        try:
            return con.execute(query, args).fetchall()
        finally:
            con.close()

    def luac(self, name):
        out = os.path.join(self.dir, "out.luac")
        subprocess.run(["luac5.1", "-s", "-o", out,
                        os.path.join(self.repo, name)], check=True)
        with open(out, "rb") as fp:
            return fp.read()

    # -- the happy path ------------------------------------------------------

    def test_update_then_signed_current(self):
        flash = self.v2_flash()
        res = self.v2_boot(flash)
        self.assertEqual(res.returncode, harness.DEVICE_REBOOTED,
                         res.stdout + res.stderr)
        self.assertEqual(self.files(flash), {
            "app.lc": self.luac("app.lua"),
            "data.bin": blob(20000, b"data")})
        row = self.history(CHIP)[0]
        self.assertEqual((row["outcome"], row["files_sent"]), ("updated", 2))
        self.assertEqual(self.sql("SELECT v2_seen FROM chips WHERE id = ?",
                                  CHIP), [(1,)])
        self.assertEqual([r[0] for r in self.sql(
            "SELECT rc FROM v2_releases WHERE chip_id = ?", CHIP)], [1])
        res = self.v2_boot(flash)
        self.assertEqual(res.returncode, harness.DEVICE_APP_STARTED)
        self.assertEqual(self.history(CHIP)[0]["outcome"], "current")

    def test_next_release_counts_up_deletes_and_hides_secrets(self):
        flash = self.v2_flash()
        self.v2_boot(flash)
        self.write("app.lua", APP + "print('two')\n")
        self.ctl("group", "set", "g", "--files", "app.lua",
                 "--config", '{"ssid":"plant","spwd":"hunter2-secret"}')
        proxy = Proxy(self.daemon.port)
        self.addCleanup(proxy.close)
        res = self.v2_boot(flash, proxy.port)
        self.assertEqual(res.returncode, harness.DEVICE_REBOOTED, res.stdout)
        self.assertEqual(self.files(flash), {"app.lc": self.luac("app.lua")})
        conf = json.loads(harness.read_device_file(flash,
                                                   "luaOTA/config.json"))
        self.assertEqual((conf["ssid"], conf["spwd"]),
                         ("plant", "hunter2-secret"))
        self.assertEqual(conf["key"], self.key)
        wire = b"".join(proxy.sent)
        self.assertNotIn(b"hunter2", wire)
        self.assertNotIn(self.key.encode(), wire)
        rc, manifest = self.sql("SELECT rc, manifest FROM v2_releases "
                                "WHERE chip_id = ? ORDER BY rc DESC", CHIP)[0]
        self.assertEqual(rc, 2)
        self.assertEqual(json.loads(manifest)["del"], ["data.bin"])
        self.assertNotIn("hunter2", manifest)

    def test_show_and_diff_follow_the_releases(self):
        show = self.ctl("show", CHIP).stdout
        self.assertIn("v2 (legacy check-ins still served)", show)
        self.assertIn("release:      none yet", show)
        self.assertIn("pending:      release 1 at the next boot", show)
        self.assertIn("release  1", self.ctl("diff", CHIP).stdout)
        self.v2_boot(self.v2_flash())
        show = json.loads(self.ctl("show", CHIP, "--json").stdout)
        self.assertEqual(show["release"]["rc"], 1)
        self.assertTrue(show["legacy_refused"])
        self.assertEqual(show["pending"], {"error": None, "current": True,
                                           "release": 1})
        self.assertIn("current: release 1 holds today's files",
                      self.ctl("diff", CHIP).stdout)
        self.write("app.lua", APP + "print('three')\n")
        diff = json.loads(self.ctl("diff", CHIP, "--json").stdout)[0]
        self.assertEqual((diff["current"], diff["release"],
                          diff["latest_release"]), (False, 2, 1))
        self.assertEqual([f["n"] for f in diff["manifest"]["files"]],
                         ["app.lua", "data.bin"])
        # luaotactl only looks: nothing was issued.
        self.assertEqual(self.sql("SELECT max(rc) FROM v2_releases"), [(1,)])

    def test_no_release_is_sent_that_is_not_recorded(self):
        """A counter must never name two manifests: while the inventory
        cannot record a new release, none is sent (the boot is only
        unverified), and the next boot gets it."""
        flash = self.v2_flash()
        con = sqlite3.connect(self.db, isolation_level=None)
        con.execute("BEGIN IMMEDIATE")
        try:
            res = self.v2_boot(flash)
        finally:
            con.execute("ROLLBACK")
            con.close()
        self.assertEqual(res.returncode, harness.DEVICE_NO_SESSION)
        self.assertEqual(self.files(flash), {})
        self.assertEqual(self.sql("SELECT count(*) FROM v2_releases"),
                         [(0,)])
        res = self.v2_boot(flash)
        self.assertEqual(res.returncode, harness.DEVICE_REBOOTED)
        self.assertEqual(self.sql("SELECT max(rc) FROM v2_releases"), [(1,)])
        reasons = [r["reason"] or "" for r in self.history(CHIP)]
        self.assertTrue(any(r.startswith("release 1 not recorded")
                            for r in reasons), reasons)

    def test_a_release_the_protocol_cannot_carry_is_not_sent(self):
        """Two files with one content cannot be staged apart."""
        self.write("copy.bin", blob(20000, b"data"))
        self.ctl("group", "set", "g", "--files", "data.bin,copy.bin")
        flash = self.v2_flash()
        self.assertEqual(self.v2_boot(flash).returncode,
                         harness.DEVICE_NO_SESSION)
        self.assertEqual(self.files(flash), {})
        row = self.history(CHIP)[0]
        self.assertEqual(row["outcome"], "failed")
        self.assertIn("have the same content", row["reason"])
        self.assertEqual(self.sql("SELECT count(*) FROM v2_releases"),
                         [(0,)])

    # -- attacks on the device ---------------------------------------------

    def test_payload_tamper(self):
        def flip(index, header, rec):
            if header.get("a") == "chunk":
                rec = bytearray(rec)
                rec[-1] ^= 1
            return bytes(rec)

        proxy = Proxy(self.daemon.port, flip)
        self.addCleanup(proxy.close)
        flash = self.v2_flash()
        res = self.v2_boot(flash, proxy.port)
        self.assertNotEqual(res.returncode, harness.DEVICE_REBOOTED)
        self.assertEqual(self.files(flash), {})
        self.assertEqual(self.history(CHIP)[0]["outcome"], "failed")
        # The honest path still works, and finishes what was staged.
        res = self.v2_boot(flash)
        self.assertEqual(res.returncode, harness.DEVICE_REBOOTED)
        self.assertEqual(self.files(flash)["data.bin"], blob(20000, b"data"))

    def test_replay_of_a_recorded_session(self):
        """A recording of a whole update, replayed to the device at a later
        boot, is refused: the device's nonce is new every time."""
        proxy = Proxy(self.daemon.port)
        self.addCleanup(proxy.close)
        flash = self.v2_flash()
        self.v2_boot(self.v2_flash("other"), proxy.port)
        recorded = proxy.sent[0]
        res = self.boot_against(flash, lambda hello: recorded)
        self.assertEqual(res.returncode, harness.DEVICE_NO_SESSION)
        self.assertEqual(self.files(flash), {})
        # The next HELLO reports the unverified boot; the history says so.
        self.v2_boot(flash)
        self.assertEqual(self.history(CHIP)[0]["reason"],
                         "previous boot: unverified")

    def test_freeze_with_an_unsigned_current(self):
        """A "current" the attacker made up is an unverified check-in."""
        flash = self.v2_flash()
        self.v2_boot(flash)
        self.write("app.lua", APP + "print('new')\n")

        def answer(record):
            hello = json.loads(record[:-(TAG_LEN + 1)])
            js = json.dumps({"v": 2, "a": "current", "ns": "00" * 16,
                             "nd": hello["nd"], "rc": hello["rc"]})
            return js.encode() + b"0" * TAG_LEN + b"\n"

        res = self.boot_against(flash, answer)
        self.assertEqual(res.returncode, harness.DEVICE_NO_SESSION)
        res = self.v2_boot(flash)
        self.assertEqual(res.returncode, harness.DEVICE_REBOOTED)
        row = self.history(CHIP)[0]
        self.assertEqual((row["outcome"], row["reason"]),
                         ("updated", "previous boot: unverified"))

    def test_freeze_with_a_stale_current(self):
        """A real "current" recorded earlier does not answer a later
        HELLO: it echoes the old nonce."""
        flash = self.v2_flash()
        self.v2_boot(flash)
        proxy = Proxy(self.daemon.port)
        self.addCleanup(proxy.close)
        self.assertEqual(self.v2_boot(flash, proxy.port).returncode,
                         harness.DEVICE_APP_STARTED)
        recorded = proxy.sent[0]
        self.assertIn(b'"a":"current"', recorded)
        self.write("app.lua", APP + "print('newer')\n")
        res = self.boot_against(flash, lambda hello: recorded)
        self.assertEqual(res.returncode, harness.DEVICE_NO_SESSION)
        res = self.v2_boot(flash)
        self.assertEqual(res.returncode, harness.DEVICE_REBOOTED)
        self.assertEqual(self.history(CHIP)[0]["reason"],
                         "previous boot: unverified")

    def test_endless_data(self):
        """Bytes beyond what was asked break the record stream."""
        def pad(index, header, rec):
            return rec + b"x" * 100 if header.get("a") == "chunk" else rec

        proxy = Proxy(self.daemon.port, pad)
        self.addCleanup(proxy.close)
        flash = self.v2_flash()
        res = self.v2_boot(flash, proxy.port)
        self.assertNotEqual(res.returncode, harness.DEVICE_REBOOTED)
        self.assertEqual(self.files(flash), {})

    def test_mix_and_match_cut_after_every_record(self):
        """The connection dropped after record k, for every k: the flash
        holds exactly the old release or exactly the new one."""
        names = [f"f{i}.bin" for i in range(4)]
        for i, n in enumerate(names):
            self.write(n, blob(3000, b"old%d" % i))
        self.ctl("group", "set", "g", "--files", ",".join(names))
        flash = self.v2_flash()
        self.v2_boot(flash)
        old = self.files(flash)
        for i, n in enumerate(names):
            self.write(n, blob(3000, b"new%d" % i))
        new = {n: blob(3000, b"new%d" % i) for i, n in enumerate(names)}
        # manifest, 4 chunks, commit: cut after each of them.
        for k in range(6):
            with self.subTest(cut_after=k):
                work = self.flash(f"cut{k}")
                shutil.rmtree(work)
                shutil.copytree(flash, work)
                proxy = Proxy(self.daemon.port,
                              lambda i, h, r, k=k: r if i <= k else None)
                self.addCleanup(proxy.close)
                self.v2_boot(work, proxy.port)
                self.assertIn(self.files(work), (old, new))
                self.v2_boot(work)
                self.assertEqual(self.files(work), new)

    def test_resume_1mb_over_three_cut_boots(self):
        big = blob(MB, b"big")
        self.write("big.bin", big)
        self.ctl("group", "set", "g", "--files", "big.bin")
        flash = self.v2_flash()
        for boot in range(2):
            served = [0]

            def cut(index, header, rec, served=served):
                served[0] += int(header.get("data", 0))
                return rec if served[0] < 400 * 1024 else None

            proxy = Proxy(self.daemon.port, cut)
            self.addCleanup(proxy.close)
            res = self.v2_boot(flash, proxy.port)
            self.assertNotEqual(res.returncode, harness.DEVICE_REBOOTED)
            self.assertNotIn("big.bin", self.files(flash))
        res = self.v2_boot(flash)
        self.assertEqual(res.returncode, harness.DEVICE_REBOOTED)
        self.assertEqual(self.files(flash)["big.bin"], big)
        sent = sum(r["bytes_sent"] for r in self.history(CHIP))
        # Resumed, not restarted: little more than one copy went out.
        self.assertLess(sent, MB + 3 * 8192 * 8 + 20000, sent)

    # -- attacks on the server ---------------------------------------------

    def test_downgrade_to_legacy_after_a_v2_session(self):
        flash = self.v2_flash()
        self.v2_boot(flash)
        res = self.boot(self.flash("legacy"), CHIP, SECRET)
        self.assertEqual(res.returncode, harness.DEVICE_NO_SESSION)
        row = self.history(CHIP)[0]
        self.assertEqual(row["outcome"], "rejected")
        self.assertTrue(row["reason"].startswith("downgrade"), row)

    def test_hello_under_the_wrong_key_is_not_answered(self):
        c = Client(self.daemon.port, CHIP, "11" * 32)
        c.hello()
        self.assertIsNone(c.recv())
        c.close()
        row = self.history(CHIP)[0]
        self.assertEqual((row["outcome"], row["reason"]),
                         ("rejected", "bad tag"))

    def test_replayed_device_record_ends_the_session(self):
        c = Client(self.daemon.port, CHIP, self.key)
        c.hello()
        header, manifest = c.recv()
        self.assertEqual(header["a"], "manifest")
        c.send_seq -= 1  # the same number again: a replay
        c.send({"v": 2, "s": "ok"})
        self.assertIsNone(c.recv())
        c.close()
        row = self.history(CHIP)[0]
        self.assertEqual((row["outcome"], row["reason"]),
                         ("failed", "record failed its tag"))

    def test_get_beyond_the_manifest(self):
        c = Client(self.daemon.port, CHIP, self.key)
        c.hello()
        header, payload = c.recv()
        entry = [f for f in json.loads(payload)["files"]
                 if f["n"] == "data.bin"][0]
        c.send({"v": 2, "s": "ok"})
        c.send({"v": 2, "a": "get", "h": entry["h"][:16],
                "off": entry["len"] - 10, "len": 20})
        self.assertIsNone(c.recv())
        c.close()
        self.assertEqual(self.history(CHIP)[0]["reason"],
                         "get beyond the end of data.bin")

    def test_window_is_served_in_order(self):
        c = Client(self.daemon.port, CHIP, self.key)
        c.hello()
        header, payload = c.recv()
        self.assertEqual((header["chunk"], header["win"]), (4096, 4))
        entry = [f for f in json.loads(payload)["files"]
                 if f["n"] == "data.bin"][0]
        c.send({"v": 2, "s": "ok"})
        for off in range(0, 4 * 4096, 4096):
            c.send({"v": 2, "a": "get", "h": entry["h"][:16], "off": off,
                    "len": 4096})
        got = b""
        for off in range(0, 4 * 4096, 4096):
            header, data = c.recv()
            self.assertEqual((header["a"], header["off"]), ("chunk", off))
            got += data
        self.assertEqual(got, blob(20000, b"data")[:4 * 4096])
        c.close()

    def test_slow_device_meets_the_absolute_deadline(self):
        self.daemon.stop()
        self.start("v2_session_deadline = 1s\n")
        c = Client(self.daemon.port, CHIP, self.key)
        c.hello()
        self.assertEqual(c.recv()[0]["a"], "manifest")
        self.assertIsNone(c.recv())  # closed by the deadline
        c.close()
        self.assertEqual(self.history(CHIP)[0]["reason"],
                         "session deadline reached")


if __name__ == "__main__":
    harness.main()
