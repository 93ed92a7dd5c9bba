#!/usr/bin/env python3
"""Reproductions of hostile input round 3, items 1-4 (docs/operations.md, docs/fleet.md), through
the real binary, with wall time and peak RSS per case. Slow (a minute or more in all): not part
of ctest; the unit tests (tests/parsers/event_bounds_test.cpp, tests/agent/pid_flood_test.cpp,
tests/agent/fleet_test.cpp) hold the same behaviour at a smaller scale.

Usage: fleet_floods.py SCANWATCH_BINARY [CASE ...]   (no CASE: all; --list names them)
Exit 0 when every case run behaves (alerts as expected, time under its bound)."""
import json
import os
import subprocess
import sys
import tempfile
import time

T0 = 1795813416
UNSET = 4294967295


def exec_event(t, serial, ppid, pid, target, node="", ses=UNSET, end="EOE"):
    """One ping exec as auditd writes it; `end` is EOE, PROCTITLE or None (never ends)."""
    n = f"node={node} " if node else ""
    stamp = f"{t}:{serial}"
    out = (f'{n}type=SYSCALL msg=audit({stamp}): arch=c000003e syscall=59 success=yes exit=0 '
           f'items=1 ppid={ppid} pid={pid} auid={ses} uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 '
           f'sgid=0 fsgid=0 tty=(none) ses={ses} comm="ping" exe="/usr/bin/ping" key="scan"\n'
           f'{n}type=EXECVE msg=audit({stamp}): argc=4 a0="ping" a1="-c" a2="1" a3="{target}"\n'
           f'{n}type=CWD msg=audit({stamp}): cwd="/"\n')
    if end == "EOE":
        out += f"{n}type=EOE msg=audit({stamp}): \n"
    elif end == "PROCTITLE":
        out += f"{n}type=PROCTITLE msg=audit({stamp}): proctitle=70696E67\n"
    return out


def sweep(flood, node="", ses=UNSET):
    """A 150-target sweep by parent 31500 with `flood(serial)` (a list of strings, the serial
    used up) after its 75th exec."""
    parts = []
    serial = 1000
    for i in range(150):
        parts.append(exec_event(f"{T0 + i}.000", serial, 31500, 31600 + i,
                                f"10.0.{i // 256}.{i % 256}", node=node, ses=ses))
        serial += 1
        if i == 75:
            chunk, serial = flood(serial)
            parts.extend(chunk)
    return "".join(parts)


# --- item 4: events that never end --------------------------------------------------------------
def open_events(n):
    parts = [exec_event(f"{T0}.000", s + 1, 1, 10 + s, f"10.1.{s // 256 % 256}.{s % 256}", end=None)
             for s in range(n)]
    return "".join(parts)


# --- item 3: the record cap dodged by interleaving ----------------------------------------------
def cap_dodge(records):
    stamp = f"{T0}.000:1"
    parts = [f'type=SYSCALL msg=audit({stamp}): arch=c000003e syscall=59 success=yes exit=0 '
             f'ppid=1 pid=2 auid=0 uid=0 gid=0 euid=0 egid=0 ses=1 comm="x" exe="/bin/x" key=(null)\n']
    # Rounds of 2,048 records of the event and 1,030 one-record filler events (which made the
    # filter forget the event's tally), until `records` have been sent.
    filler = 100
    for start in range(0, records, 2048):
        parts += [f'type=EXECVE msg=audit({stamp}): a{i}="x"\n'
                  for i in range(start, min(start + 2048, records))]
        parts += [f'type=EXECVE msg=audit({T0 + 1}.000:{filler + s}): argc=1 a0="x"\n'
                  for s in range(1030)]
        filler += 1030
    parts.append(f"type=EOE msg=audit({stamp}): \n")
    return "".join(parts)


# --- item 1: invented node names on a collector -------------------------------------------------
def fake_nodes(n):
    def flood(serial):
        return [exec_event(f"{T0 + 75}.{k % 1000:03d}", serial + k, 1, 2,
                           f"172.16.{k // 256 % 256}.{k % 256}", node=f"fake-{k}")
                for k in range(n)], serial + n
    return sweep(flood, node="victim")


