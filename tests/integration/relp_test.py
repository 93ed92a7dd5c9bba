#!/usr/bin/env python3
"""RELP output (docs/outputs.md, "RELP") against a real rsyslogd with imrelp on a loopback port.
`scanwatch plugin` is fed shifted copies of the ping sweep (one alert each) through a pipe while
rsyslogd is SIGKILLed and started again twice mid-stream, once while messages are in flight. Every
alert scanwatch printed on stdout must arrive in rsyslog's file at least once (RELP acknowledges
each message; the unacknowledged window is sent again after a reconnect, so duplicates are
allowed and counted); the exit status is 0 and the stats count nothing lost.

rsyslogd runs its imrelp ruleset with a direct queue, so a message is in its file before it is
acknowledged: the kill then loses nothing rsyslog acknowledged.
Skips (77) without rsyslogd or its imrelp module (apt-get install rsyslog-relp).
Usage: relp_test.py SCANWATCH_BINARY SOURCE_DIR"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

BIN = os.path.abspath(sys.argv[1])
SRC = os.path.abspath(sys.argv[2])
sys.path.insert(0, os.path.join(SRC, "bench"))
from audit_stream import events_of, shifted_stream  # noqa: E402
SWEEP = os.path.join(SRC, "samples", "ping_sweep.enriched.log")
COPIES = 300
failures = []
procs = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def skip(why):
    print(f"SKIP: {why}", flush=True)
    sys.exit(77)


def wait_for(cond, timeout=20.0, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(step)
    return cond()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Rsyslog:
    def __init__(self, tmp, port):
        self.dir = tmp
        self.port = port
        self.out = os.path.join(tmp, "received.log")
        self.conf = os.path.join(tmp, "rsyslog.conf")
        self.pidfile = os.path.join(tmp, "rsyslogd.pid")
        self.proc = None
        os.makedirs(os.path.join(tmp, "work"), exist_ok=True)
        with open(self.conf, "w") as f:
            f.write(f"""
global(workDirectory="{tmp}/work" maxMessageSize="64k")
module(load="imrelp")
input(type="imrelp" address="127.0.0.1" port="{port}" ruleset="it")
template(name="it" type="string" string="%app-name%\\t%msg%\\n")
ruleset(name="it" queue.type="Direct") {{
    action(type="omfile" file="{self.out}" template="it" flushOnTXEnd="on")
}}
""")

    def validate(self):
        r = subprocess.run(["rsyslogd", "-N1", "-f", self.conf], capture_output=True, text=True)
        return r.returncode == 0, (r.stderr or r.stdout).strip()

    def start(self):
        if os.path.exists(self.pidfile):
            os.remove(self.pidfile)
        self.proc = subprocess.Popen(["rsyslogd", "-n", "-f", self.conf, "-i", self.pidfile],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(self.proc)

        def listening():
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return True
            except OSError:
                return False
        if not wait_for(listening, timeout=20, step=0.1):
            raise RuntimeError("rsyslogd did not listen")

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def alerts(self):
        try:
            data = open(self.out, "rb").read().decode("utf-8", "replace")
        except FileNotFoundError:
            return []
        return [l.split("\t", 1)[1].strip() for l in data.split("\n") if l.startswith("scanwatch\t")]


def main():
    if shutil.which("rsyslogd") is None:
        skip("rsyslogd is not installed (apt-get install rsyslog rsyslog-relp)")
    events = events_of(SWEEP)
    keep = os.environ.get("RELP_TEST_KEEP")
    with tempfile.TemporaryDirectory(prefix="scanwatch-relp-", dir=keep) as tmp:
        rs = Rsyslog(tmp, free_port())
        ok, why = rs.validate()
        if not ok:
            skip(f"rsyslogd cannot load imrelp (apt-get install rsyslog-relp): {why[-300:]}")
        try:
            run(rs, events)
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()
    print(f"{len(failures)} failed", flush=True)
    sys.exit(1 if failures else 0)


def run(rs, events):
    rs.start()
    p = subprocess.Popen([BIN, "plugin", "--stats", "--host-id", "relp-it", "--host-name", "relp-it",
                          "--output=-", f"--output=relp://127.0.0.1:{rs.port}"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)
    procs.append(p)
    lines, err = [], []
    readers = [threading.Thread(target=lambda: lines.extend(l.rstrip(b"\n").decode() for l in p.stdout)),
               threading.Thread(target=lambda: err.append(p.stderr.read().decode("utf-8", "replace")))]
    for t in readers:
        t.start()
    started = time.monotonic()
    fed = 0

    def feed(upto):
        nonlocal fed
        while fed < upto:
            p.stdin.write(shifted_stream(events, fed))
            fed += 1

    feed(80)
    check(wait_for(lambda: len(rs.alerts()) >= 40), "alerts reach rsyslog over RELP")
    feed(120)
    rs.kill()  # mid-stream: messages in flight, some acknowledged, some not
    feed(180)  # while it is down
    time.sleep(1.0)
    rs.start()
    feed(240)
    wait_for(lambda: len(rs.alerts()) >= 150)
    rs.kill()
    feed(COPIES)
    time.sleep(0.5)
    rs.start()
    p.stdin.close()
    rc = p.wait(120)
    for t in readers:
        t.join()
    elapsed = time.monotonic() - started
    stderr = "".join(err)
    check(rc == 0, f"scanwatch exits 0 ({rc}) {stderr[-400:] if rc else ''}")
    check(len(lines) == COPIES, f"{COPIES} alerts on stdout ({len(lines)})")
    wait_for(lambda: set(rs.alerts()) >= set(lines), timeout=15)
    got = rs.alerts()
    missing = set(lines) - set(got)
    dups = len(got) - len(set(got))
    check(not missing, f"every alert arrived through two SIGKILLs of rsyslogd ({len(missing)} missing)")
    check(set(got) <= set(lines), "nothing arrived that scanwatch did not write")
    print(f"     {len(got)} received for {len(lines)} alerts: {dups} duplicates (at least once), "
          f"{elapsed:.1f} s", flush=True)
    stats = [json.loads(l) for l in stderr.splitlines() if l.startswith('{"type":"stats"')]
    relp = stats[-1]["outputs"] if stats else {}
    check(bool(stats) and '"lost":0' in json.dumps(relp, separators=(",", ":")).replace(" ", ""),
          f"the stats count nothing lost ({json.dumps(relp)[:400]})")


if __name__ == "__main__":
    main()
