"""Shared fixture for tests against the real auditd: preflight (root, tools, a kernel that takes
audit rules, no other audit daemon), a private auditd with its own config, plugins.d and log,
an execve/execveat rule scoped to a login uid, scenarios run under that login uid, and cleanup
that removes the rules, stops auditd and restores the kernel's enabled flag whatever happens."""
import os
import shutil
import signal
import subprocess
import sys
import time

SKIP = 77
AUID = "4343"
KEY = "scanwatch-it"
failures = []
state = {"auditd": None, "rules": False, "procs": [], "enabled": None}


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def skip(why):
    print(f"SKIP: {why}", flush=True)
    sys.exit(SKIP)


def cleanup():
    for p in state["procs"]:
        if p.poll() is None:
            p.kill()
            p.wait()
    if state["rules"]:
        subprocess.run(["auditctl", "-D"], capture_output=True)
        state["rules"] = False
    if state["auditd"] is not None and state["auditd"].poll() is None:
        state["auditd"].terminate()
        try:
            state["auditd"].wait(10)
        except subprocess.TimeoutExpired:
            state["auditd"].kill()
            state["auditd"].wait()
    state["auditd"] = None
    if state["enabled"] is not None:
        subprocess.run(["auditctl", "-e", state["enabled"]], capture_output=True)


def on_signal(signo, _frame):
    cleanup()
    sys.exit(128 + signo)


def audit_pid():
    out = subprocess.run(["auditctl", "-s"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        if line.startswith("pid "):
            return int(line.split()[1])
    return -1


def preflight():
    if os.geteuid() != 0:
        skip("needs root to run auditd and add audit rules")
    for tool in ("auditd", "auditctl", "ping", "nc"):
        if shutil.which(tool) is None:
            skip(f"{tool} is not installed (apt-get install auditd iputils-ping netcat-openbsd)")
    r = subprocess.run(["auditctl", "-s"], capture_output=True, text=True)
    if r.returncode != 0:
        skip(f"the kernel refuses audit: {r.stderr.strip() or r.stdout.strip()}")
    if audit_pid() > 0:
        skip("another audit daemon is registered with the kernel; not disturbing it")
    for line in r.stdout.splitlines():
        if line.startswith("enabled "):
            state["enabled"] = line.split()[1]  # restored at the end
    if state["enabled"] == "2":
        skip("audit configuration is locked (enabled 2)")


def scanwatch_plugin(binary, config):
    """A plugins.d entry that starts `binary plugin --config=CONFIG` (auditd passes a plugin
    two arguments at most, so everything else goes in the config file)."""
    return ("scanwatch.conf", f"""active = yes
direction = out
path = {binary}
type = always
args = plugin --config={config}
format = string
""")


def start_auditd(tmp, plugin_conf=None, num_logs=2, audit_filter=None):
    """auditd -n with its own config in `tmp`: log tmp/audit.log (ENRICHED), plugin_dir
    tmp/plugins.d holding `plugin_conf` = (file name, text) if given; then the scoped rule
    (`-F audit_filter`, default auid=AUID)."""
    plugins = os.path.join(tmp, "plugins.d")
    os.makedirs(plugins)
    if plugin_conf is not None:
        name, text = plugin_conf
        with open(os.path.join(plugins, name), "w") as f:
            f.write(text)
    conf = os.path.join(tmp, "auditd.conf")
    with open(conf, "w") as f:
        f.write(f"""local_events = yes
write_logs = yes
log_file = {tmp}/audit.log
log_format = ENRICHED
flush = INCREMENTAL_ASYNC
freq = 20
max_log_file = 8
num_logs = {num_logs}
max_log_file_action = ROTATE
space_left = 2
space_left_action = IGNORE
admin_space_left = 1
admin_space_left_action = IGNORE
disk_full_action = IGNORE
disk_error_action = IGNORE
name_format = NONE
q_depth = 4000
overflow_action = SYSLOG
max_restarts = 10
plugin_dir = {plugins}
end_of_event_timeout = 2
""")
    os.chmod(conf, 0o640)
    err = open(os.path.join(tmp, "auditd.err"), "w")
    state["auditd"] = subprocess.Popen(["auditd", "-n", "-s", "enable", "-c", tmp],
                                       stdin=subprocess.DEVNULL, stdout=err, stderr=err)
    for _ in range(100):
        if audit_pid() == state["auditd"].pid:
            break
        if state["auditd"].poll() is not None:
            break
        time.sleep(0.1)
    if audit_pid() != state["auditd"].pid:
        cleanup()
        skip("auditd did not register with the kernel: " + open(os.path.join(tmp, "auditd.err")).read()[-500:])
    subprocess.run(["auditctl", "-b", "8192"], capture_output=True)
    r = subprocess.run(["auditctl", "-a", "exit,always", "-F", "arch=b64", "-S", "execve", "-S", "execveat",
                        "-F", audit_filter or f"auid={AUID}", "-k", KEY], capture_output=True, text=True)
    if r.returncode != 0:
        cleanup()
        skip(f"the kernel refused the audit rule: {r.stderr.strip()}")
    state["rules"] = True


def scenario(script):
    """Runs a bash script with login uid AUID (so only it is audited); returns when it is done."""
    subprocess.run(["bash", "-c", f"echo {AUID} > /proc/self/loginuid && cd / && {{ {script}; }}; true"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.monotonic()




def install_signal_handlers():
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)


def stop_auditd():
    """Removes the rules, then stops auditd (it writes out its log first)."""
    subprocess.run(["auditctl", "-D"], capture_output=True)
    state["rules"] = False
    if state["auditd"] is not None:
        state["auditd"].terminate()
        state["auditd"].wait(20)
        state["auditd"] = None


def rotate():
    """Asks auditd to rotate its log now (SIGUSR1) and waits until it has."""
    os.kill(state["auditd"].pid, signal.SIGUSR1)
    time.sleep(0.3)
