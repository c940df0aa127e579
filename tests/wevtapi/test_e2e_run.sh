#!/usr/bin/env bash
# End to end under Wine: the production bitsguard.exe `run` with the wevtapi.dll test double beside it.
#
# Usage: test_e2e_run.sh BITSGUARD_EXE WEVTAPI_DLL
# Feeds BITS events through the double's feed folder and checks, through `bitsguard query --format json`,
# the run's alert lines and its Event Log calls (Wine's eventlog debug channel):
#   live events; Ctrl+C (SIGINT) stop and restart resume with nothing lost or repeated; a failed EvtNext
#   (fault-next 1722) and an Event Log outage mid-stream (resubscribe after the bookmark); hostile events
#   that must not stop the reader; SIGKILL mid-stream and restart (exactly-once rows, no alert twice); a
#   rejected bookmark (possible gap, read again from the oldest, no alert twice); a disabled channel.
# Exit 0 pass, 1 fail, 77 skip (no Wine).
set -u
exe=${1:?usage: test_e2e_run.sh BITSGUARD_EXE WEVTAPI_DLL}
dll=${2:?usage: test_e2e_run.sh BITSGUARD_EXE WEVTAPI_DLL}
top=$(cd "$(dirname "$0")/../.." && pwd)

# shellcheck source=tests/wevtapi/harness.sh
. "$(dirname "$0")/harness.sh"
wine_find

# A prefix of its own, fresh for each attempt: service tests restart their prefixes' wineservers, which must
# not touch this test's processes. BG_E2E_WINEPREFIX overrides it. +eventlog: Wine prints ReportEventW's
# insertion strings, the only trace of the Event Log alerts.
export WINEDEBUG=-all,+eventlog
prefix_env "${BG_E2E_WINEPREFIX:-$top/.cache/wine-prefix-e2e-run}"

pid=""
run_start() { # $1: log name
    (cd "$work" && exec "$wine" ./bitsguard.exe run --db "$db" >"$work/$1.out" 2>"$work/$1.err" 8>&-) &
    pid=$!
}

# Alert lines of a run: the record ids, one per line.
alerts() { grep -o '^detection: .* record=[0-9]*' "$work/$1.out" 2>/dev/null | sed 's/.*record=//'; }

wait_alerts() { # $1 log, $2 count, $3 seconds
    local deadline=$((SECONDS + ${3:-60}))
    while [ "$(alerts "$1" | wc -l)" -lt "$2" ]; do
        if [ $SECONDS -ge $deadline ] || ! kill -0 "$pid" 2>/dev/null; then
            fail "$1: $(alerts "$1" | wc -l) alerts, expected $2"
            tail -5 "$work/$1.err"
            return 1
        fi
        sleep 0.2
    done
}

# The run's count of events read from the source (its stop line): proves nothing was read twice.
check_events() { # $1 log, $2 expected
    local got
    got=$(grep -o 'stopped (OK): events [0-9]*' "$work/$1.err" | sed 's/.* //')
    [ "$got" = "$2" ] || fail "$1: read ${got:-?} events, expected $2"
}

run_stop() { # Ctrl+C: Wine turns SIGINT into CTRL_C_EVENT for the console handler.
    local log=$1 deadline=$((SECONDS + 30))
    kill -INT "$pid"
    while kill -0 "$pid" 2>/dev/null; do
        if [ $SECONDS -ge $deadline ]; then
            fail "$log: still running 30 s after Ctrl+C"
            kill -9 "$pid"
            break
        fi
        sleep 0.2
    done
    wait "$pid" 2>/dev/null
    pid=""
    grep -q 'stopped (OK)' "$work/$log.err" || fail "$log: no clean stop: $(grep 'bitsguard run' "$work/$log.err" | tail -1)"
}

check_alerts() { # $1 log, $2 expected ids: each alerted exactly once in that run
    local got want
    got=$(alerts "$1" | sort -n)
    want=$(sort -n <<<"$2")
    [ "$got" = "$want" ] || fail "$1: alerts differ: got [${got//$'\n'/ }] want [${want//$'\n'/ }]"
    # The same alerts went to the Event Log (verdict is one insertion string per detection).
    local logged
    logged=$(grep -c 'warn:eventlog:ReportEventW L"public-ip"' "$work/$1.err")
    [ "$logged" -eq "$(alerts "$1" | wc -l)" ] || fail "$1: $logged Event Log detections, $(alerts "$1" | wc -l) alert lines"
}

