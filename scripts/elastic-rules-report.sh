#!/usr/bin/env bash
# Runs `scanwatch rules check --summary` on Elastic's Linux detection rules (docs/rules.md,
# "Elastic's rules"): rules/linux, the Linux and OS-neutral rules of rules/cross-platform, and the
# Linux building blocks, taken from a checkout of elastic/detection-rules.
#
#   scripts/elastic-rules-report.sh [SCANWATCH] [DETECTION_RULES] [SCANWATCH_OPTIONS...]
#
# SCANWATCH_OPTIONS go before `rules check` (e.g. `--profile elastic`, `--exec-action executed`).
#
# SCANWATCH defaults to build/scanwatch. DETECTION_RULES is a checkout (a folder holding rules/)
# or a bare repository (its HEAD is extracted); default: the DETECTION_RULES environment variable.
# Prints the per-file verdicts and the counts; the selected files are copied to a temporary folder.
# With LOADABLE_OUT=DIR, the files that load are also copied into DIR (flat), for
# `scanwatch --rules DIR` (bench/run.py --rules DIR).
set -euo pipefail

scanwatch=$(realpath "${1:-build/scanwatch}")
source=${2:-${DETECTION_RULES:?give the detection-rules checkout as the 2nd argument or DETECTION_RULES}}
shift $(( $# < 2 ? $# : 2 ))
options=("$@")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [[ -d "$source/rules" ]]; then
    checkout=$source
else
    mkdir -p "$work/checkout"
    git -C "$source" archive HEAD rules/linux rules/cross-platform rules_building_block |
        tar -x -C "$work/checkout"
    checkout=$work/checkout
fi

mkdir -p "$work/selected"
python3 - "$checkout" "$work/selected" <<'PY'
import glob, os, shutil, sys, tomllib

checkout, out = sys.argv[1], sys.argv[2]

def tags(path):
    with open(path, 'rb') as f:
        return tomllib.load(f).get('rule', {}).get('tags', [])

def os_tags(path):
    return [t for t in tags(path) if t.startswith('OS: ')]

selected = sorted(glob.glob(f'{checkout}/rules/linux/*.toml'))
for path in sorted(glob.glob(f'{checkout}/rules/cross-platform/*.toml')):
    os_list = os_tags(path)
    if 'OS: Linux' in os_list or not os_list:
        selected.append(path)
for path in sorted(glob.glob(f'{checkout}/rules_building_block/*.toml')):
    if 'OS: Linux' in os_tags(path):
        selected.append(path)
for path in selected:
    rel = os.path.relpath(path, checkout)
    os.makedirs(os.path.join(out, os.path.dirname(rel)), exist_ok=True)
    shutil.copy(path, os.path.join(out, rel))
print(f'{len(selected)} rule files selected', file=sys.stderr)
PY
cd "$work/selected" && "$scanwatch" "${options[@]}" rules check --summary .
if [[ -n ${LOADABLE_OUT:-} ]]; then
    mkdir -p "$LOADABLE_OUT"
    "$scanwatch" "${options[@]}" rules check --summary . | awk '$1 == "can-fire" || $1 == "cannot-fire" { sub(/:$/, "", $2); print $2 }' |
        while read -r f; do cp "$f" "$LOADABLE_OUT/"; done
fi
