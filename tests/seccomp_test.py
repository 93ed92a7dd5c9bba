#!/usr/bin/env python3
"""The system call filter of the live modes (docs/operations.md, "System call filter").

- A forbidden call kills the agent: the test-only trigger SCANWATCH_TEST_SECCOMP_TRIGGER=1 makes
  one (execveat) once the filter is in place; plugin, socket and tail mode die of SIGSYS.
- The switch: --no-seccomp and `seccomp = false` in the config leave it off (the same trigger
  only fails with EBADF, the agent says the filter is off and runs on); /proc/PID/status shows
  Seccomp 2 with the filter and 0 without.
- Real work under the filter, nothing killed: plugin mode through a pipe with a file output
  rotated and reopened on SIGHUP, a syslog output over UDP to a loopback listener, a RELP output
  reconnecting to a closed loopback port, the events file, SIGUSR1 stats and the stats file, and
  the same alerts as replay; tail mode following a log across a rotation, checkpointing its state
  file (write, fsync, rename) and exiting 0 on SIGTERM.
Usage: seccomp_test.py SCANWATCH_BINARY SOURCE_DIR"""
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

BIN, SRC = os.path.abspath(sys.argv[1]), sys.argv[2]
SAMPLE = os.path.join(SRC, "samples", "nc_scan.enriched.log")
HOST = ["--host-id", "sample-host-id", "--host-name", "sample-host", "--config=/dev/null"]
TRIGGER = dict(os.environ, SCANWATCH_TEST_SECCOMP_TRIGGER="1")
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def seccomp_mode(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Seccomp:"):
                return int(line.split()[1])
    return -1


def wait_exit(p, timeout=10):
    try:
        return p.wait(timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        return None


def wait_for(cond, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


def lines_of(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [l for l in f.read().splitlines() if l]


def trigger_kills(tmp):
    print("== a forbidden call kills the agent", flush=True)
    log = os.path.join(tmp, "trigger.log")
    open(log, "w").close()
    runs = {
        "plugin": [BIN, "plugin"] + HOST,
        "socket": [BIN, "socket", os.path.join(tmp, "no-such-socket")] + HOST,
        "tail": [BIN, "tail", log, "--state", os.path.join(tmp, "trigger.state")] + HOST,
    }
    for mode, cmd in runs.items():
        p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             env=TRIGGER)
        rc = wait_exit(p)
        err = p.stderr.read().decode(errors="replace")
        check(rc == -signal.SIGSYS, f"{mode}: killed by SIGSYS ({rc}) {err.strip()[-200:]}")


def switch_off(tmp):
    print("== --no-seccomp and seccomp = false", flush=True)
    config = os.path.join(tmp, "off.toml")
    with open(config, "w") as f:
        f.write("seccomp = false\n")
    for how, cmd in (("--no-seccomp", [BIN, "plugin", "--no-seccomp"] + HOST),
                     ("seccomp = false", [BIN, "plugin", "--host-id", "h", f"--config={config}"])):
        p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             env=TRIGGER)
        time.sleep(0.7)
        check(p.poll() is None, f"{how}: the trigger does not kill it")
        if p.poll() is None:
            check(seccomp_mode(p.pid) == 0, f"{how}: /proc/PID/status Seccomp 0")
        p.stdin.close()
        rc = wait_exit(p)
        err = p.stderr.read().decode(errors="replace")
        check(rc == 0, f"{how}: exit 0 at the end of its input ({rc})")
        check("system call filter off" in err, f"{how}: says the filter is off")
        check("the forbidden call returned errno 9" in err, f"{how}: the call failed harmlessly (EBADF)")


def plugin_work(tmp):
    print("== plugin mode under the filter: rotation, syslog, RELP, events, stats", flush=True)
    expected = subprocess.run([BIN, "replay"] + HOST + [SAMPLE], capture_output=True, text=True, check=True)
    expected = [l for l in expected.stdout.splitlines() if l]
    check(len(expected) >= 1, f"replay of the sample gives alerts ({len(expected)})")
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    udp.settimeout(10)
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    relp_port = closed.getsockname()[1]
    closed.close()  # nobody listens: the RELP output reconnects
    alerts = os.path.join(tmp, "alerts.ndjson")
    events = os.path.join(tmp, "events.ndjson")
    stats_file = os.path.join(tmp, "stats.ndjson")
    p = subprocess.Popen([BIN, "plugin", f"--output=file:{alerts}",
                          f"--output=syslog:udp://127.0.0.1:{udp.getsockname()[1]}",
                          f"--output=relp://127.0.0.1:{relp_port}", f"--events={events}",
                          f"--stats-file={stats_file}"] + HOST,
                         stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = []
    reader = threading.Thread(target=lambda: err.append(p.stderr.read()))
    reader.start()
    time.sleep(0.5)
    check(p.poll() is None and seccomp_mode(p.pid) == 2, "plugin: /proc/PID/status Seccomp 2 (filter)")
    with open(SAMPLE, "rb") as f:
        data = f.read()
    half = data.rfind(b"\n", 0, len(data) // 2) + 1
    p.stdin.write(data[:half])
    p.stdin.flush()
    time.sleep(1.5)
    os.rename(alerts, alerts + ".1")  # logrotate: move, then SIGHUP reopens
    p.send_signal(signal.SIGHUP)
    time.sleep(0.5)
    p.send_signal(signal.SIGUSR1)
    p.stdin.write(data[half:])
    p.stdin.flush()
    time.sleep(1.5)
    try:
        datagram = udp.recv(65536)
    except socket.timeout:
        datagram = b""
    check(b"scanwatch" in datagram, f"the syslog datagram arrived ({datagram[:80]!r})")
    p.stdin.close()
    rc = wait_exit(p, 30)
    reader.join()
    stderr = err[0].decode(errors="replace") if err else ""
    check(rc in (0, 1), f"plugin: not killed ({rc}) {stderr.strip()[-300:]}")  # 1: RELP never came up
    got = lines_of(alerts + ".1") + lines_of(alerts)
    check(len(got) == len(expected), f"plugin: the same alerts as replay ({len(got)} vs {len(expected)})")
    check(os.path.exists(alerts), "the rotated file was reopened (a new file exists)")
    check(len(lines_of(events)) > 0, "the events file was written")
    stats = [json.loads(l) for l in lines_of(stats_file)]
    check(len(stats) >= 2, f"stats on SIGUSR1 and at exit ({len(stats)})")
    check("configuration reloaded" in stderr, "SIGHUP reloaded the configuration (rule files read again)")
    udp.close()


def tail_work(tmp):
    print("== tail mode under the filter: rotation, checkpoints, SIGTERM", flush=True)
    log = os.path.join(tmp, "audit.log")
    state_file = os.path.join(tmp, "tail.state")
    alerts = os.path.join(tmp, "tail-alerts.ndjson")
    with open(SAMPLE, "rb") as f:
        data = f.read()
    half = data.rfind(b"\n", 0, len(data) // 2) + 1
    with open(log, "wb") as f:
        f.write(data[:half])
    p = subprocess.Popen([BIN, "tail", log, "--from-start", "--state", state_file, f"--output=file:{alerts}"] + HOST,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(0.7)
    check(p.poll() is None and seccomp_mode(p.pid) == 2, "tail: /proc/PID/status Seccomp 2 (filter)")
    os.rename(log, log + ".1")
    with open(log, "wb") as f:
        f.write(data[half:])
    check(wait_for(lambda: os.path.exists(state_file), 10), "the state file was written")
    time.sleep(6)  # a periodic checkpoint (every 5 s) and the new file followed
    p.send_signal(signal.SIGTERM)
    rc = wait_exit(p, 30)
    stderr = p.stderr.read().decode(errors="replace")
    check(rc == 0, f"tail: exit 0 on SIGTERM ({rc}) {stderr.strip()[-300:]}")
    check("following" in stderr, "tail followed the rotated log")


def main():
    with tempfile.TemporaryDirectory(prefix="scanwatch-seccomp-") as tmp:
        trigger_kills(tmp)
        switch_off(tmp)
        plugin_work(tmp)
        tail_work(tmp)
    if failures:
        print(f"{len(failures)} check(s) failed", flush=True)
        sys.exit(1)
    print("all checks passed", flush=True)


if __name__ == "__main__":
    main()
