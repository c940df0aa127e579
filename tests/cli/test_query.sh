#!/usr/bin/env bash
# bitsguard query: options, exit codes, filters and safe output, on a database built with the sqlite3 shell.
. "$(dirname "$0")/../lib/cli.sh"
command -v sqlite3 >/dev/null || { echo "sqlite3 shell not installed (scripts/setup.sh installs it)"; exit 77; }

# A version-1 database as an older bitsguard wrote it; query refuses it unchanged, scan --db upgrades it.
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
INSERT INTO detections(event_id, record_id, time, computer, job_id, job_title, url, ip, verdict, kind,
 events_seen, first_seen, last_seen, last_record_id, state, allowed) VALUES
 (59, 1, '2023-11-06T01:45:21.0240780Z', 'PC1', '0b2ee6b3-1d6e-4e3c-8b4b-2f7a4c1d9e10', 'Updater',
  'http://203.0.113.5/a.exe', '203.0.113.5', 'public-ip', 'http', 16, '2023-11-06T01:45:21.0240780Z',
  '2023-11-06T01:45:21.0240780Z', 1, 1, 0),
 (59, 2, '2023-11-07T08:00:00.0000000Z', 'PC2', '1b2ee6b3-1d6e-4e3c-8b4b-2f7a4c1d9e10',
  '=cmd|calc ${esc}[31m ${esc}]0;x', 'http://198.51.100.7/' || hex(zeroblob(200)), '198.51.100.7', 'public-ip', 'http',
  48, '2023-11-07T08:00:00.0000000Z', '2023-11-07T08:00:00.0000000Z', 2, 0, 0),
 (59, 3, '2023-11-08T09:00:00.0000000Z', 'PC1', '2b2ee6b3-1d6e-4e3c-8b4b-2f7a4c1d9e10', 'Allowed one',
  'https://[2001:db8::5]/b.cab', '2001:db8::5', 'public-ip', 'https', 16, '2023-11-08T09:00:00.0000000Z',
  '2023-11-08T09:00:00.0000000Z', 3, 0, 1);
PRAGMA user_version = 1;
SQL
v1_sum=$(sha256sum <"$db")
expect_exit 3 "$bin" query --db "$db"
expect "query says how to upgrade it" grep -q "older than this program.*bitsguard scan --db" "$err"
expect "query left the v1 file byte for byte" test "$(sha256sum <"$db")" = "$v1_sum"
# One event with no detection: an input that yields no event at all would be an error (exit 3).
printf '%s' '<Event><System><Provider Name="Microsoft-Windows-Bits-Client"/><EventID>3</EventID></System></Event>' >"$work/one.xml"
expect_exit_in "$work/one.xml" 0 "$bin" scan --db "$db" -

expect_exit 0 "$bin" query --help
expect "--help lists the options" grep -q -- "--since" "$out"
expect_exit 2 "$bin" query --db "$db" --bogus
expect "usage error says why" grep -q "unknown option" "$err"
expect_exit 2 "$bin" query --db "$db" --format xml
expect_exit 2 "$bin" query --db "$db" --since yesterday
expect_exit 2 "$bin" query --db "$db" --until 2023-13-01
expect_exit 2 "$bin" query --db "$db" --ip 203.0.113.0/33
expect_exit 2 "$bin" query --db "$db" --limit -1
expect_exit 2 "$bin" query --db "$db" --job not-a-guid
expect_exit 2 "$bin" query --db
expect_exit 3 "$bin" query --db "$work/none.db"
expect "the error names the path" grep -q "$work/none.db" "$err"
expect "no empty database created" test ! -e "$work/none.db"

# Without --db: the default location, which query reports missing without creating anything there.
# (On Windows it is %ProgramData%\bitsguard\bitsguard.db, which the service tests may have created.)
if [ "${BG_TEST_PLATFORM:-}" != wine ]; then
    expect_exit 3 env XDG_DATA_HOME="$work/xdg" "$bin" query
    expect "default path: named" grep -q "$work/xdg/bitsguard/bitsguard.db" "$err"
    expect "default path: nothing created" test ! -e "$work/xdg"
fi

