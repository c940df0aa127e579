#!/usr/bin/env bash
# Tests of `bitsguard scan`: detections, JSON fields, allowlist, malformed input, exit statuses, real logs.
. "$(dirname "$0")/../lib/cli.sh"

mixed=$fixtures/exports/mixed-detections.xml
expected=$fixtures/exports/mixed-detections.expected

# 1. The mixed fixture: exactly the expected detections (job, url, ip), exit status 1.
"$bin" scan --json "$mixed" >"$work/out.json" 2>"$work/err.txt"
expect "scan exits 1 when it finds detections" [ $? -eq 1 ]
python3 - "$work/out.json" "$expected" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
got = [d for d in lines if "alert" not in d]
findings = [d for d in lines if "alert" in d]
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
# Event 6 of the first job: its notify command is a finding of its own, with the job's context.
if [(f["alert"], f["notify_program"], f["process_path"]) for f in findings] != [
        ("notify-command", "C:\\Users\\Public\\p.exe", "C:\\Windows\\System32\\bitsadmin.exe")]:
    print("findings differ:", findings); ok = False
sys.exit(0 if ok else 1)
PY
expect_ok "mixed fixture gives exactly the expected detections" $?
grep -q "events read" "$work/err.txt"
expect_ok "summary on stderr" $?

# 2. The Windows 11 detection carries the process path from event 3 (correlation).
python3 -c '
import json,sys
ds=[json.loads(l) for l in open(sys.argv[1])]
sys.exit(0 if any(d["process_path"] and d["process_path"].lower().endswith("bitsadmin.exe") for d in ds) else 1)' "$work/out.json"
expect_ok "process path joined from event 3" $?

# 3. stdin works and gives the same detections.
"$bin" scan --json - <"$mixed" >"$work/stdin.json" 2>/dev/null
cmp -s "$work/out.json" "$work/stdin.json"
expect_ok "stdin gives the same output" $?

# 4. Allow-listing the public network suppresses the detections, --all shows them marked; the notify
# command of the first job stays (persistence is reported whatever the job downloads), so exit 1.
"$bin" scan --allow 45.33.32.0/24 --allow 2600::/12 "$mixed" >"$work/allowed.txt" 2>/dev/null
st=$?
remaining=$(grep -vc ' notify-command ' "$work/allowed.txt")
grep -q ' notify-command program=C:.Users.Public.p.exe ' "$work/allowed.txt"
expect_ok "the notify command is reported whatever the allowlist" $?
want_remaining=$(grep -v '^#' "$expected" | awk -F'\t' '$3 !~ /^45\.33\.32\./ && $3 !~ /^26/' | grep -c . || true)
expect "allowlist removes allowed detections ($remaining left, want $want_remaining)" [ "$remaining" -eq "$want_remaining" ]
expect "exit 1 for the notify command alone" [ $st -eq 1 ]
"$bin" scan --all --json --allow 45.33.32.0/24 "$mixed" >"$work/all.json" 2>/dev/null
grep -q '"allowed":true' "$work/all.json"
expect_ok "--all prints allowed detections marked" $?

# 5. Malformed events: reported with position, skipped, later events still processed.
{ printf '<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System><EventID>16403</Event>\n'; cat "$mixed"; } >"$work/bad.xml"
"$bin" scan --json "$work/bad.xml" >"$work/bad.json" 2>"$work/bad.err"
expect "malformed first event does not stop the scan" [ $? -eq 1 ]
cmp -s "$work/bad.json" "$work/out.json"
expect_ok "events after a malformed one still give every detection" $?
grep -qE 'bad.xml:1 \(byte 0\): event skipped' "$work/bad.err"
expect_ok "malformed event reported with its position" $?
grep -qE '1 malformed events skipped' "$work/bad.err"
expect_ok "summary counts the malformed event" $?

