#!/usr/bin/env bash
# capture.sh - capture REAL Linux audit logs (written by the real auditd of
# this machine) for the scanwatch sample scenarios.
#
# Usage:  sudo samples/capture.sh [OUTDIR]
#         OUTDIR defaults to the directory holding this script (samples/).
#
# Needs: root, a kernel whose audit subsystem accepts `auditctl -s`, no other
# audit daemon registered with the kernel, Debian-ish userland (missing tools
# are installed with apt-get).
#
# What it does, per scenario:
#   1. writes a private auditd.conf into a fresh mktemp -d directory and starts
#      `auditd -n -s nochange -c DIR` (log_file inside DIR; /etc/audit untouched)
#   2. adds execve/execveat rules filtered on a dedicated login uid (auid 4242)
#      and key "scanwatch-sample"
#   3. runs the scenario in ONE subshell that first writes 4242 to
#      /proc/self/loginuid, so only the scenario's processes match the rules;
#      the subshell is the parent process of every tool execution
#   4. deletes exactly the rules it added, lets auditd flush for a second,
#      stops auditd with SIGTERM, waits for it and copies the log unmodified.
# A trap restores everything (rules, auditd, enabled flag, backlog limit,
# temp dirs) however the script ends.

set -euo pipefail
umask 022
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export LC_ALL=C

SCAN_AUID=${SCAN_AUID:-4242}
KEY=scanwatch-sample
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUTDIR=${1:-$SCRIPT_DIR}

die()  { echo "capture.sh: ERROR: $*" >&2; exit 1; }
note() { echo "capture.sh: $*" >&2; }

# --------------------------------------------------------------- preconditions
[[ ${EUID} -eq 0 ]] || die "must be run as root (try: sudo $0 ${1:-})"

