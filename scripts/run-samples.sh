#!/bin/sh
# Installs what is missing, builds scanwatch, and replays every bundled sample, printing the
# alerts (NDJSON on stdout) and a one-line summary per sample on stderr.
set -eu
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build --target scanwatch >&2  # stdout carries only the alerts
for sample in samples/*.log samples/rotated; do
    echo "== $sample" >&2
    ./build/scanwatch replay "$sample"
done
