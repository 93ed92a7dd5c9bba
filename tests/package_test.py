#!/usr/bin/env python3
"""The Debian package on this machine: build it (scripts/package.sh, unless build/ holds one newer
than every source), lintian without errors, the files and conffiles it ships and the Depends from
shlibs; then dpkg -i, `scanwatch rules check` and a replay from the installed files, tail mode
from the installed config switching to _scanwatch, dpkg -r (user, config and state kept) and
dpkg -P (state gone, user kept); then the same .deb in a clean Debian 12 root made by debootstrap
(scripts/clean-root.sh deb: apt-get install, rules check, replay, purge). Leaves the machine as it found it (the user is deleted again if
the test created it). Skips (77) without root, dpkg-buildpackage or lintian, or when a scanwatch
package is already installed. Usage: package_test.py SOURCE_DIR"""
import glob
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time

SRC = os.path.abspath(sys.argv[1])
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def skip(why):
    print(f"SKIP: {why}", flush=True)
    sys.exit(77)


def run(*cmd, **kw):
    return subprocess.run(list(cmd), capture_output=True, text=True, **kw)


def installed():
    r = run("dpkg-query", "-W", "-f=${Status}", "scanwatch")
    return r.returncode == 0 and "installed" in r.stdout and "not-installed" not in r.stdout


def user_exists():
    try:
        pwd.getpwnam("_scanwatch")
        return True
    except KeyError:
        return False


def newest_source():
    newest = 0.0
    for top in ("agent", "parsers", "rules", "debian", "packaging", "plugins.d", "docs"):
        for root, _, files in os.walk(os.path.join(SRC, top)):
            for f in files:
                newest = max(newest, os.path.getmtime(os.path.join(root, f)))
    return max(newest, os.path.getmtime(os.path.join(SRC, "CMakeLists.txt")))


def the_deb():
    debs = glob.glob(os.path.join(SRC, "build", "scanwatch_*.deb"))
    if debs and os.path.getmtime(debs[0]) > newest_source():
        return debs[0]
    r = run(os.path.join(SRC, "scripts", "package.sh"))
    check(r.returncode == 0, "scripts/package.sh builds the package " + (r.stdout + r.stderr)[-800:])
    debs = glob.glob(os.path.join(SRC, "build", "scanwatch_*.deb"))
    return debs[0] if debs else None


def inspect(deb):
    r = run("lintian", "--fail-on", "error", deb)
    check(r.returncode == 0 and "\nE: " not in "\n" + r.stdout, "lintian reports no error " + r.stdout[-500:])
    files = run("dpkg-deb", "-c", deb).stdout
    for path in ("./usr/sbin/scanwatch", "./etc/scanwatch/scanwatch.toml", "./etc/scanwatch/rules/network_scan.toml",
                 "./etc/audit/plugins.d/scanwatch.conf", "./lib/systemd/system/scanwatch-tail.service",
                 "./usr/share/man/man8/scanwatch.8.gz"):
        check(path in files, f"ships {path}")
    with tempfile.TemporaryDirectory() as ctl:
        subprocess.run(["dpkg-deb", "-e", deb, ctl], check=True)
        conffiles = open(os.path.join(ctl, "conffiles")).read().split()
        control = open(os.path.join(ctl, "control")).read()
    for path in ("/etc/scanwatch/scanwatch.toml", "/etc/scanwatch/rules/network_scan.toml",
                 "/etc/audit/plugins.d/scanwatch.conf"):
        check(path in conffiles, f"{path} is a conffile")
    depends = next((l for l in control.splitlines() if l.startswith("Depends:")), "")
    for lib in ("libauparse0", "libaudit1", "libcap-ng0", "librelp0", "libseccomp2", "libc6", "adduser"):
        check(lib in depends, f"Depends names {lib} ({depends})")


