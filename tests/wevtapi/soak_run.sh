#!/usr/bin/env bash
# Soak measurement under Wine: `bitsguard.exe run` with the wevtapi double, EVENTS events fed in files of
# 10,000; prints the process's RSS after the first 10,000 events and at the end, plus idle CPU.
#
# Usage: soak_run.sh BITSGUARD_EXE WEVTAPI_DLL [EVENTS]   (EVENTS: multiple of 10000, default 1000000)
# Not part of ctest (minutes of run time, ~750 MB of feed files in a temporary folder). Every 100th BITS
# job downloads from a public IP (one detection), the others from a domain, as on a real host; the last
# job of each file is a detection, so its alert line marks the file as fully read.
set -u
exe=${1:?usage: soak_run.sh BITSGUARD_EXE WEVTAPI_DLL [EVENTS]}
dll=${2:?usage: soak_run.sh BITSGUARD_EXE WEVTAPI_DLL [EVENTS]}
events=${3:-1000000}
per_file=10000
files=$((events / per_file))
[ "$files" -ge 1 ] || { echo "EVENTS must be at least $per_file"; exit 2; }
top=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/wevtapi/harness.sh
. "$(dirname "$0")/harness.sh"
wine_find
prefix_env "${BG_SOAK_RUN_WINEPREFIX:-$top/.cache/wine-prefix-soak-run}"
exec 8>"$WINEPREFIX.lock"
flock 8
# A measurement, not a test: one attempt on a fresh prefix, every process of it ended on exit.
prefix_fresh
work_make soak
pid=""
harness_cleanup() { rm -rf "$work"; }
harness_guard
prefix_boot || exit 1

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null; }
alerts() {
    local n
    n=$(grep -c '^detection:' "$work/run.out" 2>/dev/null)
    echo "${n:-0}"
}
wait_alerts() { # count, seconds
    local deadline=$((SECONDS + $2))
    while [ "$(alerts)" -lt "$1" ]; do
        [ $SECONDS -lt $deadline ] && kill -0 "$pid" 2>/dev/null || { echo "stalled at $(alerts) alerts"; return 1; }
        sleep 0.5
    done
}

feed_soak_file 0 "$per_file"
(cd "$work" && exec "$wine" ./bitsguard.exe run --db "$db" >"$work/run.out" 2>"$work/run.err" 8>&-) &
pid=$!
start=$SECONDS
wait_alerts 50 600 || exit 1
rss10k=$(rss_kb)
echo "after 10000 events: RSS ${rss10k} kB ($((SECONDS - start)) s)"
# Idle: nothing arrives for 10 s.
sleep 2
t0=$(cpu_ticks)
sleep 10
t1=$(cpu_ticks)
echo "idle 10 s: $((t1 - t0)) CPU ticks ($(getconf CLK_TCK) per second)"
f=1
while [ "$f" -lt "$files" ]; do
    # Keep a few files ahead of the reader; disk stays bounded only by the feed itself.
    feed_soak_file "$f" "$per_file"
    f=$((f + 1))
    if [ $((f % 10)) -eq 0 ]; then
        wait_alerts $(((f - 5) * 50)) 1200 || exit 1
        echo "after $((f * per_file)) fed, $(($(alerts) * 200)) read: RSS $(rss_kb) kB ($((SECONDS - start)) s)"
    fi
done
wait_alerts $((files * 50)) 3600 || exit 1
rssend=$(rss_kb)
echo "after $events events: RSS ${rssend} kB ($((SECONDS - start)) s)"
kill -INT "$pid"
wait "$pid"
pid=""
grep 'stopped' "$work/run.err"
echo "RSS 10k -> ${events}: ${rss10k} kB -> ${rssend} kB"
