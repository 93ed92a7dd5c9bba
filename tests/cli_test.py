#!/usr/bin/env python3
"""Integration tests through the real scanwatch binary: exit codes, messages, stdin, stats,
JSON validity of every output line, and the golden alerts of every sample.
Usage: cli_test.py SCANWATCH_BINARY SOURCE_DIR"""
import json
import os
import subprocess
import sys
import tempfile

BIN, SRC = sys.argv[1], sys.argv[2]
SAMPLES = os.path.join(SRC, "samples")
GOLDEN = os.path.join(SRC, "tests", "golden")
HOST = ["--host-id", "sample-host-id", "--host-name", "sample-host"]
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def run(args, stdin=None):
    return subprocess.run([BIN] + args, input=stdin, capture_output=True)


def json_lines(data):
    """Every line must parse as JSON (Python's parser follows RFC 8259's grammar)."""
    out = []
    for line in data.decode("utf-8").splitlines():
        out.append(json.loads(line))
    return out


def canon(alert):
    alert["event"]["created"] = "1970-01-01T00:00:00.000Z"
    return alert


r = run(["--version"])
check(r.returncode == 0 and r.stdout.startswith(b"scanwatch "), "--version prints the version")

r = run(["replay", "/nonexistent/audit.log"])
check(r.returncode == 2, "a missing path exits 2")
check(b"/nonexistent/audit.log" in r.stderr, "the error names the missing path")

r = run(["replay"])
check(r.returncode == 2, "replay without a path is a usage error")

r = run(["replay", "--name-match", "bogus", os.path.join(SAMPLES, "noise.enriched.log")])
check(r.returncode == 2, "a bad --name-match value is a usage error")

# Every sample through the binary gives the reviewed golden alerts.
for name in sorted(os.listdir(SAMPLES)):
    if not (name.endswith(".log") or name == "rotated"):
        continue
    r = run(["replay", "--stats"] + HOST + [os.path.join(SAMPLES, name)])
    check(r.returncode == 0, f"{name}: exit 0")
    alerts = [canon(a) for a in json_lines(r.stdout)]
    with open(os.path.join(GOLDEN, name + ".alerts.ndjson"), "rb") as f:
        expected = [canon(a) for a in json_lines(f.read())]
    check(alerts == expected, f"{name}: alerts equal the golden file ({len(alerts)})")
    stats = json.loads(r.stderr.decode().strip().splitlines()[-1])
    check(stats["type"] == "stats" and stats["alerts"] == len(alerts), f"{name}: stats count the alerts")

# stdin gives what the file gives.
sweep = os.path.join(SAMPLES, "ping_sweep.enriched.log")
with open(sweep, "rb") as f:
    data = f.read()
from_file = [canon(a) for a in json_lines(run(["replay"] + HOST + [sweep]).stdout)]
from_stdin = [canon(a) for a in json_lines(run(["replay"] + HOST + ["-"], stdin=data).stdout)]
check(len(from_file) == 1 and from_file == from_stdin, "replay of - (stdin) equals replay of the file")

# --name-match comm is Elastic's behaviour: busybox applets are not ping.
busybox = os.path.join(SAMPLES, "busybox_ping.enriched.log")
check(len(json_lines(run(["replay", "--name-match", "comm"] + HOST + [busybox]).stdout)) == 0,
      "--name-match comm does not see busybox ping")
check(len(json_lines(run(["replay"] + HOST + [busybox]).stdout)) == 1, "--name-match any does")

# Events: valid JSON even with bytes that are not UTF-8, reversible via surrogateescape.
with tempfile.TemporaryDirectory() as tmp:
    events_path = os.path.join(tmp, "events.ndjson")
    r = run(["replay", "--events", events_path] + HOST + [os.path.join(SAMPLES, "noise.enriched.log")])
    check(r.returncode == 0, "--events to a file exits 0")
    with open(events_path, "rb") as f:
        events = json_lines(f.read())
    check(len(events) == 20, f"noise has 20 exec events (17 + 2 failed execve, 1 execveat) ({len(events)})")
    raw_args = [a.encode("utf-8", "surrogateescape") for e in events for a in e["process"]["args"]]
    check(b"bad\xff\xfebytes" in raw_args, "invalid UTF-8 argument bytes are recovered exactly")
    check(any(e["event"]["outcome"] == "failure" for e in events), "failed execs have outcome failure")

    # Damaged input: garbage, NUL, huge line; the alert survives and is counted.
    damaged = data.replace(b"\ntype=EOE", b"\ngarbage line\ntype=EOE")
    damaged = b"\x00\x01\x02 junk\n" + b"A" * (5 << 20) + b"\n" + damaged + b"type=EXECVE msg=audit(17"
    r = run(["replay", "--stats"] + HOST + ["-"], stdin=damaged)
    check(r.returncode == 0, "damaged input exits 0")
    check([canon(a) for a in json_lines(r.stdout)] == from_file, "damaged input keeps the alert")
    stats = json.loads(r.stderr.decode().strip().splitlines()[-1])
    check(stats["malformed"]["too_long"] == 1 and stats["malformed"]["nul_byte"] == 1
          and stats["malformed"]["truncated"] == 1, "malformed lines are counted by reason")
    check(b"skipped malformed line" in r.stderr, "malformed lines are reported with their position")

r = run(["rules", "show"])
check(r.returncode == 0 and b"03c23d45-d3cb-4ad4-ab5d-b361ffe8724a" in r.stdout, "rules show prints the built-in rule")

print(f"{len(failures)} failed")
sys.exit(1 if failures else 0)
