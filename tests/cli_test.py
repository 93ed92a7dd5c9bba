#!/usr/bin/env python3
"""Integration tests through the real scanwatch binary: exit codes, messages, stdin, stats,
JSON validity of every output line, and the golden alerts of every sample.
Usage: cli_test.py SCANWATCH_BINARY SOURCE_DIR"""
import json
import shutil
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

BIN, SRC = sys.argv[1], sys.argv[2]
SAMPLES = os.path.join(SRC, "samples")
GOLDEN = os.path.join(SRC, "tests", "golden")
HOST = ["--host-id", "sample-host-id", "--host-name", "sample-host"]
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def run(args, stdin=None, cwd=None):
    return subprocess.run([BIN] + args, input=stdin, capture_output=True, cwd=cwd)


def json_lines(data):
    """Every line must parse as JSON (Python's parser follows RFC 8259's grammar)."""
    out = []
    for line in data.decode("utf-8").splitlines():
        out.append(json.loads(line))
    return out


def current_umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def canon(alert):
    alert["event"]["created"] = "1970-01-01T00:00:00.000Z"
    return alert


r = run(["--version"])
check(r.returncode == 0 and r.stdout.startswith(b"scanwatch "), "--version prints the version")

r = run(["replay", "/nonexistent/audit.log"])
check(r.returncode == 2, "a missing path exits 2")
check(b"/nonexistent/audit.log" in r.stderr, "the error names the missing path")

r = run(["replay"])
check(r.returncode == 2, "replay without a path is a usage error")

r = run(["replay", "--name-match", "bogus", os.path.join(SAMPLES, "noise.enriched.log")])
check(r.returncode == 2, "a bad --name-match value is a usage error")

# Every sample through the binary gives the reviewed golden alerts.
for name in sorted(os.listdir(SAMPLES)):
    if not (name.endswith(".log") or name == "rotated"):
        continue
    # The issue-14 captures alert on Elastic's rules of tests/elastic-rules/linux (samples/README.md).
    # Run from the source folder: the alerts' rule_source is the path given, as in the golden files.
    rules = ["--rules", os.path.join("tests", "elastic-rules", "linux")] if name.startswith("elastic_") else []
    golden = name + ".alerts.ndjson"
    if name.startswith("ruleset_"):  # issue 25: rules for other agents' exec names, with the alias
        rules = ["--rules", os.path.join("tests", "elastic-rules", "ruleset")]
    if name == "seq_download_exec.enriched.log":
        continue  # its golden is of a rule of the unit test's own (tests/agent/sequence_captures_test.cpp)
    if name.startswith("seq_"):  # issue 25: Elastic's EQL sequence rules of tests/elastic-rules/sequences
        rules = ["--rules", os.path.join("tests", "elastic-rules", "sequences")]
    if name.startswith("esql_"):  # issue 25: Elastic's ES|QL rules of tests/elastic-rules/esql
        rules, golden = ["--rules", os.path.join("tests", "elastic-rules", "esql")], name + ".esql.alerts.ndjson"
    r = run(["replay", "--stats"] + HOST + rules + [os.path.join(SAMPLES, name)], cwd=SRC)
    check(r.returncode == 0, f"{name}: exit 0")
    alerts = [canon(a) for a in json_lines(r.stdout)]
    with open(os.path.join(GOLDEN, golden), "rb") as f:
        expected = [canon(a) for a in json_lines(f.read())]
    check(alerts == expected, f"{name}: alerts equal the golden file ({len(alerts)})")
    stats = json.loads(r.stderr.decode().strip().splitlines()[-1])
    # A sequence is one alert in the stats (docs/operations.md), written as its building blocks
    # and one shell alert.
    counted = [a for a in alerts if "kibana.alert.building_block_type" not in a]
    check(stats["type"] == "stats" and stats["alerts"] == len(counted), f"{name}: stats count the alerts")

# stdin gives what the file gives.
sweep = os.path.join(SAMPLES, "ping_sweep.enriched.log")
with open(sweep, "rb") as f:
    data = f.read()
