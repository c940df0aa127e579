#!/usr/bin/env bash
# Collector mode: forwarded events (RenderingInfo) from several computers, interleaved, correlated per computer;
# the computers table, query --computer and status's per-computer counts and silent flag.
. "$(dirname "$0")/../lib/cli.sh"
command -v sqlite3 >/dev/null || { echo "sqlite3 shell not installed (scripts/setup.sh installs it)"; exit 77; }
command -v python3 >/dev/null || { echo "python3 not installed"; exit 77; }

fwd=$fixtures/exports/forwarded-events.xml
db=$work/collector.db
sql() { sqlite3 "$db" "$1"; }

expect_exit 1 "$bin" scan --db "$db" "$fwd"
expect_stderr "10 events read, 10 BITS events, 3 detections"
# The same job GUID (and, on PC1 and PC2, the same URL) on three computers: three detections, never merged.
expect "one detection per computer" test "$(sql "SELECT group_concat(computer, ',') FROM (SELECT computer FROM
    detections WHERE job_id = '6e3f1a27-9c1d-4b8e-a0f2-3d5c7b9e1f04' ORDER BY computer)")" = \
    "PC1.corp.example,PC2.corp.example,PC3.corp.example"
expect "each computer's own process id (events not mixed)" test "$(sql "SELECT group_concat(process_id, ',') FROM
    (SELECT process_id FROM detections ORDER BY computer)")" = "4100,4101,4102"
expect "each job completed on its own computer" test "$(sql "SELECT count(*) FROM detections WHERE state = 1")" = 3
# Per computer: events read, new detections, first and last event time (scan --db counts under channel "scan").
expect "PC1 counted" test "$(sql "SELECT events || '|' || detections || '|' || first_event || '|' || last_event
    FROM computers WHERE channel = 'scan' AND computer = 'PC1.corp.example'")" = \
    "3|1|2026-11-30T10:00:01.0000000Z|2026-11-30T10:00:07.0000000Z"
expect "PC4 counted, no detection" test "$(sql "SELECT events || '|' || detections || '|' || last_event FROM computers
    WHERE computer = 'PC4.corp.example'")" = "1|0|2026-10-01T08:00:00.0000000Z"
expect "four computers" test "$(sql "SELECT count(*) FROM computers")" = 4

# Scanning the same file again: detections are not new (counted once), events are read again (counted again).
expect_exit 1 "$bin" scan --db "$db" "$fwd"
expect "rescan: events counted again, detections once" test "$(sql "SELECT events || '|' || detections FROM computers
    WHERE computer = 'PC2.corp.example'")" = "6|1"

# query --computer: any case, or the host name alone; the table ends with what was read from it.
expect_exit 0 "$bin" query --db "$db" --computer pc2
expect_stdout "PC2\\.corp\\.\\.\\."
expect "only PC2's detection" test "$(grep -c 'corp\.' "$out")" = 2 # its row and its summary line
expect_stdout "^computer PC2\\.corp\\.example on scan: events read 6, detections 1, first event 2026-11-30T10:00:02\\.0000000Z, last event 2026-11-30T10:00:08\\.0000000Z$"
expect_exit 0 "$bin" query --db "$db" --computer PC2.CORP.EXAMPLE --format json
expect "json: one object, PC2" test "$(python3 -c 'import json,sys; r=[json.loads(l) for l in open(sys.argv[1])];
print(len(r), r[0]["computer"])' "$out")" = "1 PC2.corp.example"
expect_exit 0 "$bin" query --db "$db" --computer pc2.corp
expect_stdout "no detections match"
expect "a partial domain matches nothing" bash -c "! grep -q '^computer ' '$out'"
expect_exit 0 "$bin" query --db "$db" --computer 'PC%'
expect_stdout "no detections match"

# status: per computer, the silent flag from --silent-hours. The hours from PC1-3's last event to now, plus a day:
# those three are not silent, PC4 (60 days older) is.
hours=$(($(($(date -u +%s) - $(date -u -d 2026-11-30T10:00:09Z +%s))) / 3600 + 24))
expect_exit 0 "$bin" status --db "$db" --silent-hours "$hours"
expect_stdout "^computers: +4 \\(1 silent for more than $hours h\\)$"
expect_stdout "^  PC4\\.corp\\.example on scan: events read 2, detections 0, last event 2026-10-01T08:00:00\\.0000000Z \\([0-9]+ d ago\\)  SILENT$"
expect "silent first" bash -c "grep -A1 '^computers:' '$out' | tail -n 1 | grep -q PC4"
expect "PC3 not silent" bash -c "grep '^  PC3' '$out' | grep -vq SILENT"
expect_exit 0 "$bin" status --db "$db" --json --silent-hours "$hours"
expect "json: computers" python3 - "$out" "$hours" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
assert s["computers_total"] == 4 and s["computers_silent"] == 1 and s["silent_hours"] == int(sys.argv[2]), s
rows = {r["computer"]: r for r in s["computers"]}
assert rows["PC4.corp.example"]["silent"] is True and rows["PC1.corp.example"]["silent"] is False, rows
assert rows["PC1.corp.example"]["events"] == 6 and rows["PC1.corp.example"]["detections"] == 1, rows
assert rows["PC3.corp.example"]["last_event"] == "2026-11-30T10:00:09.0000000Z", rows
assert s["computers"][0]["computer"] == "PC4.corp.example" and rows["PC1.corp.example"]["channel"] == "scan", s
PY
expect_exit 0 "$bin" status --db "$db"
expect_stdout "^computers: +4 \\(4 silent for more than 24 h\\)$"
expect_exit 2 "$bin" status --db "$db" --silent-hours 0
expect_stderr "--silent-hours wants a number of hours from 1 to 87600"
expect_exit 2 "$bin" status --db "$db" --silent-hours 87601

# A database without forwarded events: no computer rows beyond its own, nothing silent to report.
expect_exit 0 "$bin" scan --db "$work/empty.db" "$fixtures/events/3_v2.xml"
expect_exit 0 "$bin" status --db "$work/empty.db" --silent-hours 87600
expect_stdout "^computers: +1 \\(0 silent for more than 87600 h\\)$"

test_done