need_pkgs=()
command -v auditctl >/dev/null 2>&1 || need_pkgs+=(auditd)
command -v auditd   >/dev/null 2>&1 || need_pkgs+=(auditd)
command -v ping     >/dev/null 2>&1 || need_pkgs+=(iputils-ping)
[[ -x /bin/nc.openbsd ]]            || need_pkgs+=(netcat-openbsd)
command -v ncat     >/dev/null 2>&1 || need_pkgs+=(ncat)
command -v socat    >/dev/null 2>&1 || need_pkgs+=(socat)
[[ -x /bin/busybox ]]               || need_pkgs+=(busybox)
command -v sudo     >/dev/null 2>&1 || need_pkgs+=(sudo)
command -v strace   >/dev/null 2>&1 || need_pkgs+=(strace)
[[ -x /usr/bin/python3 ]]           || need_pkgs+=(python3)
command -v xargs    >/dev/null 2>&1 || need_pkgs+=(findutils)
if ((${#need_pkgs[@]})); then
    note "installing missing packages: ${need_pkgs[*]}"
    apt-get install -y --no-install-recommends "${need_pkgs[@]}" \
        || die "apt-get install ${need_pkgs[*]} failed"
fi
command -v nc >/dev/null 2>&1 || die "no 'nc' in PATH (expected /usr/bin/nc -> /etc/alternatives/nc -> /bin/nc.openbsd)"
[[ $(readlink -f "$(command -v nc)") == */nc.openbsd ]] \
    || note "warning: nc resolves to $(readlink -f "$(command -v nc)"), not nc.openbsd"

status=$(auditctl -s 2>&1) || die "the kernel refuses audit requests ('auditctl -s' failed: ${status})"
kstat() { local s; s=$(auditctl -s) || return 1; awk -v k="$1" '$1 == k && !done { print $2; done = 1 }' <<<"$s"; }
PREV_ENABLED=$(kstat enabled)
PREV_BACKLOG=$(kstat backlog_limit)
[[ -n $PREV_ENABLED ]] || die "cannot parse 'auditctl -s' output"
[[ $PREV_ENABLED != 2 ]] || die "audit configuration is locked (enabled=2); cannot add rules"
other=$(kstat pid)
[[ -z $other || $other == 0 ]] || die "another audit daemon (pid $other) is registered with the kernel; stop it first"
pgrep -x auditd >/dev/null && die "an auditd process is already running; stop it first"

mkdir -p "$OUTDIR"
OUTDIR=$(cd "$OUTDIR" && pwd)

# -------------------------------------------------------------- state + cleanup
TMPDIRS=()
RULES=()            # rule specs we added (each an array joined by \x1f)
AUDITD_PID=""
SCEN_PID=""
CHANGED_ENABLED=0
CHANGED_BACKLOG=0

# mktempdir VAR: create a temp dir, remember it for cleanup, store its path in VAR
# (not via $(...): the bookkeeping must happen in this shell, not a subshell)
mktempdir() { local _d; _d=$(mktemp -d /tmp/scanwatch-capture.XXXXXX); TMPDIRS+=("$_d"); printf -v "$1" '%s' "$_d"; }

delete_rules() {
    local r spec
    for r in "${RULES[@]+"${RULES[@]}"}"; do
        IFS=$'\x1f' read -r -a spec <<<"$r"
        auditctl -d "${spec[@]}" >/dev/null 2>&1 || note "warning: could not delete rule: ${spec[*]}"
    done
    RULES=()
}

stop_auditd() {
    [[ -n $AUDITD_PID ]] || return 0
    if kill -0 "$AUDITD_PID" 2>/dev/null; then
        kill -TERM "$AUDITD_PID" 2>/dev/null || true
    fi
    wait "$AUDITD_PID" 2>/dev/null || true
    AUDITD_PID=""
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM HUP
    if [[ -n $SCEN_PID ]]; then                # interrupted mid-scenario: freeze the
        local kids                             # scenario shell (no new forks), end its
        kill -STOP "$SCEN_PID" 2>/dev/null || true   # current children by pid, then it
        kids=$(pgrep -P "$SCEN_PID" || true)
        [[ -z $kids ]] || kill -TERM $kids 2>/dev/null || true
        kill -TERM "$SCEN_PID" 2>/dev/null || true
        kill -CONT "$SCEN_PID" 2>/dev/null || true
        wait "$SCEN_PID" 2>/dev/null || true
    fi
    delete_rules
    stop_auditd
    if ((CHANGED_ENABLED)); then auditctl -e "$PREV_ENABLED" >/dev/null 2>&1 || note "warning: could not restore enabled=$PREV_ENABLED"; fi
    if ((CHANGED_BACKLOG)); then auditctl -b "$PREV_BACKLOG" >/dev/null 2>&1 || note "warning: could not restore backlog_limit=$PREV_BACKLOG"; fi
    local d
    for d in "${TMPDIRS[@]+"${TMPDIRS[@]}"}"; do rm -rf -- "$d"; done
    ((rc == 0)) || note "aborted (exit $rc); rules, auditd and temp dirs cleaned up"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# Kernel settings for the whole run (restored by the trap).
if [[ $PREV_ENABLED != 1 ]]; then auditctl -e 1 >/dev/null; CHANGED_ENABLED=1; fi
if [[ $PREV_BACKLOG =~ ^[0-9]+$ ]] && ((PREV_BACKLOG < 8192)); then
    auditctl -b 8192 >/dev/null; CHANGED_BACKLOG=1    # bursts (xargs -P 8) must not overflow 64
fi

mktempdir WORK                        # scratch: fifo, no-exec file, tool output
mkfifo "$WORK/tick"

# ------------------------------------------------------------------ auditd
# start_auditd FORMAT NODE_NAME  -> sets AUDITD_PID, AUDIT_DIR
start_auditd() {
    local fmt=$1 node=${2:-} d i
    mktempdir d
    mkdir "$d/plugins.d"
    {
        echo "local_events = yes"
        echo "write_logs = yes"
        echo "log_file = $d/audit.log"
        echo "log_group = root"
        echo "log_format = $fmt"
        echo "flush = INCREMENTAL_ASYNC"
        echo "freq = 20"
        echo "priority_boost = 4"
        echo "max_log_file = 8"
        echo "num_logs = 5"
        echo "max_log_file_action = ROTATE"
        if [[ -n $node ]]; then
            echo "name_format = USER"
            echo "name = $node"
        else
            echo "name_format = NONE"
        fi
        echo "verify_email = no"
        echo "action_mail_acct = root"
        echo "space_left = 2"
        echo "space_left_action = IGNORE"
        echo "admin_space_left = 1"
        echo "admin_space_left_action = IGNORE"
        echo "disk_full_action = IGNORE"
        echo "disk_error_action = IGNORE"
        echo "use_libwrap = no"
        echo "tcp_client_max_idle = 0"
        echo "distribute_network = no"
        echo "q_depth = 4000"
        echo "overflow_action = SYSLOG"
        echo "max_restarts = 10"
        echo "plugin_dir = $d/plugins.d"
        echo "end_of_event_timeout = 2"
    } >"$d/auditd.conf"
    chmod 0640 "$d/auditd.conf"
    auditd -n -s nochange -c "$d" </dev/null >"$d/auditd.out" 2>&1 &
    AUDITD_PID=$!
    AUDIT_DIR=$d
    for ((i = 0; i < 100; i++)); do
        if [[ $(kstat pid) == "$AUDITD_PID" ]] && grep -q 'type=DAEMON_START' "$d/audit.log" 2>/dev/null; then
            return 0
        fi
        kill -0 "$AUDITD_PID" 2>/dev/null || break
        sleep 0.1
    done
    cat "$d/auditd.out" >&2 || true
    die "auditd did not start/register (see messages above)"
}

add_rules() {
    local -a r
    local arch
    for arch in b64 b32; do
        r=("exit,always" -F "arch=$arch" -S execve -S execveat -F "auid=$SCAN_AUID" -k "$KEY")
        if auditctl -a "${r[@]}" >/dev/null 2>&1; then
            RULES+=("$(IFS=$'\x1f'; echo "${r[*]}")")
        elif [[ $arch == b64 ]]; then
            die "kernel refused: auditctl -a ${r[*]}"
        else
            [[ -n ${B32_WARNED:-} ]] || note "note: arch=b32 execve rule not accepted by this kernel; b64 only"
            B32_WARNED=1
        fi
    done
}

# Network rules (issue 20), added with the exec rules when NET_RULES=1: connect without unix
# sockets (a2 is the address length: 110 = sizeof(struct sockaddr_un)), socket() without
# AF_UNIX (a0 1) and AF_NETLINK (a0 16), as packaging/scanwatch.rules has them.
add_net_rules() {
    local -a r
    local arch
    for arch in b64 b32; do
        for r in "-S connect -F a2!=110" "-S socket -F a0!=1 -F a0!=16"; do
            # shellcheck disable=SC2206
            local -a spec=("exit,always" -F "arch=$arch" $r -F "auid=$SCAN_AUID" -k scanwatch-net)
            if auditctl -a "${spec[@]}" >/dev/null 2>&1; then
                RULES+=("$(IFS=$'\x1f'; echo "${spec[*]}")")
            elif [[ $arch == b64 ]]; then
                die "kernel refused: auditctl -a ${spec[*]}"
            fi
        done
    done
}

# finish_capture -> flush, stop auditd (log stays in $AUDIT_DIR)
finish_capture() {
    delete_rules
    sleep 1                               # let auditd write everything out
    stop_auditd
}

# run_scenario NAME FUNC [ARGS...]  runs FUNC in one subshell with loginuid=SCAN_AUID
run_scenario() {
    local name=$1; shift
    note "scenario $name: $*"
    # Started in the background and waited for, so that a signal to this script
    # runs the cleanup trap at once (the trap also stops the scenario).
    (
        trap - EXIT INT TERM HUP
        set +e
        echo "$SCAN_AUID" >/proc/self/loginuid || { echo "cannot set loginuid" >&2; exit 97; }
        # A neutral working directory: it is recorded in every CWD record.
        cd / || exit 96
        "$@"
        exit 0
    ) </dev/null >>"$WORK/$name.out" 2>&1 &
    SCEN_PID=$!
    local rc=0
    wait "$SCEN_PID" || rc=$?
    SCEN_PID=""
    ((rc == 0)) || die "scenario $name failed (rc=$rc); output: $(tail -n 5 "$WORK/$name.out")"
}

# capture FILE FORMAT NODE FUNC [ARGS...]   one auditd run -> one file
capture() {
    local file=$1 fmt=$2 node=$3; shift 3
    local lost0 lost1
    lost0=$(kstat lost)
    start_auditd "$fmt" "$node"
    add_rules
    [[ -z ${NET_RULES:-} ]] || add_net_rules
    run_scenario "$file" "$@"
    finish_capture
    lost1=$(kstat lost)
    [[ $lost0 == "$lost1" ]] || note "WARNING: kernel 'lost' counter went $lost0 -> $lost1 during $file"
    install -m 0644 "$AUDIT_DIR/audit.log" "$OUTDIR/$file"
    PRODUCED+=("$OUTDIR/$file")
}

# ----------------------------------------------------------------- scenarios
# Everything below runs inside the loginuid-4242 subshell. Only external
# programs named in the scenario are executed (loops use bash arithmetic,
# no $(...) that would exec).

sc_ping_sweep() {           # 1, 10, 11
    local i
    for ((i = 1; i <= 120; i++)); do ping -c 1 -W 1 "127.0.0.$i"; done
}
sc_nc_scan() {              # 2, 10
    local p
    for ((p = 20; p <= 139; p++)); do nc -z -w 1 127.0.0.1 "$p"; done
}
sc_ncat_scan() {            # 3
    local p
    for ((p = 20; p <= 139; p++)); do ncat -z -w 1 127.0.0.1 "$p"; done
}
sc_socat_scan() {           # 4
    local p
    for ((p = 20; p <= 139; p++)); do socat -T 1 /dev/null "TCP:127.0.0.1:$p,connect-timeout=1"; done
}
sc_ping_distinct() {        # 5: "ping" "-c" "1" + (N-3) targets = N distinct argv values
    local n=$1 i
    for ((i = 1; i <= n - 3; i++)); do ping -c 1 "127.0.0.$i"; done
}
sc_ping_same_target() {     # 6
    local i
    for ((i = 1; i <= 200; i++)); do ping -c 1 -W 1 127.0.0.1; done
}
sc_busybox_ping() {         # 7a
    local i
    for ((i = 1; i <= 120; i++)); do busybox ping -c 1 -W 1 "127.0.0.$i"; done
}
sc_busybox_symlink_ping() { # 7b: $1 = dir holding ping -> /bin/busybox
    local i
    for ((i = 1; i <= 120; i++)); do "$1/ping" -c 1 -W 1 "127.0.0.$i"; done
}
sc_xargs_parallel_ping() {  # 8
    seq 1 150 | xargs -P 8 -I{} ping -c 1 -W 1 127.0.0.{}
}
sc_noise() {                # 9: $1 = a file without any execute bit
    local noexec=$1 i long
    ls -l /etc/hostname /etc/os-release
    cat /etc/hostname
    grep -c root /etc/passwd
    date -u
    id
    uname -a
    for ((i = 1; i <= 5; i++)); do ping -c 1 -W 1 127.0.0.1; done
    /nonexistent/ping -c 1 127.0.0.1                 # execve fails: ENOENT
    "$noexec"                                         # execve fails: EACCES
    python3 -c 'import os; fd=os.open("/usr/bin/true", os.O_RDONLY); os.execve(fd, ["true"], {})'  # execveat(fd,"",..,AT_EMPTY_PATH)
    grep -c "hello world" /etc/hostname               # argument with a space
    /usr/bin/echo "héllo wörld ✓ 日本語"              # UTF-8 argument
    /usr/bin/echo "bad"$'\xff\xfe'"bytes"             # invalid UTF-8 argument
    printf -v long '%10000s' ''; long=${long// /A}
    /usr/bin/echo "$long"                             # 10000-byte argument -> a1_len / a1[0..]
    /usr/bin/echo noise-argument-value-{001..300}     # 301 argv elements
}
sc_rotated_sweep() {        # 12: $1 = auditd pid, $2 = auditd log dir
    local pid=$1 dir=$2 i w
    for ((i = 1; i <= 150; i++)); do
        ping -c 1 -W 1 "127.0.0.$i"
        if ((i == 50 || i == 100)); then
            kill -USR1 "$pid"                         # auditd rotates now
            for ((w = 0; w < 100; w++)); do           # wait (no exec) until it did
                if ((i == 50)); then [[ -e $dir/audit.log.1 ]] && break
                else [[ -e $dir/audit.log.2 ]] && break; fi
                read -r -t 0.05 <>"$WORK/tick" || true
            done
        fi
    done
}

# Issue 11: wrappers that fork between the loop and each tool exec, name evasions, controls.
# Each sweeps EV_N targets; selected with CAPTURE_SET=evasion.
EV_N=110
sc_timeout_ping()  { local i; for ((i = 1; i <= EV_N; i++)); do timeout 2 ping -c 1 -W 1 "127.0.0.$i"; done; }
sc_sh_c_ping()     { local i; for ((i = 1; i <= EV_N; i++)); do sh -c "ping -c 1 -W 1 127.0.0.$i; :"; done; }
sc_sh_c_exec_ping() { local i; for ((i = 1; i <= EV_N; i++)); do sh -c "ping -c 1 -W 1 127.0.0.$i"; done; }
sc_xargs_sh_c_ping() { seq 1 "$EV_N" | xargs -P4 -n1 sh -c 'ping -c 1 -W 1 "127.0.0.$1"' sh; }
sc_sudo_ping()     { local i; for ((i = 1; i <= EV_N; i++)); do sudo -u root ping -c 1 -W 1 "127.0.0.$i"; done; }
sc_setsid_ping()   { local i; for ((i = 1; i <= EV_N; i++)); do setsid -f -w ping -c 1 -W 1 "127.0.0.$i"; done; }
sc_strace_ping()   { local i; for ((i = 1; i <= EV_N; i++)); do strace -f -o /dev/null ping -c 1 -W 1 "127.0.0.$i"; done; }
sc_flock_ping()    { local i; for ((i = 1; i <= EV_N; i++)); do flock "$1" ping -c 1 -W 1 "127.0.0.$i"; done; }
sc_bg_function_ping() {     # a function backgrounded per target, 10 at a time
    local i
    probe() { ping -c 1 -W 1 "127.0.0.$1"; }
    for ((i = 1; i <= EV_N; i++)); do probe "$i" & ((i % 10)) || wait; done
    wait
}
sc_loader_ping()   { local i; for ((i = 1; i <= EV_N; i++)); do /lib64/ld-linux-x86-64.so.2 /usr/bin/ping -c 1 -W 1 "127.0.0.$i"; done; }
sc_hardlink_ping() { local i; for ((i = 1; i <= EV_N; i++)); do "$1/pong" -c 1 -W 1 "127.0.0.$i"; done; }
# fexecve of a memfd copy of ping; $1 = argv[0] it is given
sc_memfd_ping() {
    local i
    for ((i = 1; i <= EV_N; i++)); do
        /usr/bin/python3 -c 'import os, sys
fd = os.memfd_create("tool")
os.write(fd, open("/usr/bin/ping", "rb").read())
os.execve(fd, sys.argv[1:], {})' "$1" -c 1 -W 1 "127.0.0.$i"
    done
}
# root rewrites its loginuid per target: a new audit session for every exec (parent unchanged)
sc_loginuid_per_target_ping() {
    local i
    for ((i = 1; i <= EV_N; i++)); do (echo "$SCAN_AUID" >/proc/self/loginuid; exec ping -c 1 -W 1 "127.0.0.$i"); done
}
# control: 30 cron-like jobs, each its own login session, pinging the same 3 hosts
sc_cron_like_control() {
    local j
    for ((j = 1; j <= 30; j++)); do
        (echo "$SCAN_AUID" >/proc/self/loginuid; exec sh -c 'for h in 1 2 3; do ping -c 1 -W 1 127.0.0.$h; done')
    done
}
# control: a package-manager-like loop of 300 varied ls/true/dpkg execs
sc_pkg_like_control() {
    local i pkgs=(coreutils bash dpkg libc6 sed grep tar gzip findutils util-linux)
    for ((i = 0; i < 100; i++)); do
        ls "/usr/share/doc/${pkgs[i % 10]}" >/dev/null
        true "configure-$i"
        dpkg -s "${pkgs[i % 10]}" >/dev/null
    done
}
# host mix: an admin session, a monitoring loop, a few port checks; one session throughout
sc_hostmix() {
    local i h p
    for ((i = 1; i <= 20; i++)); do
        uptime; ls -l /var/log >/dev/null; cat /proc/loadavg; df -h / >/dev/null
        for h in 1 2 3 4 5; do sh -c "ping -c 1 -W 1 127.0.0.$h >/dev/null"; done
        ps -e >/dev/null; id -un; grep -c processor /proc/cpuinfo
    done
    for p in 22 80 443 3306 5432 6379 8080 8443 9200 11211; do nc -z -w 1 127.0.0.1 "$p"; done
    for ((i = 1; i <= 10; i++)); do timeout 2 ping -c 1 -W 1 127.0.0.1; done
    sudo -u root ls /root >/dev/null
    find /etc -maxdepth 1 -name "*.conf" -exec head -1 {} \; >/dev/null
}

run_evasion_set() {
    capture timeout_ping.enriched.log        ENRICHED "" sc_timeout_ping
    capture sh_c_ping.enriched.log           ENRICHED "" sc_sh_c_ping
    capture sh_c_exec_ping.enriched.log      ENRICHED "" sc_sh_c_exec_ping
    capture xargs_sh_c_ping.enriched.log     ENRICHED "" sc_xargs_sh_c_ping
    capture sudo_ping.enriched.log           ENRICHED "" sc_sudo_ping
    capture setsid_ping.enriched.log         ENRICHED "" sc_setsid_ping
    capture strace_ping.enriched.log         ENRICHED "" sc_strace_ping
    : >"$WORK/flock.lock"
    capture flock_ping.enriched.log          ENRICHED "" sc_flock_ping "$WORK/flock.lock"
    capture bg_function_ping.enriched.log    ENRICHED "" sc_bg_function_ping
    capture loader_ping.enriched.log         ENRICHED "" sc_loader_ping
    local linkdir
    mktempdir linkdir
    ln /usr/bin/ping "$linkdir/pong" || die "cannot hard-link /usr/bin/ping into $linkdir"
    capture hardlink_ping.enriched.log       ENRICHED "" sc_hardlink_ping "$linkdir"
    capture memfd_ping.enriched.log          ENRICHED "" sc_memfd_ping ping
    capture memfd_renamed_ping.enriched.log  ENRICHED "" sc_memfd_ping kworker
    capture loginuid_per_target_ping.enriched.log ENRICHED "" sc_loginuid_per_target_ping
    capture cron_like_control.enriched.log   ENRICHED "" sc_cron_like_control
    capture pkg_like_control.enriched.log    ENRICHED "" sc_pkg_like_control
    capture hostmix.enriched.log             ENRICHED "" sc_hostmix
}

# Issue 14: behaviours Elastic's Linux detection rules detect (tests/elastic-rules/linux/), one
# file each; selected with CAPTURE_SET=elastic. Run inside the loginuid subshell like the others;
# what would change the machine is made harmless (a user that does not exist, dmesg without the
# privilege to clear, files in a private temporary folder), the exec itself is what the rules see.
sc_dmesg_clear()    { setpriv --reuid=65534 --regid=65534 --clear-groups dmesg -C; }
sc_shred_remove()   { : >"$1/secret.txt"; shred --remove "$1/secret.txt"; }
sc_openssl_passwd() { openssl passwd -1 -salt scanwatch hunter2 >/dev/null; }
sc_nohup_setsid()   { sh -c 'nohup /bin/true; setsid /bin/true; :'; }
sc_nsenter_pid1()   { nsenter --target 1 --uts /bin/true; }
sc_chattr_immutable() { : >"$1/locked"; sh -c "chattr +i '$1/locked'; chattr -i '$1/locked'; :"; }
sc_unshare_ns()     { unshare --uts /bin/true; }
sc_usermod_uid0()   { usermod -o -u 0 scanwatch-no-such-user; }
sc_gpasswd_sudo()   { gpasswd -a scanwatch-no-such-user sudo; }
sc_proc_maps_read() { cat /proc/self/maps >/dev/null; }
sc_sudo_probe()     { sudo -n true; }
sc_history_delete() { cd "$1" && : >.bash_history && rm -f .bash_history; }

run_elastic_set() {
    local tmp
    mktempdir tmp
    capture elastic_dmesg_clear.enriched.log      ENRICHED "" sc_dmesg_clear
    capture elastic_shred_remove.enriched.log     ENRICHED "" sc_shred_remove "$tmp"
    capture elastic_openssl_passwd.enriched.log   ENRICHED "" sc_openssl_passwd
    capture elastic_nohup_setsid.enriched.log     ENRICHED "" sc_nohup_setsid
    capture elastic_nsenter_pid1.enriched.log     ENRICHED "" sc_nsenter_pid1
    capture elastic_chattr_immutable.enriched.log ENRICHED "" sc_chattr_immutable "$tmp"
    capture elastic_unshare_ns.enriched.log       ENRICHED "" sc_unshare_ns
    capture elastic_usermod_uid0.enriched.log     ENRICHED "" sc_usermod_uid0
    capture elastic_gpasswd_sudo.enriched.log     ENRICHED "" sc_gpasswd_sudo
    capture elastic_proc_maps_read.enriched.log   ENRICHED "" sc_proc_maps_read
    capture elastic_sudo_probe.enriched.log       ENRICHED "" sc_sudo_probe
    capture elastic_history_delete.enriched.log   ENRICHED "" sc_history_delete "$tmp"
}

# Issue 25: behaviours that Elastic's rules written for other agents' exec names (exec, start,
# ...) detect once --exec-action any lets them match auditd's `executed`, and the two rules the
# KQL parser used to refuse (tests/elastic-rules/ruleset/). Selected with CAPTURE_SET=ruleset
# (RULESET_ONLY=GLOB narrows it to some files). Harmless by construction: files live in a private
# temporary folder ($1), privileged commands run as nobody where they would change the machine,
# network only to 127.0.0.1 (ports with nothing listening, or a server stopped after 1 s).
# `sh -c '...; :'` gives a tool a parent exec (process.parent.*), as the rules expect.
sc_rs_dmidecode()    { sh -c 'dmidecode -s system-uuid >/dev/null 2>&1; :'; }
sc_rs_lsmod()        { lsmod >/dev/null; }
sc_rs_pam_version()  { sh -c 'dpkg -s libpam-modules >/dev/null; :'; }
sc_rs_security_cat() { sh -c 'cat /etc/login.defs /etc/pam.d/common-auth >/dev/null; :'; }
sc_rs_sudo_list()    { sh -c 'sudo -l >/dev/null; :'; }
sc_rs_suid_find()    { find /usr/bin -perm -4000 >/dev/null; }
sc_rs_which_many()   { which nmap nc ncat netcat socat gcc g++ curl wget python3 >/dev/null; }
sc_rs_vm_fingerprint() { setpriv --reuid=65534 --regid=65534 --clear-groups cat /sys/class/dmi/id/product_name /proc/scsi/scsi >/dev/null 2>&1; }
sc_rs_hidden_mkdir() { cp /bin/sh "$1/runner"; "$1/runner" -c "mkdir '$1/.cache-x'; :"; rm -rf "$1/runner" "$1/.cache-x"; }
sc_rs_mkfifo()       { sh -c "mkfifo '$1/pipe'; :"; rm -f "$1/pipe"; }
sc_rs_split()        { head -c 4096 /etc/services >"$1/data"; split -b 1k "$1/data" "$1/part."; rm -f "$1"/part.* "$1/data"; }
sc_rs_shadow_read()  { wc -l /etc/shadow >/dev/null; }
sc_rs_setcap()       { cp /bin/true "$1/tool"; sh -c "setcap cap_net_raw+ep '$1/tool'; :"; rm -f "$1/tool"; }
sc_rs_touch_stomp()  { : >"$1/f"; sh -c "touch -r /etc/hostname '$1/f'; :"; rm -f "$1/f"; }
sc_rs_chmod_suid()   { : >"$1/f"; chmod u+s "$1/f"; rm -f "$1/f"; }
sc_rs_hidden_tmp()   { cd /tmp && touch .scanwatch-hidden && rm -f .scanwatch-hidden; }
sc_rs_kill_zero()    { sh -c '/usr/bin/kill -0 $$; :'; }
sc_rs_hex_payload()  { xxd -p /etc/hostname >/dev/null; python3 -c 'bytes.fromhex("6869").decode()'; }
sc_rs_tty_upgrade()  { script -qc /bin/true /dev/null >/dev/null; timeout 5 python3 -c 'import pty; pty.spawn(["/bin/sh", "-c", "true"])' >/dev/null; }
sc_rs_shm_exec()     { cp /bin/true /dev/shm/scanwatch-true; /dev/shm/scanwatch-true; rm -f /dev/shm/scanwatch-true; }
sc_rs_http_server()  { timeout 1 python3 -m http.server --cgi -b 127.0.0.1 0 >/dev/null 2>&1; }
sc_rs_curl_socks()   { sh -c 'curl -s -m 2 -x socks5h://127.0.0.1:9 http://127.0.0.1:9/ >/dev/null; :'; }
sc_rs_rmmod()        { sh -c 'setpriv --reuid=65534 --regid=65534 --clear-groups rmmod scanwatch_no_such_module 2>/dev/null; :'; }
sc_rs_sysctl_echo()  { sh -c "sh -c 'echo kernel.sysrq >/dev/null'; :"; }
sc_rs_passwd_echo()  { sh -c 'echo ">/etc/passwd" >/dev/null; :'; }
sc_rs_cloud_creds()  { sh -c 'cat /var/run/secrets/kubernetes.io/serviceaccount/token /etc/kubernetes/admin.conf 2>/dev/null; :'; }
sc_rs_discovery()    { sh -c 'getconf PAGESIZE; cat /etc/os-release; whoami; getent passwd root; ps -e; ss -tln; :' >/dev/null; }

run_ruleset_set() {
    local tmp f
    mktempdir tmp
    local -a set=(
        dmidecode lsmod pam_version security_cat sudo_list suid_find which_many vm_fingerprint
        hidden_mkdir mkfifo split shadow_read setcap touch_stomp chmod_suid hidden_tmp kill_zero
        hex_payload tty_upgrade shm_exec http_server curl_socks rmmod sysctl_echo passwd_echo
        cloud_creds discovery
    )
    for f in "${set[@]}"; do
        # shellcheck disable=SC2053
        [[ ruleset_$f.enriched.log == ${RULESET_ONLY:-*} ]] || continue
        capture "ruleset_$f.enriched.log" ENRICHED "" "sc_rs_$f" "$tmp"
    done
}

# Issue 26: the same wrappers where there is no login session (auid and ses unset), as from a
# service or a shell a service spawned. Selected with CAPTURE_SET=nosession. The loginuid of
# this script must be unset (it is where nothing wrote it: a service, a container's root). Each
# scenario runs as the dedicated uid NS_UID through `setpriv --reuid` (no login, loginuid left
# unset), in ONE bash it execs, which is therefore the loop shell of every scenario; the rules
# filter on that uid. Besides the scenario, a service-like noise loop runs as NS_NOISE_UID for
# the whole capture (also audited): host activity without a session, one short-lived shell per
# round pinging one host, timeout, cat and sleep.
NS_UID=${NS_UID:-4243}
NS_NOISE_UID=${NS_NOISE_UID:-4244}
ns_ping()    { local i; for ((i = 1; i <= EV_N; i++)); do ping -c 1 -W 1 "127.0.0.$i"; done; }
ns_timeout() { local i; for ((i = 1; i <= EV_N; i++)); do timeout 2 ping -c 1 -W 1 "127.0.0.$i"; done; }
ns_sh_c()    { local i; for ((i = 1; i <= EV_N; i++)); do sh -c "ping -c 1 -W 1 127.0.0.$i; :"; done; }
ns_xargs()   { seq 1 "$EV_N" | xargs -P4 -n1 sh -c 'ping -c 1 -W 1 "127.0.0.$1"; :' sh; }
ns_setsid()  { local i; for ((i = 1; i <= EV_N; i++)); do setsid -f -w ping -c 1 -W 1 "127.0.0.$i"; done; }
ns_flock()   { local i; for ((i = 1; i <= EV_N; i++)); do flock "$1" ping -c 1 -W 1 "127.0.0.$i"; done; }
ns_bg_function() {          # a function backgrounded per target, 10 at a time
    local i
    probe() { ping -c 1 -W 1 "127.0.0.$1"; }
    for ((i = 1; i <= EV_N; i++)); do probe "$i" & ((i % 10)) || wait; done
    wait
}
# control: 30 cron-like jobs (a fork that execs sh -c), each pinging the same 3 hosts
ns_cron_like_control() {
    local j
    for ((j = 1; j <= 30; j++)); do
        (exec sh -c 'for h in 1 2 3; do ping -c 1 -W 1 127.0.0.$h; done')
    done
}
ns_noise() {
    while :; do
        sh -c 'cat /proc/loadavg >/dev/null; ping -c 1 -W 1 127.0.0.1 >/dev/null; :'
        timeout 1 true
        sleep 0.3
    done
}
export -f ns_ping ns_timeout ns_sh_c ns_xargs ns_setsid ns_flock ns_bg_function \
    ns_cron_like_control ns_noise
export EV_N

add_uid_rules() {
    local -a r
    local uid
    for uid in "$NS_UID" "$NS_NOISE_UID"; do
        r=("exit,always" -F "arch=b64" -S execve -S execveat -F "uid=$uid" -k "$KEY")
        auditctl -a "${r[@]}" >/dev/null 2>&1 || die "kernel refused: auditctl -a ${r[*]}"
        RULES+=("$(IFS=$'\x1f'; echo "${r[*]}")")
    done
}

# capture_nosession FILE FUNC [ARGS...]: one auditd run, FUNC run as NS_UID without a session
capture_nosession() {
    local file=$1 func=$2; shift 2
    local lost0 lost1 noise
    [[ $(cat /proc/self/loginuid) == 4294967295 ]] \
        || die "this shell has a login uid ($(cat /proc/self/loginuid)); run from a process without one (e.g. systemd-run)"
    lost0=$(kstat lost)
    start_auditd ENRICHED ""
    add_uid_rules
    cd /
    setpriv --reuid="$NS_NOISE_UID" --regid="$NS_NOISE_UID" --clear-groups \
        bash -c ns_noise </dev/null >/dev/null 2>&1 &
    noise=$!
    SCEN_PID=$noise
    read -r -t 1 <>"$WORK/tick" || true      # the noise runs before and around the scenario
    setpriv --reuid="$NS_UID" --regid="$NS_UID" --clear-groups \
        bash -c "$func"' "$@"' "$func" "$@" </dev/null >>"$WORK/$file.out" 2>&1 \
        || die "scenario $file failed; output: $(tail -n 5 "$WORK/$file.out")"
    read -r -t 1 <>"$WORK/tick" || true
    kill -TERM "$noise" 2>/dev/null || true
    wait "$noise" 2>/dev/null || true
    SCEN_PID=""
    cd "$SCRIPT_DIR"
    finish_capture
    lost1=$(kstat lost)
    [[ $lost0 == "$lost1" ]] || note "WARNING: kernel 'lost' counter went $lost0 -> $lost1 during $file"
    install -m 0644 "$AUDIT_DIR/audit.log" "$OUTDIR/$file"
    PRODUCED+=("$OUTDIR/$file")
}

run_nosession_set() {
    local lock
    mktempdir lock
    chmod 0755 "$lock"
    : >"$lock/flock.lock"
    chmod 0666 "$lock/flock.lock"
    capture_nosession nosession_ping_sweep.enriched.log         ns_ping
    capture_nosession nosession_timeout_ping.enriched.log       ns_timeout
    capture_nosession nosession_sh_c_ping.enriched.log          ns_sh_c
    capture_nosession nosession_xargs_sh_c_ping.enriched.log    ns_xargs
    capture_nosession nosession_setsid_ping.enriched.log        ns_setsid
    capture_nosession nosession_flock_ping.enriched.log         ns_flock "$lock/flock.lock"
    capture_nosession nosession_bg_function_ping.enriched.log   ns_bg_function
    capture_nosession nosession_cron_like_control.enriched.log  ns_cron_like_control
}

# Issue 20: scans that make connections rather than tool execs, and controls that connect a lot
# without scanning; selected with CAPTURE_SET=network. Loopback only. Two TCP services listen
# on 127.0.0.1:18080 and :18081 (started outside the audited session).
sc_net_nc_ports()     { nc -z -w1 127.0.0.1 1-1000; }
sc_net_nmap_ports()   { nmap -sT -Pn -n -p1-1000 127.0.0.1 >/dev/null; }
sc_net_nmap_sweep()   { nmap -sT -Pn -n -p22 127.0.60.1-254 >/dev/null; }
sc_net_nmap_syn()     { nmap -sS -Pn -n -p1-1000 127.0.0.1 >/dev/null; }
sc_net_python_ports() {
    python3 -c 'import socket
for p in range(1, 1001):
    s = socket.socket(); s.settimeout(0.5); s.connect_ex(("127.0.0.1", p)); s.close()'
}
sc_net_python_hosts() {
    python3 -c 'import socket
for h in range(1, 255):
    s = socket.socket(); s.settimeout(0.5); s.connect_ex(("127.0.61.%d" % h, 22)); s.close()'
}
sc_net_bash_ports()   { local p; for ((p = 1; p <= 400; p++)); do (echo >"/dev/tcp/127.0.0.1/$p") 2>/dev/null; done; }
sc_net_bash_hosts()   { local h; for ((h = 1; h <= 254; h++)); do (echo >"/dev/tcp/127.0.62.$h/22") 2>/dev/null; done; }
sc_net_curl_ports()   { local p; for ((p = 8000; p <= 8300; p++)); do curl -s -m1 "http://127.0.0.1:$p/" >/dev/null; done; }
sc_net_curl_hosts()   { local h; for ((h = 1; h <= 254; h++)); do curl -s -m1 "http://127.0.63.$h:8080/" >/dev/null; done; }
# controls
sc_net_pooled_client() {   # 4 client threads hammering two HTTP services: 600 requests, 2 targets
    python3 -c 'import http.client, threading
def worker(n):
    for i in range(150):
        c = http.client.HTTPConnection("127.0.0.1", 18080 + (n + i) % 2, timeout=2)
        c.request("GET", "/"); c.getresponse().read(); c.close()
ts = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
[t.start() for t in ts]; [t.join() for t in ts]'
}
sc_net_monitor() {         # a monitor polling 20 targets (10 hosts x 2 ports), 15 rounds
    python3 -c 'import socket, time
for r in range(15):
    for h in range(1, 11):
        for p in (18080, 18081):
            s = socket.socket(); s.settimeout(0.2); s.connect_ex(("127.0.0.%d" % h, p)); s.close()
    time.sleep(0.05)'
}
sc_net_stub_resolver() {   # a UDP stub resolver: connect(2) per query to two resolvers
    python3 -c 'import socket
for i in range(400):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.connect(("127.0.0.53" if i % 4 else "127.0.0.1", 53))
    s.send(b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03com\x00\x00\x01\x00\x01"); s.close()'
}
sc_net_curl_same()    { local i; for ((i = 1; i <= 200; i++)); do curl -s -m1 http://127.0.0.1:18080/ >/dev/null; done; }
sc_net_ping()         { ping -c 3 -i 0.2 127.0.0.1 >/dev/null; }

run_network_set() {
    command -v nmap >/dev/null || die "nmap missing"
    python3 -m http.server --bind 127.0.0.1 18080 >/dev/null 2>&1 &
    local srv1=$!
    python3 -m http.server --bind 127.0.0.1 18081 >/dev/null 2>&1 &
    local srv2=$!
    sleep 1
    if [[ -n ${NET_ONLY:-} ]]; then   # one scenario again: NET_ONLY=net_pooled_client
        NET_RULES=1 capture "$NET_ONLY.enriched.log" ENRICHED "" "sc_$NET_ONLY"
        kill "$srv1" "$srv2" 2>/dev/null || true
        wait "$srv1" "$srv2" 2>/dev/null || true
        return
    fi
    NET_RULES=1 capture net_nc_ports.enriched.log       ENRICHED "" sc_net_nc_ports
    NET_RULES=1 capture net_nmap_ports.enriched.log     ENRICHED "" sc_net_nmap_ports
    NET_RULES=1 capture net_nmap_sweep.enriched.log     ENRICHED "" sc_net_nmap_sweep
    NET_RULES=1 capture net_nmap_syn.enriched.log       ENRICHED "" sc_net_nmap_syn
    NET_RULES=1 capture net_python_ports.enriched.log   ENRICHED "" sc_net_python_ports
    NET_RULES=1 capture net_python_hosts.enriched.log   ENRICHED "" sc_net_python_hosts
    NET_RULES=1 capture net_bash_ports.enriched.log     ENRICHED "" sc_net_bash_ports
    NET_RULES=1 capture net_bash_hosts.enriched.log     ENRICHED "" sc_net_bash_hosts
    NET_RULES=1 capture net_curl_ports.enriched.log     ENRICHED "" sc_net_curl_ports
    NET_RULES=1 capture net_curl_hosts.enriched.log     ENRICHED "" sc_net_curl_hosts
    NET_RULES=1 capture net_nc_ports.raw.log            RAW      "" sc_net_nc_ports
    NET_RULES=1 capture net_pooled_client.enriched.log  ENRICHED "" sc_net_pooled_client
    NET_RULES=1 capture net_monitor.enriched.log        ENRICHED "" sc_net_monitor
    NET_RULES=1 capture net_stub_resolver.enriched.log  ENRICHED "" sc_net_stub_resolver
    NET_RULES=1 capture net_curl_same.enriched.log      ENRICHED "" sc_net_curl_same
    NET_RULES=1 capture net_ping.enriched.log           ENRICHED "" sc_net_ping
    kill "$srv1" "$srv2" 2>/dev/null || true
    wait "$srv1" "$srv2" 2>/dev/null || true
}

# Issue 25: behaviours Elastic's EQL sequence rules detect (CAPTURE_SET=sequence). Each scenario
# is one sequence; what would change the machine is harmless (su --version, an unshare of
# /bin/true, a clone from a repository served on 127.0.0.1).
sc_seq_git_clone() {       # git clone --recursive of an http URL, git runs a shell (a hook)
    git clone -q --recursive --template="$1/tpl" http://127.0.0.1:18082/repo.git "$1/clone"
}
sc_seq_suid_su() {         # nobody runs `sh -c`, which runs setuid su
    setpriv --reuid=65534 --regid=65534 --clear-groups sh -c 'su --version >/dev/null; :'
}
sc_seq_unshare_root() {    # one parent: a user-namespace unshare as nobody, then a root shell
    setpriv --reuid=65534 --regid=65534 --clear-groups unshare --user --map-root-user /bin/true
    sh -c 'id -u >/dev/null; :'
}

run_sequence_set() {
    local tmp
    mktempdir tmp
    # The repository and its server are made outside the audited scenario.
    git init -q --bare "$tmp/repo.git"
    git init -q "$tmp/src" && git -C "$tmp/src" -c user.name=s -c user.email=s@localhost \
        commit -q --allow-empty -m seed && git -C "$tmp/src" push -q "$tmp/repo.git" HEAD:master
    git -C "$tmp/repo.git" symbolic-ref HEAD refs/heads/master
    git -C "$tmp/repo.git" update-server-info
    mkdir -p "$tmp/tpl/hooks"
    printf '#!/bin/sh\nexit 0\n' >"$tmp/tpl/hooks/post-checkout"
    chmod 0755 "$tmp/tpl/hooks/post-checkout"
    (cd "$tmp" && exec python3 -m http.server --bind 127.0.0.1 18082 >/dev/null 2>&1) &
    local srv=$!
    sleep 1
    capture seq_git_clone_hook.enriched.log ENRICHED "" sc_seq_git_clone "$tmp"
    capture seq_suid_su.enriched.log        ENRICHED "" sc_seq_suid_su
    capture seq_unshare_root.enriched.log   ENRICHED "" sc_seq_unshare_root
    kill "$srv" 2>/dev/null || true
    wait "$srv" 2>/dev/null || true
}

# Issue 25 item 2: Elastic's ES|QL rules on real captures; selected with CAPTURE_SET=esql.
# Loopback only. The port-scan and egress rules leave out 127.0.0.0/8 destinations, so those
# scenarios connect to 0.0.0.0, which Linux routes to the loopback device (the packets go to
# 127.0.0.1 over lo; the SOCKADDR record keeps the 0.0.0.0 the program asked for).
sc_esql_port_scan()   { nmap -sT -Pn -n -p1-1000 0.0.0.0 >/dev/null; }
sc_esql_exec() {
    # Potential Credential Discovery via Recursive Grep: 3 distinct grep -r in one minute
    grep -r password /etc/pam.d >/dev/null
    grep -r token /etc/pam.d >/dev/null
    grep -r --recursive secret /etc/pam.d >/dev/null
    # Base64 Decoding Activity: perl with decode_base64
    perl -MMIME::Base64 -e 'print decode_base64("aGk=")' >/dev/null
    # Process Command Line with Whitespace Padding: 100+ spaces in one argument
    /bin/echo "start                                                                                                              end" >/dev/null
    # Unusual File Transfer Utility Launched: scp run from a shell
    scp >/dev/null 2>&1
    # Potential Linux Local Account Brute Force: 12 su from one non-shell parent
    python3 -c 'import subprocess
for i in range(12):
    subprocess.run(["su", "-s", "/bin/true", "nobody"], stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL)'
}
sc_esql_tmp_egress() {     # High Number of Egress Network Connections from Unusual Executable
    local i
    cp /bin/nc.openbsd /tmp/.esql-nc
    for ((i = 1; i <= 20; i++)); do /tmp/.esql-nc -z -w1 0.0.0.0 18080; done
    rm -f /tmp/.esql-nc
}

run_esql_set() {
    command -v nmap >/dev/null || die "nmap missing"
    command -v perl >/dev/null || die "perl missing"
    python3 -m http.server --bind 127.0.0.1 18080 >/dev/null 2>&1 &
    local srv=$!
    sleep 1
    NET_RULES=1 capture esql_port_scan.enriched.log  ENRICHED "" sc_esql_port_scan
    NET_RULES=1 capture esql_exec.enriched.log       ENRICHED "" sc_esql_exec
    NET_RULES=1 capture esql_tmp_egress.enriched.log ENRICHED "" sc_esql_tmp_egress
    kill "$srv" 2>/dev/null || true
    wait "$srv" 2>/dev/null || true
}

# ----------------------------------------------------------------- main
PRODUCED=()

if [[ ${CAPTURE_SET:-base} == evasion ]]; then
    run_evasion_set
elif [[ ${CAPTURE_SET:-base} == elastic ]]; then
    run_elastic_set
elif [[ ${CAPTURE_SET:-base} == ruleset ]]; then
    run_ruleset_set
elif [[ ${CAPTURE_SET:-base} == nosession ]]; then
    run_nosession_set
elif [[ ${CAPTURE_SET:-base} == network ]]; then
    run_network_set
elif [[ ${CAPTURE_SET:-base} == sequence ]]; then
    run_sequence_set
elif [[ ${CAPTURE_SET:-base} == esql ]]; then
    run_esql_set
else

capture ping_sweep.enriched.log          ENRICHED "" sc_ping_sweep
capture nc_scan.enriched.log             ENRICHED "" sc_nc_scan
capture ncat_scan.enriched.log           ENRICHED "" sc_ncat_scan
capture socat_scan.enriched.log          ENRICHED "" sc_socat_scan
capture ping_99_distinct.enriched.log    ENRICHED "" sc_ping_distinct 99
capture ping_100_distinct.enriched.log   ENRICHED "" sc_ping_distinct 100
capture ping_same_target.enriched.log    ENRICHED "" sc_ping_same_target
capture busybox_ping.enriched.log        ENRICHED "" sc_busybox_ping

mktempdir LINKDIR
ln -s /bin/busybox "$LINKDIR/ping"
capture busybox_symlink_ping.enriched.log ENRICHED "" sc_busybox_symlink_ping "$LINKDIR"

capture xargs_parallel_ping.enriched.log ENRICHED "" sc_xargs_parallel_ping

printf '#!/bin/sh\necho should never run\n' >"$WORK/not-executable"
chmod 0644 "$WORK/not-executable"
capture noise.enriched.log               ENRICHED "" sc_noise "$WORK/not-executable"

capture ping_sweep.raw.log               RAW      "" sc_ping_sweep
capture nc_scan.raw.log                  RAW      "" sc_nc_scan

# 11: two "hosts" (auditd name_format=user), concatenated a then b
start_auditd ENRICHED scanhost-a; add_rules; run_scenario multihost-a sc_ping_sweep; finish_capture
HOST_A_LOG=$AUDIT_DIR/audit.log
start_auditd ENRICHED scanhost-b; add_rules; run_scenario multihost-b sc_ping_sweep; finish_capture
HOST_B_LOG=$AUDIT_DIR/audit.log
cat "$HOST_A_LOG" "$HOST_B_LOG" >"$OUTDIR/multihost.node.log"
chmod 0644 "$OUTDIR/multihost.node.log"
PRODUCED+=("$OUTDIR/multihost.node.log")

# 12: one sweep, auditd rotates twice (SIGUSR1) while it runs
start_auditd ENRICHED ""
add_rules
run_scenario rotated sc_rotated_sweep "$AUDITD_PID" "$AUDIT_DIR"
finish_capture
for f in audit.log.2 audit.log.1 audit.log; do
    [[ -f $AUDIT_DIR/$f ]] || die "rotation did not produce $f"
    grep -q 'type=SYSCALL .* syscall=59 ' "$AUDIT_DIR/$f" || die "rotated file $f holds no ping exec"
done
[[ ! -e $AUDIT_DIR/audit.log.3 ]] || die "unexpected extra rotation (audit.log.3 exists)"
mkdir -p "$OUTDIR/rotated"
rm -f "$OUTDIR"/rotated/audit.log "$OUTDIR"/rotated/audit.log.[0-9]*
for f in audit.log.2 audit.log.1 audit.log; do
    install -m 0644 "$AUDIT_DIR/$f" "$OUTDIR/rotated/$f"
    PRODUCED+=("$OUTDIR/rotated/$f")
done
fi  # CAPTURE_SET

# ----------------------------------------------------------------- report
echo
echo "Produced (OUTDIR=$OUTDIR):"
printf '%-42s %9s %7s %7s %7s %7s %6s %5s\n' FILE BYTES EXECVE sc59 sc322 fail 0x1d node
for f in "${PRODUCED[@]}"; do
    printf '%-42s %9d %7d %7d %7d %7d %6d %5s\n' "${f#"$OUTDIR"/}" \
        "$(stat -c %s "$f")" \
        "$(grep -c '^\(node=[^ ]* \)\?type=EXECVE ' "$f" || true)" \
        "$(grep -c 'type=SYSCALL .* syscall=59 ' "$f" || true)" \
        "$(grep -c 'type=SYSCALL .* syscall=322 ' "$f" || true)" \
        "$(grep -c 'type=SYSCALL .* success=no ' "$f" || true)" \
        "$(grep -c $'\x1d' "$f" || true)" \
        "$(grep -o '^node=[^ ]*' "$f" | sort -u | sed 's/^node=//' | paste -sd, - || true)"
done
echo "(EXECVE = EXECVE records; a very long argv is split over several records."
echo " sc59/sc322 = SYSCALL records for execve/execveat; fail = success=no.)"

# Decoded view (argv hex/split pieces reassembled): successful execs grouped by
# (node, ppid, comm, exe) with the number of distinct argv values (argv[0] included).
echo
echo "Exec groups per file:"
/usr/bin/python3 - "${PRODUCED[@]}" <<'PY' || note "warning: summary failed"
import re, sys, collections
def dec(v):
    if v.startswith('"'): return v[1:-1].encode()
    if v == '(null)': return b''
    return bytes.fromhex(v)
tok = re.compile(r'(\w+(?:\[\d+\])?)=("[^"]*"|\S+)')
for path in sys.argv[1:]:
    ev = collections.OrderedDict()
    for raw in open(path, 'rb'):
        line = raw.decode('latin-1').rstrip('\n').split('\x1d')[0]
        m = re.match(r'(?:node=(\S+) )?type=(\S+) msg=audit\(([^)]*)\): ?(.*)', line)
        node, typ, eid, rest = m.groups()
        e = ev.setdefault((node, eid), {'args': {}, 'parts': collections.defaultdict(dict)})
        if typ == 'SYSCALL':
            e['sc'] = dict(tok.findall(rest))
        elif typ == 'EXECVE':
            for k, v in tok.findall(rest):
                mm = re.fullmatch(r'a(\d+)\[(\d+)\]', k)
                if mm: e['parts'][int(mm.group(1))][int(mm.group(2))] = dec(v)
                elif re.fullmatch(r'a\d+', k): e['args'][int(k[1:])] = dec(v)
                elif k == 'argc': e['argc'] = int(v)
    groups = collections.defaultdict(lambda: [0, set()])
    ok = fail = 0; sc = collections.Counter()
    for (node, eid), e in ev.items():
        s = e.get('sc')
        if not s or s.get('syscall') not in ('59', '322'): continue
        sc[s['syscall']] += 1
        if s['success'] != 'yes': fail += 1; continue
        ok += 1
        for i, p in e['parts'].items(): e['args'][i] = b''.join(p[j] for j in sorted(p))
        argv = [e['args'][i] for i in range(e['argc'])]
        g = groups[(node, s['ppid'], s['comm'], s['exe'])]
        g[0] += 1; g[1].update(argv)
    print(f"{'/'.join(path.split('/')[-2:]) if '/rotated/' in path else path.split('/')[-1]}: exec ok={ok} failed={fail} by syscall={dict(sc)}")
    for k, (n, d) in sorted(groups.items(), key=lambda kv: -kv[1][0]):
        print(f"   node={k[0]} ppid={k[1]} comm={k[2]} exe={k[3]}: execs={n} distinct_argv={len(d)}")
PY
