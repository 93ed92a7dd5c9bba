#!/bin/sh
# Installs what is missing, then builds and runs every test twice: a -Werror build, and an
# AddressSanitizer + UndefinedBehaviorSanitizer build (there without the install test, which
# builds its own Release tree, and without fleet_auditd: 52 real senders stream in real time, and
# a plugin slowed tenfold by the sanitizers takes the 2 cores from the collector auditd and the
# senders, so one node's records reach it seconds apart and the 2 s quiet timer splits events;
# the Release run checks it). Then the libFuzzer targets (clang, ASan+UBSan): every saved input
# replayed, and each target fuzzed briefly (FUZZ_SECONDS, default 20; long runs: scripts/fuzz.sh).
set -eu
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
jobs=$(nproc)

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSCANWATCH_WERROR=ON
cmake --build build -j "$jobs"
ctest --test-dir build --output-on-failure -j "$jobs"

cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSCANWATCH_WERROR=ON -DSCANWATCH_SANITIZE=ON
cmake --build build-asan -j "$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure -j "$jobs" -E "^(install|fleet_auditd)$"

./scripts/fuzz.sh --replay
./scripts/fuzz.sh "${FUZZ_SECONDS:-20}"
