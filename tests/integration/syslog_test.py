#!/usr/bin/env python3
"""Alert outputs against real receivers.

- A private rsyslogd (imudp, imtcp on a loopback port, imuxsock on a socket in a temp dir) gets
  `scanwatch replay`'s alerts over UDP, TCP and the local socket: every alert arrives once, in
  order, its JSON byte for byte the stdout line, with the right PRI, facility and severity and an
  RFC 5424 (network) or syslog(3) (local socket) header.
- Raw loopback listeners check the bytes on the wire: RFC 6587 octet-counting frames on TCP, one
  message per UDP datagram.
- A receiver that is not there: replay ends within the retry grace, exit 1, each output reported
  once (not per alert) and every alert counted as lost.
- `scanwatch plugin` fed through a pipe while rsyslogd is killed and started again: nothing is
  lost; with a 3-line backlog, exactly the alerts the stats count as lost are missing.
- `scanwatch plugin --output file:X`: X renamed and SIGHUP sent mid-stream; every alert is in
  X.1 or X, none torn or duplicated.

Skips (exit 77) when rsyslogd or its modules are missing. Whatever happens it stops the rsyslogd
and scanwatch processes it started and removes its temp dir.
Usage: syslog_test.py SCANWATCH_BINARY SOURCE_DIR"""
import atexit
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

SKIP = 77
BIN = os.path.abspath(sys.argv[1])
SRC = os.path.abspath(sys.argv[2])
SAMPLES = os.path.join(SRC, "samples")
sys.path.insert(0, os.path.join(SRC, "bench"))
from audit_stream import events_of, shifted_stream  # noqa: E402  (as bench/latency.py feeds it)
SWEEP = os.path.join(SAMPLES, "ping_sweep.enriched.log")
HOST = ["--host-id", "syslog-it", "--host-name", "syslog-it"]
AUTHPRIV, LOCAL3, LOCAL0 = 10, 19, 16
WARNING = 4  # the built-in rule is "medium"
failures = []
state = {"procs": [], "tmp": None}


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
    state["procs"] = []
    if state["tmp"] is not None:
        shutil.rmtree(state["tmp"], ignore_errors=True)
        state["tmp"] = None


def on_signal(signo, _frame):
    cleanup()
    sys.exit(128 + signo)


