#!/usr/bin/env python3
"""Tail mode fault test (no root needed): a writer appends a long audit stream to a file, with a
rename rotation in the middle, while `scanwatch tail --state` follows it and is killed with
SIGKILL at random points 20 times and restarted with the same state file. Afterwards the events
written (--events) are exactly the stream's exec events, once each, and the alerts equal those
of one uninterrupted replay of the same stream. Run twice: with `--events PATH` and with
`--events file:PATH`. Then a state file saved by another run must not cut back files this run
does not write, nor a file at the same path that is no longer the file the state measured.
Usage: tail_restart_test.py SCANWATCH_BINARY SOURCE_DIR"""
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time

BIN, SRC = sys.argv[1], sys.argv[2]
HOST = ["--host-id", "tail-host", "--host-name", "tail-host"]
STAMP = re.compile(rb"msg=audit\((\d+)\.(\d+):(\d+)\)")
failures = []
procs = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def stream_lines():
    """Several samples, each repeated with shifted times and serials: ~40k records."""
    out = []
    copy = 0
    for name in ["ping_sweep.enriched.log", "nc_scan.raw.log", "noise.enriched.log",
                 "xargs_parallel_ping.enriched.log", "busybox_ping.enriched.log"]:
        with open(os.path.join(SRC, "samples", name), "rb") as f:
            lines = f.read().splitlines(keepends=True)
        for _ in range(4):
            copy += 1
            shift = copy * 700  # more than the rule's window: every copy stands alone
            out.extend(STAMP.sub(lambda m: b"msg=audit(%d.%s:%d)" % (int(m.group(1)) + shift, m.group(2),
                                                                     int(m.group(3)) + copy * 10_000_000), l)
                       for l in lines)
    return out


def canon_alert(line):
    """Tail mode runs live: it looks up the user names RAW logs lack, which a replay must not
    (they would be another host's). Names aside, the alerts must be identical."""
    a = json.loads(line)
    a["event"]["created"] = "-"
    a["user"].pop("name", None)
    a["kibana.alert.reason"] = re.sub(r" as \S+ (\S+ )?under", " as - under", a["kibana.alert.reason"])
    return a


def event_ids(path):
    with open(path) as f:
        return [json.loads(l)["event"]["sequence"] for l in f.read().splitlines()]