# 6. Usage errors and unreadable files.
"$bin" scan >/dev/null 2>&1; expect "no file is a usage error (2)" [ $? -eq 2 ]
"$bin" scan --bogus x >/dev/null 2>"$work/u.err"; expect "unknown option exits 2" [ $? -eq 2 ]
grep -q "unknown option" "$work/u.err"; expect_ok "unknown option is named" $?
"$bin" scan --allow 10.0.0.1/33 "$mixed" >/dev/null 2>&1; expect "bad CIDR exits 2" [ $? -eq 2 ]
"$bin" scan "$work/does-not-exist.xml" >/dev/null 2>"$work/nf.err"; expect "missing file exits 3" [ $? -eq 3 ]
grep -q "does-not-exist.xml" "$work/nf.err"; expect_ok "missing file is named" $?
"$bin" scan --help | grep -q "exit status"; expect_ok "--help documents exit statuses" $?
# Native builds cannot read live channels (.evtx files: tests/cli/test_scan_evtx.sh).
if [ "${BG_TEST_PLATFORM:-}" != wine ]; then
    "$bin" scan --channel Microsoft-Windows-Bits-Client/Operational >/dev/null 2>&1
    expect "--channel on Linux is a usage error" [ $? -eq 2 ]
fi

# 7. --db stores the detections once, even when the same file is scanned twice.
"$bin" scan --db "$work/s.db" "$mixed" >/dev/null 2>&1
"$bin" scan --db "$work/s.db" "$mixed" >/dev/null 2>&1
rows=$(sqlite3 "$work/s.db" 'SELECT count(*) FROM detections WHERE allowed = 0')
want=$(grep -vc '^#' "$expected")
expect "scan --db twice stores each detection once ($rows rows, want $want)" [ "$rows" = "$want" ]

