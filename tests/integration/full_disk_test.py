#!/usr/bin/env python3
"""File outputs on a full disk (a 64 KiB tmpfs): no torn line, exact counts, exit status 1.

- `scanwatch replay` of every sample with --events and --output file: into a tmpfs that fills up:
  exit 1, the loss said on stderr with the path and errno, every line in both files whole JSON,
  each output's `written` equal to the lines in its file and `lost` equal to the rest of what a
  replay with room writes.
- Space is freed and a second replay appends to the same files: its lines land whole after the
  cut-back ones, and the file holds exactly the lines both runs counted written.

Needs root to mount the tmpfs; skips (exit 77) with a message when the mount is refused. Always
unmounts and removes its temp dirs.
Usage: full_disk_test.py SCANWATCH_BINARY SOURCE_DIR"""
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

SKIP = 77
BIN = os.path.abspath(sys.argv[1])
SAMPLES = os.path.join(os.path.abspath(sys.argv[2]), "samples")
HOST = ["--host-id", "full-disk", "--host-name", "full-disk"]
FAILURES = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        FAILURES.append(what)


def replay(events, alerts, inputs):
    r = subprocess.run([BIN, "replay", "--stats", "--events", events, "--output", f"file:{alerts}"]
                       + HOST + inputs, capture_output=True, text=True, timeout=300)
    stats = json.loads([l for l in r.stderr.splitlines() if l.startswith('{"type":"stats"')][-1])
    return r, stats["outputs"]["events:" + events], stats["outputs"][f"file:{alerts}"]


def whole_json_lines(path, what):
    """The lines of `path`; checks that each is complete JSON and the file ends with a newline."""
    with open(path, "rb") as f:
        data = f.read()
    check(data == b"" or data.endswith(b"\n"), f"{what}: ends with a whole line")
    bad = 0
    lines = data.split(b"\n")[:-1] if data else []
    for line in lines:
        try:
            json.loads(line)
        except ValueError:
            bad += 1
    check(bad == 0, f"{what}: all {len(lines)} lines are whole JSON ({bad} are not)")
    return len(lines)


def main():
    inputs = sorted(glob.glob(os.path.join(SAMPLES, "*.log")))
    ref = tempfile.mkdtemp(prefix="scanwatch-full-ref-")
    mnt = tempfile.mkdtemp(prefix="scanwatch-full-disk-")
    mounted = False
    try:
        # What a replay with room writes.
        _, ref_ev, ref_al = replay(os.path.join(ref, "events.ndjson"), os.path.join(ref, "alerts.ndjson"), inputs)
        total_events, total_alerts = ref_ev["written"], ref_al["written"]
        check(total_events > 1000 and total_alerts > 0, f"reference: {total_events} events, {total_alerts} alerts")

        m = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", mnt], capture_output=True, text=True)
        if m.returncode != 0:
            print(f"SKIP: cannot mount a tmpfs (needs root): {m.stderr.strip()}")
            return SKIP
        mounted = True
        filler = os.path.join(mnt, "filler")
        with open(filler, "wb") as f:
            f.write(b"x" * 16384)  # freed later: the disk gets room again
        events, alerts = os.path.join(mnt, "events.ndjson"), os.path.join(mnt, "alerts.ndjson")

        r, ev, al = replay(events, alerts, inputs)
        check(r.returncode == 1, f"full disk: exit status 1 ({r.returncode})")
        check(f"cannot write {events}: No space left on device" in r.stderr,
              "full disk: the loss is said with the path and errno")
        check(r.stderr.count(f"output {events}: cannot write") == 1, "full disk: said once, not per line")
        n_ev = whole_json_lines(events, "full disk: events")
        n_al = whole_json_lines(alerts, "full disk: alerts")
        check(ev["written"] == n_ev, f"full disk: events written {ev['written']} = lines in the file {n_ev}")
        check(al["written"] == n_al, f"full disk: alerts written {al['written']} = lines in the file {n_al}")
        check(ev["lost"] == total_events - n_ev and ev["lost"] > 0,
              f"full disk: events lost {ev['lost']} = {total_events} - {n_ev}")
        check(al["lost"] == total_alerts - n_al, f"full disk: alerts lost {al['lost']} = {total_alerts} - {n_al}")
        check(ev["backlog"] == 0 and al["backlog"] == 0, "full disk: nothing kept in a backlog")

        os.remove(filler)
        noise = [os.path.join(SAMPLES, "noise.enriched.log")]
        r2, ev2, al2 = replay(events, alerts, noise)
        check(ev2["written"] > 0, f"room again: later events land ({ev2['written']} written)")
        n_ev2 = whole_json_lines(events, "room again: events")
        whole_json_lines(alerts, "room again: alerts")
        check(n_ev2 == n_ev + ev2["written"],
              f"room again: the file holds exactly the lines both runs counted ({n_ev2} = {n_ev} + {ev2['written']})")
        check(r2.returncode == (1 if ev2["lost"] + al2["lost"] > 0 else 0),
              f"room again: exit status {r2.returncode} matches the lines lost ({ev2['lost']})")
    finally:
        if mounted:
            subprocess.run(["umount", mnt])
        shutil.rmtree(mnt, ignore_errors=True)
        shutil.rmtree(ref, ignore_errors=True)
    if FAILURES:
        print(f"{len(FAILURES)} checks failed")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
