#!/usr/bin/env bash
# End to end under Wine with the double answering as Windows does where mature readers lost events: `bitsguard run`.
#
# Usage: test_e2e_windows.sh BITSGUARD_EXE WEVTAPI_DLL
# Each scenario runs the production bitsguard.exe `run` on a database of its own, with the wevtapi.dll double
# beside it (tests/wevtapi/README.md, "Fault injection"):
#   nothing-now   EvtNext answers 4317 with zero handles on an idle pull subscription: no resubscribe, no
#                 error, and with Backfill=0 no live event lost (finding 2 of the Windows review);
#   stale         a strict subscribe after the bookmark fails with 15011, then 15012: possible gap recorded and
#                 alerted, everything read again from the oldest record, nothing alerted twice (finding 3);
#   restart       the Event Log service restarts and nobody signals the dead subscription: the reader notices
#                 by itself within its safety-net wait (<= 60 s) and resubscribes after the bookmark (finding 4);
#   batch-bytes   EvtNext fails with 1734 for batches over N bytes: the reader halves its batch and goes on,
#                 nothing lost or read twice (finding 5);
#   cleared       the log is cleared and refilled while the reader is stopped, so the stored bookmark's record
#                 id exists again: the log's creation time kept with the bookmark tells, a gap is recorded
#                 with reason "log cleared" and everything is read from the oldest record (finding 14);
#   access-denied EvtNext fails with ERROR_ACCESS_DENIED: the report names the Win32 code, its text and what
#                 to do (finding 11);
#   network-drive DatabasePath on a mapped network drive is refused and the default kept (finding 8).
# BG_E2E_WIN_ONLY=name runs one scenario. Exit 0 pass, 1 fail, 77 skip (no Wine).
set -u
exe=${1:?usage: test_e2e_windows.sh BITSGUARD_EXE WEVTAPI_DLL}
dll=${2:?usage: test_e2e_windows.sh BITSGUARD_EXE WEVTAPI_DLL}
top=$(cd "$(dirname "$0")/../.." && pwd)

# shellcheck source=tests/wevtapi/harness.sh
. "$(dirname "$0")/harness.sh"
wine_find

# A prefix of its own, fresh for each attempt of the Wine harness: the nothing-now scenario sets Backfill in
# the prefix's registry, which must not reach test_e2e_run.sh's runs. BG_E2E_WIN_WINEPREFIX overrides it.
export WINEDEBUG=-all,+eventlog
prefix_env "${BG_E2E_WIN_WINEPREFIX:-$top/.cache/wine-prefix-e2e-win}"
pid=""

want_scenario() { [ -z "${BG_E2E_WIN_ONLY:-}" ] || [ "$BG_E2E_WIN_ONLY" = "$1" ]; }

run_start() { # $1: log name (the database is $db)
    (cd "$work" && exec "$wine" ./bitsguard.exe run --db "$db" >"$work/$1.out" 2>"$work/$1.err" 8>&-) &
    pid=$!
}
alerts() { grep -o '^detection: .* record=[0-9]*' "$work/$1.out" 2>/dev/null | sed 's/.*record=//'; }
wait_alerts() { # $1 log, $2 count, $3 seconds
    local deadline=$((SECONDS + ${3:-60}))
    while [ "$(alerts "$1" | wc -l)" -lt "$2" ]; do
        if [ $SECONDS -ge $deadline ] || ! kill -0 "$pid" 2>/dev/null; then
            fail "$1: $(alerts "$1" | wc -l) alerts after ${3:-60} s, expected $2"
            return 1
        fi
        sleep 0.2
    done
}
run_stop() { # Ctrl+C (Wine turns SIGINT into CTRL_C_EVENT)
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
    grep -q 'stopped (OK)' "$work/$log.err" || fail "$log: no clean stop: $(tail -2 "$work/$log.err")"
}
stat_of() { grep -o "stopped (OK):.*" "$work/$1.err" | grep -o "$2 [0-9]*" | sed 's/.* //'; } # log, field
check_stat() {                                                                                  # log, field, expected
    local got
    got=$(stat_of "$1" "$2")
    [ "$got" = "$3" ] || fail "$1: $2 ${got:-?}, expected $3 ($(grep -o 'stopped (OK):.*' "$work/$1.err"))"
}
# Detections alerted more than once over the given logs.
alerted_twice() { for l in "$@"; do alerts "$l"; done | sort | uniq -d; }
trace_count() { grep -c -- "$1" "$work/feed/trace.txt"; }
feed_clear() { rm -f "$work/feed/"*.xml "$work/feed/trace.txt" "$work/feed/log-created.txt" "$work/feed/"*.txt; }
wait_file_gone() { # path, seconds
    local deadline=$((SECONDS + $2))
    while [ -e "$1" ]; do
        [ $SECONDS -lt $deadline ] || return 1
        sleep 0.1
    done
}