def restarts(events_prefix):
    """20 SIGKILLs; events written through `--events {events_prefix}PATH`."""
    print(f"-- --events {events_prefix}PATH", flush=True)
    rng = random.Random(20261127)
    lines = stream_lines()
    with tempfile.TemporaryDirectory(prefix="scanwatch-tail-") as tmp:
        log = os.path.join(tmp, "audit.log")
        whole = os.path.join(tmp, "whole.log")
        with open(whole, "wb") as f:
            f.writelines(lines)
        ref_alerts = os.path.join(tmp, "ref-alerts.ndjson")
        ref_events = os.path.join(tmp, "ref-events.ndjson")
        subprocess.run([BIN, "replay", "--output", f"file:{ref_alerts}", "--events", ref_events] + HOST + [whole],
                       check=True)

        alerts = os.path.join(tmp, "alerts.ndjson")
        events = os.path.join(tmp, "events.ndjson")
        state = os.path.join(tmp, "state.json")
        cmd = [BIN, "tail", log, "--from-start", "--state", state, "--output", f"file:{alerts}",
               "--events", events_prefix + events] + HOST

        open(log, "wb").close()
        tail = subprocess.Popen(cmd, stderr=subprocess.DEVNULL)
        procs.append(tail)
        kills = 0
        written = 0
        rotated = False
        # Write in bursts of random size (cutting lines anywhere); kill the reader 20 times.
        data = b"".join(lines)
        pos = 0
        kill_points = sorted(rng.sample(range(1, len(data) - 1), 20))
        with open(log, "ab") as out:
            while pos < len(data):
                step = rng.randint(1, 200_000)
                if not rotated and pos + step > len(data) // 2:
                    # auditd rotates between records, never inside a line.
                    step = data.index(b"\n", len(data) // 2) + 1 - pos
                chunk = data[pos:pos + step]
                out.write(chunk)
                out.flush()
                pos += len(chunk)
                if not rotated and pos > len(data) // 2:
                    # auditd's rotation: rename, then continue in a new file.
                    out.close()
                    os.rename(log, log + ".1")
                    out = open(log, "ab")
                    rotated = True
                time.sleep(rng.uniform(0, 0.05))
                while kills < 20 and kill_points[kills] <= pos:
                    time.sleep(rng.uniform(0, 0.3))
                    tail.send_signal(signal.SIGKILL)
                    tail.wait()
                    kills += 1
                    tail = subprocess.Popen(cmd, stderr=subprocess.DEVNULL)
                    procs.append(tail)
        # Let it catch up, then stop it cleanly.
        deadline = time.time() + 60
        expected_events = len(event_ids(ref_events))
        while time.time() < deadline:
            if os.path.exists(events) and len(open(events).read().splitlines()) >= expected_events:
                break
            time.sleep(0.2)
        time.sleep(1.5)  # auparse completes the last event by its age
        tail.send_signal(signal.SIGTERM)
        check(tail.wait(30) == 0, "the last tail exits 0 on SIGTERM")
        check(kills == 20, f"killed with SIGKILL {kills} times")

        got = event_ids(events)
        want = event_ids(ref_events)
        check(len(got) == len(set(got)), f"no event processed twice ({len(got) - len(set(got))} duplicates)")
        check(sorted(got) == sorted(want), f"events equal the input's ({len(got)} of {len(want)})")
        if sorted(got) != sorted(want):
            print("  missing:", sorted(set(want) - set(got))[:10], "extra:", sorted(set(got) - set(want))[:10])
        with open(alerts) as f:
            got_alerts = sorted(json.dumps(canon_alert(l), sort_keys=True) for l in f.read().splitlines())
        with open(ref_alerts) as f:
            want_alerts = sorted(json.dumps(canon_alert(l), sort_keys=True) for l in f.read().splitlines())
        check(got_alerts == want_alerts, f"alerts equal one uninterrupted replay ({len(got_alerts)} of {len(want_alerts)})")
        for g, w in zip(got_alerts, want_alerts):
            if g != w:
                g, w = json.loads(g), json.loads(w)
                print("  differs:", {k: (g[k], w.get(k)) for k in g if g[k] != w.get(k)})
                break


def lines_of(path):
    with open(path, "rb") as f:
        return f.read().splitlines()


def foreign_state():
    """A state file from another run names files and sizes this run must leave alone."""
    print("-- a state file from another run", flush=True)
    sweep = os.path.join(SRC, "samples", "ping_sweep.enriched.log")
    with tempfile.TemporaryDirectory(prefix="scanwatch-tail-") as tmp:
        log = os.path.join(tmp, "audit.log")
        state = os.path.join(tmp, "state.json")
        other_alerts = os.path.join(tmp, "other-alerts.ndjson")
        with open(sweep, "rb") as src, open(log, "wb") as dst:
            dst.write(src.read())
        # The other run: follows the log, writes other-alerts, saves the state.
        other = subprocess.Popen([BIN, "tail", log, "--from-start", "--state", state,
                                  "--output", "file:" + other_alerts] + HOST, stderr=subprocess.DEVNULL)
        procs.append(other)
        time.sleep(2.5)
        other.send_signal(signal.SIGTERM)
        other.wait(30)
        check(len(lines_of(other_alerts)) == 1, "the other run wrote its alert")
        with open(state, "rb") as f:
            saved = f.read()
        # Two more alerts reach other-alerts after its checkpoint (another writer).
        for _ in range(2):
            subprocess.run([BIN, "replay", "--output", "file:" + other_alerts] + HOST + [sweep], check=True)
        before = lines_of(other_alerts)
        check(len(before) == 3, "other-alerts holds 3 alerts")

        # This run uses the same state file but writes elsewhere: other-alerts is not its file.
        mine = os.path.join(tmp, "my-alerts.ndjson")
        with open(state, "wb") as f:
            f.write(saved)
        run = subprocess.Popen([BIN, "tail", log, "--state", state, "--output", "file:" + mine] + HOST,
                               stderr=subprocess.DEVNULL)
        procs.append(run)
        time.sleep(1.5)
        run.send_signal(signal.SIGTERM)
        check(run.wait(30) == 0, "a tail with another run's state exits 0 on SIGTERM")
        check(lines_of(other_alerts) == before, "a file this run does not write is not cut back")

        # This run writes other-alerts, but the file at that path is no longer the one the state
        # measured (rotated away, a new one written): it is not cut back either.
        os.rename(other_alerts, other_alerts + ".1")
        for _ in range(2):
            subprocess.run([BIN, "replay", "--output", "file:" + other_alerts] + HOST + [sweep], check=True)
        before = lines_of(other_alerts)
        with open(state, "wb") as f:
            f.write(saved)
        run = subprocess.Popen([BIN, "tail", log, "--state", state, "--output", "file:" + other_alerts] + HOST,
                               stderr=subprocess.DEVNULL)
        procs.append(run)
        time.sleep(1.5)
        run.send_signal(signal.SIGTERM)
        check(run.wait(30) == 0, "a tail whose output was replaced exits 0 on SIGTERM")
        check(lines_of(other_alerts) == before, "a file replaced since the checkpoint is not cut back")


try:
    restarts("")
    restarts("file:")
    foreign_state()
finally:
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()
print(f"{len(failures)} failed")
sys.exit(1 if failures else 0)
