#!/usr/bin/env python3
"""Replay throughput and peak RSS of scanwatch against the auparse feed floor, same file, same run.

Builds scanwatch (Release) and the floor (../shared/bench/auparse_feed_floor.c), makes a large log
with ../shared/bench/mkbig.py from a bundled sample, then runs the floor and scanwatch in turn
(A B A B ...) and reports medians, the throughput ratio scanwatch/floor and peak RSS. Where laurel
is installed it runs too, and `scanwatch --events` is compared with it (target: at least 5x).

Two logs: the exec-only sample (--sample), and a host mix (--mix: a real host's capture with many
audit rules; by default samples/hostmix.enriched.log, a capture of an ordinary host's activity).
Each is run with the built-in rule and with `--rules FOLDER`; the exec-only log also with
`--events` (and laurel).

Usage: bench/run.py [--sample samples/xargs_parallel_ping.enriched.log] [--mix CAPTURE] [--mb 230]
                    [--runs 5] [--shared ../shared/bench] [--rules FOLDER] [--baseline BINARY]
                    [--only exec|mix] [--scanwatch BINARY]
--rules defaults to tests/elastic-rules/linux; every loadable Elastic Linux rule is LOADABLE_OUT of
scripts/elastic-rules-report.sh. --baseline also runs another scanwatch binary (e.g. main's) the
same way, built-in rule and --rules, to compare.
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
    ap.add_argument("--mix", default=os.path.join(ROOT, "samples", "hostmix.enriched.log"),
                    help="a host's capture with many audit rules, for the host-mix runs")
    ap.add_argument("--only", choices=("exec", "mix"), help="run one of the two logs only")
    ap.add_argument("--mb", type=int, default=230, help="size of the generated log")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--shared", default=os.path.join(ROOT, "..", "shared", "bench"))
    ap.add_argument("--rules", default=os.path.join(ROOT, "tests", "elastic-rules", "linux"),
                    help="also run scanwatch with --rules FOLDER")
    ap.add_argument("--baseline", help="also run this scanwatch binary, built-in rule and --rules")
    ap.add_argument("--scanwatch", help="a scanwatch binary to measure instead of building one")
    args = ap.parse_args()

    floor_src = os.path.join(args.shared, "auparse_feed_floor.c")
    mkbig = os.path.join(args.shared, "mkbig.py")
    for f in (floor_src, mkbig):
        if not os.path.exists(f):
            sys.exit(f"cannot find {f}: pass --shared DIR holding auparse_feed_floor.c and mkbig.py")
    os.makedirs(WORK, exist_ok=True)

    if args.scanwatch:
        scanwatch = os.path.abspath(args.scanwatch)
    else:
        build = os.path.join(WORK, "build")
        sh("cmake", "-S", ROOT, "-B", build, "-DCMAKE_BUILD_TYPE=Release", "-DSCANWATCH_TESTS=OFF",
           stdout=subprocess.DEVNULL)
        sh("cmake", "--build", build, "-j", str(os.cpu_count() or 2), stdout=subprocess.DEVNULL)
        scanwatch = os.path.join(build, "scanwatch")
    floor = os.path.join(WORK, "auparse_feed_floor")
    sh("gcc", "-O2", "-o", floor, floor_src, "-lauparse", "-laudit")

    if args.only != "mix":
        run_log(args, floor, scanwatch, args.sample, events=True)
    if args.only != "exec":
        run_log(args, floor, scanwatch, args.mix, events=False)


def big_log(args, mkbig, sample):
    copies = max(1, (args.mb << 20) // os.path.getsize(sample) + 1)
    log = os.path.join(WORK, f"big-{os.path.basename(sample)}-{copies}.log")
    if not os.path.exists(log):
        sh(sys.executable, mkbig, sample, log, str(copies))
    return log, copies


def run_log(args, floor, scanwatch, sample, events):
    log, copies = big_log(args, os.path.join(args.shared, "mkbig.py"), sample)
    size_mb = os.path.getsize(log) / 1e6
    host = ["--host-id", "bench", "--host-name", "bench"]
    rules = ["--rules", os.path.abspath(args.rules)]
    commands = {
        "floor": [floor, log],
        "scanwatch": [scanwatch, "replay"] + host + [log],
        "scanwatch --rules": [scanwatch, "replay"] + host + rules + [log],
    }
    if events:
        commands["scanwatch --events"] = [scanwatch, "replay"] + host + ["--events", "/dev/null", log]
    if args.baseline:
        baseline = os.path.abspath(args.baseline)
        commands["baseline"] = [baseline, "replay"] + host + [log]
        commands["baseline --rules"] = [baseline, "replay"] + host + rules + [log]
    laurel = shutil.which("laurel") if events else None
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

    print(f"log: {log} ({size_mb:.0f} MB, {copies} copies of {os.path.basename(sample)}); "
          f"{args.runs} runs each, alternated; medians; --rules {args.rules}")
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
    elif events:
        print("laurel not installed (apt-get install laurel): no comparison with it")
    print()

if __name__ == "__main__":
    main()
