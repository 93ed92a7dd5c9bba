"""Shared by tests/integration/fleet_test.py and bench/fleet.py: a collector auditd (local_events
= no, tcp_listen_port, distribute_network = yes) running scanwatch as its plugin, and real
audisp-remote senders, each in a private mount namespace with its own audisp-remote.conf bind-
mounted over /etc/audit/audisp-remote.conf, fed captured records rewritten as another node's
(node=NAME, timestamps shifted) on stdin. See docs/fleet.md."""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

SKIP = 77
STAMP = re.compile(rb"msg=audit\((\d+)\.(\d+):(\d+)\)")


def skip(why):
    print(f"SKIP: {why}", flush=True)
    sys.exit(SKIP)


def preflight():
    if os.geteuid() != 0:
        skip("needs root to run auditd and mount namespaces")
    for tool in ("auditd", "unshare", "mount"):
        if shutil.which(tool) is None:
            skip(f"{tool} is not installed (apt-get install auditd util-linux)")
    if shutil.which("audisp-remote") is None:
        skip("audisp-remote is not installed (apt-get install audispd-plugins)")
    if not os.path.exists("/etc/audit/audisp-remote.conf"):
        skip("/etc/audit/audisp-remote.conf is missing: nothing to bind-mount a sender's config over")
    r = subprocess.run(["unshare", "-m", "true"], capture_output=True, text=True)
    if r.returncode != 0:
        skip(f"mount namespaces are unavailable: {r.stderr.strip()}")


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def first_second(path):
    with open(path, "rb") as f:
        for line in f:
            m = STAMP.search(line)
            if m:
                return int(m.group(1))
    raise ValueError(f"no audit record in {path}")


def node_records(path, node, shift_s):
    """The records of capture `path` as node `node` sends them, `shift_s` seconds later."""
    out = []
    prefix = b"node=" + node.encode() + b" "
    with open(path, "rb") as f:
        data = f.read()
    for line in data.split(b"\n"):  # never splitlines(): ENRICHED separates with 0x1d
        at = line.find(b"type=")
        m = STAMP.search(line)
        if at < 0 or m is None:
            continue
        rec = line[at:]
        stamp = b"msg=audit(%d.%s:%s)" % (int(m.group(1)) + shift_s, m.group(2), m.group(3))
        out.append(prefix + STAMP.sub(lambda _m: stamp, rec, count=1) + b"\n")
    return out


def listening(port):
    want = f":{port:04X} "
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                for line in f:
                    cols = line.split()
                    if len(cols) > 3 and (cols[1] + " ").endswith(want) and cols[3] == "0A":
                        return True
        except OSError:
            pass
    return False


class Collector:
    """auditd -n with its own config in `tmp`, receiving on `port`, scanwatch as its plugin."""

    def __init__(self, tmp, port, plugin_path, plugin_args, q_depth=20000, log_format="ENRICHED"):
        self.tmp, self.port, self.log = tmp, port, os.path.join(tmp, "audit.log")
        plugins = os.path.join(tmp, "plugins.d")
        os.makedirs(plugins, exist_ok=True)
        with open(os.path.join(plugins, "scanwatch.conf"), "w") as f:
            f.write(f"active = yes\ndirection = out\npath = {plugin_path}\ntype = always\n"
                    f"args = {plugin_args}\nformat = string\n")
        conf = os.path.join(tmp, "auditd.conf")
        with open(conf, "w") as f:
            f.write(f"""local_events = no
write_logs = yes
log_file = {self.log}
log_format = {log_format}
flush = INCREMENTAL_ASYNC
freq = 100
max_log_file = 1024
num_logs = 2
max_log_file_action = ROTATE
space_left = 2
space_left_action = IGNORE
admin_space_left = 1
admin_space_left_action = IGNORE
disk_full_action = IGNORE
disk_error_action = IGNORE
name_format = NONE
q_depth = {q_depth}
overflow_action = SYSLOG
plugin_dir = {plugins}
tcp_listen_port = {port}
tcp_listen_queue = 128
tcp_max_per_addr = 1024
distribute_network = yes
end_of_event_timeout = 2
""")
        os.chmod(conf, 0o640)
        self.err = open(os.path.join(tmp, "auditd.err"), "w")
        self.proc = subprocess.Popen(["auditd", "-n", "-c", tmp], stdin=subprocess.DEVNULL,
                                     stdout=self.err, stderr=self.err)
        deadline = time.monotonic() + 10
        while not listening(port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                skip("the collector auditd did not listen: " +
                     open(os.path.join(tmp, "auditd.err")).read()[-500:])
            time.sleep(0.05)

    def node_lines(self):
        """Records with node= the collector has written so far."""
        n = 0
        try:
            with open(self.log, "rb") as f:
                for line in f:
                    n += line.startswith(b"node=")
        except OSError:
            pass
        return n

    def plugin_pids(self):
        out = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True).stdout
        return [int(p) for p in out.split()]

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def remote_conf(tmp, port):
    path = os.path.join(tmp, "audisp-remote.conf")
    with open(path, "w") as f:
        f.write(f"""remote_server = 127.0.0.1
port = {port}
transport = tcp
mode = immediate
queue_depth = 200000
format = managed
network_retry_time = 1
max_tries_per_record = 3
max_time_per_record = 5
heartbeat_timeout = 0
network_failure_action = stop
remote_ending_action = stop
startup_failure_action = warn_once_continue
queue_file = {tmp}/remote.queue
""")
    return path


def start_sender(conf, err):
    """One real audisp-remote whose /etc/audit/audisp-remote.conf is `conf`; records go to its
    stdin (as auditd's dispatcher would write them)."""
    return subprocess.Popen(
        ["unshare", "-m", "sh", "-c",
         f"mount --bind {conf} /etc/audit/audisp-remote.conf && exec audisp-remote"],
        stdin=subprocess.PIPE, stdout=err, stderr=err)
