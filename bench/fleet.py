#!/usr/bin/env python3
"""Collector benchmark (docs/fleet.md): a real collector auditd (local_events = no) with
`scanwatch plugin --collector` as its plugin, fed by real audisp-remote senders on loopback
carrying 1,000 node names (several nodes interleaved record by record on each connection; a tenth
of the nodes scan, the rest send noise). Reports sustained records/s through auditd and into
scanwatch, the plugin queue auditd reports (SIGCONT state report), the CPU share and RSS of
auditd, scanwatch and the senders, and which one is the bottleneck. Needs root, auditd and
audispd-plugins; run it alone (it starts its own collector auditd): bench/fleet.py ...

Usage: bench/fleet.py [--scanwatch build/scanwatch] [--nodes 1000] [--connections 20]
                      [--rounds 2]
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import fleet_fixture as fx  # noqa: E402

SAMPLES = os.path.join(ROOT, "samples")
HZ = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            cols = f.read().rsplit(")", 1)[1].split()
        return (int(cols[11]) + int(cols[12])) / HZ
    except OSError:
        return 0.0


def hwm_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def queue_state(auditd_pid):
    """auditd's state report (3.0.9: SIGCONT writes /var/run/auditd.state)."""
    try:
        os.remove("/var/run/auditd.state")
    except OSError:
        pass
    os.kill(auditd_pid, signal.SIGCONT)
    for _ in range(20):
        time.sleep(0.02)
        try:
            with open("/var/run/auditd.state") as f:
                text = f.read()
            out = {}
            for line in text.splitlines():
                if "=" in line:
                    k, v = line.split("=", 1)
                    out[k.strip()] = v.strip()
            if out:
                return out
        except OSError:
            pass
    return {}


class LineCounter:
    """Counts the lines of a growing file without reading it twice."""

    def __init__(self, path):
        self.path, self.pos, self.lines = path, 0, 0

    def poll(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.pos)
                while True:
                    chunk = f.read(1 << 20)
                    if not chunk:
                        break
                    self.lines += chunk.count(b"\n")
                    self.pos += len(chunk)
        except OSError:
            pass
        return self.lines


