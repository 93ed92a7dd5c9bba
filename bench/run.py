#!/usr/bin/env python3
"""Replay throughput and peak RSS of scanwatch against the auparse feed floor, same file, same run.

Builds scanwatch (Release) and the floor (../shared/bench/auparse_feed_floor.c), makes a large log
with ../shared/bench/mkbig.py from a bundled sample, then runs the floor and scanwatch in turn
(A B A B ...) and reports medians, the throughput ratio scanwatch/floor and peak RSS. Where laurel
is installed it runs too, and `scanwatch --events` is compared with it (target: at least 5x).

Usage: bench/run.py [--sample samples/xargs_parallel_ping.enriched.log] [--mb 230] [--runs 5]
                    [--shared ../shared/bench] [--rules FOLDER] [--baseline BINARY]
--rules also runs `scanwatch --rules FOLDER` (e.g. every loadable Elastic rule: LOADABLE_OUT of
scripts/elastic-rules-report.sh); --baseline also runs another scanwatch binary (e.g. main's) the
same way, to compare the built-in rule's cost.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORK = os.path.join(ROOT, "bench", "out")


def sh(*cmd, **kw):
    subprocess.run(cmd, check=True, **kw)


def timed(cmd, stdout=subprocess.DEVNULL):
    """Wall seconds and peak RSS (KiB) of one run. GNU time reports the RSS: the rusage of a
    child forked from Python would include Python's own pages from before the exec."""
    rss_file = os.path.join(WORK, "rss")
    start = time.perf_counter()
    subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss_file] + cmd, stdout=stdout,
                   stderr=subprocess.DEVNULL, check=True)
    wall = time.perf_counter() - start
    with open(rss_file) as f:
        return wall, int(f.read().split()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sample", default=os.path.join(ROOT, "samples", "xargs_parallel_ping.enriched.log"))
    ap.add_argument("--mb", type=int, default=230, help="size of the generated log")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--shared", default=os.path.join(ROOT, "..", "shared", "bench"))
    ap.add_argument("--rules", help="also run scanwatch with --rules FOLDER")
    ap.add_argument("--baseline", help="also run this scanwatch binary, built-in rule")
    args = ap.parse_args()

    floor_src = os.path.join(args.shared, "auparse_feed_floor.c")
    mkbig = os.path.join(args.shared, "mkbig.py")
    for f in (floor_src, mkbig):
        if not os.path.exists(f):
            sys.exit(f"cannot find {f}: pass --shared DIR holding auparse_feed_floor.c and mkbig.py")
    os.makedirs(WORK, exist_ok=True)

    build = os.path.join(WORK, "build")
    sh("cmake", "-S", ROOT, "-B", build, "-DCMAKE_BUILD_TYPE=Release", "-DSCANWATCH_TESTS=OFF",
       stdout=subprocess.DEVNULL)
    sh("cmake", "--build", build, "-j", str(os.cpu_count() or 2), stdout=subprocess.DEVNULL)
    scanwatch = os.path.join(build, "scanwatch")
    floor = os.path.join(WORK, "auparse_feed_floor")
    sh("gcc", "-O2", "-o", floor, floor_src, "-lauparse", "-laudit")

    copies = max(1, (args.mb << 20) // os.path.getsize(args.sample) + 1)
    log = os.path.join(WORK, f"big-{os.path.basename(args.sample)}-{copies}.log")
    if not os.path.exists(log):
        sh(sys.executable, mkbig, args.sample, log, str(copies))
    size_mb = os.path.getsize(log) / 1e6

    commands = {
        "floor": [floor, log],
        "scanwatch": [scanwatch, "replay", "--host-id", "bench", "--host-name", "bench", log],
        "scanwatch --events": [scanwatch, "replay", "--host-id", "bench", "--host-name", "bench",
                               "--events", "/dev/null", log],
    }
    if args.baseline:
        commands["baseline"] = [os.path.abspath(args.baseline), "replay", "--host-id", "bench",
                                "--host-name", "bench", log]
    if args.rules:
        commands["scanwatch --rules"] = [scanwatch, "replay", "--host-id", "bench", "--host-name",
                                         "bench", "--rules", os.path.abspath(args.rules), log]
    laurel = shutil.which("laurel")
    if laurel:
        # laurel (Debian package) turns every event of the log into JSON: the work --events does.
        # Its own folder and config; the output is removed before each run so it cannot rotate.
        ldir = os.path.join(WORK, "laurel")
        os.makedirs(ldir, exist_ok=True)
        conf = os.path.join(ldir, "config.toml")
        with open(conf, "w") as f:
            f.write(f'directory = "{ldir}"\nuser = "{os.environ.get("USER", "root")}"\n'
                    'statusreport-period = 0\n[auditlog]\nfile = "audit.log"\n'
                    'size = 1000000000000\ngenerations = 1\n')
        commands["laurel"] = ["sh", "-c", f"rm -f '{ldir}'/audit.log*; exec '{laurel}' -c '{conf}' < '{log}'"]
    for cmd in commands.values():  # warm the page cache and the binaries
        timed(cmd)
    results = {name: [] for name in commands}
    for _ in range(args.runs):
        for name, cmd in commands.items():
            results[name].append(timed(cmd))

    print(f"log: {log} ({size_mb:.0f} MB, {copies} copies of {os.path.basename(args.sample)}); "
          f"{args.runs} runs each, alternated; medians")
    floor_wall = statistics.median(w for w, _ in results["floor"])
    print(f"{'command':<22}{'wall s':>9}{'MB/s':>9}{'x floor':>9}{'peak RSS MB':>13}")
    for name, runs in results.items():
        wall = statistics.median(w for w, _ in runs)
        rss = max(r for _, r in runs) / 1024
        print(f"{name:<22}{wall:>9.2f}{size_mb / wall:>9.0f}{floor_wall / wall:>9.2f}{rss:>13.1f}")
    if "laurel" in results:
        ratios = [l / e for (e, _), (l, _) in zip(results["scanwatch --events"], results["laurel"])]
        print(f"scanwatch --events throughput / laurel's: {statistics.median(ratios):.2f}x "
              f"(median of {len(ratios)} paired runs)")
    else:
        print("laurel not installed (apt-get install laurel): no comparison with it")


if __name__ == "__main__":
    main()