# One attempt on a fresh prefix (harness_main runs it again when Wine crashes under it).
e2e_run() {
    work_make e2e
    trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; [ "$failures" -eq 0 ] && rm -rf "$work"' EXIT
    prefix_boot || exit 1
    # 1. First run: existing events (backfill from the oldest record), then live ones.
    : >"$work/feed/trace.txt" # The double logs every subscribe and every event it hands out.
    feed_jobs 001 1 5 100
    want1=$(expect_records 5 100)
    run_start run1
    wait_alerts run1 5 && echo "ok   run1 backfill"
    feed_jobs 002 101 5 200
    want2=$(expect_records 5 200)
    wait_alerts run1 10 && echo "ok   run1 live"
    run_stop run1
    check_alerts run1 "$want1"$'\n'"$want2"
    check_events run1 20
    check_stored "run1" "$want1"$'\n'"$want2"

    # 2. Events that arrive while stopped; the restart resumes after the bookmark: only those are read.
    feed_jobs 003 201 5 300
    want3=$(expect_records 5 300)
    run_start run2
    wait_alerts run2 5 && echo "ok   run2 resume"
    # 3. fault-next mid-stream: EvtNext fails once with RPC_S_SERVER_UNAVAILABLE; the reader resubscribes.
    echo 1722 >"$work/feed/fault-next.txt"
    for _ in $(seq 50); do [ -e "$work/feed/fault-next.txt" ] || break; sleep 0.1; done
    [ -e "$work/feed/fault-next.txt" ] && fail "run2: fault-next.txt was not consumed"
    feed_jobs 004 301 5 400
    want4=$(expect_records 5 400)
    wait_alerts run2 10 && echo "ok   run2 fault-next"
    # 4. Event Log outage: the subscription dies, two resubscribes fail, the third works.
    echo 2 >"$work/feed/outage.txt"
    for _ in $(seq 150); do [ -e "$work/feed/outage.txt" ] || break; sleep 0.1; done
    [ -e "$work/feed/outage.txt" ] && fail "run2: outage.txt was not consumed by resubscribes"
    feed_jobs 005 401 5 500
    want5=$(expect_records 5 500)
    wait_alerts run2 15 && echo "ok   run2 outage"
    # 5. Hostile events, then a good one: the reader goes on.
    feed_hostile 006 600 1
    feed_jobs 007 501 1 700
    want7=$(expect_records 1 700)
    wait_alerts run2 16 && echo "ok   run2 hostile events"
    run_stop run2
    check_alerts run2 "$want3"$'\n'"$want4"$'\n'"$want5"$'\n'"$want7"
    # 003-005: 30 events, 006: 5 hostile ones, 007: 2. Resubscribes restarted after the bookmark: no re-reads.
    check_events run2 37
    grep -q 'resubscribes [1-9]' "$work/run2.err" || fail "run2: no resubscribe counted: $(grep stopped "$work/run2.err")"
    grep -q 'malformed [1-9]' "$work/run2.err" || fail "run2: hostile events not counted as malformed: $(grep stopped "$work/run2.err")"
    all="$want1"$'\n'"$want2"$'\n'"$want3"$'\n'"$want4"$'\n'"$want5"$'\n'"$want7"
    check_stored "run2" "$all"

    [ -z "$(handed_twice)" ] || fail "events handed out twice before the kill: $(handed_twice | head -5 | tr '\n' ' ')"
    # 6. SIGKILL mid-stream, restart: every detection stored exactly once, no alert raised twice.
    run_start run3
    sleep 1
    echo 5 >"$work/feed/slow-render.txt" # 5 ms per render: the kill lands mid-stream, not after the end.
    feed_jobs 008 1001 300 1000
    want8=$(expect_records 300 1000)
    for _ in $(seq 300); do [ "$(alerts run3 | wc -l)" -ge 20 ] && break; sleep 0.05; done
    kill -9 "$pid"
    wait "$pid" 2>/dev/null
    pid=""
    rm -f "$work/feed/slow-render.txt"
    echo "     run3 killed after $(alerts run3 | wc -l) of 300 alerts"
    run_start run4
    # Wait until everything is stored (alerts of run4 only cover what run3 had not committed).
    for _ in $(seq 600); do [ "$(stored | wc -l)" -ge $((26 + 300)) ] && break; sleep 0.2; done
    run_stop run4
    check_stored "run3+run4" "$all"$'\n'"$want8"
    dups=$( (alerts run3; alerts run4) | sort | uniq -d | wc -l)
    # At most one alert again per kill: the one written but not yet cleared from the outbox (engine.c).
    [ "$dups" -le 1 ] || fail "run3+run4: $dups records alerted twice (at most one per kill)"
    # Only the batch in flight at the kill (at most 64 events, uncommitted) may be handed out again.
    replayed=$(handed_twice | wc -l)
    [ "$replayed" -le 64 ] || fail "$replayed events handed out twice after the kill (more than one batch)"
    [ -z "$(handed_twice | awk '$1 < 1000')" ] || fail "events from before the kill were read again"
    echo "     $replayed events of the uncommitted batch were read again after the restart"
    [ "$failures" -eq 0 ] && echo "ok   run3 SIGKILL, run4 exactly-once"

    # 7. A rejected bookmark (the bookmarked record is gone): the reader records a possible gap, reads again
    # from the oldest record, and raises no alert for detections it already stored.
    touch "$work/feed/reject-bookmark"
    handed_before=$(grep -c '^event ' "$work/feed/trace.txt")
    run_start run5
    for _ in $(seq 300); do grep -q '^possible gap:' "$work/run5.out" 2>/dev/null && break; sleep 0.1; done
    grep -q '^possible gap:' "$work/run5.out" || fail "run5: no possible-gap alert"
    grep -q 'subscribe error 1168' "$work/feed/trace.txt" || fail "run5: the double did not reject the bookmark"
    for _ in $(seq 300); do [ "$(grep -c '^event ' "$work/feed/trace.txt")" -ge $((handed_before + 657)) ] && break; sleep 0.1; done
    sleep 0.5 # The last batch's commit.
    run_stop run5
    check_events run5 657 # Every event of the feed, read again from the oldest record.
    [ "$(alerts run5 | wc -l)" -eq 0 ] || fail "run5: $(alerts run5 | wc -l) detections alerted again after the gap"
    check_stored "run5" "$all"$'\n'"$want8"
    rm -f "$work/feed/reject-bookmark"
    [ "$failures" -eq 0 ] && echo "ok   run5 rejected bookmark: gap recorded, nothing alerted twice"

    # 8. A channel disabled at start is tampering: one alert (event 1005, not the error event 300), retried;
    # what is written while it is disabled is never logged; once enabled, a gap is recorded and events flow.
    touch "$work/feed/channel-disabled"
    run_start run6
    for _ in $(seq 300); do grep -q '^finding: alert=channel-disabled' "$work/run6.out" 2>/dev/null && break; sleep 0.1; done
    grep -q '^finding: alert=channel-disabled' "$work/run6.out" || fail "run6: the disabled channel raised no tamper alert"
    grep -q 'err:eventlog:ReportEventW L"channel-disabled"' "$work/run6.err" || fail "run6: no Event Log error for it"
    grep -q '^error:' "$work/run6.out" && fail "run6: the disabled channel was reported as an error too"
    dropped=$(grep -c '^dropped' "$work/feed/trace.txt")
    feed_jobs 009 2001 1 3000 # Written while disabled: never logged.
    for _ in $(seq 100); do [ "$(grep -c '^dropped' "$work/feed/trace.txt")" -gt "$dropped" ] && break; sleep 0.1; done
    [ "$(grep -c '^dropped' "$work/feed/trace.txt")" -gt "$dropped" ] || fail "run6: the double did not drop the file written while disabled"
    rm -f "$work/feed/channel-disabled"
    feed_jobs 010 2002 1 3100
    wait_alerts run6 1 120 && echo "ok   run6 disabled channel alerted as tampering, then read once enabled"
    grep -q '^possible gap: .*reason=channel disabled: from ' "$work/run6.out" || fail "run6: no gap for the disabled time"
    [ "$(grep -c '^finding: alert=channel-disabled' "$work/run6.out")" -eq 1 ] || fail "run6: more than one tamper alert"
    run_stop run6
    check_alerts run6 "$(expect_records 1 3100)"

    [ "$failures" -eq 0 ] || { echo "$failures failure(s); work folder kept: $work"; exit 1; }
    echo "all end-to-end checks passed"
    exit 0
}
harness_main e2e_run
