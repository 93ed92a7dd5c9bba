#!/bin/sh
# Rewrites tests/golden/ from the current code; review the diff before committing it.
set -eu
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build --target scanwatch_tests -j"$(nproc)"
SCANWATCH_UPDATE_GOLDEN=1 ./build/tests/scanwatch_tests '[golden]'
git --no-pager diff --stat -- tests/golden || true
