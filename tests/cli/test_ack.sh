#!/usr/bin/env bash
# bitsguard ack: usage errors, acknowledging by id and --all --up-to, the audit rows, and what status then counts.
. "$(dirname "$0")/../lib/cli.sh"
command -v sqlite3 >/dev/null || { echo "sqlite3 shell not installed (scripts/setup.sh installs it)"; exit 77; }

db=$work/ack.db
# Two detections (ids 1 and 2) from the sample export, one allow-listed third from another job.
expect_exit 1 "$bin" scan --db "$db" "$fixtures/exports/mixed-detections.xml"
sqlite3 "$db" "INSERT INTO detections(event_id, record_id, time, computer, job_id, url, ip, verdict, kind, allowed,
 last_seen) VALUES(59, 9, '2024-04-04T00:00:00.0000000Z', 'PC9', 'j9', 'http://203.0.113.9/a', '203.0.113.9',
 'public-ip', 'http', 1, '2024-04-04T00:00:00.0000000Z')"
expect "three detections, the third allow-listed" \
    test "$(sqlite3 "$db" "SELECT group_concat(id || ':' || allowed) FROM detections")" = "1:0,2:0,3:1"

expect_exit 0 "$bin" ack --help
expect_stdout '^usage: bitsguard ack '
expect_stdout 'acknowledgements table'
expect_exit 0 "$bin" --help
expect_stdout '^  ack +acknowledge detections'
expect_exit 2 "$bin" ack --db "$db"
expect_stderr 'which detections\?'
expect_exit 2 "$bin" ack --db "$db" --all
expect_stderr '--all and --up-to ID go together'
expect_exit 2 "$bin" ack --db "$db" --up-to 2
expect_exit 2 "$bin" ack --db "$db" --all --up-to 2 1
expect_stderr 'not both'
expect_exit 2 "$bin" ack --db "$db" --all --up-to x
expect_stderr '--up-to wants a detection id'
for bad in 0 -1 1x 99999999999999999999 ''; do
    expect_exit 2 "$bin" ack --db "$db" -- "$bad"
done
expect_exit 2 "$bin" ack --db "$db" --note "$(head -c 1001 /dev/zero | tr '\0' n)" 1
expect "no acknowledgement written by a usage error" test "$(sqlite3 "$db" "SELECT count(*) FROM acknowledgements")" = 0

# A path with no database: an error, and no file is created there.
expect_exit 3 "$bin" ack --db "$work/none.db" 1
expect_stderr 'no database at this path'
expect "no database created" test ! -e "$work/none.db"

# An unknown id among known ones: nothing at all is acknowledged.
expect_exit 3 "$bin" ack --db "$db" 1 42
expect_stderr 'no detection has id 42; nothing acknowledged'
expect "unknown id: nothing acknowledged" test "$(sqlite3 "$db" "SELECT count(*) FROM detections WHERE ack_id IS NOT NULL")" = 0

expect_exit 0 "$bin" status --db "$db" --json
expect "status: 2 unacknowledged before" grep -q '"detections_unacknowledged":2,' "$out"

expect_exit 0 "$bin" ack --db "$db" --note 'seen in triage' 1
expect_stdout '^acknowledged 1 detection \(acknowledgement 1, by .+\)$'
expect_exit 0 "$bin" status --db "$db" --json
expect "status: 1 unacknowledged after ack 1" grep -qF '"detections_unacknowledged":1,"unacknowledged_last":[{"id":2,' "$out"
expect_exit 0 "$bin" status --db "$db"
expect_stdout '^unacknowledged: +1$'

# Again with 1: left as it was (its first acknowledgement kept), nothing new written.
expect_exit 0 "$bin" ack --db "$db" 1
expect_stdout '^nothing to acknowledge$'
expect_stdout '^1 already acknowledged before, left as it was$'
expect "one audit row so far" test "$(sqlite3 "$db" "SELECT count(*) FROM acknowledgements")" = 1

# --all up to 1 acknowledges nothing new; up to 3 takes 2 and leaves the allow-listed 3 alone.
expect_exit 0 "$bin" ack --db "$db" --all --up-to 1
expect_stdout '^nothing to acknowledge$'
expect_exit 0 "$bin" ack --db "$db" --all --up-to 3
expect_stdout '^acknowledged 1 detection \(acknowledgement 2, by .+\)$'
expect "audit: who, when, how, range, count, note" test "$(sqlite3 "$db" \
    "SELECT group_concat(id || '|' || how || '|' || first_id || '|' || last_id || '|' || count || '|' ||
     coalesce(note, '-') || '|' || (who IS NOT NULL AND who != '') || '|' || (time GLOB '2[0-9][0-9][0-9]-*Z'), ';')
     FROM acknowledgements")" = "1|id|1|1|1|seen in triage|1|1;2|all|2|3|1|-|1|1"
if [ "${BG_TEST_PLATFORM:-native}" != wine ]; then
    expect "audit: who is this user" test "$(sqlite3 "$db" "SELECT DISTINCT who FROM acknowledgements")" = "$(id -un)"
fi
expect "view: acknowledged by whom" test "$(sqlite3 "$db" \
    "SELECT group_concat(id || ':' || acknowledged || ':' || (acknowledged_by IS NOT NULL)) FROM detections_v1")" = \
    "1:1:1,2:1:1,3:0:0"
expect_exit 0 "$bin" status --db "$db" --json
expect "status: none unacknowledged" grep -qF '"detections_unacknowledged":0,"unacknowledged_last":[]' "$out"
# query still lists acknowledged detections: acknowledging hides nothing.
expect_exit 0 "$bin" query --db "$db" --format csv
expect "query still lists both" test "$(grep -c 45.33.32.156 "$out")" = 2

test_done
