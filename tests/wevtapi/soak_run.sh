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
wine=/usr/lib/wine/wine64
[ -x "$wine" ] || wine=$(command -v wine64) || { echo "no wine64"; exit 77; }
export WINEPREFIX="${WINEPREFIX:-$top/.cache/wine-prefix}" WINEARCH=win64 WINEDEBUG=-all WINELOADER="$wine"
export WINEDLLOVERRIDES="mscoree,mshtml=;wevtapi=n,b"
bash "$top/cmake/wine-run.sh" cmd /c exit >/dev/null 2>&1 || { echo "no Wine prefix"; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/bg-soak.XXXXXX") || exit 1
pid=""
trap '[ -n "$pid" ] && kill -9 $pid 2>/dev/null; rm -rf "$work"' EXIT
cp "$exe" "$work/bitsguard.exe" && cp "$dll" "$work/wevtapi.dll" && mkdir "$work/feed" "$work/gen" || exit 1
db="Z:${work//\//\\}\\bg.db"

# File f (0-based) holds jobs f*5000 .. f*5000+4999, records from 1 up, written complete then renamed.
gen_file() {
    local f=$1 name
    name=$(printf "%06d" "$f")
    awk -v f="$f" -v per=$((per_file / 2)) 'BEGIN {
        print "<Events>"
        for (k = 0; k < per; k++) {
            j = f * per + k; r = 2 * j + 1
            guid = sprintf("%08X-0000-4000-8000-%012X", j, j)
            if (j % 100 == 99) url = sprintf("http://45.%d.%d.%d/p%d.exe", int(j / 62500) % 200 + 1, int(j / 250) % 250, j % 250 + 1, j)
            else url = sprintf("https://dl.example.com/updates/%d/file.cab", j)
            printf "<Event xmlns=\"http://schemas.microsoft.com/win/2004/08/events/event\"><System><Provider Name=\"Microsoft-Windows-Bits-Client\"/><EventID>3</EventID><Version>3</Version><Level>4</Level><TimeCreated SystemTime=\"2026-11-30T01:00:00.0000000Z\"/><EventRecordID>%d</EventRecordID><Channel>Microsoft-Windows-Bits-Client/Operational</Channel><Computer>SOAK</Computer><Security UserID=\"S-1-5-18\"/></System><EventData><Data Name=\"jobTitle\">job %d</Data><Data Name=\"jobId\">{%s}</Data><Data Name=\"jobOwner\">SOAK\\user</Data><Data Name=\"processPath\">C:\\Windows\\System32\\svchost.exe</Data><Data Name=\"processId\">%d</Data><Data Name=\"ClientProcessStartKey\">%d</Data></EventData></Event>\n", r, j, guid, 1000 + j % 5000, 7000 + j
            printf "<Event xmlns=\"http://schemas.microsoft.com/win/2004/08/events/event\"><System><Provider Name=\"Microsoft-Windows-Bits-Client\"/><EventID>16403</EventID><Version>0</Version><Level>4</Level><TimeCreated SystemTime=\"2026-11-30T01:00:01.0000000Z\"/><EventRecordID>%d</EventRecordID><Channel>Microsoft-Windows-Bits-Client/Operational</Channel><Computer>SOAK</Computer><Security UserID=\"S-1-5-18\"/></System><EventData><Data Name=\"User\">SOAK\\user</Data><Data Name=\"jobTitle\">job %d</Data><Data Name=\"jobId\">{%s}</Data><Data Name=\"jobOwner\">SOAK\\user</Data><Data Name=\"fileCount\">1</Data><Data Name=\"RemoteName\">%s</Data><Data Name=\"LocalName\">C:\\Temp\\f%d</Data><Data Name=\"processId\">%d</Data><Data Name=\"ClientProcessStartKey\">%d</Data></EventData></Event>\n", r + 1, j, guid, url, j, 1000 + j % 5000, 7000 + j
        }
        print "</Events>"
    }' >"$work/gen/$name.tmp" && mv "$work/gen/$name.tmp" "$work/feed/$name.xml"
}

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

gen_file 0
(cd "$work" && exec "$wine" ./bitsguard.exe run --db "$db" >"$work/run.out" 2>"$work/run.err") &
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
    gen_file "$f"
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
