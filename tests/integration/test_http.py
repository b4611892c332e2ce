"""luaotad's HTTP listener: /metrics parsed with Prometheus' own parser,
the JSON API against luaotactl's --json (the same views), bearer tokens,
oversize requests and slow clients refused while devices are served, and
the dashboard rendered in headless Chromium."""

import json
import os
import socket
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

# Debian's python3-prometheus-client and python3-selenium (scripts/deps):
# after the running interpreter's own paths, so they shadow nothing.
sys.path.append("/usr/lib/python3/dist-packages")
from prometheus_client.parser import text_string_to_metric_families  # noqa
from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

WAIT = 30.0
SCREENSHOT = os.path.join(harness.BUILD, "meson-logs", "dashboard.png")


class Http(harness.Case):
    def setUp(self):
        super().setUp()
        self.write("init.lua", "print('hello')\n")
        self.ctl("group", "add", "g", "--repo", self.repo,
                 "--files", "init.lua")
        self.ctl("add", "1001", "--group", "g", "--secret", "s-1001",
                 "--label", "kitchen")
        self.ctl("add", "1002", "--group", "g", "--secret", "s-1002")
        self.write_token = self.token("ops")
        self.read_token = self.token("viewer", "--read-only")

    def token(self, name, *flags):
        out = self.ctl("token", "add", name, "--json", *flags).stdout
        return json.loads(out)["token"]

    def start_http(self, config=""):
        return self.start(config, http=True)

    def request(self, path, token=None, method="GET", body=None,
                headers=None):
        """(status, headers, body bytes) of one request."""
        url = f"http://127.0.0.1:{self.daemon.http_port}{path}"
        req = urllib.request.Request(url, method=method, data=body,
                                     headers=dict(headers or {}))
        if token is not None:
            req.add_header("Authorization", "Bearer " + token)
        try:
            with urllib.request.urlopen(req, timeout=WAIT) as res:
                return res.status, res.headers, res.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()

    def get_json(self, path, token=None):
        status, _, body = self.request(path, token or self.read_token)
        self.assertEqual(status, 200, body)
        return json.loads(body)

    def ctl_json(self, *args):
        return json.loads(self.ctl(*args, "--json").stdout)

    def metrics(self):
        status, headers, body = self.request("/metrics", self.read_token)
        self.assertEqual(status, 200, body)
        self.assertTrue(headers["Content-Type"].startswith("text/plain"))
        samples = {}
        for family in text_string_to_metric_families(body.decode()):
            for s in family.samples:
                key = (s.name, tuple(sorted(s.labels.items())))
                samples[key] = s.value
        return samples

    def provision(self, chip):
        flash = self.flash("flash-" + chip)
        res = self.boot(flash, chip, "s-" + chip, boots=2)
        self.assertEqual(res.returncode, harness.DEVICE_APP_STARTED,
                         res.stderr)
        return flash

    # -- metrics ---------------------------------------------------------

    def test_metrics_count_sessions_by_outcome_and_reason(self):
        self.start_http()
        self.provision("1001")  # updated, then current
        bad = self.boot(self.flash("bad"), "1002", "wrong-secret")
        self.assertNotEqual(bad.returncode, harness.DEVICE_REBOOTED)
        unknown = self.boot(self.flash("unknown"), "4242", "whatever")
        self.assertNotEqual(unknown.returncode, harness.DEVICE_REBOOTED)

        m = self.metrics()
        self.assertEqual(m[("luaotad_checkins_total", ())], 2)
        self.assertEqual(m[("luaotad_updates_total", ())], 1)
        self.assertEqual(m[("luaotad_current_total", ())], 1)
        self.assertEqual(m[("luaotad_sessions_total",
                            (("outcome", "updated"),))], 1)
        self.assertEqual(m[("luaotad_sessions_total",
                            (("outcome", "rejected"),))], 2)
        self.assertEqual(m[("luaotad_rejections_total",
                            (("reason", "bad_signature"),))], 1)
        self.assertEqual(m[("luaotad_rejections_total",
                            (("reason", "unknown_chip"),))], 1)
        # Every session ended is in the duration histogram; answered
        # ones in the latency histogram.
        self.assertEqual(m[("luaotad_session_duration_seconds_count", ())], 4)
        self.assertEqual(m[("luaotad_session_duration_seconds_bucket",
                            (("le", "+Inf"),))], 4)
        self.assertGreaterEqual(
            m[("luaotad_checkin_latency_seconds_count", ())], 2)
        self.assertEqual(m[("luaotad_sessions_open", ())], 0)
        self.assertEqual(m[("luaotad_history_queue_length", ())], 0)
        # Chips by last outcome, as luaotactl list counts them.
        by_outcome = {}
        for chip in self.ctl_json("list"):
            outcome = chip["last_outcome"] or "never"
            by_outcome[outcome] = by_outcome.get(outcome, 0) + 1
        self.assertEqual(by_outcome, {"current": 1, "rejected": 1})
        for outcome, count in by_outcome.items():
            self.assertEqual(
                m[("luaotad_chips", (("last_outcome", outcome),))], count)
        self.assertEqual(m[("luaotad_rollouts", (("state", "running"),))], 0)
        # No chip id, secret or peer ever becomes a label (cardinality).
        for name, labels in m:
            for _, value in labels:
                self.assertNotIn("1001", value)
                self.assertNotIn("4242", value)
                self.assertNotIn("s-100", value)
                self.assertNotIn("127.0.0.1", value)

    def test_http_listen_from_the_configuration(self):
        # Without systemd's socket: luaotad binds http_listen itself.
        self.start("http_listen = 127.0.0.1:0\n")
        deadline = time.monotonic() + WAIT
        port = None
        while port is None and time.monotonic() < deadline:
            for line in self.daemon.read_log().splitlines():
                if "event=http-listening" in line:
                    port = int(line.rsplit(":", 1)[1].split()[0])
            if port is None:
                self.daemon.wait_for("STATUS=", count=2)
        self.assertIsNotNone(port, self.daemon.read_log())
        self.daemon.http_port = port
        self.assertEqual(self.get_json("/api/v1/summary")["chips"], 2)

    def test_http_is_off_by_default(self):
        self.start()
        self.assertNotIn("http-listening", self.daemon.read_log())

    # -- tokens ----------------------------------------------------------

    def test_everything_but_the_page_needs_a_token(self):
        self.start_http()
        for path in ("/metrics", "/api/v1/chips", "/api/v1/summary",
                     "/api/v1/history", "/api/v1/groups"):
            status, headers, body = self.request(path)
            self.assertEqual(status, 401, path)
            self.assertIn("Bearer", headers["WWW-Authenticate"])
            status, _, _ = self.request(path, token="lota_" + "0" * 64)
            self.assertEqual(status, 401, path)
            status, _, _ = self.request(
                path, headers={"Authorization": "Basic dXNlcjpwYXNz"})
            self.assertEqual(status, 401, path)
        # The page itself holds no data.
        status, headers, body = self.request("/")
        self.assertEqual(status, 200)
        self.assertIn(b"luaotad", body)
        self.assertIn("default-src 'self'",
                      headers["Content-Security-Policy"])
        m = self.metrics()
        self.assertEqual(m[("luaotad_http_refused_total", ())], 15)

    def test_read_only_tokens_cannot_write_and_removed_tokens_stop(self):
        rollout = self.start_rollout()
        self.start_http()
        path = f"/api/v1/rollouts/{rollout}/pause"
        status, _, body = self.request(path, self.read_token, "POST", b"")
        self.assertEqual(status, 403, body)
        self.assertEqual(self.ctl_json("rollout", "status", "g")["state"],
                         "running")
        self.ctl("token", "remove", "viewer")
        status, _, _ = self.request("/api/v1/chips", self.read_token)
        self.assertEqual(status, 401)
        used = {t["name"]: t for t in self.ctl_json("token", "list")}
        self.assertNotIn("viewer", used)
        self.assertIsNone(used["ops"]["last_used"])
        status, _, body = self.request(path, self.write_token, "POST", b"")
        self.assertEqual(status, 200, body)
        used = {t["name"]: t for t in self.ctl_json("token", "list")}
        self.assertIsNotNone(used["ops"]["last_used"])

    def test_token_names_are_checked_and_unique(self):
        res = self.ctl("token", "add", "bad name", ok=False)
        self.assertEqual(res.returncode, 2)
        res = self.ctl("token", "add", "ops", ok=False)
        self.assertEqual(res.returncode, 1)
        self.assertIn("already exists", res.stderr)
        # Only a hash is kept: the token itself is nowhere in the file.
        with open(self.db, "rb") as fp:
            self.assertNotIn(self.write_token.encode(), fp.read())

    # -- the API is luaotactl's views ------------------------------------

    def test_api_answers_what_luaotactl_prints(self):
        self.start_http()
        self.provision("1001")
        self.assertEqual(self.get_json("/api/v1/chips"),
                         self.ctl_json("list"))
        self.assertEqual(self.get_json("/api/v1/chips?failing=1"),
                         self.ctl_json("list", "--failing"))
        self.assertEqual(self.get_json("/api/v1/chips?silent_for=1h"),
                         self.ctl_json("list", "--silent-for", "1h"))
        self.assertEqual(self.get_json("/api/v1/chips/1001"),
                         self.ctl_json("list")[0])
        self.assertEqual(self.get_json("/api/v1/groups"),
                         self.ctl_json("group", "list"))
        self.assertEqual(self.get_json("/api/v1/groups/g"),
                         self.ctl_json("group", "show", "g"))
        page = self.get_json("/api/v1/history?limit=20")
        self.assertEqual(page["sessions"], self.ctl_json("history"))
        self.assertIsNone(page["next_before"])
        self.assertEqual(self.get_json("/api/v1/chips/1001/history")
                         ["sessions"], self.ctl_json("history", "1001"))
        first = page["sessions"][0]["id"]
        self.assertEqual(self.get_json(f"/api/v1/history/{first}"),
                         page["sessions"][0])

    def test_api_refuses_what_luaotactl_refuses(self):
        self.start_http()
        for path, status in (("/api/v1/chips/" + "9" * 40, 400),
                             ("/api/v1/chips/4242", 404),
                             ("/api/v1/groups/nope", 404),
                             ("/api/v1/history?limit=0", 400),
                             ("/api/v1/history?since=yesterday", 400),
                             ("/api/v1/chips?silent_for=soon", 400),
                             ("/api/v1/rollouts/7", 404),
                             ("/api/v1/rollouts?group=nope", 404),
                             ("/api/v1/nothing", 404),
                             ("/api/v1/chips/%2e%2e", 400)):
            got, _, body = self.request(path, self.read_token)
            self.assertEqual(got, status, path)
            self.assertIn("error", json.loads(body), path)
        got, headers, _ = self.request("/api/v1/chips", self.write_token,
                                       "DELETE")
        self.assertIn(got, (405, 501))

    def test_history_pages_follow_the_cursor(self):
        self.start_http()
        flash = self.flash("f")
        for _ in range(3):
            self.boot(flash, "1001", "s-1001", boots=2)
        everything = self.ctl_json("history", "--limit", "0")
        self.assertEqual(len(everything), 4)  # updated, then 3 current
        seen, before = [], None
        while True:
            path = "/api/v1/history?limit=2" + (
                f"&before={before}" if before else "")
            page = self.get_json(path)
            self.assertLessEqual(len(page["sessions"]), 2)
            seen.extend(page["sessions"])
            before = page["next_before"]
            if before is None:
                break
        self.assertEqual(seen, everything)
        failed = self.get_json("/api/v1/history?failed=1")["sessions"]
        self.assertEqual(failed, self.ctl_json("history", "--failed"))

    def start_rollout(self):
        """Pins g, changes the file and starts a rollout; its id."""
        self.ctl("group", "pin", "g")
        self.write("init.lua", "print('next')\n")
        return self.ctl_json("rollout", "start", "g", "--canary", "1")["id"]

    def test_rollouts_are_shown_and_moved_as_luaotactl_does(self):
        rollout = self.start_rollout()
        self.start_http()
        shown = self.get_json(f"/api/v1/rollouts/{rollout}")
        status = self.ctl_json("rollout", "status", "g")
        for key in ("id", "group", "state", "from", "to", "wave", "plan",
                    "waves", "failed", "served", "failure_limit"):
            self.assertEqual(shown[key], status[key], key)
        self.assertEqual([r["id"] for r in self.get_json("/api/v1/rollouts")],
                         [r["id"] for r in self.ctl_json("rollout", "list")])
        base = f"/api/v1/rollouts/{rollout}"
        status, _, body = self.request(base + "/pause", self.write_token,
                                       "POST", b"")
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body)["state"], "paused")
        self.assertEqual(self.ctl_json("rollout", "status", "g")["state"],
                         "paused")
        # The same refusal as luaotactl's, as a conflict.
        status, _, body = self.request(base + "/pause", self.write_token,
                                       "POST", b"")
        self.assertEqual(status, 409)
        res = self.ctl("rollout", "pause", "g", ok=False)
        self.assertIn(json.loads(body)["error"], res.stderr)
        status, _, body = self.request(base + "/resume", self.write_token,
                                       "POST", b"")
        self.assertEqual(json.loads(body)["state"], "running")
        status, _, body = self.request(base + "/abort", self.write_token,
                                       "POST", b"")
        self.assertEqual(json.loads(body)["state"], "aborted")
        m = self.metrics()
        self.assertEqual(m[("luaotad_rollouts", (("state", "running"),))], 0)

    # -- writes: luaotactl's operations ----------------------------------

    def post(self, path, body, method="POST", token=None):
        data = json.dumps(body).encode()
        status, _, reply = self.request(
            path, token or self.write_token, method, data,
            {"Content-Type": "application/json"})
        return status, json.loads(reply)

    def test_chip_add_checks_and_answers_as_luaotactl_add(self):
        self.start_http()
        cases = [({"id": "bad id", "group": "g"}, ["add", "bad id",
                                                   "--group", "g"]),
                 ({"id": "1005"}, ["add", "1005"]),
                 ({"id": "1005", "group": "g", "secret": "has space"},
                  ["add", "1005", "--group", "g", "--secret", "has space"]),
                 ({"id": "1005", "group": "g", "protocol": "v3"},
                  ["add", "1005", "--group", "g", "--protocol", "v3"])]
        for body, args in cases:
            with self.subTest(body=body):
                status, reply = self.post("/api/v1/chips", body)
                self.assertEqual(status, 400, reply)
                res = self.ctl(*args, ok=False)
                self.assertEqual(res.returncode, 2)
                self.assertIn(reply["error"], res.stderr)
                # The secret is never echoed, not even when malformed.
                self.assertNotIn("has space", reply["error"])
        status, reply = self.post("/api/v1/chips", {"id": 1001,
                                                    "group": "g"})
        self.assertEqual(status, 409)
        self.assertIn(reply["error"], self.ctl("add", "1001", "--group",
                                               "g", ok=False).stderr)
        status, reply = self.post("/api/v1/chips", {"id": "1005",
                                                    "group": "nope"})
        self.assertEqual(status, 404)
        self.assertIn("no such group", reply["error"])

        status, made = self.post("/api/v1/chips", {"id": "1005", "group": "g",
                                                   "label": "porch"})
        self.assertEqual(status, 201, made)
        secret = made.pop("secret")
        self.assertRegex(secret, "^[0-9a-f]{32}$")
        listed = {c["id"]: c for c in self.ctl_json("list")}
        self.assertEqual(made, listed["1005"])
        # The secret made works on the device, and is shown nowhere else.
        self.assertEqual(self.boot(self.flash("f5"), "1005", secret,
                                   boots=2).returncode,
                         harness.DEVICE_APP_STARTED)
        self.assertNotIn("secret", self.get_json("/api/v1/chips/1005"))
        status, v2 = self.post("/api/v1/chips", {"id": "1006", "group": "g",
                                                 "protocol": "v2"})
        self.assertEqual(status, 201, v2)
        self.assertRegex(v2["v2_key"], "^[0-9a-f]{64}$")
        self.assertEqual(v2["protocol"], 2)
        # Writes need a write token.
        status, _ = self.post("/api/v1/chips", {"id": "1007", "group": "g"},
                              token=self.read_token)
        self.assertEqual(status, 403)

    def test_bodies_are_checked(self):
        self.start_http()
        for data, ctype, status in (
                (b"{", "application/json", 400),
                (b"[1]", "application/json", 400),
                (b'{"id": "1", "group": "g"} x', "application/json", 400),
                (b'{"id": "1", "group": "g", "colour": 1}',
                 "application/json", 400),
                (b'{"id": ["1"], "group": "g"}', "application/json", 400),
                (b'{"id": "1", "group": "g"}', "text/plain", 415)):
            with self.subTest(data=data):
                got, _, reply = self.request("/api/v1/chips",
                                             self.write_token, "POST", data,
                                             {"Content-Type": ctype})
                self.assertEqual(got, status, reply)
        self.assertEqual(len(self.ctl_json("list")), 2)

    def test_group_writes_are_luaotactl_group_add_and_set(self):
        self.start_http()
        flash = self.provision("1001")
        other = os.path.join(self.dir, "other")
        os.mkdir(other)
        with open(os.path.join(other, "app.lua"), "w") as fp:
            fp.write("print('app')\n")
        for body, args in (
                ({"name": "bad name", "repo": other, "files": ["app.lua"]},
                 ["group", "add", "bad name", "--repo", other,
                  "--files", "app.lua"]),
                ({"name": "h", "repo": other, "files": ["../x"]},
                 ["group", "add", "h", "--repo", other, "--files", "../x"]),
                ({"name": "h", "repo": other, "files": "app.lua",
                  "actions": {"app.lua": "zip"}},
                 ["group", "add", "h", "--repo", other, "--files",
                  "app.lua", "--action", "app.lua=zip"]),
                ({"name": "h", "repo": other, "files": ["app.lua"],
                  "config": {"port": 70000}},
                 ["group", "add", "h", "--repo", other, "--files",
                  "app.lua", "--config", '{"port":70000}'])):
            with self.subTest(body=body):
                status, reply = self.post("/api/v1/groups", body)
                self.assertEqual(status, 400, reply)
                res = self.ctl(*args, ok=False)
                self.assertEqual(res.returncode, 2, res.stderr)
                self.assertIn(reply["error"], res.stderr)
        status, reply = self.post("/api/v1/groups",
                                  {"name": "h", "repo": "/nonexistent",
                                   "files": ["app.lua"]})
        self.assertEqual(status, 422, reply)
        status, made = self.post("/api/v1/groups",
                                 {"name": "h", "repo": other,
                                  "files": ["app.lua"], "lua": "5.3"})
        self.assertEqual(status, 201, made)
        self.assertEqual(made, self.ctl_json("group", "show", "h"))
        status, _ = self.post("/api/v1/groups", {"name": "h", "repo": other,
                                                 "files": ["app.lua"]})
        self.assertEqual(status, 409)

        # A change made through the API is served at the next boot: the
        # daemon's own write is seen at once.
        self.write("extra.txt", "more\n")
        status, changed = self.post("/api/v1/groups/g",
                                    {"files": ["init.lua", "extra.txt"]},
                                    method="PATCH")
        self.assertEqual(status, 200, changed)
        self.assertEqual([f["name"] for f in changed["files"]],
                         ["init.lua", "extra.txt"])
        self.assertEqual(changed, self.ctl_json("group", "show", "g"))
        res = self.boot(flash, "1001", "s-1001", boots=2)
        self.assertEqual(res.returncode, harness.DEVICE_APP_STARTED)
        self.assertEqual(harness.read_device_file(flash, "extra.txt"),
                         b"more\n")
        status, reply = self.post("/api/v1/groups/g", {"name": "x"},
                                  method="PATCH")
        self.assertEqual(status, 400)
        status, reply = self.post("/api/v1/groups/nope", {"lua": "5.3"},
                                  method="PATCH")
        self.assertEqual(status, 404)
        status, reply = self.post("/api/v1/groups/g", {"config": None},
                                  method="PATCH")
        self.assertEqual(status, 200, reply)
        self.assertIsNone(reply["config"])

    def test_pin_and_rollout_start_are_luaotactl_s(self):
        self.start_http()
        status, reply = self.post("/api/v1/rollouts", {"group": "g"})
        self.assertEqual(status, 409)
        res = self.ctl("rollout", "start", "g", ok=False)
        self.assertIn(reply["error"], res.stderr)
        self.assertIn("pin it first", reply["error"])
        status, pinned = self.post("/api/v1/groups/g/pin", {})
        self.assertEqual(status, 200, pinned)
        self.assertRegex(pinned["release"], "^dir:[0-9a-f]{16}$")
        self.write("init.lua", "print('next')\n")
        status, reply = self.post("/api/v1/rollouts",
                                  {"group": "g", "canary": 0})
        self.assertEqual(status, 400)
        self.assertIn("--canary 0", reply["error"])
        # A pinned group's files change only by a rollout.
        status, reply = self.post("/api/v1/groups/g", {"files": ["x.lua"]},
                                  method="PATCH")
        self.assertEqual(status, 409)
        self.assertIn("luaotactl group unpin g", reply["error"])
        status, started = self.post("/api/v1/rollouts",
                                    {"group": "g", "canary": "1",
                                     "steps": "100%", "max_inflight": 5})
        self.assertEqual(status, 201, started)
        shown = self.ctl_json("rollout", "status", "g")
        for key in ("id", "state", "from", "to", "plan", "max_inflight"):
            self.assertEqual(started[key], shown[key], key)
        self.assertEqual(started["from"], pinned["release"])
        status, reply = self.post("/api/v1/rollouts", {"group": "g"})
        self.assertEqual(status, 409)
        self.assertIn("has a rollout under way", reply["error"])
        # The daemon serves it at once: the canary chip gets the new
        # revision, the other one stays on the pinned release.
        waves = {c["id"]: c["wave"] for c in shown["chips"]}
        for chip in ("1001", "1002"):
            self.boot(self.flash("r" + chip), chip, "s-" + chip, boots=2)
        held = {c["id"]: c["revision"] for c in self.ctl_json("list")}
        for chip in ("1001", "1002"):
            self.assertEqual(held[chip], started["to"] if waves[chip] == 1
                             else started["from"], chip)
        self.assertEqual(sorted(waves.values()), [1, 2])
        # Unpinned only once no rollout is under way, as luaotactl says.
        status, reply = self.post("/api/v1/groups/g/unpin", {})
        self.assertEqual(status, 409)
        self.assertIn(reply["error"],
                      self.ctl("group", "unpin", "g", ok=False).stderr)
        status, _ = self.post(f"/api/v1/rollouts/{started['id']}/abort", {})
        self.assertEqual(status, 200)
        status, group = self.post("/api/v1/groups/g/unpin", {})
        self.assertEqual(status, 200, group)
        self.assertIsNone(group["release"])

    # -- hostile clients -------------------------------------------------

    def test_oversize_requests_are_refused(self):
        self.start_http("http_max_body = 1K\n")
        status, _, _ = self.request(
            "/api/v1/rollouts/1/abort", self.write_token, "POST",
            b"x" * 4096, {"Content-Type": "application/json"})
        self.assertEqual(status, 413)
        with socket.create_connection(("127.0.0.1", self.daemon.http_port),
                                      timeout=WAIT) as s:
            s.sendall(b"GET /api/v1/chips HTTP/1.1\r\nHost: x\r\nX-Big: " +
                      b"a" * 20000 + b"\r\n\r\n")
            reply = s.recv(4096)
        self.assertTrue(reply == b"" or b" 400 " in reply.split(b"\r\n")[0]
                        or b" 413 " in reply.split(b"\r\n")[0], reply[:80])
        self.provision("1001")

    def test_slow_clients_are_cut_and_devices_served_meanwhile(self):
        self.start_http("http_timeout = 1s\n")
        slow = []
        for _ in range(20):
            s = socket.create_connection(
                ("127.0.0.1", self.daemon.http_port), timeout=WAIT)
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost:")  # and no more
            slow.append(s)
        # Devices are served while the slow clients hang on.
        self.provision("1001")
        self.assertEqual(self.history("1001")[0]["outcome"], "current")
        # Each slow client is closed by luaotad (recv returns the end),
        # not left to hold its descriptor.
        for s in slow:
            try:
                data = s.recv(4096)
            except ConnectionResetError:
                data = b""
            self.assertFalse(data.startswith(b"HTTP/1.1 200"), data[:40])
            s.close()
        self.assertEqual(self.get_json("/api/v1/summary")["chips"], 2)

    # -- the dashboard ---------------------------------------------------

    def browser(self):
        options = webdriver.ChromeOptions()
        for arg in ("--headless=new", "--no-sandbox", "--disable-gpu",
                    "--disable-dev-shm-usage", "--window-size=1280,1000"):
            options.add_argument(arg)
        options.binary_location = "/usr/bin/chromium"
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"),
                                  options=options)
        self.addCleanup(driver.quit)
        return driver

    def wait_state(self, driver, *states):
        WebDriverWait(driver, WAIT).until(
            lambda d: d.find_element(By.TAG_NAME, "body")
            .get_attribute("data-state") in states)
        return driver.find_element(By.TAG_NAME, "body") \
            .get_attribute("data-state")

    def test_dashboard_renders_the_fleet_in_chromium(self):
        self.ctl("add", "1003", "--group", "g", "--secret", "s-1003")
        rollout = self.start_rollout()
        self.start_http()
        self.provision("1001")
        # 1003 boots with the wrong secret: a rejected, failing chip.
        self.boot(self.flash("bad"), "1003", "wrong")
        driver = self.browser()
        driver.get(f"http://127.0.0.1:{self.daemon.http_port}/"
                   f"#token={self.read_token}")
        self.assertEqual(self.wait_state(driver, "ready", "error"), "ready",
                         driver.find_element(By.ID, "error").text)
        os.makedirs(os.path.dirname(SCREENSHOT), exist_ok=True)
        driver.save_screenshot(SCREENSHOT)
        # The token left the address bar once read.
        self.assertNotIn("token", driver.current_url)
        text = lambda i: driver.find_element(By.ID, i).text  # noqa: E731
        chips = self.ctl_json("list")
        failing = self.ctl_json("list", "--failing")
        self.assertEqual([c["id"] for c in failing], ["1003"])
        self.assertEqual(text("sum-chips"), "3")
        self.assertEqual(text("sum-failing"), "1")
        self.assertEqual(text("sum-never"),
                         str(sum(1 for c in chips if not c["last_seen"])))
        failing_rows = driver.find_elements(By.CSS_SELECTOR,
                                            "#failing tbody tr")
        self.assertEqual([r.text.split()[0] for r in failing_rows],
                         ["1003"])
        self.assertIn("rejected", failing_rows[0].text)
        self.assertEqual(text("version"), "version 0.1.0")
        rows = driver.find_elements(By.CSS_SELECTOR, "#chips tbody tr")
        shown = {r.get_attribute("data-chip"): r.text for r in rows}
        self.assertEqual(set(shown), {"1001", "1002", "1003"})
        self.assertIn("kitchen", shown["1001"])
        self.assertIn("never", shown["1002"])
        history = driver.find_elements(By.CSS_SELECTOR, "#history tbody tr")
        self.assertEqual(len(history), len(self.ctl_json("history")))
        item = driver.find_element(By.CSS_SELECTOR,
                                   f"#rollouts li[data-rollout='{rollout}']")
        self.assertIn("rollout %d of g" % rollout, item.text)
        self.assertIn("running, wave 1 of", item.text)
        self.assertFalse(driver.find_element(By.ID, "login").is_displayed())
        # Nothing failed to load, nothing threw.
        errors = [e for e in driver.get_log("browser")
                  if e["level"] == "SEVERE"]
        self.assertEqual(errors, [])

    def test_dashboard_asks_for_a_token_and_says_when_it_is_bad(self):
        self.start_http()
        driver = self.browser()
        driver.get(f"http://127.0.0.1:{self.daemon.http_port}/")
        self.assertEqual(self.wait_state(driver, "login"), "login")
        self.assertTrue(driver.find_element(By.ID, "login").is_displayed())
        self.assertFalse(driver.find_element(By.ID, "fleet").is_displayed())
        field = driver.find_element(By.ID, "token")
        field.send_keys("lota_" + "1" * 64)
        driver.find_element(By.CSS_SELECTOR, "#login button").click()
        self.assertEqual(self.wait_state(driver, "error"), "error")
        self.assertIn("bad token", driver.find_element(By.ID, "error").text)
        field.clear()
        field.send_keys(self.read_token)
        driver.find_element(By.CSS_SELECTOR, "#login button").click()
        self.assertEqual(self.wait_state(driver, "ready"), "ready")
        self.assertEqual(driver.find_element(By.ID, "sum-chips").text, "2")


if __name__ == "__main__":
    harness.main()