def wait_for(cond, timeout=20.0, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(step)
    return cond()


def free_port():
    """A port free on 127.0.0.1 for both TCP and UDP."""
    for _ in range(50):
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        t.bind(("127.0.0.1", 0))
        port = t.getsockname()[1]
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            t.close()
            u.close()
    raise RuntimeError("no free port")


class Rsyslog:
    """A private rsyslogd: imudp and imtcp on 127.0.0.1:port, imuxsock on its own socket; every
    message goes to one file, a line per message: input, PRI, facility, severity, hostname,
    app-name, procid, then the raw message (tab-separated; alerts hold no tab or newline)."""

    def __init__(self, tmp, port):
        self.dir = os.path.join(tmp, "rsyslog")
        os.makedirs(os.path.join(self.dir, "work"), exist_ok=True)
        self.port = port
        self.sock = os.path.join(self.dir, "log.sock")
        self.out = os.path.join(self.dir, "received.log")
        self.conf = os.path.join(self.dir, "rsyslog.conf")
        self.pidfile = os.path.join(self.dir, "rsyslogd.pid")
        self.proc = None
        self.starts = 0
        with open(self.conf, "w") as f:
            f.write(f"""
global(workDirectory="{self.dir}/work" maxMessageSize="64k")
module(load="imudp")
module(load="imtcp")
module(load="imuxsock" SysSock.Use="off")
input(type="imudp" address="127.0.0.1" port="{port}" ruleset="it")
input(type="imtcp" address="127.0.0.1" port="{port}" ruleset="it")
input(type="imuxsock" Socket="{self.sock}" ruleset="it")
template(name="it" type="string"
         string="%inputname%\\t%pri%\\t%syslogfacility%\\t%syslogseverity%\\t%hostname%\\t%app-name%\\t%procid%\\t%rawmsg%\\n")
ruleset(name="it") {{
    action(type="omfile" file="{self.out}" template="it")
}}
""")

    def validate(self):
        r = subprocess.run(["rsyslogd", "-N1", "-f", self.conf], capture_output=True, text=True)
        return r.returncode == 0, (r.stderr or r.stdout).strip()

    def start(self):
        if os.path.exists(self.pidfile):
            os.remove(self.pidfile)  # stale after a kill -9
        self.starts += 1
        log = open(os.path.join(self.dir, f"rsyslogd.{self.starts}.out"), "wb")
        self.proc = subprocess.Popen(["rsyslogd", "-n", "-f", self.conf, "-i", self.pidfile],
                                     stdout=log, stderr=subprocess.STDOUT)
        log.close()
        state["procs"].append(self.proc)
        tag = f"probe{self.starts}"
        ready = wait_for(lambda: self._probe(tag), timeout=20, step=0.2)
        if not ready:
            raise RuntimeError(f"rsyslogd did not come up; see {self.dir}")

    def _probe(self, tag):
        """Sends one probe per input until all three are in the file."""
        seen = {m["input"] for m in self.messages(app=tag)}
        msg = f"<14>1 - - {tag} - - - ready".encode()
        if "imudp" not in seen:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.sendto(msg, ("127.0.0.1", self.port))
        if "imtcp" not in seen:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"%d %s" % (len(msg), msg))
            except OSError:
                pass
        if "imuxsock" not in seen:
            try:
                with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
                    s.sendto(f"<14>Jan  1 00:00:00 {tag}: ready".encode(), self.sock)
            except OSError:
                pass
        return len(seen) == 3

    def kill(self, sig=signal.SIGKILL):
        self.proc.send_signal(sig)
        self.proc.wait(10)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def messages(self, app="scanwatch", input_name=None):
        try:
            with open(self.out, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return []
        out = []
        for line in data.decode("utf-8", "surrogateescape").split("\n"):
            if not line:
                continue
            parts = line.split("\t", 7)
            if len(parts) != 8:
                out.append({"input": "?", "app": app, "bad": line})
                continue
            m = dict(zip(["input", "pri", "facility", "severity", "hostname", "app", "procid", "raw"], parts))
            if m["app"] == app and (input_name is None or m["input"] == input_name):
                out.append(m)
        return out

    def truncate(self):
        open(self.out, "wb").close()


RFC5424 = re.compile(r"^<(\d+)>1 (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z) (\S+) scanwatch (\d+) - - (.*)$", re.S)
LOCAL = re.compile(r"^<(\d+)>([A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d) scanwatch\[(\d+)\]: (.*)$", re.S)


def check_received(what, got, expected_lines, pri, pid, local=False):
    """`got`: rsyslog's records of one input; they must be the stdout lines, in order, once."""
    check(len(got) == len(expected_lines), f"{what}: {len(expected_lines)} alerts arrived ({len(got)})")
    bodies, headers_ok, meta_ok = [], True, True
    for m in got:
        if "bad" in m:
            headers_ok = False
            bodies.append(None)
            continue
        match = (LOCAL if local else RFC5424).match(m["raw"])
        if not match:
            headers_ok = False
            bodies.append(None)
            continue
        if local:
            rpri, _stamp, rpid, body = match.groups()
            rhost = None
        else:
            rpri, _stamp, rhost, rpid, body = match.groups()
        headers_ok &= int(rpri) == pri and int(rpid) == pid
        if rhost is not None:
            headers_ok &= rhost == socket.gethostname()
        meta_ok &= (int(m["pri"]) == pri and int(m["facility"]) == pri // 8
                    and int(m["severity"]) == pri % 8 and m["procid"] == str(pid))
        bodies.append(body)
    check(headers_ok, f"{what}: {'syslog(3)' if local else 'RFC 5424'} headers with PRI {pri}, "
                      f"pid {pid}{'' if local else ', this hostname'}")
    check(meta_ok, f"{what}: rsyslog parsed facility {pri // 8}, severity {pri % 8}, procid")
    check(bodies == expected_lines, f"{what}: each message is the stdout alert line byte for byte, in order")
    check(all(b is not None and json.loads(b)["kibana.alert.severity"] == "medium" for b in bodies),
          f"{what}: the JSON parses")


def stats_of(stderr):
    lines = [l for l in stderr.splitlines() if l.startswith('{"type":"stats"')]
    return json.loads(lines[-1]) if lines else None


# ---- the plugin stream: shifted copies of the sweep, one alert each ---------------------------

class Plugin:
    """`scanwatch plugin` with stdin a pipe; stdout lines and stderr collected by threads."""

    def __init__(self, outputs):
        args = [BIN, "plugin", "--stats"] + HOST + ["--output=-"] + [f"--output={o}" for o in outputs]
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, bufsize=0)
        state["procs"].append(self.proc)
        self.lines = []
        self.err = []
        self.readers = [threading.Thread(target=self._read_out), threading.Thread(target=self._read_err)]
        for t in self.readers:
            t.start()

    def _read_out(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip(b"\n").decode("utf-8", "surrogateescape"))

    def _read_err(self):
        self.err.append(self.proc.stderr.read().decode("utf-8", "replace"))

    def feed(self, data):
        self.proc.stdin.write(data)

    def finish(self, timeout=60):
        self.proc.stdin.close()
        rc = self.proc.wait(timeout)
        for t in self.readers:
            t.join()
        return rc, "".join(self.err)


