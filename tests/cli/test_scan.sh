#!/usr/bin/env bash
# Tests of `bitsguard scan`: detections, JSON fields, allowlist, malformed input, exit statuses, real logs.
set -uo pipefail
bg=$1 fixtures=$2 shared=${3:-}
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

mixed=$fixtures/exports/mixed-detections.xml
expected=$fixtures/exports/mixed-detections.expected

# 1. The mixed fixture: exactly the expected detections (job, url, ip), exit status 1.
"$bg" scan --json "$mixed" >"$tmp/out.json" 2>"$tmp/err.txt"
check "scan exits 1 when it finds detections" "$([ $? -eq 1 ]; echo $?)"
python3 - "$tmp/out.json" "$expected" <<'PY'
import json, sys
got = [json.loads(l) for l in open(sys.argv[1])]
want = [l.rstrip('\n').split('\t') for l in open(sys.argv[2]) if l.strip() and not l.startswith('#')]
keys = ["event_id", "record_id", "time", "computer", "job_id", "job_title", "job_owner", "url", "ip",
        "verdict", "local_name", "process_id", "process_path", "kind", "range", "allowed"]
ok = True
for d in got:
    missing = [k for k in keys if k not in d]
    if missing:
        print("missing keys", missing); ok = False
gotset = sorted((d["job_id"], d["url"], d["ip"]) for d in got)
wantset = sorted((w[0], w[1], w[2]) for w in want)
if gotset != wantset:
    print("detections differ:\n got ", gotset, "\n want", wantset); ok = False
if any(d["verdict"] != "public-ip" for d in got):
    print("non public-ip detection"); ok = False
sys.exit(0 if ok else 1)
PY
check "mixed fixture gives exactly the expected detections" $?
grep -q "events read" "$tmp/err.txt"
check "summary on stderr" $?

# 2. The Windows 11 detection carries the process path from event 3 (correlation).
python3 -c '
import json,sys
ds=[json.loads(l) for l in open(sys.argv[1])]
sys.exit(0 if any(d["process_path"] and d["process_path"].lower().endswith("bitsadmin.exe") for d in ds) else 1)' "$tmp/out.json"
check "process path joined from event 3" $?

# 3. stdin works and gives the same detections.
"$bg" scan --json - <"$mixed" >"$tmp/stdin.json" 2>/dev/null
cmp -s "$tmp/out.json" "$tmp/stdin.json"
check "stdin gives the same output" $?

# 4. Allow-listing the public network suppresses the detections (exit 0), --all shows them marked.
"$bg" scan --allow 45.33.32.0/24 --allow 2600::/12 "$mixed" >"$tmp/allowed.txt" 2>/dev/null
st=$?
remaining=$(wc -l <"$tmp/allowed.txt")
want_remaining=$(grep -v '^#' "$expected" | awk -F'\t' '$3 !~ /^45\.33\.32\./ && $3 !~ /^26/' | grep -c . || true)
check "allowlist removes allowed detections ($remaining left, want $want_remaining)" "$([ "$remaining" -eq "$want_remaining" ]; echo $?)"
if [ "$want_remaining" -eq 0 ]; then check "exit 0 when everything is allowed" "$([ $st -eq 0 ]; echo $?)"; fi
"$bg" scan --all --json --allow 45.33.32.0/24 "$mixed" 2>/dev/null | grep -q '"allowed":true'
check "--all prints allowed detections marked" $?

# 5. Malformed events: reported with position, skipped, later events still processed.
{ printf '<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System><EventID>16403</Event>\n'; cat "$mixed"; } >"$tmp/bad.xml"
"$bg" scan --json "$tmp/bad.xml" >"$tmp/bad.json" 2>"$tmp/bad.err"
check "malformed first event does not stop the scan" "$([ $? -eq 1 ]; echo $?)"
cmp -s "$tmp/bad.json" "$tmp/out.json"
check "events after a malformed one still give every detection" $?
grep -qE 'bad.xml:1 \(byte 0\): event skipped' "$tmp/bad.err"
check "malformed event reported with its position" $?
grep -qE '1 malformed events skipped' "$tmp/bad.err"
check "summary counts the malformed event" $?

