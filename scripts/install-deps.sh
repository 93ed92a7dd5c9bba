#!/bin/sh
# Installs the Debian 12 packages scanwatch builds, tests and benchmarks with (run as root).
# Only what is missing is installed; nothing is upgraded.
set -eu
packages="g++ cmake ninja-build pkg-config make time python3 procps
auditd iputils-ping netcat-openbsd rsyslog
libauparse-dev libaudit-dev libboost-dev libfmt-dev libcli11-dev catch2
libtomlplusplus-dev libxxhash-dev nlohmann-json3-dev libre2-dev
clang libclang-rt-14-dev"
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
