"""Hostile and scripted peers for the reliability tests: raw sockets from
chosen loopback addresses, and a scripted device that speaks the legacy
protocol with a real secret but answers as the test tells it."""

import json
import os
import select
import socket
import time

import harness

EVENT_TIMEOUT = 60.0  # generous: sanitizers and two shared cores


def connect(port, source="127.0.0.1", timeout=EVENT_TIMEOUT):
    """A TCP connection to the daemon from a chosen loopback address (the
    per-address caps see 127.0.0.2 and 127.0.0.1 as two peers)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                 source_address=(source, 0))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def send_quietly(sock, data):
    """Sends what the daemon accepts; it may close or reset us at any time."""
    try:
        sock.sendall(data)
        return True
    except OSError:
        return False


def wait_closed(sock, timeout=EVENT_TIMEOUT):
    """Waits for the daemon to close sock (EOF or reset); returns the bytes
    it sent before.  Raises AssertionError when it stays open."""
    got = b""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("the daemon kept the connection open")
        ready, _, _ = select.select([sock], [], [], left)
        if not ready:
            continue
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, TimeoutError, socket.timeout):
            return got
        if not chunk:
            return got
        got += chunk


def wait_all_closed(socks, timeout=EVENT_TIMEOUT):
    """Waits until every socket in socks has seen EOF or a reset."""
    open_socks = set(socks)
    deadline = time.monotonic() + timeout
    while open_socks:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"{len(open_socks)} connections still open")
        ready, _, _ = select.select(list(open_socks), [], [], min(left, 1.0))
        for s in ready:
            try:
                if not s.recv(65536):
                    open_socks.discard(s)
            except OSError:
                open_socks.discard(s)


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def wait_fds(pid, baseline, timeout=EVENT_TIMEOUT):
    """Waits until the daemon holds no more descriptors than baseline."""
    deadline = time.monotonic() + timeout
    while open_fds(pid) > baseline:
        if time.monotonic() > deadline:
            raise AssertionError(
                f"daemon holds {open_fds(pid)} descriptors, baseline "
                f"{baseline}")
        time.sleep(0.1)


def wait_log(daemon, text, count=1, timeout=EVENT_TIMEOUT):
    """Waits until the daemon's log holds text count times; returns the log."""
    deadline = time.monotonic() + timeout
    while True:
        log = daemon.read_log()
        if log.count(text) >= count:
            return log
        if time.monotonic() > deadline or daemon.proc.poll() is not None:
            raise AssertionError(f"log never showed {text!r} x{count}: "
                                 + log[-3000:])
        time.sleep(0.1)


def wait_until(predicate, what, timeout=EVENT_TIMEOUT):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def read_record(sock):
    """One server record: (json text, object, payload); None at EOF."""
    buf = b""
    while not buf.endswith(b"\n"):
        try:
            c = sock.recv(1)
        except OSError:
            return None
        if not c:
            return None
        buf += c
    text = buf[:-7].decode()
    obj = json.loads(text)
    payload = b""
    while len(payload) < obj.get("data", 0):
        c = sock.recv(obj["data"] - len(payload))
        if not c:
            return None
        payload += c
    return text, obj, payload


def hello(chip, secret, extra=None):
    fields = {"a": "HI", "id": int(chip) if str(chip).isdigit() else chip}
    fields.update(extra or {})
    return harness.record(secret, json.dumps(fields, separators=(",", ":")))


def scripted_device(port, chip, secret, answer, source="127.0.0.1",
                    hello_extra=None):
    """Plays a device whose replies come from answer(command object):
    bytes to send raw, or None to stop.  Returns the commands received."""
    got = []
    with connect(port, source) as s:
        s.sendall(hello(chip, secret, hello_extra))
        while True:
            rec = read_record(s)
            if rec is None:
                return got
            got.append(rec[1])
            if rec[1].get("a") == "restart" or rec[1].get("r") == "OK!":
                return got
            reply = answer(rec[1])
            if reply is None:
                return got
            if not send_quietly(s, reply):
                return got
