#!/usr/bin/env python3
"""Plugin-mode latency and intake benchmark (not a test).

A feeder writes audit records of exec events to `scanwatch plugin`'s stdin, as auditd does (each
event's records followed by its EOE record), and timestamps the write of each event's last record.
A reader timestamps each alert line on stdout and matches it to the crossing event by
scanwatch.evidence.last_event.id.

Phase 1 (latency): events paced at --rate events/s (the rate achieved is printed); reports
p50/p99/max from the crossing event's last record to its alert line. With --pin (default, 2+ CPUs)
this script runs on the first CPU and scanwatch on the others, as auditd and its plugin would.
Phase 2 (intake): the same kind of stream written as fast as the pipe takes it, alerts firing
(one per ~96 events); reports events/s from the first byte to scanwatch's exit after EOF.

Usage: bench/latency.py [--binary build/scanwatch] [--sample samples/ping_sweep.enriched.log]
                        [--rate 20000] [--seconds 5] [--intake-events 1000000] [--no-pin]
"""
import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))
from audit_stream import events_of, shifted, shifted_stream  # noqa: E402
PIN = None  # (cpus of this script, cpus of scanwatch) when --pin


def start(binary):
    """scanwatch plugin with an unbuffered stdin (each event is one write, as from auditd)."""
    pin = (lambda: os.sched_setaffinity(0, PIN[1])) if PIN else None
    return subprocess.Popen([binary, "plugin", "--host-id", "bench", "--host-name", "bench"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            bufsize=0, preexec_fn=pin)


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def latency_phase(binary, events, rate, seconds):
    total = int(rate * seconds)
    stream = []
    copy = 0
    while len(stream) < total:  # built before timing starts: the feeder only writes
        stream.extend(shifted(events, copy, 600))
        copy += 1
    stream = stream[:total]
    proc = start(binary)
    alerts = {}

    def read():
        for line in io.BufferedReader(proc.stdout):
            now = time.perf_counter()
            alerts[json.loads(line)["scanwatch"]["evidence"]["last_event"]["id"]] = now

    reader = threading.Thread(target=read)
    reader.start()
    written = {}
    interval = 1.0 / rate
    next_at = began = time.perf_counter()
    for event_id, data in stream:
        # Sleep, never spin: a spinning feeder holds the GIL and its CPU, and the reader thread
        # would stamp an alert line only at the next scheduler tick (4 ms). The write time is
        # stamped when it happens, so a late wake-up only shifts the pacing.
        left = next_at - time.perf_counter()
        if left > 0:
            time.sleep(left)
        written[event_id.decode()] = time.perf_counter()  # the event's last record leaves now
        proc.stdin.write(data)
        next_at += interval
    fed = time.perf_counter() - began
    proc.stdin.close()
    proc.wait()
    reader.join()
    lat = [(t - written[i]) * 1000 for i, t in alerts.items() if i in written]
    return total, total / fed, lat


def intake_phase(binary, events, n, floor):
    """The stream goes to a file first, then `cat FILE | scanwatch plugin`: the feeder must not be
    what is measured. The floor reads the same file for a ratio."""
    copies = n // len(events) + 1
    path = os.path.join(ROOT, "bench", "out", "plugin-stream.log")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        for c in range(copies):
            f.write(shifted_stream(events, c, 600))
    t0 = time.perf_counter()
    out = subprocess.run(["sh", "-c", f"cat '{path}' | '{binary}' plugin --host-id bench --host-name bench"],
                         check=True, capture_output=True).stdout
    elapsed = time.perf_counter() - t0
    floor_elapsed = None
    if floor and os.path.exists(floor):
        t0 = time.perf_counter()
        subprocess.run([floor, path], check=True, capture_output=True)
        floor_elapsed = time.perf_counter() - t0
    size = os.path.getsize(path)
    os.remove(path)
    return copies * len(events), elapsed, out.count(b"\n"), size, floor_elapsed


def main():
    sys.setswitchinterval(0.00005)  # the reader thread stamps alert lines within 50 us
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=os.path.join(ROOT, "build", "scanwatch"))
    ap.add_argument("--sample", default=os.path.join(ROOT, "samples", "ping_sweep.enriched.log"))
    ap.add_argument("--rate", type=float, default=20000)
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--intake-events", type=int, default=1_000_000)
    ap.add_argument("--floor", default=os.path.join(ROOT, "bench", "out", "auparse_feed_floor"),
                    help="auparse_feed_floor binary (bench/run.py builds it) for an intake ratio")
    ap.add_argument("--pin", action=argparse.BooleanOptionalAction, default=True,
                    help="latency phase: this script on the first CPU, scanwatch on the others "
                         "(as auditd and its plugin on separate cores); default on")
    args = ap.parse_args()
    events = events_of(args.sample)
    global PIN
    cpus = sorted(os.sched_getaffinity(0))
    if args.pin and len(cpus) >= 2:
        PIN = ({cpus[0]}, set(cpus[1:]))
        os.sched_setaffinity(0, PIN[0])

    sent, rate, lat = latency_phase(args.binary, events, args.rate, args.seconds)
    if PIN:
        os.sched_setaffinity(0, set(cpus))  # the intake phase runs unpinned
    pinned = f" (feeder on CPU {sorted(PIN[0])}, scanwatch on {sorted(PIN[1])})" if PIN else ""
    print(f"latency{pinned}: {sent} events at {rate:,.0f}/s, {len(lat)} alerts; crossing event's last record "
          f"-> alert line: p50 {statistics.median(lat):.3f} ms, p99 {percentile(lat, 99):.3f} ms, "
          f"max {max(lat):.3f} ms")
    n, elapsed, alerts, size, floor_elapsed = intake_phase(args.binary, events, args.intake_events, args.floor)
    print(f"intake: {n} exec events ({size / 1e6:.0f} MB, with EOE records) through a pipe in {elapsed:.2f} s "
          f"= {n / elapsed:,.0f} events/s with {alerts} alerts firing")
    if floor_elapsed:
        print(f"floor on the same file: {floor_elapsed:.2f} s = {n / floor_elapsed:,.0f} events/s; "
              f"scanwatch plugin / floor = {floor_elapsed / elapsed:.2f}")


if __name__ == "__main__":
    main()
