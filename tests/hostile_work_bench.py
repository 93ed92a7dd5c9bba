#!/usr/bin/env python3
"""Reproducers of issue 21 items 6 and 7 (hostile rule work), run through the real binary: writes
audit logs of execs carrying up to 1 MiB of arguments and rule files, replays each workload, and
prints the wall time, peak RSS and the counters that matter. Not in ctest (minutes on an old
binary); compare two binaries by running it with each.

Usage: hostile_work_bench.py SCANWATCH_BINARY [WORKLOAD...]
Workloads (all by default):
  wildcard   4 execs of 1 MiB of arguments, rule process.args:?*a{3000}b   (item 6)
  list       4 execs of 1 MiB, rule process.args:(6,000 values)            (item 6)
  regex      4 execs of 1 MiB command lines, 15 regexes of 400 alternatives (item 6)
  values     10 parents x 19 execs x 20,000 args, value = 20, cardinality 100 (item 7)
  late       8 execs of 20,000 args, each 1 s earlier than the last, cardinality 100,000 (item 7)
"""
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

CHUNK = 7500
RULE_HEAD = """[metadata]
creation_date = "2026/01/01"
maturity = "production"
updated_date = "2026/01/01"

[rule]
author = ["scanwatch"]
description = "issue 21 reproducer"
from = "now-9m"
interval = "5m"
language = "{language}"
license = "Elastic License v2"
max_signals = 100
name = "hostile {name}"
risk_score = 21
rule_id = "00000000-0000-0000-0000-0000000000{id:02d}"
severity = "low"
type = "{type}"
query = '''
{query}
'''
"""
THRESHOLD = """
[rule.threshold]
field = ["host.id", "process.parent.entity_id", "process.executable"]
value = {value}

[[rule.threshold.cardinality]]
field = "process.args"
value = {cardinality}
"""


def exec_event(serial, seconds, pid, ppid, args):
    """One exec as the kernel writes it: SYSCALL, EXECVE records (long arguments hex in chunks)."""
    stamp = f"msg=audit({seconds}.{serial % 1000:03d}:{serial}):"
    out = [f"type=SYSCALL {stamp} arch=c000003e syscall=59 success=yes exit=0 ppid={ppid} "
           f"pid={pid} auid=0 uid=0 gid=0 euid=0 egid=0 ses=4 comm=\"ping\" exe=\"/usr/bin/ping\" key=(null)\n"]
    fields = [f"argc={len(args)}"]
    for i, arg in enumerate(args):
        if len(arg) * 2 <= CHUNK and b" " not in arg:
            fields.append(f"a{i}=\"{arg.decode()}\"")
            continue
        hexed = arg.hex().upper()
        if len(hexed) <= CHUNK:
            fields.append(f"a{i}={hexed}")
            continue
        fields.append(f"a{i}_len={len(arg)}")
        for n in range(0, len(hexed), CHUNK):
            fields.append(f"a{i}[{n // CHUNK}]={hexed[n:n + CHUNK]}")
    record, size = [], 0
    for f in fields:
        if record and size + len(f) > CHUNK:
            out.append(f"type=EXECVE {stamp} {' '.join(record)}\n")
            record, size = [], 0
        record.append(f)
        size += len(f) + 1
    out.append(f"type=EXECVE {stamp} {' '.join(record)}\n")
    out.append(f"type=CWD {stamp} cwd=\"/root\"\n")
    out.append(f"type=PROCTITLE {stamp} proctitle=70696E67\n")
    out.append(f"type=EOE {stamp} \n")
    return "".join(out)


def rule(name, ident, query, language="kuery", rule_type="query", value=1, cardinality=None):
    text = RULE_HEAD.format(language=language, name=name, id=ident, type=rule_type, query=query)
    if cardinality:
        text += THRESHOLD.format(value=value, cardinality=cardinality)
    return text


def mib_args(n):
    return [b"ping"] + [(b"a" * 4000) + str(i).encode() * 8 for i in range(n)]


def workload(name, tmp):
    """Writes the log and the rule of `name`; returns their paths."""
    log, rules = os.path.join(tmp, name + ".log"), os.path.join(tmp, name + ".toml")
    base = "event.category:process and process.name:ping and "
    with open(log, "w") as f:
        if name in ("wildcard", "list"):
            for n in range(4):
                f.write(exec_event(n + 1, 1_700_000_000 + n, 1000 + n, 1, mib_args(255)))
        elif name == "regex":
            for n in range(4):
                f.write(exec_event(n + 1, 1_700_000_000 + n, 1000 + n, 1, [b"ping"] + [b"w" * 4090] * 255))
        elif name == "values":
            serial = 0
            for parent in range(10):
                for e in range(19):
                    serial += 1
                    args = [b"ping"] + [f"p{parent}e{e}v{i}".encode() for i in range(20_000)]
                    f.write(exec_event(serial, 1_700_000_000 + e, 10_000 + serial, 100 + parent, args))
        elif name == "late":
            for e in range(8):
                args = [b"ping"] + [f"e{e}v{i}".encode() for i in range(20_000)]
                f.write(exec_event(e + 1, 1_700_000_100 - e, 10_000 + e, 100, args))
    if name == "wildcard":
        text = rule(name, 1, base + "process.args:?*" + "a" * 3000 + "b")
    elif name == "list":
        text = rule(name, 2, base + "process.args:(" + " or ".join(f"v{i}" for i in range(6000)) + ")")
    elif name == "regex":
        words, seed = [], 12345  # pseudo-random words: RE2 cannot fold them into a small program
        for _ in range(400):
            w = ""
            for _ in range(8):
                seed = (seed * 1103515245 + 12345) % 2**32
                w += chr(ord("a") + (seed >> 16) % 26)
            words.append(w)
        alternatives = "|".join(words)
        text = rule(name, 3, "process where process.name == \"ping\" and (" + " or ".join(
            f"process.command_line regex \".*({alternatives}){r}.*\"" for r in range(15)) + ")",
            language="eql", rule_type="eql")
    elif name == "values":
        text = rule(name, 4, base + "process.args:*", rule_type="threshold", value=20, cardinality=100)
    else:
        text = rule(name, 5, base + "process.args:*", rule_type="threshold", value=1000,
                    cardinality=100_000)
    with open(rules, "w") as f:
        f.write(text)
    return log, rules


def run(binary, log, rules):
    start = time.monotonic()
    p = subprocess.run([binary, "replay", "--stats", "--host-id", "h", "--host-name", "h",
                        "--rules", rules, log], capture_output=True, timeout=3600)
    took = time.monotonic() - start
    lines = p.stderr.decode(errors="replace").strip().splitlines()
    stats = json.loads(lines[-1]) if lines and lines[-1].startswith("{") else {}
    return p.returncode, took, stats, lines[-3:] if not stats else []


def main():
    binary = sys.argv[1]
    names = sys.argv[2:] or ["wildcard", "list", "regex", "values", "late"]
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            log, rules = workload(name, tmp)
            rc, took, stats, err = run(binary, log, rules)
            rule_stats = (stats.get("rules") or [{}])[0]
            keep = {k: rule_stats.get(k) for k in ("matched", "alerts", "match_work_cut")
                    if k in rule_stats}
            print(f"{name:9s} exit {rc} {took:7.2f} s  max_rss {stats.get('max_rss_kb', 0) / 1024:7.1f} MB"
                  f"  execs {stats.get('execs')}  {json.dumps(keep)} {' '.join(err)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
