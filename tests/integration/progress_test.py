#!/usr/bin/env python3
"""The replay progress line (docs/operations.md, "Progress") through the real binary: drawn on
stderr when it is a pseudo-terminal (redrawn with \\r, cleared at the end), never when stderr is
a pipe, never with --quiet; stdout (the alerts) is the same in all three.

Usage: progress_test.py SCANWATCH_BINARY SOURCE_DIR"""
import json
import os
import re
import select
import shutil
import subprocess
import sys
import tempfile

BIN, SRC = sys.argv[1], sys.argv[2]
HOST = ["--host-id", "sample-host-id", "--host-name", "sample-host"]
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def canon(stdout):
    """The alerts, without event.created (the wall clock at the alert)."""
    alerts = []
    for line in stdout.decode().splitlines():
        alert = json.loads(line)
        alert["event"]["created"] = "-"
        alerts.append(alert)
    return alerts


def run_on_pty(args):
    """Runs with stderr on a pseudo-terminal; returns (rc, stdout, what the terminal got)."""
    master, slave = os.openpty()
    proc = subprocess.Popen([BIN] + args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=slave)
    os.close(slave)
    tty = b""
    out = b""
    fds = [master, proc.stdout.fileno()]
    while fds:
        ready, _, _ = select.select(fds, [], [], 60)
        if not ready:
            break
        for fd in ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # EIO: the pty's other end is closed
                chunk = b""
            if not chunk:
                fds.remove(fd)
            elif fd == master:
                tty += chunk
            else:
                out += chunk
    rc = proc.wait(timeout=60)
    os.close(master)
    return rc, out, tty


def main():
    tmp = tempfile.mkdtemp(prefix="scanwatch-progress-")
    try:
        # Several files, some MB: the line is drawn at the start and redrawn while reading.
        sample = open(os.path.join(SRC, "samples", "ping_sweep.enriched.log"), "rb").read()
        files = []
        for i in range(3):
            path = os.path.join(tmp, f"part{i}.log")
            with open(path, "wb") as f:
                f.write(sample * 40)
            files.append(path)
        total = sum(os.path.getsize(p) for p in files)
        args = ["replay"] + HOST + files

        rc, out_tty, tty = run_on_pty(args)
        check(rc == 0, f"replay with stderr on a terminal exits 0 ({rc})")
        text = tty.decode(errors="replace")
        lines = re.findall(r"scanwatch: [0-9.]+ MB of ([0-9.]+) MB \(\d+%\), file (\d) of (\d), "
                           r"[0-9.]+ MB/s, (\d+) events, (\d+) alerts", text)
        check(len(lines) >= 1, f"a progress line is drawn on the terminal ({text[:200]!r})")
        if lines:
            check(lines[0][0] == f"{total / 1e6:.1f}", f"the total is the files' size ({lines[0][0]} MB)")
            check(all(l[2] == "3" for l in lines), "it counts 3 files")
            check(lines[0][1] == "1", "the first line is drawn at the first file")
        check("\r" in text and text.endswith("\r\x1b[K"), "redrawn with \\r and cleared at the end")

        r = subprocess.run([BIN] + args, capture_output=True)
        check(r.returncode == 0, "replay with stderr on a pipe exits 0")
        check(b"MB/s" not in r.stderr and b"\r" not in r.stderr,
              f"no progress when stderr is a pipe ({r.stderr[:200]!r})")
        check(canon(r.stdout) == canon(out_tty), "stdout is the same with and without the progress line")
        check(r.stdout.count(b"\n") >= 1, "the replay alerts")

        rc, out_quiet, tty_quiet = run_on_pty(["--quiet"] + args)
        check(rc == 0, "replay --quiet exits 0")
        check(b"MB/s" not in tty_quiet and tty_quiet == b"",
              f"nothing on the terminal with --quiet ({tty_quiet[:200]!r})")
        check(canon(out_quiet) == canon(r.stdout), "stdout is the same with --quiet")

        # A message while the line is drawn takes a line of its own: the progress line is
        # cleared first, never continued by the message.
        noisy = os.path.join(tmp, "noisy.log")
        with open(noisy, "wb") as f:
            f.write(sample * 20 + b"this is not an audit record\n" + sample * 20)
        rc, _, tty = run_on_pty(["replay"] + HOST + [noisy])
        text = tty.decode(errors="replace")
        check("skipped malformed line" in text, "the malformed line is reported on the terminal")
        check(re.search(r"\r\x1b\[Kscanwatch: [^\r\n]*skipped malformed line", text) is not None and
              re.search(r"alerts(\x1b\[K)?scanwatch: [^\r\n]*skipped", text) is None,
              f"the message starts on a cleared line ({text[:300]!r})")

        # stdin has no total: bytes only.
        master, slave = os.openpty()
        with open(files[0], "rb") as stdin:
            proc = subprocess.Popen([BIN, "replay"] + HOST + ["-"], stdin=stdin,
                                    stdout=subprocess.DEVNULL, stderr=slave)
            os.close(slave)
            got = b""
            while True:
                try:
                    chunk = os.read(master, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                got += chunk
            proc.wait(timeout=60)
        os.close(master)
        check(re.search(rb"scanwatch: [0-9.]+ MB, file 1 of 1", got) is not None,
              f"from stdin, bytes without a total ({got[:120]!r})")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print(f"{len(failures)} check(s) failed")
        sys.exit(1)
    print("all checks passed")


if __name__ == "__main__":
    main()
