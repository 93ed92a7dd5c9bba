#!/bin/sh
# Builds the libFuzzer targets (build-fuzz: clang++, ASan+UBSan, -fno-sanitize-recover=all) and
#   scripts/fuzz.sh [SECONDS] [TARGET...]   fuzzes each target for SECONDS (default 60)
#   scripts/fuzz.sh --replay [TARGET...]    runs every saved input once, no fuzzing
# A target is tests/fuzz/fuzz_<name>.cpp; TARGET is <name> (all of them by default). Its saved
# inputs are tests/fuzz/corpus/<name>/ (seeds and regression cases, read only here); inputs that
# reach new code go to build-fuzz/corpus/<name>/; crashes, leaks and timeouts go to
# tests/fuzz/findings/<name>/. Dictionary: tests/fuzz/<name>.dict, else tests/fuzz/audit.dict.
# Extra libFuzzer flags: FUZZ_ARGS. Exits non-zero when any target failed.
set -eu
cd "$(dirname "$0")/.."
replay=0
seconds=60
if [ "${1:-}" = "--replay" ]; then
    replay=1
    shift
elif [ -n "${1:-}" ] && [ "$1" -eq "$1" ] 2>/dev/null; then
    seconds=$1
    shift
fi
targets="$*"
if [ -z "$targets" ]; then
    for f in tests/fuzz/fuzz_*.cpp; do
        n=$(basename "$f" .cpp)
        targets="$targets ${n#fuzz_}"
    done
fi

export CCACHE_BASEDIR="$PWD"
launcher=""
command -v ccache >/dev/null 2>&1 && launcher="-DCMAKE_CXX_COMPILER_LAUNCHER=ccache"
# shellcheck disable=SC2086
cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DSCANWATCH_FUZZ=ON -DSCANWATCH_TESTS=OFF $launcher >/dev/null
build_targets=""
for t in $targets; do build_targets="$build_targets fuzz_$t"; done
# shellcheck disable=SC2086
cmake --build build-fuzz -j "$(nproc)" --target $build_targets

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
failed=""
for t in $targets; do
    saved="tests/fuzz/corpus/$t"
    mkdir -p "$saved"
    dict="tests/fuzz/$t.dict"
    [ -f "$dict" ] || dict="tests/fuzz/audit.dict"
    if [ "$replay" -eq 1 ]; then
        echo "fuzz.sh: replaying $(find "$saved" -type f | wc -l) saved inputs of $t"
        # shellcheck disable=SC2086
        if ! "build-fuzz/tests/fuzz/fuzz_$t" -runs=0 ${FUZZ_ARGS:-} "$saved"; then
            failed="$failed $t"
        fi
        continue
    fi
    work="build-fuzz/corpus/$t"
    findings="tests/fuzz/findings/$t"
    mkdir -p "$work" "$findings"
    echo "fuzz.sh: fuzzing $t for ${seconds}s (findings in $findings/)"
    # shellcheck disable=SC2086
    if ! "build-fuzz/tests/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -dict="$dict" -artifact_prefix="$findings/" -print_final_stats=1 ${FUZZ_ARGS:-} \
        "$work" "$saved"; then
        failed="$failed $t"
    fi
done
if [ -n "$failed" ]; then
    echo "fuzz.sh: failed:$failed" >&2
    exit 1
fi
echo "fuzz.sh: all passed:$targets"
