#!/usr/bin/env bash
# Runs fuzz_evtx bounded: the committed seed plus seeds made from the real logs when ../shared is there.
set -euo pipefail
target=$1 corpus=$2 samples=$3 seconds=${4:-20}
here=$(cd "$(dirname "$0")" && pwd)
seeds=$(mktemp -d)
trap 'rm -rf "$seeds"' EXIT
cp "$corpus"/* "$seeds"/
if [ -d "$samples" ]; then
    python3 "$here/evtx_seeds.py" "$samples" "$seeds"
else
    echo "real logs absent: only the committed seed"
fi
# libevtx's own leak when it refuses a file is not ours (tests/lsan-libevtx.supp).
export LSAN_OPTIONS=suppressions=$here/../lsan-libevtx.supp
# Per input at most 10 s (the time bound: a record that makes libevtx spin is a finding) and 512 MB.
bash "$here/run_bounded.sh" "$target" "$seeds" "$seconds" -timeout=10 -rss_limit_mb=512
