#!/usr/bin/env bash
# Stored findings: scan --db keeps them once, query --findings lists them (table, JSON, CSV, filters,
# terminal-safe), status counts them by kind.
. "$(dirname "$0")/../lib/cli.sh"

abuse=$fixtures/exports/abuse.xml
db=$work/case.db
expect_exit 1 "$bin" scan --db "$db" "$abuse"
# The same log scanned again (a responder re-running a scan): no second row of any finding.
expect_exit 1 "$bin" scan --db "$db" "$abuse"

expect_exit 0 "$bin" query --db "$db" --findings --format json
expect "three findings, one of each kind" test "$(wc -l <"$out")" -eq 3
expect "json: the notify command with its failures" \
    grep -q '"alert":"notify-command".*"notify_program":"C:\\\\ProgramData\\\\u.exe","notify_parameters":"/install /q","notify_failures":2' "$out"
expect "json: the credentials, accepted, to the direct IP" \
    grep -q '"alert":"credentials-direct-ip".*"ip":"45.33.32.156","verdict":"public-ip","reading":"whatwg","auth_scheme":"NTLM".*"credentials":"accepted"' "$out"
expect "json: the channel cleared, by whom" \
    grep -q '"alert":"channel-cleared".*"user":"WIN11-FIN-03\\\\dave","credentials":null,"channel":"Microsoft-Windows-Bits-Client/Operational"' "$out"
expect "json: not recovered" test "$(grep -c '"recovered":false' "$out")" -eq 3
expect "json: newest first" bash -c "head -n 1 '$out' | grep -q '\"alert\":\"channel-cleared\"'"
# The objects are those scan --json prints.
"$bin" scan --json "$abuse" 2>/dev/null | grep '"alert"' | sort >"$work/scan.jsonl"
sort "$out" >"$work/query.jsonl"
expect "json: the objects scan --json prints" cmp -s "$work/scan.jsonl" "$work/query.jsonl"

expect_exit 0 "$bin" query --db "$db" --findings
expect "table: header" bash -c "head -n 1 '$out' | grep -q '^LAST SEEN (UTC) .* ALERT .* JOB TITLE .* WHAT'"
expect "table: the notify command line" grep -q ' notify-command .* WinSvcUpd .*C:\\ProgramData\\u.exe /inst' "$out"
expect "table: fits 100 columns" bash -c "! awk 'length > 99' '$out' | grep -q ."
expect_exit 0 "$bin" query --db "$db" --findings --format csv
expect "csv: header" bash -c "head -n 1 '$out' | grep -q '^alert,event_id,record_id,time,computer,job_id,'"
expect "csv: three records" test "$(wc -l <"$out")" -eq 4
expect "csv: the credentials row" grep -q '^credentials-direct-ip,203,12010,.*,45.33.32.156,public-ip,whatwg,NTLM,' "$out"

# Filters: --ip on where credentials went, --computer, --since, --job, --limit.
expect_exit 0 "$bin" query --db "$db" --findings --ip 45.33.32.0/24 --format json
expect "--ip selects the credentials" bash -c "test \$(wc -l <'$out') -eq 1 && grep -q credentials-direct-ip '$out'"
expect_exit 0 "$bin" query --db "$db" --findings --computer win11-fin-03 --format json
expect "--computer selects all three" test "$(wc -l <"$out")" -eq 3
# The host part of a DNS name matches as for detections (a copy of the log whose computer has a domain).
sed 's|<Computer>WIN11-FIN-03</Computer>|<Computer>WIN11-FIN-03.corp.example</Computer>|' "$abuse" >"$work/dns.xml"
expect_exit 1 "$bin" scan --db "$work/dns.db" "$work/dns.xml"
expect_exit 0 "$bin" query --db "$work/dns.db" --findings --computer win11-fin-03 --format json
expect "--computer HOST matches HOST.domain" test "$(wc -l <"$out")" -eq 3
expect_exit 0 "$bin" query --db "$db" --findings --computer other
expect "--computer other: none" grep -q '^(no findings match)$' "$out"
expect_exit 0 "$bin" query --db "$db" --findings --since 2024-06-01T08:10 --format json
expect "--since selects two" test "$(wc -l <"$out")" -eq 2
expect_exit 0 "$bin" query --db "$db" --findings --job '{A1A2A3A4-0005-4000-8000-00000000000A}' --format json
expect "--job selects the notify command" bash -c "test \$(wc -l <'$out') -eq 1 && grep -q notify-command '$out'"
expect_exit 0 "$bin" query --db "$db" --findings --limit 1 --format json
expect "--limit 1 gives one" test "$(wc -l <"$out")" -eq 1
# Without --findings, query lists detections as before (this log has none).
expect_exit 0 "$bin" query --db "$db"
expect "detections: none" grep -q '^(no detections match)$' "$out"

expect_exit 0 "$bin" status --db "$db"
expect "status counts findings by kind" \
    grep -q '^findings: *3 total: 1 notify-command, 1 credentials-direct-ip, 1 channel-cleared, 0 channel-disabled$' "$out"
expect_exit 0 "$bin" status --db "$db" --json
expect "status --json counts findings by kind" \
    grep -q '"findings_total":3,"findings":{"notify-command":1,"credentials-direct-ip":1,"channel-cleared":1,"channel-disabled":0}' "$out"

# Hostile text from the log (a C1 control sequence introducer, a right-to-left override, a formula) is
# neutralized in every format. (XML 1.0 forbids ESC itself; C1 controls and bidi overrides are allowed.)
csi=$'\xc2\x9b'
rlo=$'\xe2\x80\xae'
sed -e "s#<Data Name=\"program\">C:\\\\ProgramData\\\\u.exe<#<Data Name=\"program\">=cmd|calc ${csi}31m ${rlo}exe.txt<#" \
    "$abuse" >"$work/hostile.xml"
expect "the hostile fixture holds the controls" grep -q "$csi" "$work/hostile.xml"
db2=$work/hostile.db
expect_exit 1 "$bin" scan --db "$db2" "$work/hostile.xml"
expect_exit 0 "$bin" query --db "$db2" --findings
expect "table: no C1 control or bidi override" bash -c "! grep -q -e '$csi' -e '$rlo' '$out'"
expect "table: the program shown, made safe" grep -q '=cmd|calc ?31m ?exe.txt' "$out"
expect_exit 0 "$bin" query --db "$db2" --findings --format csv
expect "csv: formula neutralized" grep -q "'=cmd|calc " "$out"
expect_exit 0 "$bin" query --db "$db2" --findings --format json
expect "json: the program kept, valid JSON" python3 -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert any(r["notify_program"] == "=cmd|calc \u009b31m \u202eexe.txt" for r in rows), rows
' "$out"
test_done
