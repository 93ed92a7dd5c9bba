#!/usr/bin/env python3
"""Sweeps from a process with no login session, against the real auditd: scanwatch as an auditd
plugin (default profile), the audit rule scoped to a dedicated uid that the scenarios run as
through `setpriv --reuid`, with the login uid unset (as a service and what it spawns have).
A `timeout 2 ping` sweep of 110 loopback targets must alert once, grouped on the parents'
parent (the loop shell); a sweep of backgrounded shell functions must alert once, grouped by
user (the forks never exec); 30 cron-like `sh -c` jobs pinging the same 3 hosts must not alert.

Needs root and a kernel that accepts audit rules; otherwise it exits 77 (skipped) saying why.
Whatever happens it removes its audit rules (auditctl -D) and stops its auditd.
Usage: live_nosession_test.py SCANWATCH_BINARY"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from auditd_fixture import (check, cleanup, failures, install_signal_handlers, preflight,
                            scanwatch_plugin, skip, start_auditd, stop_auditd)

BIN = os.path.abspath(sys.argv[1])
UID = "4345"  # a uid nobody else uses: only the scenarios' execs are audited

TIMEOUT_SWEEP = 'for ((i=1;i<=110;i++)); do timeout 2 ping -c 1 -W 1 127.0.0.$i; done'
BG_SWEEP = ('probe() { ping -c 1 -W 1 127.0.1.$1; }; '
            'for ((i=1;i<=110;i++)); do probe $i & ((i % 10)) || wait; done; wait')
CRON_CONTROL = ('for ((j=1;j<=30;j++)); do '
                '(exec sh -c "for h in 1 2 3; do ping -c 1 -W 1 127.0.2.\\$h; done"); done')


def sessionless(script):
    """Runs `script` in a bash exec'd as UID with the login uid (and so the session) unset."""
    subprocess.run(["bash", "-c", "echo 4294967295 > /proc/self/loginuid && cd / && exec setpriv "
                    f"--reuid={UID} --regid={UID} --clear-groups bash -c \"$0\"", script],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def read_alerts(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f.read().splitlines() if line]


def main():
    preflight()
    if shutil.which("setpriv") is None:
        skip("setpriv is not installed (apt-get install util-linux)")
    r = subprocess.run(["bash", "-c", "echo 4294967295 > /proc/self/loginuid && cat /proc/self/sessionid"],
                       capture_output=True, text=True)
    if r.returncode != 0 or r.stdout.strip() != "4294967295":
        skip("cannot unset the login uid of a child (loginuid immutable?): " + r.stderr.strip())
    install_signal_handlers()
    try:
        with tempfile.TemporaryDirectory(prefix="scanwatch-it-") as tmp:
            os.chmod(tmp, 0o700)
            alerts = os.path.join(tmp, "alerts.ndjson")
            config = os.path.join(tmp, "scanwatch.toml")
            with open(config, "w") as f:
                f.write(f'output = ["file:{alerts}"]\nstats-file = "{tmp}/stats.ndjson"\n'
                        'host-id = "it-host"\nhost-name = "it-host"\n')
            start_auditd(tmp, scanwatch_plugin(BIN, config), audit_filter=f"uid={UID}")
            time.sleep(1.0)  # the plugin is up
            sessionless(TIMEOUT_SWEEP)
            sessionless(BG_SWEEP)
            sessionless(CRON_CONTROL)
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and len(read_alerts(alerts)) < 2:
                time.sleep(0.1)
            time.sleep(2)  # anything more (a duplicate, the control) would come by now
            stop_auditd()
            got = read_alerts(alerts)
            check(len(got) == 2, f"two alerts, one per sweep, none for the control ({len(got)})")
            by_field = {}
            for a in got:
                terms = a["kibana.alert.threshold_result"]["terms"]
                fields = [t["field"] for t in terms]
                by_field[fields[1] if len(fields) > 1 else ""] = a
            gp = by_field.get("process.parent.parent.entity_id")
            check(gp is not None, "the timeout sweep alerts grouped on process.parent.parent.entity_id")
            if gp is not None:
                value = gp["kibana.alert.threshold_result"]["terms"][1]["value"]
                parent = gp["process"]["parent"]
                check(parent.get("parent", {}).get("entity_id") == value,
                      "the alert body carries process.parent.parent.entity_id")
                check(parent.get("parent", {}).get("executable", "").endswith("/bash"),
                      f"the parents' parent is the loop shell ({parent.get('parent')})")
                check(parent.get("executable", "").endswith("/timeout"), "the last parent is timeout")
                check("parents' parent" in gp["kibana.alert.reason"] and
                      "no login session" in gp["kibana.alert.reason"],
                      f"the reason says what was grouped on: {gp['kibana.alert.reason']}")
                check(all(s.startswith("timeout 2 ping") or s.startswith("ping")
                          for s in gp["scanwatch"]["evidence"]["sample_command_lines"]),
                      "the evidence is the sweep's")
            user = by_field.get("user.id")
            check(user is not None, "the backgrounded-function sweep alerts grouped on user.id")
            if user is not None:
                check(user["user"]["id"] == UID, f"the alert body carries user.id {UID}")
                check("grouped by user" in user["kibana.alert.reason"],
                      f"the reason says what was grouped on: {user['kibana.alert.reason']}")
    finally:
        cleanup()
    print(f"{len(failures)} failed", flush=True)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
