#!/usr/bin/env bash
# Runs the bitsguard commands over every fixture (mode cli) or one test executable (mode exe) under valgrind memcheck.
# Zero errors and zero leaks of any kind (definite, indirect, possible, still reachable) are required.
# usage: test_memcheck.sh cli-scan|cli-read BITSGUARD FIXTURES-DIR [SHARED-SAMPLES-DIR]
#        test_memcheck.sh exe TEST-EXECUTABLE
# cli-scan checks scan (and the usage errors); cli-read checks classify, query, status and ack, on a database
# a scan made outside memcheck. Two halves so that ctest -j runs them side by side.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mode=${1:-}
shift || true
vg=${BG_VALGRIND:-}
{ [ -n "$vg" ] && [ -x "$vg" ]; } || vg=$(command -v valgrind || true)
[ -n "$vg" ] || { echo "valgrind not installed (scripts/setup.sh installs it): skipped"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
runs=0 fails=0 last_status=0

# memcheck WANTED-STATUSES COMMAND...: runs COMMAND under memcheck (stdin from $MC_STDIN or /dev/null),
# stdout in $work/out, stderr in $work/err. WANTED-STATUSES is a space-separated list of exit statuses.
# Fails on any memcheck error or leak in the process or a child it forks, on a signal, or on an exit
# status outside the list. A child killed on purpose (SIGKILL trials) writes no summary and is not judged.
memcheck() {
    local want=$1
    shift
    runs=$((runs + 1))
    local log=$work/vg.$runs
    "$vg" --tool=memcheck --leak-check=full --show-leak-kinds=all --errors-for-leak-kinds=all \
        --suppressions="$here/libevtx.supp" \
        --error-exitcode=99 --num-callers=30 --log-file="$log.%p" "$@" \
        >"$work/out" 2>"$work/err" <"${MC_STDIN:-/dev/null}" &
    local pid=$!
    wait "$pid"
    local st=$? bad=0 f
    last_status=$st
    for f in "$log".*; do
        [ -e "$f" ] || continue
        if grep -qE 'ERROR SUMMARY: [1-9]' "$f"; then bad=1; fi
    done
    # The main process must have reached its summary (valgrind keeps the pid across its exec).
    if ! grep -q 'ERROR SUMMARY: 0 errors' "$log.$pid" 2>/dev/null; then bad=1; fi
    if [ "$bad" -eq 1 ] || [ "$st" -eq 99 ]; then
        echo "FAIL memcheck errors: $* (exit $st)"
        for f in "$log".*; do grep -E '^==[0-9]+== ' "$f" | grep -vE '== (Memcheck|Copyright|Using Valgrind|Command|Parent PID)' | head -n 80; done
        fails=$((fails + 1))
        return 1
    fi
    case " $want " in
    *" $st "*) ;;
    *)
        echo "FAIL exit status $st, expected one of [$want]: $*"
        head -c 600 "$work/err"
        fails=$((fails + 1))
        return 1
        ;;
    esac
    rm -f "$log".*
    return 0
}

finish() {
    echo "$((runs - fails)) of $runs runs clean under memcheck, $fails failed"
    [ "$fails" -eq 0 ] && [ "$runs" -gt 0 ]
    exit $?
}

if [ "$mode" = exe ]; then
    exe=$1
    # A unit test prints its own checks; memcheck only adds its verdict. 77 is a test's own skip.
    memcheck "0 77" "$exe"
    tail -n 3 "$work/err" # a unit test reports its checks on stderr
    # The test's own skip (e.g. a Windows-only test on Linux) stays a skip, when memcheck was clean.
    [ "$fails" -eq 0 ] && [ "$last_status" -eq 77 ] && { echo "skipped by the test itself"; exit 77; }
    finish
fi

case "$mode" in
cli-scan | cli-read) ;;
*)
    echo "usage: $0 cli-scan|cli-read BITSGUARD FIXTURES [SHARED] | exe EXECUTABLE"
    exit 2
    ;;
esac
bg=$1 fixtures=$2 shared=${3:-}
[ -x "$bg" ] || { echo "no bitsguard at $bg"; exit 2; }
db=$work/scan.db

