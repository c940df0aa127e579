#!/usr/bin/env bash
# Runs one libFuzzer target over its seed corpus, then mutates for a bounded time in a scratch folder.
# usage: run_bounded.sh TARGET CORPUS [SECONDS [LIBFUZZER-FLAG...]] (later flags override the defaults)
set -euo pipefail
target=$1 corpus=$2 seconds=${3:-20}
shift $(($# < 3 ? $# : 3))
[ -d "$corpus" ] && [ -n "$(ls -A "$corpus")" ] || { echo "no seed corpus in $corpus"; exit 1; }
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
"$target" -runs=0 "$@" "$corpus"
"$target" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=1024 -print_final_stats=1 "$@" "$scratch" "$corpus"