# 6. Usage errors and unreadable files.
"$bg" scan >/dev/null 2>&1; check "no file is a usage error (2)" "$([ $? -eq 2 ]; echo $?)"
"$bg" scan --bogus x >/dev/null 2>"$tmp/u.err"; check "unknown option exits 2" "$([ $? -eq 2 ]; echo $?)"
grep -q "unknown option" "$tmp/u.err"; check "unknown option is named" $?
"$bg" scan --allow 10.0.0.1/33 "$mixed" >/dev/null 2>&1; check "bad CIDR exits 2" "$([ $? -eq 2 ]; echo $?)"
"$bg" scan "$tmp/does-not-exist.xml" >/dev/null 2>"$tmp/nf.err"; check "missing file exits 3" "$([ $? -eq 3 ]; echo $?)"
grep -q "does-not-exist.xml" "$tmp/nf.err"; check "missing file is named" $?
"$bg" scan --help | grep -q "exit status"; check "--help documents exit statuses" $?
# Native builds cannot read binary .evtx logs or live channels: a clear message, not a parse of binary data.
if [ "${BG_TEST_PLATFORM:-}" != wine ]; then
    printf 'ElfFile\0binary' >"$tmp/log.evtx"
    "$bg" scan "$tmp/log.evtx" >/dev/null 2>"$tmp/evtx.err"; check "an .evtx file on Linux exits 3" "$([ $? -eq 3 ]; echo $?)"
    grep -q "only on Windows" "$tmp/evtx.err"; check "the .evtx message says how to export" $?
    "$bg" scan --channel Microsoft-Windows-Bits-Client/Operational >/dev/null 2>&1
    check "--channel on Linux is a usage error" "$([ $? -eq 2 ]; echo $?)"
fi

# 7. --db stores the detections once, even when the same file is scanned twice.
"$bg" scan --db "$tmp/s.db" "$mixed" >/dev/null 2>&1
"$bg" scan --db "$tmp/s.db" "$mixed" >/dev/null 2>&1
rows=$(sqlite3 "$tmp/s.db" 'SELECT count(*) FROM detections WHERE allowed = 0')
want=$(grep -vc '^#' "$expected")
check "scan --db twice stores each detection once ($rows rows, want $want)" "$([ "$rows" = "$want" ]; echo $?)"

