#!/usr/bin/env python3
"""Events that never end, live (docs/operations.md, "Input handling"): `plugin --collector` fed,
as fast as it reads, a mix of open exec events (no PROCTITLE, no EOE) stamped an hour in the
future from node "future", which never goes quiet, and complete events from node "steady".
Prints the events per second it kept up with and its peak RSS. Slow (SECONDS, default 20): not
part of ctest.

Usage: open_events_live.py SCANWATCH_BINARY [SECONDS]
Exit 0 when it kept up with over 20,000 events/s and stayed under 32 MB (before the bounds on
events in flight: 42 MB after 15 s and growing, 31,000 events/s and falling)."""
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

BIN = sys.argv[1] if len(sys.argv) > 1 else sys.exit(__doc__)
SECONDS = float(sys.argv[2]) if len(sys.argv) > 2 else 20.0


def event(node, t, serial, pid, end):
    stamp = f"{t}.000:{serial}"
    out = (f'node={node} type=SYSCALL msg=audit({stamp}): arch=c000003e syscall=59 success=yes '
           f'exit=0 items=1 ppid=1 pid={pid} auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 '
           f'sgid=0 fsgid=0 tty=(none) ses=1 comm="true" exe="/usr/bin/true" key=(null)\n'
           f'node={node} type=EXECVE msg=audit({stamp}): argc=1 a0="true"\n')
    if end:
        out += f"node={node} type=EOE msg=audit({stamp}): \n"
    return out


def main():
    err = tempfile.TemporaryFile()
    proc = subprocess.Popen([BIN, "plugin", "--collector", "--stats", "--host-id", "h",
                             "--host-name", "h"], stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, stderr=err)
    written = 0
    serial = 1
    start = time.monotonic()
    while time.monotonic() - start < SECONDS:
        now = int(time.time())
        chunk = []
        for _ in range(200):
            # One open event an hour ahead, then nine complete ones of a steady node.
            chunk.append(event("future", now + 3600, serial, 1000 + serial % 30000, False))
            serial += 1
            for _ in range(9):
                chunk.append(event("steady", now, serial, 1000 + serial % 30000, True))
                serial += 1
        proc.stdin.write("".join(chunk).encode())
        written += 2000
    proc.stdin.close()
    took = time.monotonic() - start
    proc.wait()
    err.seek(0)
    lines = err.read().decode().splitlines()
    stats = next((json.loads(l) for l in reversed(lines) if l.startswith("{")), {})
    rate = written / took
    rss_mb = stats.get("max_rss_kb", 0) // 1024
    print(f"{written} events in {took:.1f} s: {rate:,.0f} events/s kept up with; peak RSS "
          f"{rss_mb} MB; stats: events {stats.get('events')}, events_ended_early "
          f"{stats.get('events_ended_early')}, events_ended_aged {stats.get('events_ended_aged')}")
    ok = rate > 20000 and rss_mb < 32
    print("ok" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
