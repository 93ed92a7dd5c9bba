#!/usr/bin/env python3
"""Live modes against the real auditd: scanwatch as an auditd plugin (stdin) and on the builtin
af_unix socket. A real ping sweep and a real nc port scan against 127.0.0.0/8 must give exactly
two alerts within 2 s of the last exec; the plugin survives SIGHUP of auditd; stopping auditd
ends the plugin cleanly with its stats; the socket reader reconnects and exits 0 on SIGTERM.

Needs root and a kernel that accepts audit rules; otherwise it exits 77 (skipped) saying why.
Whatever happens it removes its audit rules (auditctl -D) and stops its auditd.
Usage: live_auditd_test.py SCANWATCH_BINARY"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

from auditd_fixture import (check, cleanup, failures, install_signal_handlers, preflight, scenario,
                            scanwatch_plugin, start_auditd, state, stop_auditd)

BIN = os.path.abspath(sys.argv[1])

def wait_alerts(path, n, deadline):
    while time.monotonic() < deadline:
        if os.path.exists(path):
            with open(path) as f:
                lines = [l for l in f.read().splitlines() if l]
            if len(lines) >= n:
                return lines, time.monotonic()
        time.sleep(0.005)
    with open(path) if os.path.exists(path) else open(os.devnull) as f:
        return [l for l in f.read().splitlines() if l], None


def scans_and_alerts(alerts_path):
    ping_done = scenario("for ((i=1;i<=110;i++)); do ping -c 1 -W 1 127.0.0.$i; done")
    lines, at = wait_alerts(alerts_path, 1, ping_done + 2.0)
    check(at is not None, f"ping sweep alert within 2 s of the last exec ({(at or 0) - ping_done:.3f} s)")
    nc_done = scenario("for ((p=20;p<130;p++)); do nc -z -w 1 127.0.0.1 $p; done")
    lines, at = wait_alerts(alerts_path, 2, nc_done + 2.0)
    check(at is not None, f"nc scan alert within 2 s of the last exec ({(at or 0) - nc_done:.3f} s)")
    time.sleep(0.5)  # nothing more may come
    with open(alerts_path) as f:
        alerts = [json.loads(l) for l in f.read().splitlines() if l]
    check(len(alerts) == 2, f"exactly two alerts ({len(alerts)})")
    exes = sorted(a["process"]["executable"] for a in alerts)
    check(exes == ["/usr/bin/nc.openbsd", "/usr/bin/ping"], f"one for ping, one for nc ({exes})")
    check(all(a["host"]["id"] == "it-host" for a in alerts), "host.id from the config")


def plugin_mode(tmp):
    print("== plugin mode", flush=True)
    alerts = os.path.join(tmp, "alerts.ndjson")
    config = os.path.join(tmp, "scanwatch.toml")
    with open(config, "w") as f:
        f.write(f'output = ["file:{alerts}"]\nstats-file = "{tmp}/stats.ndjson"\nhost-id = "it-host"\nhost-name = "it-host"\n')
    start_auditd(tmp, scanwatch_plugin(BIN, config))
    pid = None
    for _ in range(50):
        r = subprocess.run(["pgrep", "-f", f"{BIN} plugin --config={config}"], capture_output=True, text=True)
        if r.stdout.strip():
            pid = int(r.stdout.split()[0])
            break
        time.sleep(0.1)
    check(pid is not None, "auditd started scanwatch from plugins.d")
    scans_and_alerts(alerts)
    os.kill(state["auditd"].pid, signal.SIGHUP)
    time.sleep(1.5)
    alive = pid is not None and subprocess.run(["kill", "-0", str(pid)]).returncode == 0
    check(alive, "the plugin survives SIGHUP of auditd")
    stop_auditd()
    for _ in range(50):
        if pid is None or subprocess.run(["kill", "-0", str(pid)], capture_output=True).returncode != 0:
            break
        time.sleep(0.1)
    check(pid is not None and subprocess.run(["kill", "-0", str(pid)], capture_output=True).returncode != 0,
          "the plugin exits when auditd stops")
    with open(os.path.join(tmp, "stats.ndjson")) as f:
        stats = [json.loads(l) for l in f.read().splitlines()]
    check(len(stats) == 1 and stats[0]["alerts"] == 2, "the plugin wrote its stats at exit (the clean exit path)")
    # auditd ends every event with EOE for its plugins: PROCTITLE was skipped, alerts were on time.
    check(stats[0]["proctitles_skipped"] >= 200, f"PROCTITLE skipped before auparse ({stats[0]['proctitles_skipped']})")


def socket_mode(tmp):
    print("== socket mode", flush=True)
    sock = os.path.join(tmp, "audispd_events")
    alerts = os.path.join(tmp, "alerts.ndjson")
    af_unix = f"""active = yes
direction = out
path = builtin_af_unix
type = builtin
args = 0640 {sock}
format = string
"""
    reader = subprocess.Popen([BIN, "socket", sock, f"--output=file:{alerts}", "--stats",
                               "--host-id", "it-host", "--host-name", "it-host"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    state["procs"].append(reader)
    start_auditd(tmp, ("af_unix.conf", af_unix))  # scanwatch was first: it must wait and connect
    for _ in range(100):
        if os.path.exists(sock):
            break
        time.sleep(0.05)
    time.sleep(1.0)  # the reader's backoff is at most a few hundred ms by now
    scans_and_alerts(alerts)
    os.kill(state["auditd"].pid, signal.SIGHUP)
    time.sleep(1.0)
    check(reader.poll() is None, "the socket reader survives SIGHUP of auditd")
    stop_auditd()
    time.sleep(0.5)
    check(reader.poll() is None, "the socket reader keeps running when auditd goes away")
    reader.send_signal(signal.SIGTERM)
    _, err = reader.communicate(timeout=10)
    check(reader.returncode == 0, f"SIGTERM ends the socket reader with exit 0 ({reader.returncode})")
    check("lost " + sock in err, "it said it lost the socket")
    stats = [json.loads(l) for l in err.splitlines() if l.startswith('{"type":"stats"')]
    check(len(stats) == 1 and stats[0]["alerts"] == 2, "stats at exit count the two alerts")
    check(stats[0]["proctitles_skipped"] >= 200, f"PROCTITLE skipped before auparse ({stats[0]['proctitles_skipped']})")


def main():
    preflight()
    install_signal_handlers()
    try:
        with tempfile.TemporaryDirectory(prefix="scanwatch-it-") as tmp:
            os.chmod(tmp, 0o700)
            for name, mode in (("plugin", plugin_mode), ("socket", socket_mode)):
                work = os.path.join(tmp, name)
                os.mkdir(work)
                mode(work)
    finally:
        cleanup()
    print(f"{len(failures)} failed", flush=True)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
