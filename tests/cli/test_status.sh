#!/usr/bin/env bash
# bitsguard status: options, exit codes, text and JSON output, on a database built with the sqlite3 shell.
. "$(dirname "$0")/../lib/cli.sh"
command -v sqlite3 >/dev/null || { echo "sqlite3 shell not installed (scripts/setup.sh installs it)"; exit 77; }

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
expect_exit 3 "$bin" status --db "$db"
# One event with no detection: an input that yields no event at all would be an error (exit 3).
printf '%s' '<Event><System><Provider Name="Microsoft-Windows-Bits-Client"/><EventID>3</EventID></System></Event>' >"$work/one.xml"
expect_exit_in "$work/one.xml" 0 "$bin" scan --db "$db" -

expect_exit 0 "$bin" status --help
expect "--help mentions --json" grep -q -- "--json" "$out"
expect_exit 2 "$bin" status --db "$db" --verbose
expect_exit 2 "$bin" status --db
expect_exit 3 "$bin" status --db "$work/none.db"
expect "the error names the path" grep -q "$work/none.db" "$err"
expect "no empty database created" test ! -e "$work/none.db"

expect_exit 0 "$bin" status --db "$db"
expect "text: path" grep -q "^database: .*$work/bits.db ([0-9]* bytes)" "$out"
expect "text: schema version (migrated)" grep -q "^schema version: *9$" "$out"
expect "text: counts" grep -q "^detections: *2 total, 1 in the last 24 h, 1 allow-listed" "$out"
expect "text: bookmark age" grep -Eq "Microsoft-Windows-Bits-Client/Operational  updated .* \((8[0-9]|9[0-9]|1[0-9][0-9]) s ago\)" "$out"
expect "text: service health" grep -Eq "^service: *pid 4321, 28\.8 MB resident \(peak 36\.0 MB\), 143 handles, sampled (2[0-9]|[3-9][0-9]|1[0-9][0-9]) s ago$" "$out"
expect "text: gaps" grep -q "^gaps: *1$" "$out"
expect "text: errors" grep -q "^errors: *2$" "$out"
expect "text: unacknowledged (the allow-listed one aside)" grep -q "^unacknowledged: *1$" "$out"
expect "text: the unacknowledged detection" grep -q "^  #1  2023-11-06T01:45:21.0240780Z  PC1  203.0.113.5  http://203.0.113.5/a$" "$out"
expect "text: newest error first" bash -c "grep -A1 '^errors:' '$out' | tail -n 1 | grep -q DB_BUSY"
expect "text: no ESC reaches the console" bash -c "! grep -q $'\x1b' '$out'"

expect_exit 0 "$bin" status --db "$db" --json
if command -v python3 >/dev/null; then
    expect "json: parses, with the counts" python3 -c '
import json, sys
s = json.load(open(sys.argv[1]))
assert s["schema_version"] == 9 and s["detections_total"] == 2 and s["detections_24h"] == 1, s
assert s["gaps_total"] == 1 and s["errors_total"] == 2 and len(s["errors_last"]) == 2, s
assert s["bookmarks"][0]["channel"] == "Microsoft-Windows-Bits-Client/Operational"
assert 80 <= s["bookmarks"][0]["age_seconds"] < 200, s["bookmarks"]
assert s["gaps_last"][0]["reason"] == "bookmark rejected \x1b[2J"
assert s["size_bytes"] > 0
h = s["service"]
assert (h["pid"], h["rss_bytes"], h["peak_rss_bytes"], h["handles"]) == (4321, 28812345, 36000000, 143), h
assert 20 <= h["age_seconds"] < 200, h
# One of the two detections is allow-listed: one unacknowledged, the id a number `ack` takes.
assert s["detections_unacknowledged"] == 1, s
u = s["unacknowledged_last"]
assert len(u) == 1 and u[0]["id"] == 1 and u[0]["ip"] == "203.0.113.5" and u[0]["url"] == "http://203.0.113.5/a", u
' "$out"
fi

# An empty file is not a database status can read (it never creates the schema); a fresh one from
# scan --db with no events has no bookmark yet.
: >"$work/empty.db"
expect_exit 3 "$bin" status --db "$work/empty.db"
expect "empty file: said so" grep -q "an empty database" "$err"
"$bin" scan --db "$work/empty.db" - </dev/null 2>/dev/null
expect_exit 0 "$bin" status --db "$work/empty.db"
expect "empty: no bookmark yet" grep -q "(none yet)" "$out"
expect "empty: no newest event" grep -q "^newest event: *(none)" "$out"
expect "empty: no health sample" grep -q "^service: *(no health sample yet)" "$out"
expect_exit 0 "$bin" status --db "$work/empty.db" --json
expect "empty: json has service null" grep -q '"service":null' "$out"

# A crafted health row with negative figures (INT64_MIN printed as "-9223372036854.-7 MB" before):
# shown as unknown, never as a negative amount.
sqlite3 "$db" "UPDATE meta SET value = '-9223372036854775808' WHERE key IN ('service_rss_bytes', 'service_peak_rss_bytes')"
expect_exit 0 "$bin" status --db "$db"
expect "crafted health: memory unknown, no negative figure" \
    bash -c "grep -q '^service: .*unknown resident (peak unknown)' '$out' && ! grep '^service:' '$out' | grep -q -- '-[0-9]'"
expect_exit 0 "$bin" status --db "$db" --json
expect "crafted health: json says -1 (unknown)" grep -q '"rss_bytes":-1,"peak_rss_bytes":-1' "$out"
test_done