from_file = [canon(a) for a in json_lines(run(["replay"] + HOST + [sweep]).stdout)]
from_stdin = [canon(a) for a in json_lines(run(["replay"] + HOST + ["-"], stdin=data).stdout)]
check(len(from_file) == 1 and from_file == from_stdin, "replay of - (stdin) equals replay of the file")

# --name-match comm is Elastic's behaviour: busybox applets are not ping.
busybox = os.path.join(SAMPLES, "busybox_ping.enriched.log")
check(len(json_lines(run(["replay", "--name-match", "comm"] + HOST + [busybox]).stdout)) == 0,
      "--name-match comm does not see busybox ping")
check(len(json_lines(run(["replay"] + HOST + [busybox]).stdout)) == 1, "--name-match any does")

# Events: valid JSON even with bytes that are not UTF-8, reversible via surrogateescape.
with tempfile.TemporaryDirectory() as tmp:
    events_path = os.path.join(tmp, "events.ndjson")
    r = run(["replay", "--events", events_path] + HOST + [os.path.join(SAMPLES, "noise.enriched.log")])
    check(r.returncode == 0, "--events to a file exits 0")
    with open(events_path, "rb") as f:
        events = json_lines(f.read())
    check(len(events) == 20, f"noise has 20 exec events (17 + 2 failed execve, 1 execveat) ({len(events)})")
    raw_args = [a.encode("utf-8", "surrogateescape") for e in events for a in e["process"]["args"]]
    check(b"bad\xff\xfebytes" in raw_args, "invalid UTF-8 argument bytes are recovered exactly")
    check(any(e["event"]["outcome"] == "failure" for e in events), "failed execs have outcome failure")

    # Damaged input: garbage, NUL, huge line; the alert survives and is counted.
    damaged = data.replace(b"\ntype=EOE", b"\ngarbage line\ntype=EOE")
    damaged = b"\x00\x01\x02 junk\n" + b"A" * (5 << 20) + b"\n" + damaged + b"type=EXECVE msg=audit(17"
    r = run(["replay", "--stats"] + HOST + ["-"], stdin=damaged)
    check(r.returncode == 0, "damaged input exits 0")
    check([canon(a) for a in json_lines(r.stdout)] == from_file, "damaged input keeps the alert")
    stats = json.loads(r.stderr.decode().strip().splitlines()[-1])
    check(stats["malformed"]["too_long"] == 1 and stats["malformed"]["nul_byte"] == 1
          and stats["malformed"]["truncated"] == 1, "malformed lines are counted by reason")
    check(b"skipped malformed line" in r.stderr, "malformed lines are reported with their position")

