#!/usr/bin/env python3
"""Elastic's rules written for other agents' exec names, live (issue 25): scanwatch as an auditd
plugin with tests/elastic-rules/ruleset as its rules (the rules of the samples/ruleset_* captures)
while some of those behaviours run. With the default --exec-action any, each must raise its
rules' alerts within 2 s and nothing else may alert; with exec-action = "executed" (Elastic's
exact behaviour) only the rule that lists `executed` itself may.

Needs root and a kernel that accepts audit rules; otherwise it exits 77 (skipped) saying why.
Whatever happens it removes its audit rules and stops its auditd.
Usage: live_ruleset_test.py SCANWATCH_BINARY RULES_FOLDER"""
import collections
import json
import os
import sys
import tempfile
import time

from auditd_fixture import (check, cleanup, failures, install_signal_handlers, preflight, scenario,
                            scanwatch_plugin, start_auditd, stop_auditd)

BIN = os.path.abspath(sys.argv[1])
RULES = os.path.abspath(sys.argv[2])

SUDO_LIST = "28d39238-0c01-420a-b77a-24e5a7378663"
SUID_FIND = "5b06a27f-ad72-4499-91db-0c69667bffa5"
WHICH = "5b18eef4-842c-4b47-970f-f08d24004bde"
GETCONF = "90e5976d-ed8c-489a-a293-bfc57ff8ba89"
CLOUD_PATHS = "5f0fff18-f340-444b-9a98-c49ade766ff4"  # lists executed; refused by the KQL parser before
KUBECONFIG = "9a6f5d74-c7e7-4a8b-945e-462c102daee4"
SA_SECRET = "ce73954b-a0a4-4f05-b67b-294c500dac77"

CREDS = ("sh -c 'cat /var/run/secrets/kubernetes.io/serviceaccount/token /etc/kubernetes/admin.conf "
         "2>/dev/null; :'")
# (what runs, {rule_id: alerts}) as in samples/README.md, "Issue 25"
BEHAVIOURS = [
    ("sh -c 'sudo -l >/dev/null; :'", {SUDO_LIST: 1}),
    ("find /usr/bin -perm -4000 >/dev/null", {SUID_FIND: 1}),
    ("which nmap nc ncat netcat socat gcc g++ curl wget python3 >/dev/null", {WHICH: 1}),
    ("sh -c 'getconf PAGESIZE; :' >/dev/null", {GETCONF: 1}),
    (CREDS, {CLOUD_PATHS: 1, KUBECONFIG: 1, SA_SECRET: 2}),
]


def read_alerts(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(l) for l in f.read().splitlines() if l]


def run_plugin(tmp, name, extra_config, behaviours):
    """One auditd with scanwatch as its plugin; returns every alert written."""
    tmp = os.path.join(tmp, name)
    os.mkdir(tmp)
    os.chmod(tmp, 0o755)
    alerts = os.path.join(tmp, f"{name}.ndjson")
    config = os.path.join(tmp, f"{name}.toml")
    with open(config, "w") as f:
        f.write(f'output = ["file:{alerts}"]\nrules = ["{RULES}"]\n'
                f'host-id = "it-host"\nhost-name = "it-host"\n{extra_config}')
    start_auditd(tmp, scanwatch_plugin(BIN, config))
    time.sleep(1.0)  # the plugin loads its rules
    for script, want in behaviours:
        done = scenario(script)
        got = collections.Counter()
        while time.monotonic() < done + 2.0:
            got = collections.Counter(a["kibana.alert.rule.rule_id"] for a in read_alerts(alerts))
            if all(got[r] >= n for r, n in want.items()):
                break
            time.sleep(0.01)
        for rule_id, n in want.items():
            check(got[rule_id] >= n, f"{name}: {script}: {n} alert(s) of rule {rule_id} within 2 s ({got[rule_id]})")
    time.sleep(0.5)
    stop_auditd()
    return read_alerts(alerts)


def main():
    preflight()
    install_signal_handlers()
    try:
        with tempfile.TemporaryDirectory(prefix="scanwatch-it-") as tmp:
            os.chmod(tmp, 0o755)
            everything = run_plugin(tmp, "any", "", BEHAVIOURS)
            want = collections.Counter()
            for _, rules in BEHAVIOURS:
                want.update(rules)
            got = collections.Counter(a["kibana.alert.rule.rule_id"] for a in everything)
            check(got == want, f"exactly the expected alerts and no other ({dict(got)})")
            check(all(a["event"]["action"] == "executed" and a["host"]["id"] == "it-host" for a in everything),
                  "the alerts are scanwatch's exec events (event.action executed)")

            exact = run_plugin(tmp, "executed", 'exec-action = "executed"\n',
                               [(BEHAVIOURS[0][0], {}), (CREDS, {CLOUD_PATHS: 1})])
            ids = [a["kibana.alert.rule.rule_id"] for a in exact]
            check(ids == [CLOUD_PATHS], f"exec-action executed: only the rule listing executed alerts ({ids})")
    finally:
        cleanup()
    print(f"{len(failures)} failed", flush=True)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