# 8. Real logs recorded on real hosts: every event parses, no false detection.
if [ -n "$shared" ] && [ -d "$shared" ]; then
    for f in "$shared"/*.xml; do
        "$bg" scan --json "$f" >"$tmp/real.json" 2>"$tmp/real.err"
        st=$?
        check "real log $(basename "$f") has no detection (exit $st)" "$([ $st -eq 0 ] && [ ! -s "$tmp/real.json" ]; echo $?)"
        grep -q ' 0 malformed events skipped' "$tmp/real.err"
        check "real log $(basename "$f") parses without a malformed event" $?
    done
else
    echo "real logs absent: skipped"
fi

# 9. The per-job cap: 64 files of one job from an allow-listed address do not hide the payload that
# follows; 70 payloads in one job keep 64 and name the 6 dropped (stderr, exit 1, errors table).
python3 - "$tmp" <<'PY'
import sys
NS = 'xmlns="http://schemas.microsoft.com/win/2004/08/events/event"'
def ev(rec, url):
    return ('<Event %s><System><Provider Name="Microsoft-Windows-Bits-Client"/><EventID>16403</EventID>'
            '<EventRecordID>%d</EventRecordID><Computer>PC1</Computer></System><EventData>'
            '<Data Name="jobTitle">many</Data><Data Name="jobId">{AAAAAAAA-2222-3333-4444-555555555555}</Data>'
            '<Data Name="RemoteName">%s</Data></EventData></Event>\n' % (NS, rec, url))
with open(sys.argv[1] + "/cap64.xml", "w") as f:
    for i in range(64):
        f.write(ev(i + 1, "http://13.107.4.50/f.cab?%d" % i))
    f.write(ev(100, "http://45.33.32.156/payload.exe"))
with open(sys.argv[1] + "/cap70.xml", "w") as f:
    for i in range(70):
        f.write(ev(i + 1, "http://45.33.32.156/p%d.exe" % i))
PY
"$bg" scan --allow 13.107.4.0/24 "$tmp/cap64.xml" >"$tmp/cap64.out" 2>"$tmp/cap64.err"
check "64 allow-listed files then a payload: exit 1" "$([ $? -eq 1 ]; echo $?)"
grep -q "45.33.32.156/payload.exe" "$tmp/cap64.out"; check "the payload after 64 allow-listed files is reported" $?
"$bg" scan --db "$tmp/cap.db" "$tmp/cap70.xml" >"$tmp/cap70.out" 2>"$tmp/cap70.err"
check "70 payloads in one job: exit 1" "$([ $? -eq 1 ]; echo $?)"
grep -q "has more than 64 detections that are not allow-listed" "$tmp/cap70.err"; check "the job past the cap is named" $?
grep -q "dropped 6 detections past the cap of 64 per job" "$tmp/cap70.err"; check "the summary counts the 6 dropped" $?
rows=$(sqlite3 "$tmp/cap.db" "SELECT count(*) FROM errors WHERE where_ = 'scan.correlate' AND detail LIKE 'dropped 6 %'")
check "the dropped detections are in the errors table ($rows)" "$([ "$rows" = 1 ]; echo $?)"

# 10. Newest first (Get-WinEvent, wevtutil qe /rd:true) gives the same detections as oldest first, with
# the same outcome, process, notify command and transfer status: every export fixture and real log.
for f in "$fixtures"/exports/*.xml ${shared:+"$shared"/*.xml}; do
    [ -f "$f" ] || continue
    name=$(basename "$f")
    python3 - "$f" "$tmp/reversed.xml" <<'PY' || continue
import re, sys
raw = open(sys.argv[1], 'rb').read()
text = raw.decode('utf-16') if raw[:2] in (b'\xff\xfe', b'\xfe\xff') else raw.decode('utf-8', 'surrogateescape')
events = re.findall(r'<Event[ >].*?</Event>', text, re.S)
if not events or '<!DOCTYPE' in text:
    sys.exit(1)  # Nothing to reverse, or input that is refused as a whole anyway.
open(sys.argv[2], 'w', encoding='utf-8', errors='surrogateescape').write(
    '<Events>' + ''.join(reversed(events)) + '</Events>')
PY
    "$bg" scan --json --report-private "$f" 2>/dev/null | sort >"$tmp/fwd.json"
    "$bg" scan --json --report-private "$tmp/reversed.xml" 2>/dev/null | sort >"$tmp/rev.json"
    cmp -s "$tmp/fwd.json" "$tmp/rev.json"
    check "$name read newest first gives the same detections" $?
    [ -s "$tmp/fwd.json" ] && detected_any=1
done
check "the order comparison saw detections" "$([ "${detected_any:-0}" = 1 ]; echo $?)"
"$bg" scan --json "$fixtures/exports/ordered-jobs.xml" 2>/dev/null | grep -c '"state":"completed"' >"$tmp/completed.txt"
python3 - "$fixtures/exports/ordered-jobs.xml" "$tmp/reversed.xml" <<'PY'
import re, sys
t = open(sys.argv[1], encoding='utf-8').read()
open(sys.argv[2], 'w').write('<Events>' + ''.join(reversed(re.findall(r'<Event[ >].*?</Event>', t, re.S))) + '</Events>')
PY
n=$("$bg" scan --json "$tmp/reversed.xml" 2>/dev/null | grep -c '"state":"completed"')
check "ordered-jobs newest first: both completed jobs say completed ($n)" "$([ "$n" = 2 ] && [ "$(cat "$tmp/completed.txt")" = 2 ]; echo $?)"

echo "$((checks - fails)) passed, $fails failed"
[ "$fails" -eq 0 ]