expect_exit 0 "$bin" query --db "$db"
expect "table: header and 2 rows (allow-listed hidden)" test "$(wc -l <"$out")" -eq 3
expect "table: newest first" bash -c "sed -n 2p '$out' | grep -q '2023-11-07 08:00:00'"
expect "table: fits 100 columns" test "$(awk '{ if (length($0) > m) m = length($0) } END { print m }' "$out")" -le 99
expect "table: no ESC reaches the console" bash -c "! grep -q $'\x1b' '$out'"
expect "table: long URL elided" grep -q '\.\.\.$' "$out"
expect "scan migrated the v1 file" test "$(sqlite3 "$db" 'PRAGMA user_version')" -eq 9

# Invisible and wide characters on a copy: a computer "DC01" + zero width space must not pass for
# DC01, and 40 ideographs or a pile of combining marks must not break the 100-column layout.
cp "$db" "$work/wide.db"
sqlite3 "$work/wide.db" "INSERT INTO detections(event_id, record_id, time, computer, job_id, job_title, url, ip,
 verdict, kind, events_seen, first_seen, last_seen, last_record_id, state, allowed) VALUES
 (59, 9, '2023-11-09T00:00:00.0Z', 'DC01' || char(0x200B), '3b2ee6b3-1d6e-4e3c-8b4b-2f7a4c1d9e10',
  replace(hex(zeroblob(40)), '00', char(0x65E5)), 'http://203.0.113.9/' || replace(hex(zeroblob(30)), '00', char(0x5B57)),
  '203.0.113.9', 'public-ip', 'http', 16, '2023-11-09T00:00:00.0Z', '2023-11-09T00:00:00.0Z', 9, 0, 0),
 (59, 10, '2023-11-09T00:00:01.0Z', 'e' || replace(hex(zeroblob(100)), '00', char(0x301)), '4b2ee6b3-1d6e-4e3c-8b4b-2f7a4c1d9e10',
  'x', 'http://203.0.113.10/', '203.0.113.10', 'public-ip', 'http', 16, '2023-11-09T00:00:01.0Z',
  '2023-11-09T00:00:01.0Z', 10, 0, 0);"
expect_exit 0 "$bin" query --db "$work/wide.db"
expect "table: the zero width space shows as '?'" grep -q 'DC01? ' "$out"
expect "table: every line fits 100 display columns" python3 - "$out" <<'PY'
import sys, unicodedata
def cols(line):
    n = 0
    for ch in line:
        if unicodedata.category(ch) in ("Mn", "Me"):
            continue
        n += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return n
widths = [cols(l.rstrip("\n")) for l in open(sys.argv[1], encoding="utf-8")]
assert max(widths) <= 99, widths
PY

expect_exit 0 "$bin" query --db "$db" --all
expect "--all shows the allow-listed one, marked" bash -c "grep -q 'Allowed one' '$out' && grep -q '^A: allow-listed' '$out'"
expect_exit 0 "$bin" query --db "$db" --ip 203.0.113.0/24 --format json
expect "--ip selects one" test "$(wc -l <"$out")" -eq 1
expect "--ip selects the right one" grep -q '"ip":"203.0.113.5"' "$out"
expect_exit 0 "$bin" query --db "$db" --ip 2001:db8::/32 --all --format json
expect "--ip IPv6 selects one" test "$(wc -l <"$out")" -eq 1
expect_exit 0 "$bin" query --db "$db" --job '{1B2EE6B3-1D6E-4E3C-8B4B-2F7A4C1D9E10}' --format json
expect "--job selects one" test "$(wc -l <"$out")" -eq 1
expect_exit 0 "$bin" query --db "$db" --computer pc1 --all --format csv
expect "--computer selects two (+ header)" test "$(wc -l <"$out")" -eq 3
expect_exit 0 "$bin" query --db "$db" --since 2023-11-07 --format json
expect "--since selects one" test "$(wc -l <"$out")" -eq 1
expect_exit 0 "$bin" query --db "$db" --until 2023-11-06 --format json
expect "--until selects one" grep -q '"record_id":1,' "$out"
expect_exit 0 "$bin" query --db "$db" --since 24h --format json
expect "--since 24h output empty" test ! -s "$out"
expect_exit 0 "$bin" query --db "$db" --all --limit 1 --format json
expect "--limit 1 gives one" test "$(wc -l <"$out")" -eq 1
expect_exit 0 "$bin" query --db="$db" --format=json --limit=2