# --- item 2: a pid flood splits a sweep's parent ------------------------------------------------
def pid_flood(n, fresh_parents, flood_node="", sweep_node=""):
    def flood(serial):
        out = []
        for k in range(n):
            ppid = 100000 + 2 * k if fresh_parents else 99999
            out.append(exec_event(f"{T0 + 75}.{k % 1000:03d}", serial + k, ppid, 100001 + 2 * k,
                                  f"172.16.{k // 256 % 256}.{k % 256}", node=flood_node))
        return out, serial + n
    return sweep(flood, node=sweep_node)


CASES = {
    # name: (log maker, extra args, expected alerts or None, time bound in seconds)
    "open-events-20k": (lambda: open_events(20000), [], None, 5),
    "open-events-30k": (lambda: open_events(30000), [], None, 8),
    "cap-dodge-30k": (lambda: cap_dodge(30000), [], None, 5),
    "cap-dodge-60k": (lambda: cap_dodge(60000), [], None, 5),
    "fake-nodes-replay": (lambda: fake_nodes(2100), ["--collector"], 1, 30),
    "fake-nodes-plugin": (lambda: fake_nodes(2100), ["--collector"], 1, 30),
    "pid-flood-elastic": (lambda: pid_flood(65600, False), ["--profile", "elastic"], 1, 60),
    "pid-flood-fresh-parents-elastic": (lambda: pid_flood(32800, True), ["--profile", "elastic"], 1, 60),
    "pid-flood-hardened-ses-unset": (lambda: pid_flood(32800, True), [], 1, 60),
    "pid-flood-collector-other-node": (
        lambda: pid_flood(65600, True, flood_node="flooder", sweep_node="victim"), ["--collector"], 1, 90),
}


def run(binary, name):
    make, extra, want_alerts, bound = CASES[name]
    with tempfile.NamedTemporaryFile("w", suffix=".log", delete=False) as f:
        f.write(make())
        path = f.name
    try:
        if name.endswith("-plugin"):
            cmd = [binary, "plugin", "--stats", "--host-id", "h", "--host-name", "h"] + extra
            stdin = open(path, "rb")
        else:
            cmd = [binary, "replay", "--stats", "--host-id", "h", "--host-name", "h"] + extra + [path]
            stdin = subprocess.DEVNULL
        with tempfile.TemporaryFile() as out_f, tempfile.TemporaryFile() as err_f:
            start = time.monotonic()
            proc = subprocess.Popen(cmd, stdin=stdin, stdout=out_f, stderr=err_f)
            _, status, usage = os.wait4(proc.pid, 0)
            took = time.monotonic() - start
            proc.returncode = os.waitstatus_to_exitcode(status)
            out_f.seek(0)
            err_f.seek(0)
            out, err = out_f.read(), err_f.read()
        if stdin is not subprocess.DEVNULL:
            stdin.close()
    finally:
        os.unlink(path)
    return proc.returncode, out.decode(), err.decode(), took, usage.ru_maxrss


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    if sys.argv[1] == "--list":
        print("\n".join(CASES))
        return 0
    binary = sys.argv[1]
    names = sys.argv[2:] or list(CASES)
    failures = []
    for name in names:
        code, out, err, took, rss = run(binary, name)
        alerts = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        # The sweep's alerts (its parent is pid 31500); a flood from one parent is a sweep too.
        alerts = [a for a in alerts if a.get("process", {}).get("parent", {}).get("pid") == 31500
                  or not name.startswith("pid-flood")]
        lines = err.splitlines()
        stats = {}
        for line in reversed(lines):
            if line.startswith("{"):
                stats = json.loads(line)
                break
        keys = ("events", "events_ended_early", "events_ended_aged", "processes_evicted",
                "nodes_evicted", "nodes_evicted_with_state")
        shown = {k: stats[k] for k in keys if k in stats}
        shown["too_many_records"] = stats.get("malformed", {}).get("too_many_records")
        warnings = [l for l in lines if not l.startswith("{")]
        ok = code == 0 and took < CASES[name][3]
        if CASES[name][2] is not None:
            ok = ok and len(alerts) == CASES[name][2]
        print(f"{'ok  ' if ok else 'FAIL'} {name}: {took:.2f} s, peak RSS "
              f"{stats.get('max_rss_kb', rss) // 1024} MB, alerts {len(alerts)}, exit {code}, {json.dumps(shown)}, "
              f"{len(warnings)} message lines{': ' + warnings[0][:160] if warnings else ''}")
        if not ok:
            failures.append(name)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
