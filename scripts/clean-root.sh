#!/usr/bin/env bash
# A clean Debian 12 root, made with debootstrap from Debian's own packages, to prove what a fresh
# server sees (docs/operations.md, "A clean install, proven"):
#
#   scripts/clean-root.sh deb DEB     installs DEB there with `apt-get install ./DEB` (so apt must
#                                     find every Depends in Debian), then runs `scanwatch --version`,
#                                     `rules check` of the installed rules and a replay of a bundled
#                                     sample with them (one alert expected), then purges it
#   scripts/clean-root.sh readme      clones this repository's HEAD into the root and runs the
#                                     README's two set-up commands there, as root, with a clean
#                                     environment (takes as long as they do: about 35 minutes)
#
# Needs root, debootstrap and network access to deb.debian.org. The root is a temporary folder
# removed at the end (KEEP_ROOT=1 keeps it and prints where); CLEAN_ROOT_BASE=DIR copies an
# existing pristine minbase root instead of running debootstrap (2-3 minutes). Everything runs in
# a private mount namespace, so the root's mounts vanish with it however the script ends.
# Exit status: 0 all passed, 1 a check failed, 77 not possible here (no root, no debootstrap,
# no network), with the reason on stderr.
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
mode=${1:-}
case "$mode" in
deb) deb=$(realpath "${2:?usage: clean-root.sh deb DEB}") ;;
readme) ;;
*) echo "usage: clean-root.sh deb DEB | clean-root.sh readme" >&2; exit 2 ;;
esac

skip() { echo "clean-root: SKIP: $*" >&2; exit 77; }
[[ $(id -u) -eq 0 ]] || skip "needs root (debootstrap, chroot)"
command -v unshare >/dev/null || skip "needs unshare (util-linux)"
if [[ -z "${CLEAN_ROOT_BASE:-}" ]]; then
    command -v debootstrap >/dev/null || skip "needs debootstrap (apt-get install debootstrap)"
    getent hosts deb.debian.org >/dev/null || skip "deb.debian.org does not resolve: no network for apt"
fi

root=$(mktemp -d /var/tmp/scanwatch-clean-root.XXXXXX)
cleanup() {
    if [[ "${KEEP_ROOT:-0}" == 1 ]]; then
        echo "clean-root: kept $root" >&2
    else
        rm -rf --one-file-system "$root"
    fi
}
trap cleanup EXIT

if [[ -n "${CLEAN_ROOT_BASE:-}" ]]; then
    cp -a "$CLEAN_ROOT_BASE/." "$root/"
else
    echo "clean-root: debootstrap --variant=minbase bookworm $root" >&2
    if ! debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian >"$root.log" 2>&1; then
        tail -20 "$root.log" >&2
        rm -f "$root.log"
        skip "debootstrap failed (log above): no Debian mirror reachable?"
    fi
    rm -f "$root.log"
fi
cp /etc/resolv.conf "$root/etc/resolv.conf"
# No package may start a service in the root: it would be the host's (a second auditd on the
# host's kernel).
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"
cat >"$root/etc/apt/sources.list" <<'EOF'
deb http://deb.debian.org/debian bookworm main
deb http://deb.debian.org/debian bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
EOF

# The steps inside the root, run by `chroot ROOT /bin/bash -s` with a clean environment.
inside=$(mktemp)
trap 'rm -f "$inside"; cleanup' EXIT
if [[ "$mode" == deb ]]; then
    cp "$deb" "$root/root/"
    cp "$src/samples/ping_sweep.enriched.log" "$root/root/sample.log"
    cat >"$inside" <<EOF
set -eu
cd /root
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends ./$(basename "$deb") >apt.log 2>&1 || { tail -30 apt.log; exit 1; }
echo "ok   apt-get install ./$(basename "$deb") (Depends all found in Debian 12)"
scanwatch --version
scanwatch rules check /etc/scanwatch/rules >check.out
grep -q 03c23d45-d3cb-4ad4-ab5d-b361ffe8724a check.out
echo "ok   rules check of the installed rules"
scanwatch replay --config /dev/null --rules /etc/scanwatch/rules sample.log >alerts.ndjson
test "\$(wc -l <alerts.ndjson)" -eq 1
echo "ok   replay with the installed rules: one alert"
getent passwd _scanwatch >/dev/null
echo "ok   the package created _scanwatch"
apt-get purge -y -q scanwatch >/dev/null 2>&1
test ! -e /usr/sbin/scanwatch
echo "ok   apt-get purge"
EOF
else
    git clone -q "$src" "$root/root/scanwatch"
    # The README's two commands, verbatim: the lines that follow its "```sh" markers.
    setup=$(awk '/^## Set up/{f=1} /^## Use/{f=0} f&&/^```/{c++; next} f&&c%2==1{print}' "$src/README.md")
    [[ -n "$setup" ]] || { echo "clean-root: no set-up commands found in README.md" >&2; exit 1; }
    {
        echo "set -eu"
        echo "cd /root/scanwatch"
        printf '%s\n' "$setup"
    } >"$inside"
    echo "clean-root: running in the root:" >&2
    sed 's/^/    /' "$inside" >&2
fi

unshare -m --propagation private /bin/bash -c '
    set -eu
    root=$1 inside=$2
    mount --bind "$root" "$root"  # a mount point, as / is on a machine: unshare -m works inside
    mount -t proc proc "$root/proc"
    mount --rbind /sys "$root/sys"
    mount --rbind /dev "$root/dev"
    exec chroot "$root" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        HOME=/root TERM=dumb LANG=C.UTF-8 /bin/bash -s <"$inside"
' clean-root "$root" "$inside"
echo "clean-root: $mode: all passed"
