#!/usr/bin/env python3
"""Elastic's Linux detection rules live (issue 14): scanwatch as an auditd plugin with
tests/elastic-rules/linux as its rules, while real behaviours run that those rules detect: a query
rule (nsenter), a new_terms rule (nohup and setsid), and single-event EQL rules (the other ten
behaviours of the samples/elastic_* captures). Each must raise its rule's alert within 2 s, and
nothing else may alert.

Needs root and a kernel that accepts audit rules; otherwise it exits 77 (skipped) saying why.
Whatever happens it removes its audit rules and stops its auditd.
Usage: live_elastic_rules_test.py SCANWATCH_BINARY RULES_FOLDER"""
import json
import os
import subprocess
import sys
import tempfile
import time

from auditd_fixture import (check, cleanup, failures, install_signal_handlers, preflight, scenario,
                            scanwatch_plugin, start_auditd, stop_auditd)

BIN = os.path.abspath(sys.argv[1])
RULES = os.path.abspath(sys.argv[2])

# (what runs, rule_id that must alert, alerts expected)
BEHAVIOURS = [
    ("nsenter --target 1 --uts /bin/true", "75f9b95f-370b-4ff3-a84c-66d9ec0b84eb", 1),
    ("sh -c 'nohup /bin/true; setsid /bin/true; :'", "9dc1d59c-fc5f-4a73-8ca6-1473eabdff2a", 2),
    ("setpriv --reuid=65534 --regid=65534 --clear-groups dmesg -C", "2724808c-ba5d-48b2-86d2-0002103df753", 1),
    ("f=$(mktemp) && shred --remove \"$f\"", "a1329140-8de3-4445-9f87-908fb6d824f4", 1),
    ("sudo -n true", "92b11a06-57ab-4f6d-a18b-fb7fdf3cc63f", 1),
    ("usermod -o -u 0 scanwatch-no-such-user", "494ebba4-ecb7-4be4-8c6f-654c686549ad", 1),
    ("openssl passwd -1 -salt scanwatch hunter2", "f4b857b3-faef-430d-b420-90be48647f00", 1),
    ("d=$(mktemp -d) && : >\"$d/locked\" && sh -c \"chattr +i '$d/locked'; chattr -i '$d/locked'; :\"; "
     "rm -rf \"$d\"", "968ccab9-da51-4a87-9ce2-d3c9782fd759", 2),
    ("unshare --uts /bin/true", "d00f33e7-b57d-4023-9952-2db91b1767c4", 1),
    ("gpasswd -a scanwatch-no-such-user sudo", "43d6ec12-2b1c-47b5-8f35-e9de65551d3b", 1),
    ("cat /proc/self/maps", "2f95540c-923e-4f57-9dae-de30169c68b9", 1),
    ("d=$(mktemp -d) && cd \"$d\" && : >.bash_history && rm -f .bash_history && cd / && rm -rf \"$d\"",
     "7bcbb3ac-e533-41ad-a612-d6c3bf666aba", 1),
]


def read_alerts(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(l) for l in f.read().splitlines() if l]


def main():
    preflight()
    install_signal_handlers()
    try:
        with tempfile.TemporaryDirectory(prefix="scanwatch-it-") as tmp:
            os.chmod(tmp, 0o755)
            alerts = os.path.join(tmp, "alerts.ndjson")
            config = os.path.join(tmp, "scanwatch.toml")
            with open(config, "w") as f:
                f.write(f'output = ["file:{alerts}"]\nrules = ["{RULES}"]\n'
                        f'host-id = "it-host"\nhost-name = "it-host"\n')
            start_auditd(tmp, scanwatch_plugin(BIN, config))
            time.sleep(1.0)  # the plugin loads its rules
            total = 0
            for script, rule_id, n in BEHAVIOURS:
                done = scenario(script)
                total += n
                got = []
                while time.monotonic() < done + 2.0:
                    got = [a for a in read_alerts(alerts) if a["kibana.alert.rule.rule_id"] == rule_id]
                    if len(got) >= n:
                        break
                    time.sleep(0.01)
                check(len(got) == n, f"{script}: {n} alert(s) of rule {rule_id} within 2 s ({len(got)})")
            time.sleep(0.5)
            stop_auditd()
            everything = read_alerts(alerts)
            check(len(everything) == total, f"no other alert ({len(everything)} in all, {total} expected)")
            check(all(a["event"]["kind"] == "signal" and a["host"]["id"] == "it-host" for a in everything),
                  "alerts are the events' fields with event.kind signal")
    finally:
        cleanup()
    print(f"{len(failures)} failed", flush=True)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