def feed_copies(plugin, events, first, last):
    """Feeds copies [first, last) and waits until their alerts are on stdout."""
    for c in range(first, last):
        plugin.feed(shifted_stream(events, c))
    return wait_for(lambda: len(plugin.lines) >= last, timeout=30)


# ---- scenarios --------------------------------------------------------------------------------

def replay_to_rsyslog(rs, samples):
    rs.truncate()
    udp = f"syslog:udp://127.0.0.1:{rs.port}"
    tcp = f"syslog:tcp://127.0.0.1:{rs.port}?facility=local3"
    local = f"syslog:unix://{rs.sock}?facility=local0"
    # Paths first: a repeated option would take the paths after it as more of its values.
    proc = subprocess.Popen([BIN, "replay"] + samples + ["--stats"] + HOST +
                            ["--output", "-", "--output", udp, "--output", tcp, "--output", local],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    state["procs"].append(proc)
    out, err = proc.communicate(timeout=120)
    lines = out.decode().splitlines()
    check(proc.returncode == 0, f"replay to rsyslog exits 0 ({proc.returncode})")
    if proc.returncode != 0:
        print(err.decode()[-2000:])
    check(len(lines) >= 5, f"the samples give several alerts ({len(lines)})")
    stats = stats_of(err.decode())
    for spec in (udp, tcp, local):
        o = stats["outputs"][spec]
        check(o == {"written": len(lines), "failed": 0, "lost": 0, "backlog": 0},
              f"stats of {spec}: all written, none failed, lost or kept ({o})")
    wait_for(lambda: all(len(rs.messages(input_name=i)) >= len(lines) for i in ("imudp", "imtcp", "imuxsock")))
    time.sleep(0.3)  # anything extra (a duplicate) would arrive now
    check_received("replay over UDP", rs.messages(input_name="imudp"), lines, AUTHPRIV * 8 + WARNING, proc.pid)
    check_received("replay over TCP", rs.messages(input_name="imtcp"), lines, LOCAL3 * 8 + WARNING, proc.pid)
    check_received("replay to the local socket", rs.messages(input_name="imuxsock"), lines,
                   LOCAL0 * 8 + WARNING, proc.pid, local=True)


def wire_framing(samples):
    """Raw listeners: TCP bytes are exactly LEN SP MSG frames, UDP one message per datagram."""
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.bind(("127.0.0.1", 0))
    tcp.listen(1)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    udp.settimeout(0.5)
    got = {"tcp": b"", "udp": []}

    def serve_tcp():
        conn, _ = tcp.accept()
        with conn:
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                got["tcp"] += chunk

    def serve_udp():
        idle = 0
        while idle < 6:
            try:
                got["udp"].append(udp.recv(65536))
                idle = 0
            except socket.timeout:
                idle += 1

    threads = [threading.Thread(target=serve_tcp), threading.Thread(target=serve_udp)]
    for t in threads:
        t.start()
    r = subprocess.run([BIN, "replay"] + samples + HOST + [
        "--output", "-", "--output", f"syslog:tcp://127.0.0.1:{tcp.getsockname()[1]}",
        "--output", f"syslog:udp://127.0.0.1:{udp.getsockname()[1]}"], capture_output=True, timeout=120)
    for t in threads:
        t.join(30)
    tcp.close()
    udp.close()
    lines = r.stdout.decode().splitlines()
    check(r.returncode == 0, "replay to raw listeners exits 0")
    frames, data, ok = [], got["tcp"], True
    while data:
        m = re.match(rb"([1-9]\d*) ", data)
        if not m or len(data) < m.end() + int(m.group(1)):
            ok = False
            break
        n = int(m.group(1))
        frames.append(data[m.end():m.end() + n])
        data = data[m.end() + n:]
    check(ok and len(frames) == len(lines), f"TCP: the stream is exactly {len(lines)} octet-counted frames")
    bodies = [RFC5424.match(f.decode()).group(5) if RFC5424.match(f.decode()) else None for f in frames]
    check(bodies == lines, "TCP: each frame is one RFC 5424 message holding one stdout alert line")
    dgrams = [RFC5424.match(d.decode()).group(5) if RFC5424.match(d.decode()) else None for d in got["udp"]]
    check(dgrams == lines, "UDP: each datagram is one RFC 5424 message holding one stdout alert line")


def replay_without_receiver(samples):
    port = free_port()
    t0 = time.monotonic()
    udp, tcp = f"syslog:udp://127.0.0.1:{port}", f"syslog:tcp://127.0.0.1:{port}"
    r = subprocess.run([BIN, "replay"] + samples + ["--stats"] + HOST +
                       ["--output", "-", "--output", udp, "--output", tcp], capture_output=True, timeout=120)
    spent = time.monotonic() - t0
    lines = r.stdout.decode().splitlines()
    err = r.stderr.decode()
    check(r.returncode == 1, f"replay with no receiver exits 1 ({r.returncode})")
    check(spent < 15, f"and does not hang: {spent:.1f} s (3 s of retries at exit)")
    stats = stats_of(err)
    for spec in (udp, tcp):
        o = stats["outputs"][spec]
        check(o["written"] == 0 and o["lost"] == len(lines) and o["backlog"] == 0 and o["failed"] >= 2,
              f"stats of {spec}: every alert counted lost, attempts counted as failed ({o})")
        check(err.count(f"output {spec} failed:") == 1, f"{spec}: the failure is reported once")
        check(err.count(f"output {spec}: {len(lines)} lines lost at exit") == 1,
              f"{spec}: the loss is reported once, with its count")
    check(stats["outputs"]["-"]["written"] == len(lines), "stdout still got every alert")


def plugin_receiver_restart(rs, events, backlog=None):
    """Alerts keep coming while rsyslogd is killed and started again."""
    rs.truncate()
    opt = f"?backlog={backlog}" if backlog is not None else ""
    udp = f"syslog:udp://127.0.0.1:{rs.port}{opt}"
    tcp = f"syslog:tcp://127.0.0.1:{rs.port}" + (f"{opt}&" if opt else "?") + "facility=local3"
    name = f"plugin, rsyslogd killed and restarted{f', backlog={backlog}' if backlog is not None else ''}"
    p = Plugin([udp, tcp])
    check(feed_copies(p, events, 0, 5), f"{name}: 5 alerts before the kill")
    wait_for(lambda: len(rs.messages(input_name="imudp")) >= 5 and len(rs.messages(input_name="imtcp")) >= 5)
    rs.kill(signal.SIGKILL)
    check(feed_copies(p, events, 5, 15), f"{name}: 10 alerts while rsyslogd is down")
    time.sleep(1.0)  # a few retries fail
    rs.start()
    # The next retry (backoff up to 5 s) sends the backlog; then new alerts go straight through.
    kept = 15 if backlog is None else 5 + backlog
    check(wait_for(lambda: len(rs.messages(input_name="imudp")) >= kept
                   and len(rs.messages(input_name="imtcp")) >= kept, timeout=20),
          f"{name}: the backlog arrives after the restart")
    check(feed_copies(p, events, 15, 20), f"{name}: 5 alerts after the restart")
    rc, err = p.finish()
    # Live modes exit 1 when an output lost alerts (README.md, "Exit status").
    want_rc = 1 if backlog == 3 else 0
    check(rc == want_rc, f"{name}: exit {want_rc} at EOF ({rc})")
    stats = stats_of(err)
    lines = p.lines
    check(len(lines) == 20, f"{name}: 20 alerts on stdout ({len(lines)})")
    wait_for(lambda: all(len(rs.messages(input_name=i)) >= 20 - (7 if backlog == 3 else 0)
                         for i in ("imudp", "imtcp")), timeout=15)
    time.sleep(0.3)
    for spec, input_name, pri in ((udp, "imudp", AUTHPRIV * 8 + WARNING), (tcp, "imtcp", LOCAL3 * 8 + WARNING)):
        o = stats["outputs"][spec]
        check(err.count(f"output {spec} failed:") == 1 and err.count(f"output {spec} is back") == 1,
              f"{name}: {input_name} failure and recovery reported once each")
        if backlog is None:
            check(o["lost"] == 0 and o["backlog"] == 0 and o["written"] == 20 and o["failed"] >= 2,
                  f"{name}: {spec} stats: 20 written, none lost, failed attempts counted ({o})")
            check_received(f"{name}: {input_name}", rs.messages(input_name=input_name), lines, pri, p.proc.pid)
        else:
            # 5 delivered, 3 of the 10 kept while down, 7 dropped, 5 after.
            check(o["lost"] == 7 and o["backlog"] == 0 and o["written"] == 13,
                  f"{name}: {spec} stats: 13 written, exactly 7 lost ({o})")
            check(f"output {spec}: backlog full (3 lines)" in err, f"{name}: {spec}: the full backlog is reported")
            check_received(f"{name}: {input_name}", rs.messages(input_name=input_name),
                           lines[:8] + lines[15:], pri, p.proc.pid)


def plugin_file_rotation(tmp, events):
    path = os.path.join(tmp, "alerts.ndjson")
    p = Plugin([f"file:{path}"])
    done = threading.Event()

    def feeder():
        for c in range(40):
            p.feed(shifted_stream(events, c))
            time.sleep(0.01)
        done.set()

    t = threading.Thread(target=feeder)
    t.start()
    check(wait_for(lambda: len(p.lines) >= 12), "file rotation: alerts flow")
    os.rename(path, path + ".1")
    p.proc.send_signal(signal.SIGHUP)
    t.join()
    rc, err = p.finish()
    check(rc == 0, f"file rotation: exit 0 ({rc})")
    with open(path + ".1", "rb") as f:
        old = f.read()
    with open(path, "rb") as f:
        new = f.read()
    check(old.endswith(b"\n") and new.endswith(b"\n"), "file rotation: both files end with a whole line")
    rotated = old.decode().splitlines() + new.decode().splitlines()
    n_old, n_new = old.count(b"\n"), new.count(b"\n")
    check(n_old > 0 and n_new > 0, f"file rotation: alerts in X.1 and in X ({n_old} + {n_new})")
    parsed = True
    try:
        for line in rotated:
            json.loads(line)
    except ValueError:
        parsed = False
    check(parsed, "file rotation: every line is whole JSON")
    check(len(p.lines) == 40 and rotated == p.lines,
          f"file rotation: X.1 then X hold the 40 stdout alerts once each, in order ({len(rotated)})")
    check("configuration reloaded" in err, "file rotation: SIGHUP was taken")


def main():
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, on_signal)
    atexit.register(cleanup)
    if shutil.which("rsyslogd") is None:
        skip("rsyslogd is not installed (apt-get install rsyslog)")
    state["tmp"] = tempfile.mkdtemp(prefix="scanwatch-syslog-")
    tmp = state["tmp"]
    rs = Rsyslog(tmp, free_port())
    ok, why = rs.validate()
    if not ok:
        skip(f"rsyslogd cannot load imudp, imtcp and imuxsock: {why}")

    samples = [os.path.join(SAMPLES, n) for n in ("ping_sweep.enriched.log", "nc_scan.enriched.log",
                                                   "ncat_scan.enriched.log", "socat_scan.enriched.log",
                                                   "busybox_ping.enriched.log", "multihost.node.log")]
    events = events_of(SWEEP)
    try:
        rs.start()
        replay_to_rsyslog(rs, samples)
        wire_framing(samples)
        replay_without_receiver(samples)
        plugin_receiver_restart(rs, events)
        plugin_receiver_restart(rs, events, backlog=3)
        plugin_file_rotation(tmp, events)
    finally:
        rs.stop()
        cleanup()
    print(f"{len(failures)} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