def scanwatch_stats(pid, path):
    try:
        os.kill(pid, signal.SIGUSR1)
    except OSError:
        return {}
    time.sleep(0.05)
    try:
        with open(path) as f:
            lines = [line for line in f if line.strip()]
        return json.loads(lines[-1]) if lines else {}
    except (OSError, ValueError):
        return {}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--scanwatch", default=os.path.join(ROOT, "build", "scanwatch"))
    ap.add_argument("--nodes", type=int, default=1000)
    ap.add_argument("--connections", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=2, help="noise logs per node, one after another")
    args = ap.parse_args()
    fx.preflight()
    scanwatch = os.path.abspath(args.scanwatch)

    now = int(time.time())
    noise = os.path.join(SAMPLES, "noise.enriched.log")
    scan = os.path.join(SAMPLES, "ping_sweep.enriched.log")
    per_conn = [[] for _ in range(args.connections)]
    scanning = set()
    for i in range(args.nodes):
        node = f"node-{i:04d}"
        recs = []
        for r in range(args.rounds):
            recs += fx.node_records(noise, node, now - fx.first_second(noise) + 3 * r)
        if i % 10 == 0:
            scanning.add(node)
            recs += fx.node_records(scan, node, now - fx.first_second(scan) + 3 * args.rounds)
        per_conn[i % args.connections].append(recs)
    streams = []
    for logs in per_conn:  # one record of each node in turn, as a busy sender interleaves them
        out = []
        for k in range(max(len(x) for x in logs)):
            out += [x[k] for x in logs if k < len(x)]
        streams.append(out)
    sent = sum(len(s) for s in streams)

    tmp = tempfile.mkdtemp(prefix="scanwatch-fleet-bench-")
    os.chmod(tmp, 0o755)
    port = fx.free_port()
    alerts = os.path.join(tmp, "alerts.ndjson")
    stats_path = os.path.join(tmp, "stats.json")
    config = os.path.join(tmp, "scanwatch.toml")
    with open(config, "w") as f:
        f.write(f'collector = true\noutput = ["file:{alerts}"]\nstats-file = "{stats_path}"\n')
    collector = fx.Collector(tmp, port, scanwatch, f"plugin --config={config}", q_depth=99999)
    senders = []
    try:
        time.sleep(0.5)
        pids = collector.plugin_pids()
        if not pids:
            print("scanwatch plugin did not start", file=sys.stderr)
            return 1
        sw_pid, ad_pid = pids[0], collector.proc.pid
        conf = fx.remote_conf(tmp, port)
        err = open(os.path.join(tmp, "senders.err"), "w")
        senders = [fx.start_sender(conf, err) for _ in streams]
        time.sleep(0.5)
        counter = LineCounter(collector.log)
        base_lines = counter.poll()
        cpu0 = {"auditd": cpu_seconds(ad_pid), "scanwatch": cpu_seconds(sw_pid)}
        snd0 = sum(cpu_seconds(p.pid) for p in senders)
        t0 = time.monotonic()

        def write(p, recs):
            p.stdin.writelines(recs)
            p.stdin.close()

        threads = [threading.Thread(target=write, args=(p, s)) for p, s in zip(senders, streams)]
        for t in threads:
            t.start()
        samples, queue_max = [], 0
        last = base_lines
        while time.monotonic() - t0 < 600:
            time.sleep(1.0)
            lines = counter.poll()
            q = queue_state(ad_pid)
            depth = int(q.get("current plugin queue depth", 0) or 0)
            queue_max = max(queue_max, depth)
            samples.append((time.monotonic() - t0, lines - base_lines, depth))
            if lines - base_lines >= sent or (lines == last and all(not t.is_alive() for t in threads)
                                              and all(p.poll() is not None for p in senders)):
                break
            last = lines
        t_log = time.monotonic() - t0
        logged = counter.poll() - base_lines
        snd1 = sum(cpu_seconds(p.pid) for p in senders)
        # scanwatch has caught up when it has read every record auditd wrote.
        st = {}
        while time.monotonic() - t0 < t_log + 60:
            st = scanwatch_stats(sw_pid, stats_path)
            if st.get("records", 0) >= counter.poll():
                break
            time.sleep(0.2)
        t_sw = time.monotonic() - t0
        cpu1 = {"auditd": cpu_seconds(ad_pid), "scanwatch": cpu_seconds(sw_pid)}
        q = queue_state(ad_pid)
        rss = hwm_kb(sw_pid)
    finally:
        for p in senders:
            if p.poll() is None:
                p.kill()
                p.wait()
        collector.stop()

    with open(alerts) as f:
        hosts = [json.loads(line)["host"]["id"] for line in f if line.strip()]
    rate = logged / t_log
    share = {k: (cpu1[k] - cpu0[k]) / t_sw for k in cpu0}
    share["senders"] = (snd1 - snd0) / t_log
    print(f"nodes {args.nodes} over {args.connections} connections; records sent {sent}, "
          f"written by auditd {logged} in {t_log:.1f} s")
    print(f"sustained through auditd: {rate:,.0f} records/s; into scanwatch (caught up at "
          f"{t_sw:.1f} s): {st.get('records', 0) / t_sw:,.0f} records/s")
    mid = [s for s in samples if 0 < s[1] < sent]
    if len(mid) >= 2:
        peak = max((b[1] - a[1]) / (b[0] - a[0]) for a, b in zip(mid, mid[1:]))
        print(f"peak 1 s rate through auditd: {peak:,.0f} records/s")
    print(f"plugin queue: max sampled depth {queue_max}, auditd's max used "
          f"{q.get('max plugin queue depth used', '?')} of q_depth 99999, overflow "
          f"{q.get('plugin queue overflow detected', '?')}")
    print("CPU share of one core: " + ", ".join(f"{k} {v:.0%}" for k, v in share.items()))
    print(f"scanwatch RSS: VmHWM {rss} KiB (stats max_rss_kb {st.get('max_rss_kb')}), "
          f"nodes {st.get('nodes')}, events {st.get('events')}, split "
          f"{st.get('execve_without_syscall')}, late {st.get('rules', [{}])[0].get('late')}")
    print(f"alerts: {len(hosts)} for {len(scanning)} scanning nodes, "
          f"{len(set(hosts) & scanning)} distinct scanning nodes alerted, "
          f"{len(set(hosts) - scanning)} others")
    bottleneck = max(share, key=share.get)
    print(f"bottleneck: {bottleneck} ({share[bottleneck]:.0%} of a core); "
          f"scanwatch uses {share['scanwatch'] / max(share['auditd'], 1e-9):.2f}x auditd's CPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())