def exercise(deb):
    r = run("dpkg", "-i", deb)
    check(r.returncode == 0, "dpkg -i " + r.stderr[-500:])
    check(user_exists(), "postinst created _scanwatch")
    uid = pwd.getpwnam("_scanwatch").pw_uid if user_exists() else -1
    for d in ("/var/lib/scanwatch", "/var/log/scanwatch"):
        check(os.path.isdir(d) and os.stat(d).st_uid == uid, f"{d} belongs to _scanwatch")
    plugin = open("/etc/audit/plugins.d/scanwatch.conf").read()
    check("active = no" in plugin, "the plugins.d file is inactive")
    check('\nuser = "_scanwatch"' in open("/etc/scanwatch/scanwatch.toml").read(), "the config switches to _scanwatch")
    r = run("/usr/sbin/scanwatch", "rules", "check", "/etc/scanwatch/rules")
    check(r.returncode == 0 and "03c23d45-d3cb-4ad4-ab5d-b361ffe8724a" in r.stdout, "rules check of the installed rules")
    sample = os.path.join(SRC, "samples", "ping_sweep.enriched.log")
    # Not the daemon's config: a replay as root would create its stats file as root.
    r = run("/usr/sbin/scanwatch", "replay", "--config", "/dev/null", "--rules", "/etc/scanwatch/rules", sample)
    check(r.returncode == 0 and len(r.stdout.splitlines()) == 1, f"replay with the installed rules: one alert ({r.stderr[-300:]})")
    # Tail mode as the unit runs it, from the installed config: it switches to _scanwatch.
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o700)
        log = os.path.join(tmp, "audit.log")
        shutil.copy(sample, log)
        os.chmod(log, 0o600)
        alerts = "/var/log/scanwatch/package-test.ndjson"
        p = subprocess.Popen(["/usr/sbin/scanwatch", "tail", log, "--from-start", "--output", f"file:{alerts}",
                              "--state", "/var/lib/scanwatch/package-test.state"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        time.sleep(1.5)
        st = open(f"/proc/{p.pid}/status").read() if p.poll() is None else ""
        check(f"Uid:\t{uid}\t{uid}\t{uid}\t{uid}" in st, "installed tail runs as _scanwatch")
        check("CapEff:\t0000000000000004" in st, "with CAP_DAC_READ_SEARCH only")
        p.terminate()
        _, err = p.communicate(timeout=20)
        check(p.returncode == 0 and "cannot" not in err, f"tail ends with exit 0, no complaint ({p.returncode}: {err[-300:]})")
        n = len(open(alerts).read().splitlines()) if os.path.exists(alerts) else 0
        check(n == 1, f"tail from the installed files: one alert ({n})")
    r = run("dpkg", "-r", "scanwatch")
    check(r.returncode == 0 and not os.path.exists("/usr/sbin/scanwatch"), "dpkg -r removes the binary")
    check(user_exists(), "remove keeps _scanwatch")
    check(os.path.exists("/etc/scanwatch/scanwatch.toml"), "remove keeps the conffiles")
    check(os.path.exists("/var/lib/scanwatch/package-test.state"), "remove keeps the state")
    r = run("dpkg", "-P", "scanwatch")
    check(r.returncode == 0, "dpkg -P " + r.stderr[-300:])
    for gone in ("/etc/scanwatch", "/var/lib/scanwatch", "/var/log/scanwatch", "/etc/audit/plugins.d/scanwatch.conf"):
        check(not os.path.exists(gone), f"purge removes {gone}")
    check(user_exists(), "purge keeps _scanwatch (its uid may own files)")


def clean_root(deb):
    """apt-get install ./DEB in a fresh debootstrapped Debian 12 root: proves the Depends are
    complete, which installing where it was built cannot (scripts/clean-root.sh)."""
    r = run(os.path.join(SRC, "scripts", "clean-root.sh"), "deb", deb)
    print(r.stdout, end="", flush=True)
    if r.returncode == 77:
        print("note: clean root not tried: " + r.stderr.strip().splitlines()[-1], flush=True)
        return
    check(r.returncode == 0, "installs and runs in a clean Debian 12 root " + r.stderr[-800:])


def main():
    if os.geteuid() != 0:
        skip("needs root to install the package")
    for tool in ("dpkg-buildpackage", "lintian", "dh"):
        if shutil.which(tool) is None:
            skip(f"{tool} is missing (scripts/install-deps.sh installs it)")
    if installed():
        skip("a scanwatch package is installed on this machine; not disturbing it")
    had_user = user_exists()
    try:
        deb = the_deb()
        if deb:
            inspect(deb)
            exercise(deb)
            clean_root(deb)
    finally:
        if installed():
            run("dpkg", "-P", "scanwatch")
        if not had_user and user_exists():
            run("deluser", "--system", "--quiet", "_scanwatch")
    print(f"{len(failures)} failed", flush=True)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
