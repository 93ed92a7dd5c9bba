#!/bin/sh
# Installs the Debian 12 packages scanwatch builds, tests and benchmarks with (run as root).
# Only what is missing is installed; nothing is upgraded.
set -eu
# Every program a test, benchmark or samples/capture.sh runs is here, not left to the base
# system (a minbase Debian 12 lacks sudo, procps, openssl, ...): checked in a clean debootstrap
# root (docs/operations.md, "Testing on a fresh machine").
packages="g++ cmake ninja-build pkg-config make time python3 procps git ca-certificates
auditd audispd-plugins iputils-ping netcat-openbsd ncat socat busybox strace sudo rsyslog
util-linux e2fsprogs passwd coreutils findutils openssl man-db systemd
libauparse-dev libaudit-dev libseccomp-dev libboost-dev libfmt-dev libcli11-dev catch2
libtomlplusplus-dev libxxhash-dev nlohmann-json3-dev libre2-dev libcap-ng-dev librelp-dev rsyslog-relp
build-essential debhelper dpkg-dev fakeroot lintian nmap curl debootstrap
clang libclang-rt-14-dev prometheus"
missing=""
for p in $packages; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "install-deps: missing packages:$missing; run as root to install them" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
# The programs the tests run, by name: a package that stops shipping one fails here, not in a test.
programs="ping nc ncat socat busybox strace sudo setpriv nsenter unshare setsid nohup dmesg shred
chattr usermod gpasswd openssl timeout flock xargs pgrep mount umount auditd auditctl ausearch
audisp-remote rsyslogd python3 cmake ninja git lintian fakeroot dpkg-buildpackage man
systemd-analyze clang++ nmap curl prometheus promtool"
absent=""
for p in $programs; do
    command -v "$p" >/dev/null 2>&1 || [ -x "/usr/sbin/$p" ] || [ -x "/sbin/$p" ] || absent="$absent $p"
done
if [ -n "$absent" ]; then
    echo "install-deps: programs the tests run are still missing:$absent" >&2
    exit 1
fi