expect_exit 0 "$bin" query --db "$db" --all --format json
if command -v python3 >/dev/null; then
    expect "json: every line parses, with the scan field names" python3 -c '
import json, sys
need = {"event_id", "record_id", "time", "computer", "job_id", "job_title", "job_owner", "url", "ip", "verdict",
        "kind", "range", "local_name", "process_id", "process_path", "first_seen", "last_seen", "events_seen",
        "transfer_hr", "bytes_total", "bytes_transferred", "state", "allowed"}
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len(rows) == 3, rows
for r in rows:
    assert need <= set(r), need - set(r)
assert rows[1]["events_seen"] == [59, 60], rows[1]["events_seen"]
assert rows[0]["allowed"] is True and rows[2]["state"] == "completed"
assert rows[1]["job_title"].startswith("=cmd|calc \x1b[31m")
' "$out"
fi
expect_exit 0 "$bin" query --db "$db" --all --format csv
expect "csv: header" bash -c "head -n 1 '$out' | grep -q '^event_id,record_id,time,computer,job_id,job_title,'"
# (Under Wine the launcher reads output as a text-mode reader would, CR LF to LF; wine_line_ends
# checks the raw bytes there.)
if [ "${BG_TEST_PLATFORM:-}" != wine ]; then
    expect "csv: CRLF records" bash -c "head -n 1 '$out' | grep -q $'\r\$'"
fi
expect "csv: formula neutralized" grep -q "\"'=cmd|calc " "$out"

# The reading and the embedded IPv4 in every format; --ip on an IPv4 finds the NAT64 and 6to4
# addresses that carry it.
events=$fixtures/events
db3=$work/readings.db
for url in 'http://[64:ff9b::45.33.32.156]/a.exe' 'http://[2002:2d21:209c::1]/b.exe' 'http://a.example\@45.33.32.157/c.exe'; do
    n=$((${n:-0} + 1))
    sed -e "s|<Data Name=\"RemoteName\">[^<]*<|<Data Name=\"RemoteName\">${url//\\/\\\\}<|" \
        -e "s|9A25D168-24E6-4C66-AC78-5ED0E6007F1A|9A25D168-24E6-4C66-AC78-5ED0E6007F1$n|" \
        -e "s|<EventRecordID>[0-9]*<|<EventRecordID>$n<|" "$events/16403_v0.xml"
done >"$work/readings.xml"
expect_exit 1 "$bin" scan "$work/readings.xml"
expect "scan text: the reading of each detection" test "$(grep -c ' reading=whatwg$' "$out")" -eq 2
expect "scan text: the rfc3986 reading" grep -q 'a.example\\@45.33.32.157/c.exe .* reading=rfc3986$' "$out"
expect_exit 1 "$bin" scan --db "$db3" "$work/readings.xml"
expect_exit 0 "$bin" query --db "$db3" --ip 45.33.32.156 --format json
expect "--ip on the IPv4 finds the NAT64 and 6to4 rows" test "$(grep -c '"embedded_ipv4":"45.33.32.156"' "$out")" -eq 2
expect "--ip on the IPv4: nothing else" test "$(wc -l <"$out")" -eq 2
expect_exit 0 "$bin" query --db "$db3" --ip 45.33.32.157 --format json
expect "json: the rfc3986 reading" grep -q '"reading":"rfc3986","embedded_ipv4":null' "$out"
expect_exit 0 "$bin" query --db "$db3" --format csv
expect "csv: reading and embedded_ipv4 columns" bash -c "head -n 1 '$out' | grep -q ',allowed,reading,embedded_ipv4'"
expect "csv: values" grep -q ',0,whatwg,45.33.32.156' "$out"
expect_exit 0 "$bin" query --db "$db3"
expect "table: READING column" bash -c "head -n 1 '$out' | grep -q ' READING '"
expect "table: the reading shown" grep -q ' rfc3986 ' "$out"

# Not a database: the admin's query reports it and leaves the file alone (only the service moves it aside).
printf 'not a database at all, just text..........................................................................' >"$work/bad.db"
expect_exit 3 "$bin" query --db "$work/bad.db"
expect "the error names the path" grep -q "$work/bad.db" "$err"
expect "the file is left where it was" bash -c "test -f '$work/bad.db' && ! ls '$work' | grep -q corrupt"
test_done
