"""A collector for a fleet (docs/fleet.md), end to end: a real collector auditd (local_events = no)
with scanwatch as its plugin (--collector), and 52 real audisp-remote senders on loopback, each
sending captured scans or noise as its own node: some all at once, some in small bursts, six with
clocks 600 s ahead or an hour behind (quiet ones first). Exactly one alert per scanning node and
none elsewhere; the same alerts as `scanwatch replay` of each node's own log, and as a replay of
the collector's log; no event split, none late, skewed nodes reported.
Usage: fleet_test.py SCANWATCH"""
import json
import os
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fleet_fixture as fx  # noqa: E402

SCANWATCH = os.path.abspath(sys.argv[1])
SAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "samples")
SCANS = ["ping_sweep", "nc_scan", "ncat_scan", "socat_scan", "xargs_parallel_ping"]
NOISE = ["noise", "cron_like_control", "pkg_like_control"]
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def alert_key(a):
    ev = a["scanwatch"]["evidence"]
    t = a["kibana.alert.threshold_result"]
    return (a["host"]["id"], a["@timestamp"], json.dumps(t["terms"]), t["count"],
            json.dumps(t.get("cardinality")), ev["first_event"]["id"], ev["last_event"]["id"])


def read_alerts(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def replay(paths, extra=()):
    import subprocess
    r = subprocess.run([SCANWATCH, *extra, "replay", *paths], capture_output=True, text=True)
    return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]


def plan(now):
    """(node, sample, shift) for every sender: 13 scanning nodes, 39 noisy ones."""
    nodes = []
    for i in range(13):
        nodes.append((f"scan-{i:02d}", SCANS[i % len(SCANS)], 0))
    for i in range(39):
        nodes.append((f"quiet-{i:02d}", NOISE[i % len(NOISE)], 0))
    skews = {"quiet-00": 600, "quiet-01": 600, "quiet-02": 600, "quiet-03": -3600,
             "scan-00": 600, "scan-01": -3600}
    out = []
    for k, (node, sample, _) in enumerate(nodes):
        path = os.path.join(SAMPLES, sample + ".enriched.log")
        # Events land now (live), a little spread, or at the node's skewed clock.
        shift = now - fx.first_second(path) + (k % 5) + skews.get(node, 0)
        out.append((node, path, shift))
    return out, set(skews)


def main():
    fx.preflight()
    tmp = tempfile.mkdtemp(prefix="scanwatch-fleet-")
    os.chmod(tmp, 0o755)
    port = fx.free_port()
    alerts_path = os.path.join(tmp, "alerts.ndjson")
    stats_path = os.path.join(tmp, "stats.json")
    config = os.path.join(tmp, "scanwatch.toml")
    with open(config, "w") as f:
        f.write(f'collector = true\noutput = ["file:{alerts_path}"]\nstats-file = "{stats_path}"\n')
    collector = fx.Collector(tmp, port, SCANWATCH, f"plugin --config={config}")
    senders = []
    try:
        nodes, skewed = plan(int(time.time()))
        os.makedirs(os.path.join(tmp, "nodes"))
        logs = {}
        for node, path, shift in nodes:
            logs[node] = fx.node_records(path, node, shift)
            with open(os.path.join(tmp, "nodes", node + ".log"), "wb") as f:
                f.writelines(logs[node])
        conf = fx.remote_conf(tmp, port)
        err = open(os.path.join(tmp, "senders.err"), "w")
        # Quiet skewed hosts speak first: one host's clock must not move the others' time.
        order = sorted(nodes, key=lambda n: (n[0] not in skewed or n[0].startswith("scan"), n[0]))
        procs = {}
        for node, _, _ in order:
            procs[node] = fx.start_sender(conf, err)
            senders.append(procs[node])
        for node, _, _ in order:
            if node in skewed and node.startswith("quiet"):
                procs[node].stdin.writelines(logs[node])
                procs[node].stdin.flush()
        time.sleep(0.5)

        def bursty(node):  # all at once
            procs[node].stdin.writelines(logs[node])
            procs[node].stdin.close()

        def trickle(names):  # bursts of 20 records, round-robin over its nodes
            pos = {n: 0 for n in names}
            while pos:
                for n in list(pos):
                    chunk = logs[n][pos[n]:pos[n] + 20]
                    procs[n].stdin.writelines(chunk)
                    procs[n].stdin.flush()
                    pos[n] += 20
                    if pos[n] >= len(logs[n]):
                        procs[n].stdin.close()
                        del pos[n]
                time.sleep(0.002)

        threads = []
        rest = [n for n, _, _ in order if not (n in skewed and n.startswith("quiet"))]
        threads.append(threading.Thread(target=trickle, args=(rest[1::2],)))
        for n in rest[0::2]:
            threads.append(threading.Thread(target=bursty, args=(n,)))
        for n in skewed:
            if n.startswith("quiet"):
                procs[n].stdin.close()
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        sent = sum(len(v) for v in logs.values())
        deadline = time.monotonic() + 40
        while collector.node_lines() < sent and time.monotonic() < deadline:
            time.sleep(0.2)
        got = collector.node_lines()
        check(got == sent, f"the collector wrote every record of 52 senders ({got} of {sent})")
        for p in senders:
            try:
                p.wait(10)
            except Exception:
                p.kill()
        time.sleep(2.5)  # scanwatch completes quiet nodes' last events (2 s), then stops
        collector.stop()
        deadline = time.monotonic() + 10
        while not os.path.exists(stats_path) and time.monotonic() < deadline:
            time.sleep(0.1)

        alerts = read_alerts(alerts_path)
        scanning = sorted(n for n, _, _ in nodes if n.startswith("scan"))
        hosts = sorted(a["host"]["id"] for a in alerts)
        check(hosts == scanning, f"exactly one alert per scanning node, none elsewhere ({hosts})")
        per_node = []
        for node, _, _ in nodes:
            per_node += replay([os.path.join(tmp, "nodes", node + ".log")])
        check(sorted(map(alert_key, alerts)) == sorted(map(alert_key, per_node)),
              "the same alerts as scanwatch replay of each node's own log")
        whole = replay([collector.log], ["--collector"])
        check(sorted(map(alert_key, whole)) == sorted(map(alert_key, alerts)),
              "the same alerts as scanwatch replay --collector of the collector's log")
        stats = {}
        if os.path.exists(stats_path):
            with open(stats_path) as f:
                lines = [line for line in f if line.strip()]
                stats = json.loads(lines[-1]) if lines else {}
        check(stats.get("execve_without_syscall") == 0, "no event split (execve_without_syscall 0)")
        check(stats.get("rules", [{}])[0].get("late") == 0, "no event counted late")
        check(stats.get("held_back") == 0, "no alert held back")
        check(stats.get("nodes") == 52, f"52 nodes tracked ({stats.get('nodes')})")
        listed = sorted(n["node"] for n in stats.get("skewed_nodes", []))
        check(listed == sorted(skewed), f"skewed nodes reported ({listed})")
        # The collector's own DAEMON_* records carry no node=; they are skipped before assembly.
        check(stats.get("records_without_node") == 0, "no exec record without node=")
        print(f"records {sent}, events {stats.get('events')}, alerts {len(alerts)}", flush=True)
    finally:
        for p in senders:
            if p.poll() is None:
                p.kill()
                p.wait()
        collector.stop()
    if failures:
        print(f"{len(failures)} failed; files kept in {tmp}", flush=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
