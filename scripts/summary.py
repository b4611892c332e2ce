#!/usr/bin/env python3
"""Counts test results: every TAP case and every plain meson test from the
builds' testlog.json, plus the checks file of scripts/test.  Prints the
failures, then "N passed, N failed"; exits non-zero when any failed or when
nothing ran at all."""
import json
import os
import re
import sys

TAP_LINE = re.compile(r"^(not ok|ok)\b")


def meson_results(build):
    log = os.path.join(build, "meson-logs", "testlog.json")
    if not os.path.exists(log):
        return
    label = os.path.basename(build)
    with open(log, encoding="utf-8", errors="replace") as fp:
        for line in fp:
            test = json.loads(line)
            name = f"{label}:{test['name']}"
            cases = [m.group(1) for m in
                     (TAP_LINE.match(l) for l in test.get("stdout", "").splitlines())
                     if m]
            if cases:
                for i, verdict in enumerate(cases, 1):
                    yield verdict == "ok", f"{name} case {i}"
                if test["result"] != "OK" and "not ok" not in cases:
                    yield False, f"{name} (exit status)"
            else:
                yield test["result"] in ("OK", "EXPECTEDFAIL", "SKIP"), name


def main():
    checks, builds = sys.argv[1], sys.argv[2:]
    results = []
    with open(checks, encoding="utf-8") as fp:
        for line in fp:
            verdict, name = line.split(None, 1)
            results.append((verdict == "PASS", name.strip()))
    for build in builds:
        results.extend(meson_results(build))
    failed = [name for ok, name in results if not ok]
    for name in failed:
        print(f"FAILED: {name}")
    passed = len(results) - len(failed)
    print(f"{passed} passed, {len(failed)} failed")
    sys.exit(1 if failed or passed == 0 else 0)


if __name__ == "__main__":
    main()
