#!/usr/bin/env python3
"""`scanwatch plugin` fed through a pipe, as auditd feeds it: the same alerts as `replay` of the
same file; and robustness of the stdin path (garbage, partial lines, a 10 MB line, a burst of
1 M records, stdin closed in the middle of an event).
Usage: plugin_pipe_test.py SCANWATCH_BINARY SOURCE_DIR"""
import fcntl
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time

BIN, SRC = sys.argv[1], sys.argv[2]
SAMPLES = os.path.join(SRC, "samples")
HOST = ["--host-id", "sample-host-id", "--host-name", "sample-host"]
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def canon(line):
    alert = json.loads(line)
    alert["event"]["created"] = "-"
    return alert


def plugin(chunks, extra=()):
    """Feeds the chunks to `scanwatch plugin` through a pipe; returns (rc, alerts, stats)."""
    proc = subprocess.Popen([BIN, "plugin", "--stats"] + HOST + list(extra), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out = []
    err = []
    readers = [threading.Thread(target=lambda: out.append(proc.stdout.read())),
               threading.Thread(target=lambda: err.append(proc.stderr.read()))]
    for t in readers:
        t.start()
    for chunk in chunks:
        proc.stdin.write(chunk)
    proc.stdin.close()
    rc = proc.wait(timeout=600)
    for t in readers:
        t.join()
    lines = out[0].decode().splitlines()
    stats = [json.loads(l) for l in err[0].decode().splitlines() if l.startswith('{"type":"stats"')]
    return rc, [canon(l) for l in lines], (stats[-1] if stats else None), err[0].decode()


def replay(path):
    r = subprocess.run([BIN, "replay"] + HOST + [path], capture_output=True, check=True)
    return [canon(l) for l in r.stdout.decode().splitlines()]


def pieces(data, size):
    return [data[i:i + size] for i in range(0, len(data), size)]


# Same alerts as replay, for every sample, with the records cut at odd places.
for name in sorted(os.listdir(SAMPLES)):
    if not name.endswith(".log"):
        continue
    path = os.path.join(SAMPLES, name)
    with open(path, "rb") as f:
        data = f.read()
    # Live modes also match hard links of the tools by this machine's inodes, which a capture
    # from elsewhere (or from here: hardlink_ping) must not meet: no tool folder for that here.
    with tempfile.TemporaryDirectory() as no_tools:
        rc, alerts, stats, _ = plugin(pieces(data, 4093), ["--tool-path", no_tools])
    check(rc == 0 and stats is not None, f"{name}: plugin exits 0 at EOF with stats")
    replayed = replay(path)
    if ".raw." in name:
        # Live modes look user names up for RAW logs; a replay must not (they would be another
        # host's). That is the one allowed difference.
        check(all(a["user"].get("name") == "root" for a in alerts), f"{name}: plugin looked up user.name")
        for a in alerts + replayed:
            a["user"].pop("name", None)
            a["user"].get("audit", {}).pop("name", None)
            a["kibana.alert.reason"] = re.sub(r" as \S+ (\S+ )?under", " as - under", a["kibana.alert.reason"])
    check(alerts == replayed, f"{name}: plugin alerts equal replay alerts ({len(alerts)})")

sweep = open(os.path.join(SAMPLES, "ping_sweep.enriched.log"), "rb").read()
expected = replay(os.path.join(SAMPLES, "ping_sweep.enriched.log"))

# Garbage, partial lines and a 10 MB line around a real sweep.
junk = [b"garbage\n", b"type=EXECVE msg=audit(1.0", b"00:1): argc=1 a0=\"x\"\n",
        b"\x00\xff\xfe\n", b"B" * (10 << 20) + b"\n", b"type=SYSCALL msg=audit(oops): x\n"]
rc, alerts, stats, err = plugin(junk + pieces(sweep, 65536) + junk)
check(rc == 0, "damaged stream: exit 0")
check(alerts == expected, "damaged stream: the sweep's alert survives")
check(stats["malformed"]["too_long"] == 2 and stats["malformed"]["garbage"] == 2
      and stats["malformed"]["nul_byte"] == 2 and stats["malformed"]["bad_header"] == 2,
      f"damaged stream: malformed lines counted by reason ({stats['malformed']})")

# A burst of 1 M records: the sweep repeated with shifted times and serials (as mkbig.py does).
pat = re.compile(rb"msg=audit\((\d+)\.(\d+):(\d+)\)")
lines = sweep.splitlines(keepends=True)
copies = 1_000_000 // len(lines) + 1
span = 600  # seconds per copy: each copy stands alone in the rule's 9-minute window


def burst():
    for c in range(copies):
        yield b"".join(pat.sub(lambda m: b"msg=audit(%d.%s:%d)" % (int(m.group(1)) + c * span, m.group(2),
                                                                  int(m.group(3)) + c * 10_000_000), l)
                       for l in lines)


rc, alerts, stats, _ = plugin(burst())
check(rc == 0, "1 M records: exit 0")
check(stats["records"] == copies * len(lines), f"1 M records: every record counted ({stats['records']})")
check(len(alerts) == copies, f"1 M records: one alert per copy ({len(alerts)} of {copies})")
if os.environ.get("SCANWATCH_SANITIZED"):
    print(f"note: sanitizer build, RSS not checked (shadow memory and quarantine; {stats['max_rss_kb']} KB)")
else:
    check(stats["max_rss_kb"] < 64 * 1024, f"1 M records: bounded memory ({stats['max_rss_kb']} KB)")

# stdin closed in the middle of an event (and of a line).
cut = sweep[: len(sweep) // 2 + 37]
rc, alerts, stats, _ = plugin([cut])
check(rc == 0, "stdin closed mid-event: exit 0")
check(stats["malformed"]["truncated"] <= 1, "stdin closed mid-event: the cut line is counted, not fatal")

# SIGHUP: an unchanged rule keeps its counts; a bad new rule file is reported and the old rules
# stay in force.
with tempfile.TemporaryDirectory() as tmp:
    config = os.path.join(tmp, "scanwatch.toml")
    rule = os.path.join(SRC, "tests", "elastic-rules", "discovery_ping_sweep_detected.v4.toml")
    bad = os.path.join(tmp, "bad.toml")
    with open(bad, "w") as f:
        f.write("[rule]\nname = \"broken\"\n")
    with open(config, "w") as f:
        f.write(f'rules = ["{rule}"]\n')
    proc = subprocess.Popen([BIN, "plugin", f"--config={config}"] + HOST, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # The sweep's first half (about 60 pings: 64 distinct values, no alert yet), then SIGHUP.
    half = sweep[: sweep.index(b"127.0.0.61")]
    half = half[: half.rindex(b"type=SYSCALL")]
    proc.stdin.write(half)
    proc.stdin.flush()
    time.sleep(0.5)
    proc.send_signal(signal.SIGHUP)
    time.sleep(0.5)
    proc.stdin.write(sweep[len(half):])
    proc.stdin.flush()
    time.sleep(0.5)
    with open(config, "w") as f:
        f.write(f'rules = ["{bad}"]\n')
    proc.send_signal(signal.SIGHUP)
    time.sleep(0.5)
    # The same sweep an hour later: the old rule must still be there to see it.
    later = pat.sub(lambda m: b"msg=audit(%d.%s:%d)" % (int(m.group(1)) + 3600, m.group(2), int(m.group(3)) + 1), sweep)
    proc.stdin.write(later)
    proc.stdin.close()
    out, err = proc.stdout.read(), proc.stderr.read()
    rc = proc.wait(60)
    check(rc == 0, "reloads: exit 0")
    check(len(out.decode().splitlines()) == 2,
          f"an unchanged rule kept its counts over SIGHUP, and the bad file did not replace it ({len(out.decode().splitlines())} alerts)")
    check(err.count(b"configuration reloaded") == 1 and b"do not load" in err and b"bad.toml" in err,
          "the bad rule file was reported with its name")

# auditd writes into the plugin's stdin pipe: scanwatch enlarges it to 1 MiB so a burst waits
# there, not in auditd (F_SETPIPE_SZ; up to /proc/sys/fs/pipe-max-size unless root).
F_GETPIPE_SZ = 1032
with open("/proc/sys/fs/pipe-max-size") as f:
    pipe_max = int(f.read())
proc = subprocess.Popen([BIN, "plugin"] + HOST, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL)
size = 0
for _ in range(100):
    size = fcntl.fcntl(proc.stdin.fileno(), F_GETPIPE_SZ)
    if size >= 1 << 20:
        break
    time.sleep(0.02)
proc.stdin.close()
proc.wait(30)
if os.geteuid() == 0 or pipe_max >= 1 << 20:
    check(size == 1 << 20, f"the stdin pipe was enlarged to 1 MiB ({size} bytes)")
else:
    print(f"skip the stdin pipe size: not root and pipe-max-size is {pipe_max}", flush=True)

print(f"{len(failures)} failed")
sys.exit(1 if failures else 0)
