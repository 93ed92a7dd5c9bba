#!/usr/bin/env python3
"""A ping sweep of 150 targets with 1,000,000 one-off ping execs (each from its own parent and
outside any login session, of many users) in its middle, through the real binary: exactly one alert, the sweep's,
and peak RSS under a bound that does not grow with the flood (docs/operations.md, "Memory bounds").
Events end with EOE records (as a plugin's input does), so libauparse completes each at once and
what is measured is the rules' memory, not auparse's events in flight.
Usage: flood_test.py SCANWATCH_BINARY"""
import json
import os
import resource
import subprocess
import sys
import threading

BIN = sys.argv[1]
FLOOD = int(os.environ.get("SCANWATCH_FLOOD", "1000000"))
RSS_BOUND_KB = 64 * 1024  # 10000 groups, 65536 processes: ~40 MB measured
T0 = 1795813416

SYSCALL = ('type=SYSCALL msg=audit({t}:{s}): arch=c000003e syscall=59 success=yes exit=0 items=1 '
           'ppid={ppid} pid={pid} auid={auid} uid={uid} gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 '
           'fsgid=0 tty=(none) ses={ses} comm="ping" exe="/usr/bin/ping" key="scan"\n'
           'type=EXECVE msg=audit({t}:{s}): argc=4 a0="ping" a1="-c" a2="1" a3="{target}"\n'
           'type=CWD msg=audit({t}:{s}): cwd="/"\n'
           'type=EOE msg=audit({t}:{s}): \n')
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def write_log(out):
    serial = 1000
    chunk = []
    flood_seconds = FLOOD // 10000 + 1  # 10,000 execs a second
    for i in range(150):
        t = f"{T0 + i + (flood_seconds if i > 75 else 0)}.000"
        chunk.append(SYSCALL.format(t=t, s=serial, ppid=31500, pid=31600 + i, auid=4242, uid=0, ses=101,
                                    target=f"10.0.{i // 256}.{i % 256}"))
        serial += 1
        if i == 75:
            # The flood: one exec per parent, no session, between two execs of the sweep. Pids
            # recycle below 31000 as on a host with pid_max 32768, so the entity-id table (65536
            # processes) keeps the sweep's parent; a parent's instance changes each time its pid
            # execs, so nearly every flood exec has a parent of its own. Its users vary too (50,000
            # uids): forks without a session group by user in the hardened profile, and one user
            # pinging a million hosts would be a sweep of its own, not noise.
            unset = 4294967295
            for j in range(FLOOD):
                t = f"{T0 + i + j // 10000}.{j // 10 % 1000:03d}"
                chunk.append(SYSCALL.format(t=t, s=serial, ppid=1000 + (2 * j + 1) % 30000,
                                            pid=1000 + (2 * j) % 30000,
                                            auid=unset, uid=1000 + j % 50000, ses=unset,
                                            target=f"172.{16 + j // 65536 % 16}.{j // 256 % 256}.{j % 256}"))
                serial += 1
                if len(chunk) >= 10000:
                    out.write("".join(chunk).encode())
                    chunk.clear()
    out.write("".join(chunk).encode())
    out.close()


proc = subprocess.Popen([BIN, "replay", "--stats", "--host-id", "h", "--host-name", "h", "-"],
                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
writer = threading.Thread(target=write_log, args=(proc.stdin,))
writer.start()
stderr_lines = []
reader = threading.Thread(target=lambda: stderr_lines.extend(proc.stderr.read().splitlines()))
reader.start()
stdout = proc.stdout.read()
writer.join()
reader.join()
proc.wait()
usage = resource.getrusage(resource.RUSAGE_CHILDREN)

check(proc.returncode == 0, f"replay exits 0 (got {proc.returncode})")
alerts = [json.loads(line) for line in stdout.decode().splitlines()]
check(len(alerts) == 1, f"one alert (got {len(alerts)})")
if alerts:
    count = alerts[0]["kibana.alert.threshold_result"]["count"]
    check(count == 97, f"the sweep alerts at its 97th exec, the 100th distinct value (got {count})")
stats = json.loads(stderr_lines[-1]) if stderr_lines else {}
rule = stats.get("rules", [{}])[0]
print("stats:", json.dumps({k: rule.get(k) for k in
                            ("matched", "groups", "groups_evicted", "values_evicted", "values_evicted_max")}),
      "execs", stats.get("execs"), "max_rss_kb", usage.ru_maxrss)
check(stats.get("execs") == FLOOD + 150, "every exec was read")
check(rule.get("groups_evicted", 0) >= FLOOD - 10000, "the flood's groups were evicted and counted")
check(rule.get("values_evicted_max") == 4, "no evicted group held more than a one-off's 4 values")
sanitized = os.environ.get("SCANWATCH_SANITIZED") == "1"
if not sanitized:
    check(usage.ru_maxrss < RSS_BOUND_KB, f"peak RSS {usage.ru_maxrss} kB < {RSS_BOUND_KB} kB")
sys.exit(1 if failures else 0)
