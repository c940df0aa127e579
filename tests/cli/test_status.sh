#!/usr/bin/env bash
# bitsguard status: options, exit codes, text and JSON output, on a database built with the sqlite3 shell.
set -uo pipefail
bin=$1
command -v sqlite3 >/dev/null || { echo "sqlite3 shell not installed (scripts/setup.sh installs it)"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail=0
check() {
    local what=$1
    shift
    if "$@"; then echo "ok   $what"; else echo "FAIL $what"; fail=1; fi
}
status_is() {
    local want=$1
    shift
    "$@" >"$work/out" 2>"$work/err"
    local got=$?
    [ "$got" -eq "$want" ] || { echo "  exit $got, expected $want: $*"; cat "$work/err"; return 1; }
}

db=$work/bits.db
esc=$'\x1b'
sqlite3 "$db" <<SQL
CREATE TABLE detections(id INTEGER PRIMARY KEY, event_id INTEGER NOT NULL, record_id INTEGER NOT NULL,
 time TEXT NOT NULL, computer TEXT NOT NULL, job_id TEXT NOT NULL, job_title TEXT, job_owner TEXT,
 url TEXT NOT NULL, ip TEXT, verdict TEXT, kind TEXT, range TEXT, local_name TEXT,
 allowed INTEGER NOT NULL DEFAULT 0, process_id INTEGER, process_path TEXT, notify_program TEXT,
 notify_parameters TEXT, events_seen INTEGER NOT NULL DEFAULT 0, first_seen TEXT, last_seen TEXT,
 last_record_id INTEGER, transfer_hr INTEGER, bytes_total INTEGER, bytes_transferred INTEGER,
 state INTEGER NOT NULL DEFAULT 0, UNIQUE(computer, job_id, url));
CREATE TABLE bookmarks(channel TEXT PRIMARY KEY, bookmark TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE gaps(id INTEGER PRIMARY KEY, time TEXT NOT NULL, channel TEXT, reason TEXT);
CREATE TABLE errors(id INTEGER PRIMARY KEY, time TEXT NOT NULL, where_ TEXT, code INTEGER, code_name TEXT, detail TEXT);
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);
INSERT INTO detections(event_id, record_id, time, computer, job_id, url, ip, last_seen, allowed) VALUES
 (59, 1, '2023-11-06T01:45:21.0240780Z', 'PC1', 'a', 'http://203.0.113.5/a', '203.0.113.5', '2023-11-06T01:45:21.0240780Z', 0),
 (59, 2, strftime('%Y-%m-%dT%H:%M:%S.0000000Z', 'now', '-1 hour'), 'PC1', 'b', 'http://203.0.113.6/b', '203.0.113.6',
  strftime('%Y-%m-%dT%H:%M:%S.0000000Z', 'now', '-1 hour'), 1);
INSERT INTO bookmarks VALUES('Microsoft-Windows-Bits-Client/Operational', '<BookmarkList/>',
 strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-90 seconds'));
INSERT INTO gaps(time, channel, reason) VALUES('2023-11-06T02:00:00Z', 'Microsoft-Windows-Bits-Client/Operational',
 'bookmark rejected ${esc}[2J');
INSERT INTO errors(time, where_, code, code_name, detail) VALUES
 ('2023-11-06T02:00:01Z', 'reader', 20, 'SOURCE', 'EvtNext failed'),
 ('2023-11-06T02:00:02Z', 'store', 11, 'DB_BUSY', 'locked');
INSERT INTO meta(key, value) VALUES('service_pid', '4321'), ('service_rss_bytes', '28812345'),
 ('service_peak_rss_bytes', '36000000'), ('service_handles', '143'),
 ('service_updated_at', strftime('%Y-%m-%dT%H:%M:%SZ', 'now', '-30 seconds'));
PRAGMA user_version = 1;
SQL
# status never migrates: scan --db upgrades the version-1 file first.
check "status refuses the v1 file" status_is 3 "$bin" status --db "$db"
check "scan --db upgrades the v1 file" status_is 0 "$bin" scan --db "$db" - </dev/null

check "--help" status_is 0 "$bin" status --help
check "--help mentions --json" grep -q -- "--json" "$work/out"
check "unknown option" status_is 2 "$bin" status --db "$db" --verbose
check "--db without a path" status_is 2 "$bin" status --db
check "missing database" status_is 3 "$bin" status --db "$work/none.db"
check "the error names the path" grep -q "$work/none.db" "$work/err"
check "no empty database created" test ! -e "$work/none.db"

check "text" status_is 0 "$bin" status --db "$db"
check "text: path" grep -q "^database: .*$work/bits.db ([0-9]* bytes)" "$work/out"
check "text: schema version (migrated)" grep -q "^schema version: *4$" "$work/out"
check "text: counts" grep -q "^detections: *2 total, 1 in the last 24 h, 1 allow-listed" "$work/out"
check "text: bookmark age" grep -Eq "Microsoft-Windows-Bits-Client/Operational  updated .* \((8[0-9]|9[0-9]|1[0-9][0-9]) s ago\)" "$work/out"
check "text: service health" grep -Eq "^service: *pid 4321, 28\.8 MB resident \(peak 36\.0 MB\), 143 handles, sampled (2[0-9]|[3-9][0-9]|1[0-9][0-9]) s ago$" "$work/out"
check "text: gaps" grep -q "^gaps: *1$" "$work/out"
check "text: errors" grep -q "^errors: *2$" "$work/out"
check "text: newest error first" bash -c "grep -A1 '^errors:' '$work/out' | tail -n 1 | grep -q DB_BUSY"
check "text: no ESC reaches the console" bash -c "! grep -q $'\x1b' '$work/out'"

check "json" status_is 0 "$bin" status --db "$db" --json
if command -v python3 >/dev/null; then
    check "json: parses, with the counts" python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
assert s["schema_version"] == 4 and s["detections_total"] == 2 and s["detections_24h"] == 1, s
assert s["gaps_total"] == 1 and s["errors_total"] == 2 and len(s["errors_last"]) == 2, s
assert s["bookmarks"][0]["channel"] == "Microsoft-Windows-Bits-Client/Operational"
assert 80 <= s["bookmarks"][0]["age_seconds"] < 200, s["bookmarks"]
assert s["gaps_last"][0]["reason"] == "bookmark rejected \x1b[2J"
assert s["size_bytes"] > 0
h = s["service"]
assert (h["pid"], h["rss_bytes"], h["peak_rss_bytes"], h["handles"]) == (4321, 28812345, 36000000, 143), h
assert 20 <= h["age_seconds"] < 200, h
' "$work/out"
fi

# An empty file is not a database status can read (it never creates the schema); a fresh one from
# scan --db with no events has no bookmark yet.
: >"$work/empty.db"
check "empty file refused" status_is 3 "$bin" status --db "$work/empty.db"
check "empty file: said so" grep -q "an empty database" "$work/err"
"$bin" scan --db "$work/empty.db" - </dev/null 2>/dev/null
check "empty database" status_is 0 "$bin" status --db "$work/empty.db"
check "empty: no bookmark yet" grep -q "(none yet)" "$work/out"
check "empty: no newest event" grep -q "^newest event: *(none)" "$work/out"
check "empty: no health sample" grep -q "^service: *(no health sample yet)" "$work/out"
check "empty: json service null" status_is 0 "$bin" status --db "$work/empty.db" --json
check "empty: json has service null" grep -q '"service":null' "$work/out"
exit $fail
