#!/usr/bin/env python3
"""Least privilege with the real auditd (docs/operations.md, "Privileges"). scanwatch started by
auditd from plugins.d with --user, and scanwatch tail with --user, must run as that user with the
capabilities its mode needs and no more, read from /proc/PID/status of the running agent:

- plugin: Uid/Gid the user's, no supplementary groups, CapEff = CapPrm = CapBnd = CapAmb = 0,
  NoNewPrivs 1, every thread without capabilities; a 110-address ping sweep still gives its alert,
  with user.name looked up after the drop; SIGHUP (reload) after the drop keeps it running and
  writing (the second alert, from an nc scan, arrives).
- tail: CapEff = CapPrm = CAP_DAC_READ_SEARCH only, CapBnd 0; it follows auditd's 0600 log across
  a rotation (the new file is opened after the drop) and writes its state as the user.

The user is `nobody` (present on every Debian system), so the test neither needs nor touches the
package's _scanwatch. Needs root and a kernel that accepts audit rules; otherwise exits 77.
Run it under the auditd lock. Usage: privilege_test.py SCANWATCH_BINARY"""
import json
import os
import pwd
import signal
import subprocess
import sys
import tempfile
import time

from auditd_fixture import (check, cleanup, failures, install_signal_handlers, preflight, rotate,
                            scenario, start_auditd, state, stop_auditd)

BIN = os.path.abspath(sys.argv[1])
USER = "nobody"
CAP_DAC_READ_SEARCH = 1 << 2


def status(pid, task=None):
    path = f"/proc/{pid}/status" if task is None else f"/proc/{pid}/task/{task}/status"
    out = {}
    with open(path) as f:
        for line in f:
            key, _, value = line.partition(":")
            out[key] = value.strip()
    return out


def caps(st, key):
    return int(st[key], 16)


def wait_lines(path, n, deadline):
    lines = []
    while time.monotonic() < deadline:
        if os.path.exists(path):
            with open(path) as f:
                lines = [l for l in f.read().splitlines() if l]
            if len(lines) >= n:
                return lines
        time.sleep(0.05)
    return lines


def find_pid(pattern):
    for _ in range(100):
        r = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True)
        if r.stdout.strip():
            return int(r.stdout.split()[0])
        time.sleep(0.1)
    return None


def check_user(st, uid, gid, what):
    check(st["Uid"].split() == [str(uid)] * 4, f"{what}: Uid all {uid} ({st['Uid']})")
    check(st["Gid"].split() == [str(gid)] * 4, f"{what}: Gid all {gid} ({st['Gid']})")
    check(st["Groups"] == "", f"{what}: no supplementary groups ({st['Groups']!r})")
    check(st["NoNewPrivs"] == "1", f"{what}: NoNewPrivs 1")
    print(f"     {what}: " + " ".join(f"{k}={st[k]}" for k in
                                     ("Uid", "CapEff", "CapPrm", "CapBnd", "CapAmb", "Seccomp")),
          flush=True)


def user_dir(path, uid, gid):
    os.makedirs(path, exist_ok=True)
    os.chown(path, uid, gid)


