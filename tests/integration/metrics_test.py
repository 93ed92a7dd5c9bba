#!/usr/bin/env python3
"""`--metrics` through the real binary (docs/operations.md, "Metrics").

prometheus: Debian's `prometheus` scrapes `scanwatch plugin --metrics 127.0.0.1:PORT` every
second and its HTTP API returns scanwatch_ series with the values the agent counted; `promtool
check metrics` accepts the page. Skipped (77) when prometheus or promtool is not installed.

server: the server never stalls the input and bounds its clients: 8 idle connections held open,
a 9th refused, records still processed (an alert written) meanwhile, the idle ones closed at the
5 s deadline; oversized, garbage, wrong path and wrong method answered and counted; with --user
the listening socket is bound before the privilege drop (a port below 1024) and served after it.

Usage: metrics_test.py SCANWATCH_BINARY SOURCE_DIR prometheus|server"""
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

BIN, SRC, PART = sys.argv[1], sys.argv[2], sys.argv[3]
SAMPLE = os.path.join(SRC, "samples", "ping_sweep.enriched.log")
HOST = ["--host-id", "sample-host-id", "--host-name", "sample-host"]
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url, timeout=5):
    """(status, body) of a GET; an HTTP error's status and body too."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def wait_for(what, predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    check(False, f"{what} within {timeout} s")
    return None


def series(page):
    """{name{labels}: value} of the samples of a page."""
    out = {}
    for line in page.splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            out[key] = float(value)
    return out


class Agent:
    """`scanwatch plugin` reading a pipe we hold open, alerts to a file."""

    def __init__(self, tmp, port, extra=()):
        self.alerts = os.path.join(tmp, "alerts.ndjson")
        self.stderr = open(os.path.join(tmp, "agent.err"), "wb")
        self.proc = subprocess.Popen(
            [BIN, "plugin", "--stats", "--output", "file:" + self.alerts,
             "--metrics", f"127.0.0.1:{port}"] + HOST + list(extra),
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self.stderr)
        self.url = f"http://127.0.0.1:{port}/metrics"
        wait_for("the metrics server answers", lambda: self.page(), 10)

    def page(self):
        try:
            status, body = get(self.url)
            return body if status == 200 else None
        except OSError:
            return None

    def feed(self, data):
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def alert_count(self):
        try:
            with open(self.alerts) as f:
                return sum(1 for _ in f)
        except FileNotFoundError:
            return 0

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.stderr.close()
        with open(self.stderr.name, "rb") as f:
            return self.proc.returncode, f.read().decode(errors="replace")


def part_prometheus(tmp):
    prometheus = shutil.which("prometheus")
    promtool = shutil.which("promtool")
    if not prometheus or not promtool:
        print("SKIP: prometheus or promtool not installed (Debian package `prometheus`, "
              "scripts/install-deps.sh)")
        sys.exit(77)
    port, prom_port = free_port(), free_port()
    agent = Agent(tmp, port)
    prom = None
    try:
        with open(SAMPLE, "rb") as f:
            data = f.read()
        agent.feed(data)
        wait_for("the sweep's alert is written", lambda: agent.alert_count() == 1, 20)

        page = agent.page()
        r = subprocess.run([promtool, "check", "metrics"], input=page.encode(), capture_output=True)
        check(r.returncode == 0, f"promtool check metrics accepts the page (rc {r.returncode}: "
                                 f"{r.stdout.decode()}{r.stderr.decode()})")
        values = series(page)
        check(values.get("scanwatch_bytes_total") == len(data), "scanwatch_bytes_total is the bytes fed")

        config = os.path.join(tmp, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                    "scrape_configs:\n  - job_name: scanwatch\n    static_configs:\n"
                    f"      - targets: ['127.0.0.1:{port}']\n")
        prom_log = open(os.path.join(tmp, "prometheus.log"), "wb")
        prom = subprocess.Popen(
            [prometheus, "--config.file=" + config, "--storage.tsdb.path=" + os.path.join(tmp, "tsdb"),
             f"--web.listen-address=127.0.0.1:{prom_port}", "--log.level=warn"],
            stdout=prom_log, stderr=prom_log, cwd=tmp)
        api = f"http://127.0.0.1:{prom_port}/api/v1/query?query="

        def query(expr):
            try:
                status, body = get(api + urllib.parse.quote(expr))
            except OSError:
                return None
            if status != 200:
                return None
            result = json.loads(body)["data"]["result"]
            return result or None

        result = wait_for("prometheus returns scanwatch_bytes_total",
                          lambda: query("scanwatch_bytes_total"), 60)
        if result:
            check(float(result[0]["value"][1]) == len(data),
                  f"prometheus has scanwatch_bytes_total = {len(data)} ({result[0]['value'][1]})")
            check(result[0]["metric"].get("job") == "scanwatch", "scraped by the scanwatch job")
        result = wait_for("prometheus returns the rule's alerts",
                          lambda: query('scanwatch_rule_alerts_total{rule="Potential Network Scan '
                                        'Executed From Host"}'), 30)
        if result:
            check(result[0]["value"][1] == "1", "scanwatch_rule_alerts_total of the exec rule is 1")
        result = wait_for("prometheus returns build info", lambda: query("scanwatch_build_info"), 30)
        if result:
            check(bool(result[0]["metric"].get("version")), "scanwatch_build_info has a version")
        up = wait_for("the target is up", lambda: query('up{job="scanwatch"} == 1'), 30)
        check(bool(up), "prometheus sees the target up")
    finally:
        if prom is not None:
            prom.terminate()
            try:
                prom.wait(timeout=10)
            except subprocess.TimeoutExpired:
                prom.kill()
                prom.wait()
        rc, err = agent.stop()
    check(rc == 0, f"the agent exits 0 at the end of its input (rc {rc}; {err[-500:]})")
    stats = [json.loads(l) for l in err.splitlines() if l.startswith('{"type":"stats"')]
    check(bool(stats) and stats[-1]["metrics"]["requests"] >= 3,
          "the stats count the pages served (metrics.requests)")


def raw(port, data=b"", wait=3.0):
    """Sends `data` on a fresh connection; returns what comes back until the server closes (a
    reset, even while connecting, ends it too)."""
    out = b""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=wait) as s:
            if data:
                s.sendall(data)
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
    except (ConnectionResetError, BrokenPipeError, socket.timeout):
        pass
    return out


def part_server(tmp):
    port = free_port()
    agent = Agent(tmp, port)
    held = []
    try:
        with open(SAMPLE, "rb") as f:
            data = f.read()
        # 8 idle connections fill the cap; the 9th is closed at once without an answer.
        held = [socket.create_connection(("127.0.0.1", port)) for _ in range(8)]
        time.sleep(0.3)
        start = time.monotonic()
        ninth = raw(port, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        check(ninth == b"" and time.monotonic() - start < 2,
              f"a 9th connection is refused at once ({ninth[:40]!r})")
        # The input goes on meanwhile: the sweep alerts while the connections are held.
        agent.feed(data)
        wait_for("an alert is written while 8 idle clients are held",
                 lambda: agent.alert_count() == 1, 4)
        # The held connections are closed by the server at their 5 s deadline.
        closed = 0
        for s in held:
            s.settimeout(8)
            try:
                closed += 1 if s.recv(1) == b"" else 0
            except (ConnectionResetError, socket.timeout):
                closed += 0
        check(closed == 8, f"the 8 idle connections are closed at the deadline ({closed})")
        # A slow client (slowloris: a byte every half second) is cut at the same deadline.
        slow = socket.create_connection(("127.0.0.1", port))
        slow_start = time.monotonic()

        def trickle():
            try:
                for b in b"GET /metrics HTTP/1.1\r\nX-Slow: " + b"a" * 100:
                    slow.send(bytes([b]))
                    time.sleep(0.5)
            except OSError:
                pass
        threading.Thread(target=trickle, daemon=True).start()
        slow.settimeout(10)
        try:
            got = slow.recv(100)
        except (ConnectionResetError, socket.timeout):
            got = b""
        elapsed = time.monotonic() - slow_start
        check(got == b"" and 4 < elapsed < 8,
              f"the slow client is closed at the 5 s deadline ({elapsed:.1f} s, {got[:20]!r})")
        slow.close()
        status, _ = get(agent.url)
        check(status == 200, "a page is served again once the idle ones are gone")

        # Bad requests: answered, bounded, counted.
        too_large = raw(port, b"GET /metrics HTTP/1.1\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n")
        check(too_large.startswith(b"HTTP/1.1 431"), f"a 20 KB header gets 431 ({too_large[:30]!r})")
        garbage = raw(port, b"\x00\x01garbage\r\n\r\n")
        check(garbage.startswith(b"HTTP/1.1 400"), f"garbage gets 400 ({garbage[:30]!r})")
        body = raw(port, b"GET /metrics HTTP/1.1\r\nContent-Length: 20000\r\n\r\n" + b"b" * 20000)
        check(body.startswith(b"HTTP/1.1 413"), f"a 20 KB body gets 413 ({body[:30]!r})")
        status, _ = get(f"http://127.0.0.1:{port}/")
        check(status == 404, "another path gets 404")
        req = urllib.request.Request(agent.url, data=b"x", method="POST")
        try:
            urllib.request.urlopen(req, timeout=5)
            status = 200
        except urllib.error.HTTPError as e:
            status = e.code
        check(status == 405, "POST /metrics gets 405")

        values = series(agent.page())
        check(values.get("scanwatch_metrics_refused_total", 0) >= 1, "refused counted")
        check(values.get("scanwatch_metrics_timed_out_total", 0) >= 9, "timed out counted (8 idle, 1 slow)")
        check(values.get("scanwatch_metrics_too_large_total") == 2, "too large counted (head, body)")
        check(values.get("scanwatch_metrics_bad_requests_total") == 1, "garbage counted")
        check(values.get("scanwatch_metrics_not_found_total") == 1, "404 counted")
        check(values.get("scanwatch_metrics_bad_method_total") == 1, "405 counted")
        check(values.get("scanwatch_alerts_total") == 1, "the page counts the alert")
        check(values.get("scanwatch_input_lag_seconds", 0) > 0, "the input lag is on the page")
    finally:
        for s in held:
            s.close()
        rc, err = agent.stop()
    check(rc == 0, f"the agent exits 0 ({rc}; {err[-500:]})")

    # stdin from a regular file is read inside start(): the run ends, the server never waits.
    with open(SAMPLE, "rb") as stdin:
        try:
            r = subprocess.run([BIN, "plugin", "--metrics", f"127.0.0.1:{free_port()}"] + HOST,
                               stdin=stdin, capture_output=True, timeout=20)
            check(r.returncode == 0 and r.stdout.count(b"\n") == 1,
                  f"plugin with stdin from a file and --metrics ends (rc {r.returncode})")
        except subprocess.TimeoutExpired:
            check(False, "plugin with stdin from a file and --metrics ends")

    # IPv6 loopback, in brackets.
    if socket.has_ipv6:
        try:
            with socket.socket(socket.AF_INET6) as s6:
                s6.bind(("::1", 0))
                port6 = s6.getsockname()[1]
        except OSError:
            port6 = None
        if port6:
            proc = subprocess.Popen([BIN, "plugin", "--metrics", f"[::1]:{port6}"] + HOST,
                                    stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            try:
                def v6_page():
                    try:
                        status, text = get(f"http://[::1]:{port6}/metrics")
                        return status == 200 and "scanwatch_build_info" in text
                    except OSError:
                        return False
                check(wait_for("the page on [::1]", v6_page, 10) is not None, "[::1]:PORT is served")
            finally:
                proc.stdin.close()
                proc.wait(timeout=10)

    # tail mode serves the same page: the file read from the start is counted.
    port = free_port()
    log = os.path.join(tmp, "audit.log")
    shutil.copy(SAMPLE, log)
    proc = subprocess.Popen([BIN, "tail", "--from-start", "--metrics", f"127.0.0.1:{port}"] + HOST + [log],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def tail_bytes():
            try:
                status, text = get(f"http://127.0.0.1:{port}/metrics")
            except OSError:
                return None
            value = series(text).get("scanwatch_bytes_total") if status == 200 else None
            return value if value == os.path.getsize(log) else None
        check(wait_for("tail mode's page counts the file", tail_bytes, 10) is not None,
              "tail --metrics serves the bytes read")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    check(proc.returncode == 0, f"tail exits 0 on SIGTERM ({proc.returncode})")

    # --user: bound as root below 1024, served as the user.
    if os.geteuid() != 0:
        print("note: not root, the privilege drop part is not run")
        return
    user = "nobody"
    low = None
    for candidate in range(900, 1000):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", candidate))
                low = candidate
                break
            except OSError:
                continue
    # The config file's key, as the shipped config sets it.
    config = os.path.join(tmp, "scanwatch.toml")
    with open(config, "w") as f:
        f.write(f'metrics = "127.0.0.1:{low}"\nuser = "{user}"\n')
    proc = subprocess.Popen([BIN, "plugin", "--config", config] + HOST,
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        page = None
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and page is None:
            try:
                status, text = get(f"http://127.0.0.1:{low}/metrics")
                page = text if status == 200 else None
            except OSError:
                time.sleep(0.2)
        check(page is not None and "scanwatch_build_info" in page,
              f"port {low} (below 1024, from the config file's metrics key) is served with user {user}")
        with open(f"/proc/{proc.pid}/status") as f:
            uid = [l.split()[1] for l in f if l.startswith("Uid:")][0]
        check(int(uid) == pwd.getpwnam(user).pw_uid, f"the agent serving it runs as {user} (uid {uid})")
    finally:
        proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main():
    tmp = tempfile.mkdtemp(prefix="scanwatch-metrics-")
    try:
        {"prometheus": part_prometheus, "server": part_server}[PART](tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print(f"{len(failures)} check(s) failed")
        sys.exit(1)
    print("all checks passed")


if __name__ == "__main__":
    main()
