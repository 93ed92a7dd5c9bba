#!/usr/bin/env python3
"""Peak memory of `scanwatch replay` on events that hold huge arguments (docs/events.md caps what
one event keeps): 2,000 execs with 100 KB command lines in 200 groups must stay under 64 MB, and
one exec of 1,000 arguments of 100 KB must finish with its excess counted.
Usage: event_memory_test.py SCANWATCH_BINARY [WORKLOAD OUT]  (the latter writes a workload log:
WORKLOAD is one_exec or many_execs)"""
import json
import os
import subprocess
import sys
import tempfile

CHUNK = 7500  # hex characters of argument data per EXECVE record, as the kernel splits them


def exec_event(serial, pid, ppid, args):
    """One RAW exec event as the kernel writes it, long arguments hex-encoded in chunks."""
    stamp = f"msg=audit(1700000000.{serial % 1000:03d}:{serial}):"
    out = [f"type=SYSCALL {stamp} arch=c000003e syscall=59 success=yes exit=0 ppid={ppid} "
           f"pid={pid} auid=0 uid=0 gid=0 euid=0 egid=0 comm=\"ping\" exe=\"/usr/bin/ping\" key=(null)\n"]
    fields = [f"argc={len(args)}"]
    for i, arg in enumerate(args):
        if len(arg) * 2 <= CHUNK:
            fields.append(f"a{i}=\"{arg.decode()}\"")
            continue
        hexed = arg.hex().upper()
        fields.append(f"a{i}_len={len(arg)}")
        for n in range(0, len(hexed), CHUNK):
            fields.append(f"a{i}[{n // CHUNK}]={hexed[n:n + CHUNK]}")
    record, size = [], 0
    for f in fields:  # records of at most ~CHUNK bytes of fields
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


def write_workload(name, path):
    with open(path, "w") as f:
        if name == "one_exec":  # 1,000 arguments of 100 KB in one exec
            f.write(exec_event(1, 500, 1, [b"ping"] + [bytes([65 + i % 26]) * 100_000 + str(i).encode()
                                                    for i in range(1000)]))
        else:  # 2,000 execs with 100 KB command lines, 10 under each of 200 parents
            for n in range(2000):
                target = f"{n:06d}".encode() * (100_000 // 6)
                f.write(exec_event(10 + n, 10_000 + n, 100 + n % 200, [b"ping", target]))


def replay(binary, path):
    p = subprocess.run([binary, "replay", "--stats", "--host-id", "h", "--host-name", "h", path],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=600, check=True)
    return json.loads(p.stderr.decode().strip().splitlines()[-1])


def main():
    binary = sys.argv[1]
    if len(sys.argv) == 4:
        write_workload(sys.argv[2], sys.argv[3])
        return 0
    failures = []

    def check(cond, what):
        print(("ok   " if cond else "FAIL ") + what, flush=True)
        if not cond:
            failures.append(what)

    sanitized = bool(os.environ.get("SCANWATCH_SANITIZED"))
    with tempfile.TemporaryDirectory() as tmp:
        many = os.path.join(tmp, "many.log")
        write_workload("many_execs", many)
        s = replay(binary, many)
        check(s["execs"] == 2000 and s["args_truncated"] == 2000,
              f"2,000 execs, each 100 KB argument kept as prefix and digest ({s['execs']}, {s['args_truncated']})")
        if sanitized:
            print(f"note: sanitizer build, RSS not checked ({s['max_rss_kb']} KB)")
        else:
            check(s["max_rss_kb"] < 64 * 1024, f"2,000 execs of 100 KB: peak RSS {s['max_rss_kb']} KB < 64 MB")
        one = os.path.join(tmp, "one.log")
        write_workload("one_exec", one)
        s = replay(binary, one)
        check(s["execs"] == 1 and s["malformed"]["too_many_records"] > 0,
              f"1,000 args of 100 KB in one exec: records past the cap counted "
              f"({s['malformed']['too_many_records']}), the event kept")
        if not sanitized:
            print(f"note: one exec of 1,000 x 100 KB: peak RSS {s['max_rss_kb']} KB")
    print(f"{len(failures)} failed" if failures else "all passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