def plugin_mode(tmp, uid, gid):
    print("== plugin mode --user", flush=True)
    alerts = os.path.join(tmp, "alerts.ndjson")
    open(alerts, "w").close()
    os.chown(alerts, uid, gid)  # owned by the user: a reload after the drop can reopen it
    config = os.path.join(tmp, "scanwatch.toml")
    with open(config, "w") as f:
        f.write(f'output = ["file:{alerts}"]\nuser = "{USER}"\nhost-id = "it-host"\n')
    os.chmod(config, 0o644)  # read again, as the user, on SIGHUP
    plugin = f"active = yes\ndirection = out\npath = {BIN}\ntype = always\n" \
             f"args = plugin --config={config}\nformat = string\n"
    start_auditd(tmp, ("scanwatch.conf", plugin))
    pid = find_pid(f"{BIN} plugin --config={config}")
    check(pid is not None, "auditd started scanwatch from plugins.d")
    if pid is None:
        return
    time.sleep(0.5)  # the drop comes right after the input and outputs are open
    st = status(pid)
    check_user(st, uid, gid, "plugin")
    for key in ("CapEff", "CapPrm", "CapBnd", "CapAmb", "CapInh"):
        check(caps(st, key) == 0, f"plugin: {key} = 0 ({st[key]})")
    for task in os.listdir(f"/proc/{pid}/task"):
        t = status(pid, task)
        check(t["Uid"].split() == [str(uid)] * 4 and caps(t, "CapEff") == 0 and caps(t, "CapPrm") == 0,
              f"plugin thread {task}: the user's, no capabilities")
    done = scenario("for ((i=1;i<=110;i++)); do ping -c 1 -W 1 127.0.0.$i; done")
    lines = wait_lines(alerts, 1, done + 3.0)
    check(len(lines) == 1, f"the ping sweep alert arrives after the drop ({len(lines)})")
    if lines:
        a = json.loads(lines[0])
        check(a.get("user", {}).get("name") == "root",
              f"user.name looked up after the drop ({a.get('user')})")
    os.kill(pid, signal.SIGHUP)
    time.sleep(0.5)
    check(subprocess.run(["kill", "-0", str(pid)]).returncode == 0, "SIGHUP after the drop: still running")
    done = scenario("for ((p=20;p<130;p++)); do nc -z -w 1 127.0.0.1 $p; done")
    lines = wait_lines(alerts, 2, done + 3.0)
    check(len(lines) == 2, f"after the reload the nc scan alert arrives in the reopened file ({len(lines)})")
    stop_auditd()


def tail_mode(tmp, uid, gid):
    print("== tail mode --user", flush=True)
    start_auditd(tmp)
    log = os.path.join(tmp, "audit.log")
    check(os.stat(log).st_mode & 0o077 == 0, f"auditd's log is {oct(os.stat(log).st_mode & 0o777)} (root only)")
    out = os.path.join(tmp, "out")
    user_dir(out, uid, gid)  # state and outputs owned by the user
    alerts = os.path.join(out, "alerts.ndjson")
    st_file = os.path.join(out, "tail.state")
    p = subprocess.Popen([BIN, "tail", log, "--user", USER, "--state", st_file,
                          f"--output=file:{alerts}", "--host-id", "it-host"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    state["procs"].append(p)
    time.sleep(1.0)
    st = status(p.pid)
    check_user(st, uid, gid, "tail")
    check(caps(st, "CapEff") == CAP_DAC_READ_SEARCH, f"tail: CapEff = CAP_DAC_READ_SEARCH only ({st['CapEff']})")
    check(caps(st, "CapPrm") == CAP_DAC_READ_SEARCH, f"tail: CapPrm = CAP_DAC_READ_SEARCH only ({st['CapPrm']})")
    for key in ("CapBnd", "CapAmb", "CapInh"):
        check(caps(st, key) == 0, f"tail: {key} = 0 ({st[key]})")
    rotate()  # the new audit.log (0600 root) is opened after the drop
    done = scenario("for ((i=1;i<=110;i++)); do ping -c 1 -W 1 127.0.0.$i; done")
    lines = wait_lines(alerts, 1, done + 5.0)
    check(len(lines) == 1, f"the ping sweep alert arrives from the rotated log after the drop ({len(lines)})")
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=20)
    check(p.returncode == 0, f"SIGTERM: exit 0 ({p.returncode}) {err.strip()[-300:]}")
    check(os.path.exists(st_file) and os.stat(st_file).st_uid == uid, "the state file was written as the user")
    stop_auditd()


def main():
    preflight()
    install_signal_handlers()
    pw = pwd.getpwnam(USER)
    with tempfile.NamedTemporaryFile() as log:
        r = subprocess.run([BIN, "tail", log.name, "--config", os.devnull, "--user", "no_such_user_sw"],
                           capture_output=True, text=True, timeout=20)
        check(r.returncode == 2 and "cannot switch to user no_such_user_sw: no such user" in r.stderr,
              f"an unknown user stops the start with exit 2, naming it ({r.returncode}: {r.stderr.strip()})")
    try:
        with tempfile.TemporaryDirectory(prefix="scanwatch-priv-") as tmp:
            os.chmod(tmp, 0o755)
            for name, mode in (("plugin", plugin_mode), ("tail", tail_mode)):
                work = os.path.join(tmp, name)
                os.mkdir(work, 0o700)  # the audit log's folder stays root's
                if name == "plugin":
                    os.chmod(work, 0o755)
                mode(work, pw.pw_uid, pw.pw_gid)
    finally:
        cleanup()
    print(f"{len(failures)} failed", flush=True)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
