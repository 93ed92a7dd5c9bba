#!/usr/bin/env python3
"""`scanwatch doctor` against the real auditd (docs/operations.md, "scanwatch doctor").

A private auditd runs scanwatch from its plugins.d (auditd -c DIR: doctor finds the folder from
auditd's command line), with the fixture's exec rule for one login uid only:
- missing rules: the built-in rules want connect and socket, none is loaded: exit 1, the text
  names audit.rules.connect.b64 and the exact auditctl line; --json says the same (ok false,
  stable fields); the exec rule narrowed to one auid is a warning. Running the fix line the JSON
  gives turns that finding ok.
- no rule at all: the execve problem names its fix.
- all well: the rules of packaging/scanwatch.rules loaded (auditctl -R): exit 0, ok true, every
  check ok or a warning; auditd, the plugin entry (active, this binary, a config that parses) and
  access as the configured user (nobody) are ok.
- the configured user cannot write the output folder: a problem naming the path and a chown.
- socket mode: the af_unix plugin inactive is a problem; once active (SIGHUP to auditd) it is ok,
  and another process connected to it is a warning naming its pid.
- the plugin entry inactive: a problem with `active = yes` and the reload in its fix.
Needs root and a kernel that accepts audit rules; otherwise exits 77. Run it under the auditd
lock. Usage: doctor_auditd_test.py SCANWATCH_BINARY SOURCE_DIR"""
import json
import os
import pwd
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time

from auditd_fixture import (check, cleanup, failures, install_signal_handlers, preflight,
                            scanwatch_plugin, start_auditd, state, stop_auditd)

BIN = os.path.abspath(sys.argv[1])
SRC = os.path.abspath(sys.argv[2])
USER = "nobody"


def doctor(config, *extra):
    r = subprocess.run([BIN, f"--config={config}", "doctor", *extra], capture_output=True, text=True,
                       timeout=60)
    return r.returncode, r.stdout, r.stderr


def doctor_json(config, *extra):
    rc, out, err = doctor(config, "--json", *extra)
    try:
        doc = json.loads(out)
    except ValueError:
        check(False, f"--json prints one JSON document ({out[:300]!r} {err[-300:]!r})")
        return rc, {"ok": None, "findings": []}
    return rc, doc


def finding(doc, check_id):
    for f in doc["findings"]:
        if f["check"] == check_id:
            return f
    return None