# 8. Real logs recorded on real hosts: every event parses, no false detection.
if [ -n "$samples" ] && [ -d "$samples" ]; then
    for f in "$samples"/*.xml; do
        "$bin" scan --json "$f" >"$work/real.json" 2>"$work/real.err"
        st=$?
        [ "$st" -eq 0 ] && [ ! -s "$work/real.json" ]
        expect_ok "real log $(basename "$f") has no detection (exit $st)" $?
        grep -q ' 0 malformed events skipped' "$work/real.err"
        expect_ok "real log $(basename "$f") parses without a malformed event" $?
    done
else
    echo "real logs absent: skipped"
fi

# 9. The per-job cap: 64 files of one job from an allow-listed address do not hide the payload that
# follows; 70 payloads in one job keep 64 and name the 6 dropped (stderr, exit 1, errors table).
python3 - "$work" <<'PY'
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
"$bin" scan --allow 13.107.4.0/24 "$work/cap64.xml" >"$work/cap64.out" 2>"$work/cap64.err"
expect "64 allow-listed files then a payload: exit 1" [ $? -eq 1 ]
grep -q "45.33.32.156/payload.exe" "$work/cap64.out"; expect_ok "the payload after 64 allow-listed files is reported" $?
"$bin" scan --db "$work/cap.db" "$work/cap70.xml" >"$work/cap70.out" 2>"$work/cap70.err"
expect "70 payloads in one job: exit 1" [ $? -eq 1 ]
grep -q "has more than 64 detections that are not allow-listed" "$work/cap70.err"; expect_ok "the job past the cap is named" $?
grep -q "dropped 6 detections past the cap of 64 per job" "$work/cap70.err"; expect_ok "the summary counts the 6 dropped" $?
rows=$(sqlite3 "$work/cap.db" "SELECT count(*) FROM errors WHERE where_ = 'scan.correlate' AND detail LIKE 'dropped 6 %'")
expect "the dropped detections are in the errors table ($rows)" [ "$rows" = 1 ]

# 10. Newest first (Get-WinEvent, wevtutil qe /rd:true) gives the same detections as oldest first, with
# the same outcome, process, notify command and transfer status: every export fixture and real log.
for f in "$fixtures"/exports/*.xml ${samples:+"$samples"/*.xml}; do
    [ -f "$f" ] || continue
    name=$(basename "$f")
    python3 - "$f" "$work/reversed.xml" <<'PY' || continue
import re, sys
raw = open(sys.argv[1], 'rb').read()
text = raw.decode('utf-16') if raw[:2] in (b'\xff\xfe', b'\xfe\xff') else raw.decode('utf-8', 'surrogateescape')
events = re.findall(r'<Event[ >].*?</Event>', text, re.S)
if not events or '<!DOCTYPE' in text:
    sys.exit(1)  # Nothing to reverse, or input that is refused as a whole anyway.
open(sys.argv[2], 'w', encoding='utf-8', errors='surrogateescape').write(
    '<Events>' + ''.join(reversed(events)) + '</Events>')
PY
    "$bin" scan --json --report-private "$f" 2>/dev/null | sort >"$work/fwd.json"
    "$bin" scan --json --report-private "$work/reversed.xml" 2>/dev/null | sort >"$work/rev.json"
    cmp -s "$work/fwd.json" "$work/rev.json"
    expect_ok "$name read newest first gives the same detections" $?
    [ -s "$work/fwd.json" ] && detected_any=1
done
expect "the order comparison saw detections" [ "${detected_any:-0}" = 1 ]
"$bin" scan --json "$fixtures/exports/ordered-jobs.xml" 2>/dev/null | grep -v '"alert"' | grep -c '"state":"completed"' >"$work/completed.txt"
python3 - "$fixtures/exports/ordered-jobs.xml" "$work/reversed.xml" <<'PY'
import re, sys
t = open(sys.argv[1], encoding='utf-8').read()
open(sys.argv[2], 'w').write('<Events>' + ''.join(reversed(re.findall(r'<Event[ >].*?</Event>', t, re.S))) + '</Events>')
PY
n=$("$bin" scan --json "$work/reversed.xml" 2>/dev/null | grep -v '"alert"' | grep -c '"state":"completed"')
[ "$n" = 2 ] && [ "$(cat "$work/completed.txt")" = 2 ]
expect_ok "ordered-jobs newest first: both completed jobs say completed ($n)" $?

# 11. BITS abuse beyond the URL: the notify command (with its failures 63/64, whatever the URL), job
# credentials sent to a direct IP (203; 204 to a domain is nothing), the channel cleared (System 104).
"$bin" scan --json "$fixtures/exports/abuse.xml" >"$work/abuse.json" 2>"$work/abuse.err"
expect "abuse fixture: exit 1 on findings alone" [ $? -eq 1 ]
python3 - "$work/abuse.json" <<'PY'
import json, sys
got = {d["alert"]: d for d in map(json.loads, open(sys.argv[1])) if "alert" in d}
want = {
    "notify-command": dict(notify_program="C:\\ProgramData\\u.exe", notify_parameters="/install /q",
                           notify_failures=2, notify_error=1, job_title="WinSvcUpd", job_owner="WIN11-FIN-03\\dave",
                           process_path="C:\\Windows\\System32\\bitsadmin.exe", process_id=3120, event_id=6),
    "credentials-direct-ip": dict(ip="45.33.32.156", verdict="public-ip", credentials="accepted", auth_scheme="NTLM",
                                  server="45.33.32.156", user="WIN11-FIN-03\\dave", event_id=203,
                                  process_path="C:\\Users\\dave\\AppData\\Local\\Temp\\r.exe"),
    "channel-cleared": dict(channel="Microsoft-Windows-Bits-Client/Operational", user="WIN11-FIN-03\\dave",
                            event_id=104),
}
ok = sorted(got) == sorted(want)
for kind, fields in want.items():
    for k, v in fields.items():
        if got.get(kind, {}).get(k) != v:
            print(kind, k, got.get(kind, {}).get(k), "want", v); ok = False
sys.exit(0 if ok else 1)
PY
expect_ok "abuse fixture: exactly the three findings with their fields" $?
"$bin" scan "$fixtures/exports/abuse.xml" >"$work/abuse.txt" 2>/dev/null
grep -q '^2024-06-01T08:00:00.2000000Z notify-command program=C:\\ProgramData\\u.exe parameters=/install /q failures=2 job=a1a2a3a4' "$work/abuse.txt"
expect_ok "abuse fixture: notify command in the text output" $?
grep -q ' credentials-direct-ip accepted ip=45.33.32.156 ' "$work/abuse.txt"
expect_ok "abuse fixture: credentials line" $?
grep -q ' channel-cleared channel=Microsoft-Windows-Bits-Client/Operational by=WIN11-FIN-03\\dave ' "$work/abuse.txt"
expect_ok "abuse fixture: channel cleared line" $?
grep -q '3 other findings' "$work/abuse.err"
expect_ok "abuse fixture: the summary counts the findings" $?

# Output that cannot be written (a full disk) is an error, never "detections found" with nothing written
# (was exit 1). Native only: under Wine the wrapper, not the program, writes to our stdout.
case $bin in
*-wine) ;;
*)
    "$bin" scan "$fixtures/exports/mixed-detections.xml" --json >/dev/full 2>"$err"
    expect_ok "scan to a full disk exits 3" "$([ $? -eq 3 ]; echo $?)"
    expect_stderr 'error writing the output'
    ;;
esac

test_done
