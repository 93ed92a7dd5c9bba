#!/usr/bin/env python3
"""Elastic's EQL sequence rules live (issue 25): scanwatch as an auditd plugin with
tests/elastic-rules/sequences as its rules, while the behaviours of the samples/seq_* captures run:
a git clone over http from 127.0.0.1 whose post-checkout hook is a shell, nobody's `sh -c` running
setuid su, and one shell running a user-namespace unshare as nobody then a root shell. Each must
raise its rule's sequence (a building-block alert per event, then the shell alert) within 2 s, and
nothing else may alert.

Needs root and a kernel that accepts audit rules; otherwise it exits 77 (skipped) saying why.
Whatever happens it removes its audit rules and stops its auditd and its http server.
Usage: live_sequence_rules_test.py SCANWATCH_BINARY RULES_FOLDER"""
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
PORT = 18093


def read_alerts(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(l) for l in f.read().splitlines() if l]


def rule_ids():
    """rule_id by file name part, read from the rule files."""
    ids = {}
    for name in os.listdir(RULES):
        with open(os.path.join(RULES, name)) as f:
            for line in f:
                if line.startswith("rule_id = "):
                    ids[name] = line.split('"')[1]
    return ids


def make_repository(tmp):
    """A bare repository served over dumb http, and a template whose post-checkout hook is sh;
    made outside the audited login uid."""
    run = lambda *a: subprocess.run(list(a), check=True, capture_output=True)
    run("git", "init", "-q", "--bare", f"{tmp}/repo.git")
    run("git", "init", "-q", f"{tmp}/src")
    run("git", "-C", f"{tmp}/src", "-c", "user.name=s", "-c", "user.email=s@localhost", "commit", "-q",
        "--allow-empty", "-m", "seed")
    run("git", "-C", f"{tmp}/src", "push", "-q", f"{tmp}/repo.git", "HEAD:master")
    run("git", "-C", f"{tmp}/repo.git", "symbolic-ref", "HEAD", "refs/heads/master")
    run("git", "-C", f"{tmp}/repo.git", "update-server-info")
    os.makedirs(f"{tmp}/tpl/hooks")
    with open(f"{tmp}/tpl/hooks/post-checkout", "w") as f:
        f.write("#!/bin/sh\nexit 0\n")
    os.chmod(f"{tmp}/tpl/hooks/post-checkout", 0o755)
    return subprocess.Popen([sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(PORT)],
                            cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main():
    preflight()
    install_signal_handlers()
    server = None
    try:
        with tempfile.TemporaryDirectory(prefix="scanwatch-it-") as tmp:
            os.chmod(tmp, 0o755)
            server = make_repository(tmp)
            ids = rule_ids()
            behaviours = [
                (f"git clone -q --recursive --template={tmp}/tpl http://127.0.0.1:{PORT}/repo.git {tmp}/clone",
                 ids["execution_git_exploit_cve_2025_48384.toml"]),
                ("setpriv --reuid=65534 --regid=65534 --clear-groups sh -c 'su --version >/dev/null; :'",
                 ids["privilege_escalation_suspicious_suid_binary_execution_auditd_sequence.toml"]),
                ("setpriv --reuid=65534 --regid=65534 --clear-groups unshare --user --map-root-user /bin/true; "
                 "sh -c 'id -u >/dev/null; :'",
                 ids["privilege_escalation_unshare_to_root_process_auditd_sequence.toml"]),
            ]
            alerts = os.path.join(tmp, "alerts.ndjson")
            config = os.path.join(tmp, "scanwatch.toml")
            with open(config, "w") as f:
                f.write(f'output = ["file:{alerts}"]\nrules = ["{RULES}"]\n'
                        f'host-id = "it-host"\nhost-name = "it-host"\n')
            time.sleep(0.5)  # the http server listens
            start_auditd(tmp, scanwatch_plugin(BIN, config))
            time.sleep(1.0)  # the plugin loads its rules
            for script, rule_id in behaviours:
                done = scenario(script)
                got = []
                while time.monotonic() < done + 2.0:
                    got = [a for a in read_alerts(alerts) if a["kibana.alert.rule.rule_id"] == rule_id]
                    if len(got) >= 3:
                        break
                    time.sleep(0.01)
                check(len(got) == 3, f"{script}: 2 building blocks and a shell of rule {rule_id} within 2 s "
                                     f"({len(got)})")
                if len(got) == 3:
                    check([a.get("kibana.alert.group.index") for a in got] == [0, 1, None] and
                          len({a["kibana.alert.group.id"] for a in got}) == 1,
                          "building blocks 0 and 1, then the shell, of one group")
            time.sleep(0.5)
            stop_auditd()
            everything = read_alerts(alerts)
            check(len(everything) == 3 * len(behaviours),
                  f"no other alert ({len(everything)} in all, {3 * len(behaviours)} expected)")
            check(all(a["event"]["kind"] == "signal" and a["host"]["id"] == "it-host" for a in everything),
                  "alerts carry event.kind signal and the host")
    finally:
        if server is not None:
            server.terminate()
            server.wait()
        cleanup()
    print(f"{len(failures)} failed", flush=True)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
