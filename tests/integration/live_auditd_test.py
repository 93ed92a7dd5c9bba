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
import shutil
import signal
import subprocess
import sys
import tempfile
import time

SKIP = 77
BIN = os.path.abspath(sys.argv[1])
AUID = "4343"
KEY = "scanwatch-it"
failures = []
state = {"auditd": None, "rules": False, "procs": [], "enabled": None}


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def skip(why):
    print(f"SKIP: {why}", flush=True)
    sys.exit(SKIP)


def cleanup():
    for p in state["procs"]:
        if p.poll() is None:
            p.kill()
            p.wait()
    if state["rules"]:
        subprocess.run(["auditctl", "-D"], capture_output=True)
        state["rules"] = False
    if state["auditd"] is not None and state["auditd"].poll() is None:
        state["auditd"].terminate()
        try:
            state["auditd"].wait(10)
        except subprocess.TimeoutExpired:
            state["auditd"].kill()
            state["auditd"].wait()
    state["auditd"] = None
    if state["enabled"] is not None:
        subprocess.run(["auditctl", "-e", state["enabled"]], capture_output=True)


def on_signal(signo, _frame):
    cleanup()
    sys.exit(128 + signo)


def audit_pid():
    out = subprocess.run(["auditctl", "-s"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        if line.startswith("pid "):
            return int(line.split()[1])
    return -1


def preflight():
    if os.geteuid() != 0:
        skip("needs root to run auditd and add audit rules")
    for tool in ("auditd", "auditctl", "ping", "nc"):
        if shutil.which(tool) is None:
            skip(f"{tool} is not installed (apt-get install auditd iputils-ping netcat-openbsd)")
    r = subprocess.run(["auditctl", "-s"], capture_output=True, text=True)
    if r.returncode != 0:
        skip(f"the kernel refuses audit: {r.stderr.strip() or r.stdout.strip()}")
    if audit_pid() > 0:
        skip("another audit daemon is registered with the kernel; not disturbing it")
    for line in r.stdout.splitlines():
        if line.startswith("enabled "):
            state["enabled"] = line.split()[1]  # restored at the end
    if state["enabled"] == "2":
        skip("audit configuration is locked (enabled 2)")


def start_auditd(tmp, plugin_conf):
    plugins = os.path.join(tmp, "plugins.d")
    os.makedirs(plugins)
    name, text = plugin_conf
    with open(os.path.join(plugins, name), "w") as f:
        f.write(text)
    conf = os.path.join(tmp, "auditd.conf")
    with open(conf, "w") as f:
        f.write(f"""local_events = yes
write_logs = yes
log_file = {tmp}/audit.log
log_format = ENRICHED
flush = INCREMENTAL_ASYNC
freq = 20
max_log_file = 8
num_logs = 2
max_log_file_action = ROTATE
space_left = 2
space_left_action = IGNORE
admin_space_left = 1
admin_space_left_action = IGNORE
disk_full_action = IGNORE
disk_error_action = IGNORE
name_format = NONE
q_depth = 4000
overflow_action = SYSLOG
max_restarts = 10
plugin_dir = {plugins}
end_of_event_timeout = 2
""")
    os.chmod(conf, 0o640)
    err = open(os.path.join(tmp, "auditd.err"), "w")
    state["auditd"] = subprocess.Popen(["auditd", "-n", "-s", "enable", "-c", tmp],
                                       stdin=subprocess.DEVNULL, stdout=err, stderr=err)
    for _ in range(100):
        if audit_pid() == state["auditd"].pid:
            break
        if state["auditd"].poll() is not None:
            break
        time.sleep(0.1)
    if audit_pid() != state["auditd"].pid:
        cleanup()
        skip("auditd did not register with the kernel: " + open(os.path.join(tmp, "auditd.err")).read()[-500:])
    subprocess.run(["auditctl", "-b", "8192"], capture_output=True)
    r = subprocess.run(["auditctl", "-a", "exit,always", "-F", "arch=b64", "-S", "execve", "-S", "execveat",
                        "-F", f"auid={AUID}", "-k", KEY], capture_output=True, text=True)
    if r.returncode != 0:
        cleanup()
        skip(f"the kernel refused the audit rule: {r.stderr.strip()}")
    state["rules"] = True


def scenario(script):
    """Runs a bash script with login uid AUID (so only it is audited); returns when it is done."""
    subprocess.run(["bash", "-c", f"echo {AUID} > /proc/self/loginuid && cd / && {{ {script}; }}; true"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.monotonic()


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
    plugin = f"""active = yes
direction = out
path = {BIN}
type = always
args = plugin --config={config}
format = string
"""
    start_auditd(tmp, ("scanwatch.conf", plugin))
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
    subprocess.run(["auditctl", "-D"], capture_output=True)
    state["rules"] = False
    state["auditd"].terminate()
    state["auditd"].wait(20)
    state["auditd"] = None
    for _ in range(50):
        if pid is None or subprocess.run(["kill", "-0", str(pid)], capture_output=True).returncode != 0:
            break
        time.sleep(0.1)
    check(pid is not None and subprocess.run(["kill", "-0", str(pid)], capture_output=True).returncode != 0,
          "the plugin exits when auditd stops")
    with open(os.path.join(tmp, "stats.ndjson")) as f:
        stats = [json.loads(l) for l in f.read().splitlines()]
    check(len(stats) == 1 and stats[0]["alerts"] == 2, "the plugin wrote its stats at exit (the clean exit path)")


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
    subprocess.run(["auditctl", "-D"], capture_output=True)
    state["rules"] = False
    state["auditd"].terminate()
    state["auditd"].wait(20)
    state["auditd"] = None
    time.sleep(0.5)
    check(reader.poll() is None, "the socket reader keeps running when auditd goes away")
    reader.send_signal(signal.SIGTERM)
    _, err = reader.communicate(timeout=10)
    check(reader.returncode == 0, f"SIGTERM ends the socket reader with exit 0 ({reader.returncode})")
    check("lost " + sock in err, "it said it lost the socket")
    stats = [json.loads(l) for l in err.splitlines() if l.startswith('{"type":"stats"')]
    check(len(stats) == 1 and stats[0]["alerts"] == 2, "stats at exit count the two alerts")


def main():
    preflight()
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)
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