# Every fixture (tests/fixtures/**) and the real logs when present. One process per folder: each valgrind
# start costs seconds, and one scan over many files walks the same per-file paths (open, malformed, close).
mapfile -t dirs < <(find "$fixtures" -type f -name '*.xml' -printf '%h\n' | sort -u)
[ -n "$shared" ] && [ -d "$shared" ] && ls "$shared"/*.xml >/dev/null 2>&1 && dirs+=("$shared")
[ "${#dirs[@]}" -gt 0 ] || { echo "no fixtures found under $fixtures"; exit 1; }
all=()
for d in "${dirs[@]}"; do
    mapfile -t files < <(find "$d" -maxdepth 1 -type f -name '*.xml' | sort)
    all+=("${files[@]}")
    [ "$mode" = cli-scan ] || continue
    memcheck "0 1" "$bg" scan --json --all --report-private --db "$db" "${files[@]}"
    echo "scanned ${#files[@]} files of $d"
done
# The real .evtx logs through libevtx, and a file libevtx refuses (exit 3): zero errors, zero leaks of
# ours (libevtx's own leak on the refused file is suppressed by libevtx.supp, by its function name).
if [ "$mode" = cli-scan ] && [ -n "$shared" ] && ls "$shared"/*.evtx >/dev/null 2>&1; then
    printf 'ElfFile\0garbage' >"$work/garbage.evtx"
    memcheck "3" "$bg" scan --json --all --report-private --db "$db" "$shared"/*.evtx "$work/garbage.evtx"
    echo "scanned the .evtx logs of $shared"
fi
# Hostile input made here: an entity declaration, ESC and invalid UTF-8 (both refused by the XML
# layer), then the same 100 KB URL event with legal hostile text (SQL, formula, C1 CSI, RLO), deep
# nesting, and an ordinary event that must still be read.
hostile_event() { # hostile_event COMPUTER TITLE
    printf '<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System>'
    printf '<Provider Name="Microsoft-Windows-Bits-Client"/><EventID>59</EventID><Version>1</Version>'
    printf '<EventRecordID>7</EventRecordID><TimeCreated SystemTime="2024-01-02T03:04:05.0000000Z"/>'
    printf '<Computer>%s</Computer></System><EventData>' "$1"
    printf '<Data Name="transferId">{11111111-2222-3333-4444-555555555555}</Data><Data Name="name">%s</Data>' "$2"
    printf '<Data Name="Id">{11111111-2222-3333-4444-555555555556}</Data><Data Name="url">http://45.33.32.156/'
    head -c 102400 /dev/zero | tr '\0' 'a'
    printf '</Data><Data Name="peer"></Data><Data Name="fileTime">2024-01-02T03:04:05Z</Data>'
    printf '<Data Name="fileLength">1</Data><Data Name="bytesTotal">1</Data><Data Name="bytesTransferred">1</Data>'
    printf '<Data Name="proxy"></Data></EventData></Event>\n'
}
{
    printf '<!DOCTYPE Event [<!ENTITY x "xxxxxxxx">]>\n'
    hostile_event $'PC\x1b[31m' $'&apos;);DROP TABLE detections;-- \xff\xfe =1+1'
    hostile_event "PC'--" $'=1+1&apos;);DROP TABLE detections;-- \xc2\x9b2J \xe2\x80\xaegpj.exe'
    printf '<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System><EventID>3</EventID></System><EventData>'
    for _ in $(seq 2000); do printf '<a><a><a><a><a>'; done
    printf '</EventData></Event>\n'
    cat "$fixtures/events/16403_v0.xml"
} >"$work/hostile.xml"

if [ "$mode" = cli-read ]; then
    # The database query and status read, written by a scan outside memcheck (cli-scan checks scan).
    "$bg" scan --all --db "$db" "${all[@]}" "$work/hostile.xml" >/dev/null 2>"$work/err"
    st=$?
    [ $st -le 1 ] && [ -s "$db" ] || { echo "scan to build the database failed (exit $st)"; cat "$work/err"; exit 1; }
else
    memcheck "0 1" "$bg" scan --json --db "$db" "$work/hostile.xml"
    # All at once, text output, allow-listing, into the same database again (every detection an update).
    memcheck "0 1" "$bg" scan --all --allow 45.33.32.0/24 --allow '*.example.com' --allow 2600::/12 --db "$db" "${all[@]}"
    MC_STDIN=$fixtures/exports/mixed-detections.xml memcheck "0 1" "$bg" scan --json -
    [ -s "$work/out" ] || { echo "FAIL scan of stdin printed no detection"; fails=$((fails + 1)); }

    # Errors: usage, a missing file, a folder, an unwritable database path, a database that is not one.
    memcheck "2" "$bg" scan
    memcheck "2" "$bg" scan --allow 10.0.0.1/33 "${all[0]}"
    memcheck "3" "$bg" scan "$work/does-not-exist.xml"
    memcheck "3" "$bg" scan "$work"
    printf 'this is not a database, it is plain text long enough to fill a header......\n%.0s' {1..64} >"$work/junk.db"
    memcheck "0 1 3" "$bg" scan --db "$work/junk.db" "$fixtures/exports/mixed-detections.xml"
    memcheck "3" "$bg" scan --db /proc/bitsguard-no/x.db "$fixtures/exports/mixed-detections.xml"
    memcheck "2" "$bg" nonsense
    memcheck "0" "$bg" version
    for c in scan query; do memcheck "0" "$bg" $c --help; done
    finish
fi

# classify: every URL and RemoteName of the fixtures, hostile names, text and JSON, arguments and stdin.
find "$fixtures" -type f -name '*.xml' -exec grep -ohE '(url|RemoteName)">[^<]*' {} + | sed -E 's/^[^>]*>//' \
    | sort -u >"$work/names.txt"
cat >>"$work/names.txt" <<'NAMES'
http://0x2d.0x21.0x20.0x9c/a
http://user:pw@[fe80::1%25eth0]:8080/x
\\?\UNC\45.33.32.156\share\x
file:///C:/x
http://%31%32%37.0.0.1/
http://1.2.3.4.5/
https://[::ffff:45.33.32.156]/
http://999999999999999999999999/
NAMES
printf 'http://\xff\xfe.\x1b[2J/\n\t  \n' >>"$work/names.txt"
MC_STDIN=$work/names.txt memcheck "0 3" "$bg" classify -
MC_STDIN=$work/names.txt memcheck "0 3" "$bg" classify --json --allow 10.0.0.0/8 --allow '*.example.com' -
memcheck "0" "$bg" classify 'http://45.33.32.156/x.exe' '\\10.0.0.5\c$\x' 'C:\x' ''
memcheck "2" "$bg" classify --allow 300.1.1.1 x
if [ -d "$(dirname "$0")/../fuzz/corpus/classify" ]; then
    cat "$(dirname "$0")"/../fuzz/corpus/classify/* >"$work/corpus-names.txt"
    MC_STDIN=$work/corpus-names.txt memcheck "0 3" "$bg" classify --json -
fi

# query and status on the database scan wrote: every format and filter.
for fmt in table csv json; do
    memcheck "0" "$bg" query --db "$db" --all --format "$fmt"
done
[ -s "$work/out" ] || { echo "FAIL query printed nothing from the scanned database"; fails=$((fails + 1)); }
memcheck "0" "$bg" query --db "$db" --ip 45.33.32.0/24 --since 2000-01-01 --until 2100-01-01 --limit 3
memcheck "0" "$bg" query --db "$db" --ip 2600::/12 --computer pc --format json
memcheck "0" "$bg" query --db "$db" --job '{11111111-2222-3333-4444-555555555555}' --since 7d
memcheck "2" "$bg" query --db "$db" --format xml
memcheck "3" "$bg" query --db "$work/none.db"
printf 'plain text, not SQLite\n' >"$work/text.db"
memcheck "0 3" "$bg" query --db "$work/text.db"
memcheck "0" "$bg" status --db "$db"
memcheck "0" "$bg" status --db "$db" --json
memcheck "0 3" "$bg" status --db "$work/text.db"
# ack writes the scanned database (last: the reads above saw it unacknowledged).
memcheck "0" "$bg" ack --db "$db" --note memcheck 1
memcheck "0" "$bg" ack --db "$db" --all --up-to 1000
memcheck "3" "$bg" ack --db "$db" 999999
memcheck "2" "$bg" ack --db "$db" --all
memcheck "3" "$bg" ack --db "$work/none.db" 1
memcheck "0" "$bg" status --db "$db" --json
finish
