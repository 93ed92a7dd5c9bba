#!/usr/bin/env python3
"""Tail mode against the real auditd writing a real log: a ping sweep spanning three forced
rotations (SIGUSR1 to auditd) alerts exactly once; a sweep during which scanwatch is killed with
SIGKILL and restarted with the same state file still alerts exactly once, and no event is
processed twice (checked on --events). A hard link of ping under another name (`pong`) sweeping
110 targets alerts once under the hardened profile (device and inode match) and never under
--profile elastic.
Needs root and a kernel that accepts audit rules; otherwise exits 77 (skipped) saying why.
Usage: tail_auditd_test.py SCANWATCH_BINARY"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

from auditd_fixture import (AUID, check, cleanup, failures, install_signal_handlers, preflight,
                            start_auditd, state, stop_auditd)

BIN = os.path.abspath(sys.argv[1])


def lines(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(l) for l in f.read().splitlines() if l]


def wait_for(predicate, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def sweep(first, count, rotate_every=0):
    """A ping sweep by one shell under the test's login uid; the shell itself sends auditd
    SIGUSR1 (a builtin: no exec) every `rotate_every` targets."""
    rotate = f'(( i % {rotate_every} == 0 )) && kill -USR1 {state["auditd"].pid} && sleep 0.3;' if rotate_every else ""
    script = (f"echo {AUID} > /proc/self/loginuid && cd / && "
              f"for ((i={first};i<{first + count};i++)); do {rotate} ping -c 1 -W 1 127.0.$((i/250)).$((i%250+1)) >/dev/null; done")
    return subprocess.Popen(["bash", "-c", script])


def hard_link_sweep(tmp, log, procs):
    print("== a hard link of ping named pong: hardened alerts once, elastic never", flush=True)
    # A hard link must be on ping's file system; /var/tmp usually is, /tmp often is not.
    ping = os.path.realpath(subprocess.run(["sh", "-c", "command -v ping"], capture_output=True,
                                           text=True).stdout.strip())
    with tempfile.TemporaryDirectory(prefix="scanwatch-pong-", dir="/var/tmp") as links:
        pong = os.path.join(links, "pong")
        try:
            os.link(ping, pong)
        except OSError as e:
            print(f"SKIP the hard-link case: cannot link {ping} into /var/tmp ({e})", flush=True)
            return
        runs = {}
        for profile in ("hardened", "elastic"):
            alerts = os.path.join(tmp, f"pong-{profile}.ndjson")
            p = subprocess.Popen([BIN, "tail", log, "--profile", profile, "--state",
                                  os.path.join(tmp, f"pong-{profile}.state"), "--output",
                                  f"file:{alerts}", "--host-id", "it", "--host-name", "it"],
                                 stderr=subprocess.DEVNULL)
            procs.append(p)
            runs[profile] = (p, alerts)
        time.sleep(1.5)  # both at the end of the log: only the sweep below is read
        script = (f"echo {AUID} > /proc/self/loginuid && cd / && "
                  f"for ((i=1;i<=110;i++)); do {pong} -c1 -W1 127.0.0.$i >/dev/null; done")
        subprocess.run(["bash", "-c", script])
        check(wait_for(lambda: len(lines(runs["hardened"][1])) >= 1, 5),
              "the pong sweep alerted under the hardened profile")
        time.sleep(2.5)  # the last event completes by its age; nothing else may come
        hardened = lines(runs["hardened"][1])
        check(len(hardened) == 1, f"exactly one alert, hardened ({len(hardened)})")
        check(all(a["process"]["executable"] == pong for a in hardened),
              f"the alert names the link ({[a['process']['executable'] for a in hardened]})")
        elastic = lines(runs["elastic"][1])
        check(len(elastic) == 0, f"no alert under --profile elastic ({len(elastic)})")
        for p, _ in runs.values():
            p.send_signal(signal.SIGTERM)
            p.wait(20)


def main():
    preflight()
    install_signal_handlers()
    procs = []
    try:
        with tempfile.TemporaryDirectory(prefix="scanwatch-tail-it-") as tmp:
            start_auditd(tmp, num_logs=10)
            log = os.path.join(tmp, "audit.log")
            alerts = os.path.join(tmp, "alerts.ndjson")
            events = os.path.join(tmp, "events.ndjson")
            cmd = [BIN, "tail", log, "--from-start", "--state", os.path.join(tmp, "state.json"),
                   "--output", f"file:{alerts}", "--events", events, "--host-id", "it", "--host-name", "it"]
            tail = subprocess.Popen(cmd, stderr=subprocess.DEVNULL)
            procs.append(tail)

            print("== a sweep across three rotations", flush=True)
            s = sweep(1, 150, rotate_every=40)
            s.wait()
            rotated = sorted(n for n in os.listdir(tmp) if n.startswith("audit.log."))
            check(len(rotated) >= 3, f"auditd rotated its log ({rotated})")
            check(wait_for(lambda: len(lines(alerts)) >= 1, 5), "the sweep alerted")
            time.sleep(2.5)  # the last event completes by its age; nothing else may come
            check(len(lines(alerts)) == 1, f"exactly one alert ({len(lines(alerts))})")
            pings = [e for e in lines(events) if e["process"]["name"] == "ping"]
            check(len(pings) == 150, f"all 150 pings read across the rotations ({len(pings)})")

            print("== SIGKILL in the middle of a sweep, restart with the same state", flush=True)
            s = sweep(1000, 150)
            check(wait_for(lambda: len([e for e in lines(events) if e["process"]["name"] == "ping"]) >= 200, 30),
                  "the second sweep is under way")
            tail.send_signal(signal.SIGKILL)
            tail.wait()
            time.sleep(0.5)
            tail = subprocess.Popen(cmd, stderr=subprocess.DEVNULL)
            procs.append(tail)
            s.wait()
            check(wait_for(lambda: len(lines(alerts)) >= 2, 10), "the interrupted sweep alerted")
            time.sleep(2.5)
            got = lines(alerts)
            check(len(got) == 2, f"exactly one alert per sweep ({len(got)})")
            seqs = [e["event"]["sequence"] for e in lines(events)]
            check(len(seqs) == len(set(seqs)), f"no event processed twice ({len(seqs) - len(set(seqs))} twice)")
            pings = [e for e in lines(events) if e["process"]["name"] == "ping"]
            check(len(pings) == 300, f"every ping exactly once ({len(pings)})")

            tail.send_signal(signal.SIGTERM)
            tail.wait(20)
            check(tail.returncode == 0, f"SIGTERM: exit 0 ({tail.returncode})")
            hard_link_sweep(tmp, log, procs)
            stop_auditd()
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        cleanup()
    print(f"{len(failures)} failed", flush=True)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