# Exit codes and messages in every mode (README.md "Exit status", docs/scanwatch.8).
with tempfile.TemporaryDirectory() as tmp:
    # An input that cannot be opened (root cannot open a socket file either): exit 2 before any
    # alert, naming the path and the reason.
    sock_path = os.path.join(tmp, "not-a-log")
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(sock_path)
    r = run(["replay"] + HOST + [sweep, sock_path])
    check(r.returncode == 2, f"replay of an input that cannot be opened exits 2 ({r.returncode})")
    check(sock_path.encode() in r.stderr and b"cannot open" in r.stderr and r.stdout == b"",
          "it names the path and the reason, before writing any alert")
    listener.close()
    # An input that fails while read: exit 1, said, and the other inputs still give their alerts.
    r = run(["replay"] + HOST + ["/proc/self/mem", sweep])
    check(r.returncode == 1, f"replay of an input that fails while read exits 1 ({r.returncode})")
    check(b"cannot read /proc/self/mem" in r.stderr, "it names the input that failed")
    check(len(json_lines(r.stdout)) == 1, "the other input's alert is still written")

    log = os.path.join(tmp, "audit.log")
    open(log, "wb").close()
    r = subprocess.run([BIN, "tail", tmp], capture_output=True, timeout=10)
    check(r.returncode == 2 and tmp.encode() in r.stderr and b"directory" in r.stderr,
          f"tail on a folder exits 2 at start, naming it ({r.returncode})")
    missing = os.path.join(tmp, "no-such-folder", "tail.state")
    r = subprocess.run([BIN, "tail", log, "--state", missing], capture_output=True, timeout=10)
    check(r.returncode == 2 and missing.encode() in r.stderr and b"No such file" in r.stderr,
          f"--state in a missing folder exits 2 at start, naming it ({r.returncode})")
    r = subprocess.run([BIN, "tail", log, "--state", tmp], capture_output=True, timeout=10)
    check(r.returncode == 2 and b"is a directory" in r.stderr and b"end of input" not in r.stderr,
          f"--state naming a folder exits 2 at start: 'is a directory' ({r.returncode})")
    state = os.path.join(tmp, "tail.state")
    good = {"version": 2, "file": {"dev": 1, "ino": 2, "offset": 0}, "skip": [],
            "processes": [["68", 5, "id", ""]], "rules": {}, "outputs": []}
    for what, bad in [("a NUL byte in a host id", ("processes", [["6800", 5, "id", ""]])),
                      ("a float offset", ("file", {"dev": 1, "ino": 2, "offset": 1e300})),
                      ("a negative pid", ("processes", [["68", -5, "id", ""]]))]:
        with open(state, "w") as f:
            json.dump(dict(good, **{bad[0]: bad[1]}), f)
        r = subprocess.run([BIN, "tail", log, "--state", state], capture_output=True, timeout=10)
        check(r.returncode == 2 and state.encode() in r.stderr and b"not a usable state file" in r.stderr,
              f"a state file with {what} exits 2, naming the file ({r.returncode}: {r.stderr[-120:]!r})")
    with open(state, "w") as f:
        json.dump(good, f)
    tail = subprocess.Popen([BIN, "tail", log, "--state", state], stderr=subprocess.PIPE)
    time.sleep(1)
    tail.send_signal(signal.SIGTERM)
    check(tail.wait(10) == 0, "a valid state file starts (exit 0 on SIGTERM)")
    tail.stderr.close()

    # Live modes exit 1 when an output lost alerts (/dev/full refuses every write).
    r = run(["plugin", "--output", "file:/dev/full"] + HOST, stdin=data)
    check(r.returncode == 1 and b"lost" in r.stderr, f"plugin exits 1 when an output lost alerts ({r.returncode})")
    r = run(["plugin"] + HOST, stdin=data)
    check(r.returncode == 0 and len(json_lines(r.stdout)) == 1, "plugin exits 0 when every alert was written")
    server_path = os.path.join(tmp, "audispd_events")
    server = socket.socket(socket.AF_UNIX)
    server.bind(server_path)
    server.listen(1)

    def serve():
        conn, _ = server.accept()
        conn.sendall(data)
        conn.close()

    threading.Thread(target=serve, daemon=True).start()
    live = subprocess.Popen([BIN, "socket", server_path, "--output", "file:/dev/full"] + HOST,
                            stderr=subprocess.PIPE)
    time.sleep(3)  # the sample is read and aged out; its alert fails to be written
    live.send_signal(signal.SIGTERM)
    err = live.communicate(timeout=30)[1]
    check(live.returncode == 1 and b"lost" in err, f"socket exits 1 when an output lost alerts ({live.returncode})")
    server.close()

# A machine without a machine id (a container, a minimal root) must not go blind: host.id falls
# back to the hostname, with a warning. Both machine-id files are hidden in a mount namespace.
if os.geteuid() == 0 and shutil.which("unshare"):
    hide = "mount --bind /dev/null /etc/machine-id 2>/dev/null; " \
           "[ -e /var/lib/dbus/machine-id ] && mount --bind /dev/null /var/lib/dbus/machine-id; " \
           f'exec "{BIN}" replay "{SRC}/samples/ping_sweep.enriched.log"'
    r = subprocess.run(["unshare", "-m", "sh", "-c", hide], capture_output=True)
    if r.returncode == 0 or r.stdout:
        alerts = json_lines(r.stdout)
        check(len(alerts) == 1 and b"no /etc/machine-id" in r.stderr
              and alerts[0]["host"]["id"] == socket.gethostname(),
              "without a machine id, host.id is the hostname, said once, and the sweep alerts")
    else:
        print("skip machine-id fallback: " + r.stderr.decode(errors="replace").strip())

