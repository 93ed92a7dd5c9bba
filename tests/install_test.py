#!/usr/bin/env python3
"""`cmake --install` into a DESTDIR: the files land in their FHS places, the installed binary runs
its built-in rule, the plugins.d file names the installed binary, the systemd unit verifies
(where systemd-analyze is available), and the man page renders.
Usage: install_test.py BUILD_DIR SOURCE_DIR"""
import os
import shutil
import subprocess
import sys
import tempfile

BUILD, SRC = sys.argv[1], sys.argv[2]
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


with tempfile.TemporaryDirectory(prefix="scanwatch-install-") as tmp:
    build = os.path.join(tmp, "build")
    dest = os.path.join(tmp, "root")
    # A separate configure with the FHS prefix, reusing nothing but the sources.
    subprocess.run(["cmake", "-S", SRC, "-B", build, "-DCMAKE_BUILD_TYPE=Release", "-DSCANWATCH_TESTS=OFF",
                    "-DCMAKE_INSTALL_PREFIX=/usr"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["cmake", "--build", build, "-j", str(os.cpu_count() or 2)], check=True,
                   stdout=subprocess.DEVNULL)
    env = dict(os.environ, DESTDIR=dest)
    subprocess.run(["cmake", "--install", build], check=True, env=env, stdout=subprocess.DEVNULL)

    expected = ["usr/sbin/scanwatch", "etc/scanwatch/scanwatch.toml", "etc/scanwatch/rules/network_scan.toml",
                "etc/audit/plugins.d/scanwatch.conf", "usr/lib/systemd/system/scanwatch-tail.service",
                "usr/share/man/man8/scanwatch.8", "var/log/scanwatch", "var/lib/scanwatch",
                "etc/scanwatch/rules/port_scan.toml", "etc/scanwatch/rules/host_sweep.toml",
                "etc/scanwatch/rules/raw_socket.toml", "usr/share/scanwatch/scanwatch.rules"]
    for path in expected:
        check(os.path.exists(os.path.join(dest, path)), f"installed {path}")

    binary = os.path.join(dest, "usr/sbin/scanwatch")
    r = subprocess.run([binary, "--version"], capture_output=True, text=True)
    check(r.returncode == 0 and r.stdout.startswith("scanwatch "), "the installed binary runs")
    r = subprocess.run([binary, "replay", "--config", os.devnull, os.path.join(SRC, "samples", "ping_sweep.enriched.log")],
                       capture_output=True, text=True)
    check(r.returncode == 0 and len(r.stdout.splitlines()) == 1, "the installed binary alerts with its built-in rule")
    r = subprocess.run([binary, "rules", "check", os.path.join(dest, "etc/scanwatch/rules")], capture_output=True, text=True)
    check(r.returncode == 0 and "03c23d45-d3cb-4ad4-ab5d-b361ffe8724a" in r.stdout, "the installed rules folder checks")

    plugin = open(os.path.join(dest, "etc/audit/plugins.d/scanwatch.conf")).read()
    check("path = /usr/sbin/scanwatch" in plugin, "plugins.d names the installed binary")
    check("active = no" in plugin, "the plugin is inactive as installed")
    check("args = plugin --config=/etc/scanwatch/scanwatch.toml" in plugin, "plugins.d names the installed config")

    unit = os.path.join(dest, "usr/lib/systemd/system/scanwatch-tail.service")
    text = open(unit).read()
    check("ExecStart=/usr/sbin/scanwatch tail" in text, "the unit runs the installed binary in tail mode")
    for setting in ("ProtectSystem=strict", "NoNewPrivileges=yes", "CapabilityBoundingSet=CAP_DAC_READ_SEARCH"):
        check(setting in text, f"the unit has {setting}")
    if shutil.which("systemd-analyze"):
        r = subprocess.run(["systemd-analyze", "verify", "--root", dest, unit], capture_output=True, text=True)
        # The DESTDIR is no system: missing targets, /bin/kill and man pages there say nothing about
        # the unit. Syntax, unknown settings and bad values are what is looked for.
        environmental = ("target not found", "is not executable", "Command 'man ")
        problems = [l for l in (r.stdout + r.stderr).splitlines()
                    if "scanwatch" in l and not any(e in l for e in environmental)]
        check(not problems, "systemd-analyze verify is clean: " + "; ".join(problems))
    else:
        print("note: systemd-analyze is not installed; unit not verified")

    if shutil.which("man"):
        r = subprocess.run(["man", "-l", os.path.join(dest, "usr/share/man/man8/scanwatch.8")], capture_output=True,
                           text=True, env=dict(os.environ, MANPAGER="cat", MANWIDTH="100"))
        check(r.returncode == 0 and "SYNOPSIS" in r.stdout, "the man page renders")

print(f"{len(failures)} failed")
sys.exit(1 if failures else 0)