# One attempt on a fresh prefix (harness_main runs it again when Wine crashes under it).
e2e_windows() {
    work_make e2ewin
    cleanup() {
        [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
        if [ "$failures" -eq 0 ]; then rm -rf "$work"; else echo "work folder kept: $work"; fi
    }
    trap cleanup EXIT
    prefix_boot || exit 1
    # nothing-now: with Backfill=0 only live events are read; an idle subscription answers 4317 at every EvtNext.
    if want_scenario nothing-now; then
        feed_clear
        db="$wdir\\nothing.db"
        : >"$work/feed/trace.txt"
        w reg add 'HKLM\SOFTWARE\bitsguard' /v Backfill /t REG_DWORD /d 0 /f >/dev/null 2>&1 || fail "nothing-now: reg add"
        feed_jobs 001 1 2 100 # Before the start: not read with Backfill=0.
        run_start nn
        for _ in $(seq 300); do grep -q '^subscribe origin 1' "$work/feed/trace.txt" && break; sleep 0.1; done
        grep -q '^subscribe origin 1' "$work/feed/trace.txt" || fail "nothing-now: no future-events subscription"
        sleep 3 # Idle: every EvtNext meanwhile answers 4317 with zero handles.
        for k in 1 2 3 4 5; do
            feed_jobs "00$((k + 1))" $((100 + k)) 1 $((200 + 10 * k))
            sleep 1.5
        done
        wait_alerts nn 5 30 && echo "ok   nothing-now: 5 live events alerted"
        run_stop nn
        check_stat nn events 10
        check_stat nn resubscribes 0
        [ "$(trace_count '^subscribe ')" = 1 ] || fail "nothing-now: $(trace_count '^subscribe ') subscribes, expected 1"
        grep -q '^error:' "$work/nn.out" && fail "nothing-now: errors reported: $(grep '^error:' "$work/nn.out" | head -2)"
        w reg delete 'HKLM\SOFTWARE\bitsguard' /f >/dev/null 2>&1
        [ "$failures" -eq 0 ] && echo "ok   nothing-now: one subscription, no error, nothing lost"
    fi

    # stale: the stored bookmark is answered with 15011, then (next start) 15012.
    if want_scenario stale; then
        feed_clear
        db="$wdir\\stale.db"
        : >"$work/feed/trace.txt"
        feed_jobs 001 1 5 100
        run_start st1
        wait_alerts st1 5
        run_stop st1
        n=1
        for code in 15011 15012; do
            n=$((n + 1))
            feed_jobs "00$n" $((10 * n)) 1 $((200 + 10 * n)) # One new job per start.
            echo "$code" >"$work/feed/bookmark-error.txt"
            run_start "st$n"
            wait_alerts "st$n" 1 60
            for _ in $(seq 100); do grep -q '^possible gap:' "$work/st$n.out" && break; sleep 0.1; done
            run_stop "st$n"
            grep -q "^fault bookmark-error $code" "$work/feed/trace.txt" || fail "stale: the double did not answer $code"
            grep -q '^possible gap:' "$work/st$n.out" || fail "stale $code: no possible-gap alert"
            # Everything is read again from the oldest record: 5 + 1 jobs, then 5 + 2 (2 events each).
            check_stat "st$n" events $((2 * (4 + n)))
            check_stat "st$n" gaps 1
        done
        [ -z "$(alerted_twice st1 st2 st3)" ] || fail "stale: alerted twice: $(alerted_twice st1 st2 st3 | tr '\n' ' ')"
        [ "$(alerts st3 | wc -l)" = 1 ] || fail "stale: the last start alerted $(alerts st3 | wc -l), expected 1"
        [ "$failures" -eq 0 ] && echo "ok   stale: 15011 and 15012 record a gap and read again from the oldest record"
    fi

    # restart: the Event Log service restarts while the reader waits; nothing signals the dead subscription.
    if want_scenario restart; then
        feed_clear
        db="$wdir\\restart.db"
        : >"$work/feed/trace.txt"
        # Idle EvtNext answers ERROR_NO_MORE_ITEMS here, so that the 4317 handling (nothing-now) plays no part:
        # only the safety net can notice the restart.
        echo 259 >"$work/feed/idle-next.txt"
        feed_jobs 001 1 3 100
        run_start rs
        wait_alerts rs 3
        sleep 2
        [ "$(trace_count '^subscribe ')" = 1 ] || fail "restart: $(trace_count '^subscribe ') subscribes before the restart"
        touch "$work/feed/eventlog-restart"
        wait_file_gone "$work/feed/eventlog-restart" 10 || fail "restart: eventlog-restart was not applied"
        t0=$SECONDS
        feed_jobs 002 11 3 200
        # The safety-net wait is at most 60 s; allow for a loaded machine.
        wait_alerts rs 6 100 && echo "ok   restart: noticed after $((SECONDS - t0)) s, events after it read"
        run_stop rs
        check_stat rs events 12
        grep -q '^fault eventlog-restart 1722' "$work/feed/trace.txt" || fail "restart: the double did not restart"
        [ "$(trace_count '^subscribe origin 3')" = 1 ] || fail "restart: $(trace_count '^subscribe origin 3') resubscribes after the bookmark, expected 1"
        echo "     restart: safety-net wakeups $(stat_of rs 'safety-net wakeups')"
        grep -q '^error: SOURCE_RETRY: .*Windows error .*(1722)' "$work/rs.out" ||
            fail "restart: the report does not name error 1722: $(grep '^error:' "$work/rs.out" | head -1)"
        [ -z "$(grep '^event ' "$work/feed/trace.txt" | sort | uniq -d)" ] || fail "restart: events handed out twice"
    fi

    # batch-bytes: batches over 6,000 bytes of UTF-16 XML fail with 1734 (4 events of ~1,400 bytes fit).
    if want_scenario batch-bytes; then
        feed_clear
        db="$wdir\\batch.db"
        : >"$work/feed/trace.txt"
        echo 6000 >"$work/feed/max-batch-bytes.txt"
        feed_jobs 001 1 20 100
        run_start bb
        wait_alerts bb 20 60 && echo "ok   batch-bytes: all 20 detections despite 1734"
        run_stop bb
        check_stat bb events 40
        faults=$(trace_count '^fault max-batch-bytes 1734')
        [ "$faults" -ge 1 ] || fail "batch-bytes: the double never answered 1734"
        # Halved from 64 at each 1734 and kept for the subscription: at most six failed calls (64 -> 1).
        [ "$faults" -le 6 ] || fail "batch-bytes: $faults answers 1734: the batch was not halved"
        [ -z "$(grep '^event ' "$work/feed/trace.txt" | sort | uniq -d)" ] || fail "batch-bytes: events handed out twice"
        echo "     batch-bytes: $faults failed EvtNext calls before the batch fitted"
    fi

    # cleared: the log is cleared and refilled while stopped; the bookmarked record id exists again.
    if want_scenario cleared; then
        feed_clear
        db="$wdir\\cleared.db"
        : >"$work/feed/trace.txt"
        feed_jobs 001 1 5 101 # Records 101..110.
        run_start cl1
        wait_alerts cl1 5
        run_stop cl1
        rm -f "$work/feed/"*.xml
        echo 134200000000000000 >"$work/feed/log-created.txt"
        feed_jobs 001 501 8 101 # New jobs, records 101..116: the bookmark's 110 exists again.
        run_start cl2
        wait_alerts cl2 8 60
        for _ in $(seq 100); do grep -q '^possible gap:' "$work/cl2.out" && break; sleep 0.1; done
        run_stop cl2
        grep -q '^possible gap:.*log cleared' "$work/cl2.out" || fail "cleared: no possible-gap alert with reason 'log cleared'"
        check_stat cl2 events 16
        check_stat cl2 gaps 1
        [ "$failures" -eq 0 ] && echo "ok   cleared: gap 'log cleared' recorded, the new log read from its oldest record"
    fi

    # access-denied: the error an operator sees carries the Win32 code, its text and a hint.
    if want_scenario access-denied; then
        feed_clear
        db="$wdir\\denied.db"
        feed_jobs 001 1 1 100
        run_start ad
        wait_alerts ad 1
        echo 5 >"$work/feed/fault-next.txt"
        for _ in $(seq 100); do grep -q '^error:' "$work/ad.out" && break; sleep 0.1; done
        run_stop ad
        grep -q "^error: .*Windows error .*(5); the service account may not read the channel: run 'bitsguard setup'" "$work/ad.out" &&
            echo "ok   access-denied: code, text and hint reported" ||
            fail "access-denied: no actionable report: $(grep '^error:' "$work/ad.out" | head -2)"
    fi

    # network-drive: a DatabasePath on a mapped network drive (Wine: HKLM\Software\Wine\Drives y: = network) is
    # refused with the reason and the default kept; nothing is written on the share.
    if want_scenario network-drive; then
        mkdir -p "$work/netdrive"
        ln -sfn "$work/netdrive" "$WINEPREFIX/dosdevices/y:"
        w reg add 'HKLM\Software\Wine\Drives' /v y: /t REG_SZ /d network /f >/dev/null 2>&1 || fail "network-drive: reg add"
        w reg add 'HKLM\SOFTWARE\bitsguard' /v DatabasePath /t REG_SZ /d 'y:\bg.db' /f >/dev/null 2>&1 ||
            fail "network-drive: reg add DatabasePath"
        # Wine's mount manager reads the drive types when the prefix boots.
        prefix_boot || exit 1
        (cd "$work" && exec "$wine" ./bitsguard.exe run >"$work/nd.out" 2>"$work/nd.err" 8>&-) &
        pid=$!
        for _ in $(seq 150); do grep -q 'DatabasePath' "$work/nd.err" && break; sleep 0.1; done
        kill -INT "$pid" 2>/dev/null
        sleep 2
        kill -9 "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        pid=""
        grep -q 'ignored invalid configuration value DatabasePath = "y:\\bg.db": a network drive on the network: the service account (LocalService) is anonymous' "$work/nd.err" &&
            echo "ok   network-drive: DatabasePath on a network drive refused with its reason" ||
            fail "network-drive: not refused: $(grep -i 'database\|reading' "$work/nd.err" | head -2)"
        [ -z "$(ls -A "$work/netdrive")" ] || fail "network-drive: files written on the share: $(ls "$work/netdrive")"
        w reg delete 'HKLM\Software\Wine\Drives' /v y: /f >/dev/null 2>&1
        w reg delete 'HKLM\SOFTWARE\bitsguard' /f >/dev/null 2>&1
        rm -f "$WINEPREFIX/dosdevices/y:"
    fi

    [ "$failures" -eq 0 ] || { echo "$failures failure(s)"; exit 1; }
    echo "all Windows-fidelity checks passed"
    exit 0
}
harness_main e2e_windows
