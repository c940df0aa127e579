#!/usr/bin/env bash
# Tests of `bitsguard scan FILE.evtx` (libevtx): real logs equal their XML renderings, damaged copies, recovered records.
set -uo pipefail
bg=$1 fixtures=$2 shared=${3:-}
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0 checks=0

check() { # check NAME CONDITION-EXIT-STATUS
    checks=$((checks + 1))
    if [ "$2" -ne 0 ]; then
        echo "FAIL: $1"
        fails=$((fails + 1))
    fi
}
edit() { python3 "$here/../lib/evtx_edit.py" "$@"; }

# 1. Inputs that yield no event are an error (exit 3) with a message, never a silent clean exit.
: >"$tmp/empty.xml"
"$bg" scan "$tmp/empty.xml" >/dev/null 2>"$tmp/empty.err"
check "an empty export exits 3" "$([ $? -eq 3 ]; echo $?)"
grep -q "empty.xml: no event could be read from it" "$tmp/empty.err"; check "the empty export is named" $?
printf 'ElfFile\0binary' >"$tmp/garbage.xml"
"$bg" scan "$tmp/garbage.xml" >/dev/null 2>"$tmp/garbage.err"
check "a file with the .evtx signature that libevtx cannot open exits 3" "$([ $? -eq 3 ]; echo $?)"
grep -q "garbage.xml: libevtx cannot open it as an .evtx log" "$tmp/garbage.err"
check "the signature, not the name, chose libevtx" $?
cp "$fixtures/exports/mixed-detections.xml" "$tmp/export.evtx"
"$bg" scan "$tmp/export.evtx" >/dev/null 2>&1
check "an XML export named .evtx is read as XML (exit 1: its detections)" "$([ $? -eq 1 ]; echo $?)"

if [ -z "$shared" ] || [ ! -d "$shared" ]; then
    echo "real logs absent: the .evtx tests over them skipped"
    echo "$((checks - fails)) passed, $fails failed"
    [ "$fails" -eq 0 ]
    exit
fi
command -v python3 >/dev/null || { echo "python3 not installed"; exit 77; }

# 2. Each real log gives exactly the output, summary and exit status of its two XML renderings.
for log in "$shared"/*.evtx; do
    name=$(basename "$log" .evtx)
    "$bg" scan --json --all --report-private "$log" >"$tmp/evtx.out" 2>"$tmp/evtx.err"
    st_evtx=$?
    for xml in "$shared/$name.evtxexport.xml" "$shared/$name.python-evtx.xml"; do
        "$bg" scan --json --all --report-private "$xml" >"$tmp/xml.out" 2>"$tmp/xml.err"
        st_xml=$?
        check "$name.evtx exits as $(basename "$xml") ($st_evtx, $st_xml)" "$([ $st_evtx -eq $st_xml ]; echo $?)"
        cmp -s "$tmp/evtx.out" "$tmp/xml.out"; check "$name.evtx prints what $(basename "$xml") prints" $?
        cmp -s <(tail -n 1 "$tmp/evtx.err") <(tail -n 1 "$tmp/xml.err")
        check "$name.evtx has the summary of $(basename "$xml"): $(tail -n 1 "$tmp/evtx.err")" $?
    done
    grep -q ' 0 malformed events skipped' "$tmp/evtx.err"; check "$name.evtx: no record skipped" $?
done

openvpn=$shared/bits_openvpn.evtx
lolbas=$shared/windows_bits_4_59_60_lolbas_desktopimgdownldr.evtx
total=$(grep -c '<Event ' "$shared/bits_openvpn.evtxexport.xml")

# 3. The signature decides, not the name.
cp "$lolbas" "$tmp/renamed.xml"
"$bg" scan "$tmp/renamed.xml" >/dev/null 2>"$tmp/renamed.err"
grep -q "renamed.xml: 5 records read" "$tmp/renamed.err"; check "an .evtx log named .xml is read by libevtx" $?

# 4. A truncated copy (cut in the middle of its sixth chunk): what was read and what was lost are
# reported, the events before the cut are scanned, exit 0 (no detection).
edit "$openvpn" "$tmp/cut.evtx" truncate:$((4096 + 65536 * 5 + 30000))
"$bg" scan "$tmp/cut.evtx" >/dev/null 2>"$tmp/cut.err"
check "a truncated log exits 0" "$([ $? -eq 0 ]; echo $?)"
line=$(grep "cut.evtx: corrupted .evtx log" "$tmp/cut.err")
check "the truncated log is reported: $line" "$([ -n "$line" ]; echo $?)"
read_n=$(sed -n 's/.*log: \([0-9]*\) records read.*/\1/p' <<<"$line")
skip_n=$(sed -n 's/.* records read, \([0-9]*\) skipped.*/\1/p' <<<"$line")
check "records read ($read_n) and skipped ($skip_n) are counted" "$([ "${read_n:-0}" -gt 0 ] && [ "${skip_n:-0}" -gt 0 ]; echo $?)"
grep -q "10 of its 16 chunks missing or unreadable" <<<"$line"; check "the chunks cut off are counted" $?
grep -q "bitsguard scan: $read_n events read" "$tmp/cut.err"; check "every record read was scanned" $?

