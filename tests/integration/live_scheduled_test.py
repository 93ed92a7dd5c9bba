#!/usr/bin/env python3
"""Scheduled evaluation on a quiet host, against the real auditd: scanwatch as an auditd plugin
with --evaluation=scheduled and the built-in rule run every 10 s. A real sweep of 110 loopback
pings, then nothing more from the test (only its login uid is audited, so the host is quiet to
the rule): the run after the sweep must happen on time, driven by the clock, not wait for the
next exec. The alert must come within the interval plus a few seconds of the last exec, carry a
run time on a 10 s boundary, and arrive no more than a few seconds after that run time.

Needs root and a kernel that accepts audit rules; otherwise it exits 77 (skipped) saying why.
Whatever happens it removes its audit rules (auditctl -D) and stops its auditd.
Usage: live_scheduled_test.py SCANWATCH_BINARY SOURCE_DIR"""
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time

from auditd_fixture import (check, cleanup, failures, install_signal_handlers, preflight, scenario,
                            scanwatch_plugin, start_auditd, stop_auditd)

BIN = os.path.abspath(sys.argv[1])
SOURCE = os.path.abspath(sys.argv[2])
INTERVAL = 10
SLACK = 6  # event-time lag (3 s), the 1 s timer, the plugin pipe and this poll


def rule_text():
    with open(os.path.join(SOURCE, "rules", "builtin", "network_scan.toml")) as f:
        text = f.read()
    text = text.replace('from = "now-9m"', 'from = "now-60s"').replace('interval = "5m"', f'interval = "{INTERVAL}s"')
    assert f'interval = "{INTERVAL}s"' in text and 'from = "now-60s"' in text
    return text


def epoch(ts):
    return datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc).timestamp()


def main():
    preflight()
    install_signal_handlers()
    try:
        with tempfile.TemporaryDirectory(prefix="scanwatch-it-") as tmp:
            os.chmod(tmp, 0o700)
            alerts = os.path.join(tmp, "alerts.ndjson")
            rule = os.path.join(tmp, "scan_10s.toml")
            with open(rule, "w") as f:
                f.write(rule_text())
            config = os.path.join(tmp, "scanwatch.toml")
            with open(config, "w") as f:
                # auditd passes a plugin at most two arguments: everything is in the config.
                f.write(f'output = ["file:{alerts}"]\nstats-file = "{tmp}/stats.ndjson"\n'
                        'host-id = "it-host"\nhost-name = "it-host"\nevaluation = "scheduled"\n'
                        f'rules = ["{rule}"]\n')
            start_auditd(tmp, scanwatch_plugin(BIN, config))
            time.sleep(1.0)  # the plugin is up
            done = scenario("for ((i=1;i<=110;i++)); do ping -c 1 -W 1 127.0.0.$i; done")
            done_wall = time.time()
            got = None
            while time.monotonic() < done + INTERVAL + SLACK:
                if os.path.exists(alerts) and os.path.getsize(alerts) > 0:
                    got = time.monotonic()
                    break
                time.sleep(0.05)
            arrived_wall = done_wall + ((got or 0) - done)
            check(got is not None,
                  f"the scheduled alert came on a quiet host within {INTERVAL}+{SLACK} s of the last exec "
                  f"({(got or 0) - done:.1f} s)")
            time.sleep(INTERVAL + 1)  # a later run must not alert again on spent events
            with open(alerts) if os.path.exists(alerts) else open(os.devnull) as f:
                lines = [json.loads(l) for l in f.read().splitlines() if l]
            check(len(lines) == 1, f"exactly one alert ({len(lines)})")
            if lines:
                a = lines[0]
                run = epoch(a["@timestamp"])
                check(abs(run / INTERVAL - round(run / INTERVAL)) < 1e-6,
                      f"@timestamp is a run time on a {INTERVAL} s boundary ({a['@timestamp']})")
                check(a["kibana.alert.threshold_result"]["count"] == 110,
                      f"the bucket holds the whole sweep ({a['kibana.alert.threshold_result']['count']})")
                check(epoch(a["kibana.alert.original_time"]) <= run,
                      "original_time (the bucket's last event) is not after the run")
                if got is not None:
                    check(arrived_wall - run < SLACK,
                          f"the alert came {arrived_wall - run:.1f} s after its run time, not at the next exec")
            stop_auditd()
    finally:
        cleanup()
    print(f"{len(failures)} failed", flush=True)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
