#!/usr/bin/env bash
# connect_audit_cost.sh - what auditing connect(2) and socket(2) (packaging/scanwatch.rules)
# costs: a loopback client makes N connects as fast as it can, without and with the rules, under
# a private auditd writing its log (docs/live.md, "Audit rules"). Root; takes the auditd lock.
#
# Usage: sudo flock /tmp/scanwatch-auditd.lock bench/connect_audit_cost.sh [N]
set -euo pipefail
N=${1:-200000}
pgrep -x auditd >/dev/null && { echo "an auditd is running; stop it first" >&2; exit 1; }
d=$(mktemp -d /tmp/scanwatch-bench.XXXXXX)
auditd_pid=""
prev_enabled=$(auditctl -s | awk '$1 == "enabled" {print $2}')
prev_backlog=$(auditctl -s | awk '$1 == "backlog_limit" {print $2}')
cleanup() {
    auditctl -D >/dev/null 2>&1 || true
    auditctl -b "$prev_backlog" >/dev/null 2>&1 || true
    auditctl -e "$prev_enabled" >/dev/null 2>&1 || true
    [[ -z $auditd_pid ]] || { kill -TERM "$auditd_pid" 2>/dev/null || true; wait "$auditd_pid" 2>/dev/null || true; }
    rm -rf "$d"
}
trap cleanup EXIT
mkdir "$d/plugins.d"
cat >"$d/auditd.conf" <<CONF
local_events = yes
write_logs = yes
log_file = $d/audit.log
log_format = ENRICHED
flush = INCREMENTAL_ASYNC
freq = 50
max_log_file = 4096
num_logs = 2
max_log_file_action = ROTATE
space_left = 2
space_left_action = IGNORE
admin_space_left = 1
admin_space_left_action = IGNORE
disk_full_action = IGNORE
disk_error_action = IGNORE
plugin_dir = $d/plugins.d
q_depth = 8000
CONF
chmod 0640 "$d/auditd.conf"
auditctl -b 65536 >/dev/null
auditctl -e 1 >/dev/null
auditd -n -s nochange -c "$d" </dev/null >"$d/auditd.out" 2>&1 &
auditd_pid=$!
sleep 1

# The client: a socket and a connect to a closed loopback port per iteration (ECONNREFUSED at
# once, no server work), timed from inside.
client() {
    python3 - "$N" <<'PY'
import socket, sys, time
n = int(sys.argv[1])
t = time.perf_counter()
for _ in range(n):
    s = socket.socket(); s.connect_ex(("127.0.0.1", 9)); s.close()
dt = time.perf_counter() - t
print(f"{n / dt:.0f}")
PY
}
cpu() { awk '{print $14 + $15}' "/proc/$auditd_pid/stat"; }   # utime + stime, clock ticks
hz=$(getconf CLK_TCK)

lost0=$(auditctl -s | awk '$1 == "lost" {print $2}')
base=$(client)
c0=$(cpu)
idle=$(client)   # twice without rules: the run-to-run noise
c1=$(cpu)
for arch in b64 b32; do
    auditctl -a always,exit -F arch=$arch -S connect -F a2!=110 -k scanwatch-net >/dev/null
    auditctl -a always,exit -F arch=$arch -S socket -F a0!=1 -F a0!=16 -k scanwatch-net >/dev/null
done
with=$(client)
sleep 2   # auditd drains
c2=$(cpu)
auditctl -D >/dev/null
lost1=$(auditctl -s | awk '$1 == "lost" {print $2}')
events=$(grep -c 'type=SYSCALL' "$d/audit.log" || true)
echo "connects/s without rules: $base, $idle (two runs)"
echo "connects/s with connect+socket rules: $with"
echo "auditd CPU: without $(( (c1 - c0) * 1000 / hz )) ms, with $(( (c2 - c1) * 1000 / hz )) ms for $N connects"
echo "SYSCALL records written: $events; kernel lost: $lost0 -> $lost1"
echo "log bytes: $(stat -c %s "$d/audit.log")"