# 5. A copy whose fourth chunk has its records overwritten: that chunk's records are skipped and
# counted, every other record is read: read + skipped = all.
edit "$openvpn" "$tmp/bad.evtx" corrupt-chunk:3
"$bg" scan "$tmp/bad.evtx" >/dev/null 2>"$tmp/bad.err"
check "a log with a corrupted chunk exits 0" "$([ $? -eq 0 ]; echo $?)"
line=$(grep "bad.evtx: corrupted .evtx log" "$tmp/bad.err")
read_n=$(sed -n 's/.*log: \([0-9]*\) records read.*/\1/p' <<<"$line")
skip_n=$(sed -n 's/.* records read, \([0-9]*\) skipped.*/\1/p' <<<"$line")
check "read ($read_n) + skipped ($skip_n) = the $total records" "$([ $((read_n + skip_n)) -eq "$total" ] && [ "$skip_n" -gt 0 ]; echo $?)"

# 6. Only a file header: no event, exit 3.
edit "$openvpn" "$tmp/header.evtx" truncate:4096
"$bg" scan "$tmp/header.evtx" >/dev/null 2>"$tmp/header.err"
check "a log with no chunk left exits 3" "$([ $? -eq 3 ]; echo $?)"
grep -q "header.evtx: no event could be read from it" "$tmp/header.err"; check "the empty log says so" $?

# 7. Recovered records: the real Windows 10 log with its download host made a direct IP (45.33.3.9)
# and, in a second copy, its last three records (59, 60, 4) moved to free space, where only libevtx's
# recovery finds them. The detection is then marked recovered in every output and in the database,
# and a later scan that sees it in a record still in use clears the mark.
edit "$lolbas" "$tmp/ip.evtx" host:a.uguu.se:45.33.3.9
edit "$lolbas" "$tmp/rec.evtx" host:a.uguu.se:45.33.3.9 recover-after:0:2
"$bg" scan "$tmp/ip.evtx" >"$tmp/ip.out" 2>/dev/null
check "the edited log's detection exits 1" "$([ $? -eq 1 ]; echo $?)"
grep -q "public-ip 45.33.3.9 https://45.33.3.9/" "$tmp/ip.out"; check "a record in use is not marked recovered" $?
"$bg" scan "$tmp/rec.evtx" >"$tmp/rec.out" 2>"$tmp/rec.err"
check "the recovered detection exits 1" "$([ $? -eq 1 ]; echo $?)"
grep -q "public-ip 45.33.3.9 (recovered) https://45.33.3.9/" "$tmp/rec.out"; check "text output marks it recovered" $?
grep -q "rec.evtx: 2 records read; 3 of 3 recovered-record candidates in free space read" "$tmp/rec.err"
check "the recovered records are counted" $?
"$bg" scan --json "$tmp/rec.evtx" >"$tmp/rec.json" 2>/dev/null
grep -q '"ip":"45.33.3.9".*"recovered":true' "$tmp/rec.json"; check "JSON marks it recovered" $?
"$bg" scan --json "$tmp/ip.evtx" >"$tmp/ip.json" 2>/dev/null
grep -q '"recovered":false' "$tmp/ip.json"; check "JSON says recovered:false otherwise" $?
"$bg" scan --db "$tmp/r.db" "$tmp/rec.evtx" >/dev/null 2>&1
if command -v sqlite3 >/dev/null; then
    got=$(sqlite3 "$tmp/r.db" "SELECT ip, recovered FROM detections_readable")
    check "stored with recovered = 1 ($got)" "$([ "$got" = "45.33.3.9|1" ]; echo $?)"
fi
"$bg" query --db "$tmp/r.db" --format json >"$tmp/q.json" 2>/dev/null
grep -q '"recovered":true' "$tmp/q.json"; check "query --format json marks it recovered" $?
"$bg" query --db "$tmp/r.db" --format csv >"$tmp/q.csv" 2>/dev/null
head -n 1 "$tmp/q.csv" | tr -d '\r' | grep -q ',recovered$'; check "query CSV has a recovered column" $?
sed -n 2p "$tmp/q.csv" | tr -d '\r' | grep -q ',1$'; check "query CSV marks it 1" $?
"$bg" query --db "$tmp/r.db" >"$tmp/q.txt" 2>/dev/null
grep -Eq '^[0-9-]+ [0-9:]+ +R ' "$tmp/q.txt"; check "query table flags it R" $?
"$bg" scan --db "$tmp/r.db" "$tmp/ip.evtx" >/dev/null 2>&1
"$bg" query --db "$tmp/r.db" --format json >"$tmp/q2.json" 2>/dev/null
grep -q '"recovered":false' "$tmp/q2.json"
check "seen later in a record in use, it is no longer marked recovered" $?

echo "$((checks - fails)) passed, $fails failed"
[ "$fails" -eq 0 ]