# --events - beside stdout alerts: two outputs, two distinct stats keys (issue 21 found "-" twice).
def no_duplicate_keys(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ValueError(f"duplicate keys {keys}")
    return dict(pairs)


r = run(["replay", "--stats", "--events", "-"] + HOST + [sweep])
try:
    stats = json.loads(r.stderr.decode().strip().splitlines()[-1], object_pairs_hook=no_duplicate_keys)
    outputs = stats["outputs"]
except ValueError as e:
    outputs = {"error": str(e)}
check(sorted(outputs) == ["-", "events:-"] and outputs["-"]["written"] == 1,
      f"--events - and stdout alerts have their own stats keys ({sorted(outputs)})")

# Planted symlinks (issue 21): root never writes through a link another user could plant.
with tempfile.TemporaryDirectory() as tmp:
    secret = os.path.join(tmp, "secret")
    with open(secret, "w") as f:
        f.write("root only\n")
    os.chmod(secret, 0o600)
    shared = os.path.join(tmp, "shared")
    os.mkdir(shared)
    os.chmod(shared, 0o777)  # writable by all, not sticky
    for option in (["--events", os.path.join(shared, "events.ndjson")],
                   ["--output", "file:" + os.path.join(shared, "alerts.ndjson")]):
        os.symlink(secret, option[1].removeprefix("file:"))
        r = run(["replay"] + option + HOST + [sweep])
        check(r.returncode == 2 and b"not sticky" in r.stderr,
              f"{option[0]} in a folder others can write is refused, exit 2 ({r.returncode})")
    os.chmod(shared, 0o1777)  # sticky, root's: a planted symlink is still refused
    r = run(["replay", "--events", os.path.join(shared, "events.ndjson")] + HOST + [sweep])
    check(r.returncode == 2 and b"symlink" in r.stderr, f"a planted symlink in /tmp-like folder refused ({r.returncode})")
    with open(secret) as f:
        check(f.read() == "root only\n", "the root-only file is untouched")
    fresh = os.path.join(shared, "new.ndjson")
    r = run(["replay", "--events", fresh] + HOST + [sweep])
    check(r.returncode == 0 and os.stat(fresh).st_mode & 0o777 == 0o640 & ~current_umask(),
          f"a new events file is created 0640 ({oct(os.stat(fresh).st_mode & 0o777) if os.path.exists(fresh) else None})")

# Hostile TOML (issue 21): a dotted key of 50,000 parts overflowed the stack inside toml++.
# Every path that reads TOML refuses it with the file and place, and a running agent survives it.
with tempfile.TemporaryDirectory() as tmp:
    hostile = os.path.join(tmp, "hostile.toml")
    with open(hostile, "w") as f:
        f.write("[rule]\n" + ".".join(["a"] * 50000) + " = 1\n")
    for args in (["rules", "check", hostile], ["replay", "--rules", hostile, sweep],
                 ["replay", "--exceptions", hostile, sweep], ["--config", hostile, "replay", sweep]):
        r = run(args)
        want = 1 if args[0] == "rules" else 2  # rules check: 1 for a file with errors
        said = r.stdout + r.stderr
        check(r.returncode == want and hostile.encode() + b":2:" in said
              and b"more than 64 dotted parts" in said,
              f"hostile dotted key refused by {args[0]} {args[1]}: exit {want}, file and line ({r.returncode})")
    folder = os.path.join(tmp, "rules.d")
    os.mkdir(folder)
    shutil.copy(os.path.join(SRC, "rules", "builtin", "network_scan.toml"),
                os.path.join(folder, "scan.toml"))
    plugin = subprocess.Popen([BIN, "plugin", "--rules", folder] + HOST, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(0.5)
    os.rename(hostile, os.path.join(folder, "hostile.toml"))
    plugin.send_signal(signal.SIGHUP)
    time.sleep(1)
    alive = plugin.poll() is None
    out, err = plugin.communicate(input=data, timeout=30)
    check(alive and plugin.returncode == 0 and len(json_lines(out)) == 1,
          f"SIGHUP with a hostile rule file: the plugin lives on with its rules ({plugin.returncode})")
    check(b"more than 64 dotted parts" in err, "the reload error is said")

# A folder of rules as a detection-rules checkout has them (docs/rules.md, "Loading files and
# folders"): a rule that does not parse, a disabled one (Elastic's "My First Rule" alerts on every
# event when run), one of a type scanwatch lacks. The agent starts, runs the others, and says so in
# one line; `rules check` lists each.
with tempfile.TemporaryDirectory() as tmp:
    folder = os.path.join(tmp, "rules")
    os.mkdir(folder)
    shutil.copy(os.path.join(SRC, "rules", "builtin", "network_scan.toml"), os.path.join(folder, "a_scan.toml"))
    broken = os.path.join(folder, "b_broken.toml")
    with open(broken, "w") as f:
        f.write('[rule]\nname = "broken"\nrule_id = "b"\ntype = "query"\nquery = "process.name:("\n')
    with open(os.path.join(folder, "c_first.toml"), "w") as f:
        f.write('[rule]\nname = "My First Rule"\nrule_id = "c"\ntype = "threshold"\nenabled = false\n'
                'query = "event.kind:event"\n[rule.threshold]\nfield = ["host.id"]\nvalue = 1\n')
    with open(os.path.join(folder, "d_ml.toml"), "w") as f:
        f.write('[rule]\nname = "e"\nrule_id = "d"\ntype = "machine_learning"\nquery = "a:b"\n')
    sweep = os.path.join(SAMPLES, "ping_sweep.raw.log")
    r = run(["replay", "--rules", folder] + HOST + [sweep])
    names = sorted({a["kibana.alert.rule.name"] for a in json_lines(r.stdout)})
    check(r.returncode == 0 and names == ["Potential Network Scan Executed From Host"],
          f"replay --rules FOLDER with a broken, a disabled and a machine_learning rule runs the others ({r.returncode}, {names})")
    err = r.stderr.decode()
    check(broken + ":5:" in err and "skipped: query:" in err, "the broken file is named with its error")
    check("rules: 1 loaded" in err and "2 files skipped (1 kuery: query error, 1 type machine_learning)" in err
          and "1 disabled (enabled = false)" in err and "rules check" in err,
          "one line counts what was skipped and disabled")
    check("d_ml.toml" not in err and "c_first.toml" not in err, "routine skips are not printed one by one")
    r = run(["--verbose", "replay", "--rules", folder] + HOST + [sweep])
    err = r.stderr.decode()
    check(r.returncode == 0 and "d_ml.toml" in err and "c_first.toml" in err,
          "--verbose prints each skipped file and the disabled rule")
    r = run(["rules", "check", folder])
    check(r.returncode == 1 and b"b_broken.toml" in r.stderr, f"rules check FOLDER exits 1 for the broken file ({r.returncode})")
    r = run(["rules", "check", "--summary", folder])
    out = r.stdout.decode()
    check(r.returncode == 0 and "refused      " + broken in out and "disabled     " in out
          and "files 4, load 2, can fire 1, cannot fire 0, refused 2, disabled 1" in out,
          "rules check --summary lists the broken, machine_learning and disabled files and counts them")
    r = run(["replay", "--rules", broken, sweep])
    check(r.returncode == 2 and broken.encode() + b":5:" in r.stderr, f"a broken file named explicitly stops the start ({r.returncode})")

r = run(["rules", "show"])
check(r.returncode == 0 and b"03c23d45-d3cb-4ad4-ab5d-b361ffe8724a" in r.stdout, "rules show prints the built-in rule")

print(f"{len(failures)} failed")
sys.exit(1 if failures else 0)