def main():
    preflight()
    install_signal_handlers()
    pw = pwd.getpwnam(USER)
    # auditd makes its log folder root-only: the outputs live in a folder of their own, owned by
    # the user with the files in it (the plugin opens them as root, a reload reopens them as the user).
    with tempfile.TemporaryDirectory(prefix="scanwatch-doctor-") as tmp, \
            tempfile.TemporaryDirectory(prefix="scanwatch-doctor-out-") as out:
        os.chmod(out, 0o755)
        os.chown(out, pw.pw_uid, pw.pw_gid)
        for name in ("alerts.ndjson", "stats.ndjson"):
            open(os.path.join(out, name), "w").close()
            os.chown(os.path.join(out, name), pw.pw_uid, pw.pw_gid)
        config = os.path.join(tmp, "scanwatch.toml")
        with open(config, "w") as f:
            f.write(f'output = ["file:{out}/alerts.ndjson"]\nstats-file = "{out}/stats.ndjson"\n'
                    f'user = "{USER}"\nhost-id = "it-host"\n')
        os.chmod(config, 0o644)
        try:
            start_auditd(tmp, scanwatch_plugin(BIN, config))
            print("== missing network rules (the fixture loads one exec rule, auid 4343 only)", flush=True)
            rc, text, err = doctor(config)
            print(text, flush=True)
            check(rc == 1, f"exit 1 ({rc}) {err[-300:]}")
            check("PROBLEM audit.rules.connect.b64: no audit rule for connect (b64)" in text,
                  "the text names the missing connect rule")
            check("fix: auditctl -a always,exit -F arch=b64 -S connect -F a2!=110 -k scanwatch-net" in text,
                  "the text gives the exact auditctl line")
            rc, doc = doctor_json(config)
            check(rc == 1 and doc["ok"] is False and doc["problems"] >= 2,
                  f"--json: exit 1, ok false, problems >= 2 ({rc}, {doc.get('ok')}, {doc.get('problems')})")
            check(all(set(f) == {"check", "status", "message", "fix"} for f in doc["findings"]),
                  "--json: every finding has check, status, message, fix")
            exec_b64 = finding(doc, "audit.rules.exec.b64")
            check(exec_b64 is not None and exec_b64["status"] == "warning" and "auid=4343" in exec_b64["message"],
                  f"the exec rule narrowed to auid 4343 is a warning ({exec_b64})")
            for ok_check in ("audit.enabled", "auditd.running", "audit.plugin", "access", "scanwatch.rules"):
                f = finding(doc, ok_check)
                check(f is not None and f["status"] == "ok", f"{ok_check} ok ({f})")
            socket_b64 = finding(doc, "audit.rules.socket.b64")
            check(socket_b64 is not None and socket_b64["status"] == "problem", "socket (b64) missing: a problem")
            if socket_b64 and socket_b64["fix"]:
                fix = socket_b64["fix"][0]
                subprocess.run(shlex.split(fix), check=True)
                _, doc = doctor_json(config)
                f = finding(doc, "audit.rules.socket.b64")
                check(f is not None and f["status"] == "ok", f"after running its fix ({fix}) the finding is ok ({f})")

            print("== no audit rule at all", flush=True)
            subprocess.run(["auditctl", "-D"], capture_output=True, check=True)
            rc, doc = doctor_json(config)
            f = finding(doc, "audit.rules.exec.b64")
            check(rc == 1 and f is not None and f["status"] == "problem" and
                  f["fix"][0] == "auditctl -a always,exit -F arch=b64 -S execve,execveat -k scanwatch-exec",
                  f"execve missing: a problem with the auditctl line ({f})")

            print("== all well: packaging/scanwatch.rules loaded", flush=True)
            r = subprocess.run(["auditctl", "-R", os.path.join(SRC, "packaging", "scanwatch.rules")],
                               capture_output=True, text=True)
            check(r.returncode == 0, f"auditctl -R packaging/scanwatch.rules ({r.stderr.strip()})")
            rc, text, err = doctor(config)
            print(text, flush=True)
            check(rc == 0, f"exit 0 ({rc}) {err[-300:]}")
            rc, doc = doctor_json(config)
            check(rc == 0 and doc["ok"] is True and doc["problems"] == 0,
                  f"--json: exit 0, ok true, 0 problems ({rc}, {doc.get('ok')}, {doc.get('problems')})")
            for need in ("exec.b64", "exec.b32", "connect.b64", "socket.b64", "connect.b32", "socket.b32",
                         "socketcall.b32"):
                f = finding(doc, "audit.rules." + need)
                check(f is not None and f["status"] == "ok", f"audit.rules.{need} ok ({f and f['message']})")

            r = subprocess.run([BIN, "doctor", "--json"], capture_output=True, text=True, timeout=60)
            f = finding(json.loads(r.stdout), "audit.plugin.config")
            check(f is not None and f["status"] == "warning" and config in f["message"] and
                  f["fix"] == [f"scanwatch --config={config} doctor"],
                  f"doctor without --config: a warning that the plugin reads {config} ({f})")

            print("== socket mode: the af_unix plugin and who reads it", flush=True)
            events = os.path.join(tmp, "events.sock")
            rc, doc = doctor_json(config, "--input", "socket", "--socket", events)
            f = finding(doc, "audit.af_unix")
            check(rc == 1 and f is not None and f["status"] == "problem" and
                  any("active = yes" in step for step in f["fix"]),
                  f"af_unix plugin inactive: a problem with its fix ({f})")
            with open(os.path.join(tmp, "plugins.d", "af_unix.conf"), "w") as fh:
                fh.write(f"active = yes\ndirection = out\npath = builtin_af_unix\ntype = builtin\n"
                         f"args = 0640 {events}\nformat = string\n")
            os.kill(state["auditd"].pid, signal.SIGHUP)  # auditd reads plugins.d again
            for _ in range(100):
                if os.path.exists(events):
                    break
                time.sleep(0.1)
            check(os.path.exists(events), f"auditd opened the af_unix socket {events}")
            rc, doc = doctor_json(config, "--input", "socket", "--socket", events)
            f = finding(doc, "audit.af_unix")
            readers = finding(doc, "audit.af_unix.readers")
            check(rc == 0 and f is not None and f["status"] == "ok", f"af_unix active: ok ({f})")
            check(readers is not None and readers["status"] == "ok" and "nobody reads" in readers["message"],
                  f"nobody reads it yet ({readers})")
            other = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            other.connect(events)
            rc, doc = doctor_json(config, "--input", "socket", "--socket", events)
            readers = finding(doc, "audit.af_unix.readers")
            check(rc == 0 and readers is not None and readers["status"] == "warning" and
                  f"pid {os.getpid()} " in readers["message"],
                  f"another reader is a warning naming its pid {os.getpid()} ({readers})")
            other.close()

            print("== the user cannot write the output folder", flush=True)
            os.chown(out, 0, 0)
            os.chmod(out, 0o755)
            rc, doc = doctor_json(config)
            bad = [f for f in doc["findings"] if f["check"] == "access" and f["status"] == "problem"]
            check(rc == 1 and bad and out in bad[0]["message"] and bad[0]["fix"] == [f"chown {USER}:{USER} {out}"],
                  f"access problem names {out} and the chown ({bad})")
            os.chown(out, pw.pw_uid, pw.pw_gid)

            print("== the plugin entry inactive", flush=True)
            conf = os.path.join(tmp, "plugins.d", "scanwatch.conf")
            with open(conf) as fh:
                text = fh.read()
            with open(conf, "w") as fh:
                fh.write(text.replace("active = yes", "active = no"))
            rc, doc = doctor_json(config)
            f = finding(doc, "audit.plugin")
            check(rc == 1 and f is not None and f["status"] == "problem" and
                  f["fix"][0] == f"set active = yes in {conf}",
                  f"inactive entry: a problem with its fix ({f})")
            stop_auditd()
        finally:
            cleanup()
    if failures:
        print(f"{len(failures)} check(s) failed", flush=True)
        sys.exit(1)
    print("all checks passed", flush=True)


if __name__ == "__main__":
    main()
