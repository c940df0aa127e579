#!/usr/bin/env bash
# End to end under Wine: the Bits-Client channel disabled while `bitsguard.exe run` is subscribed to it.
#
# Usage: test_e2e_tamper.sh BITSGUARD_EXE WEVTAPI_DLL
# Windows keeps a subscription to a disabled channel alive and silent (the double answers that way:
# feed\channel-disabled), so nothing but the channel's configuration tells. Checks that the reader finds it at
# its safety-net wake (at most 60 s), alerts it once as tampering (event 1005, Error; the alert line of `run`),
# stores the channel-disabled finding, records a gap when the channel is enabled again and resumes after its
# bookmark with nothing read twice; what was written while it was disabled is never logged.
# Exit 0 pass, 1 fail, 77 skip (no Wine).
set -u
exe=${1:?usage: test_e2e_tamper.sh BITSGUARD_EXE WEVTAPI_DLL}
dll=${2:?usage: test_e2e_tamper.sh BITSGUARD_EXE WEVTAPI_DLL}
top=$(cd "$(dirname "$0")/../.." && pwd)

# shellcheck source=tests/wevtapi/harness.sh
. "$(dirname "$0")/harness.sh"
wine_find

export WINEDEBUG=-all,+eventlog
prefix_env "${BG_E2E_TAMPER_WINEPREFIX:-$top/.cache/wine-prefix-e2e-tamper}"

pid=""
run_start() { # $1: log name
    (cd "$work" && exec "$wine" ./bitsguard.exe run --db "$db" >"$work/$1.out" 2>"$work/$1.err" 8>&-) &
    pid=$!
}
alerts() { grep -o '^detection: .* record=[0-9]*' "$work/$1.out" 2>/dev/null | sed 's/.*record=//'; }
wait_line() { # $1 log, $2 ERE, $3 seconds
    local deadline=$((SECONDS + $3))
    # The console writes CR LF: a line's end is matched without its CR.
    until tr -d '\r' <"$work/$1.out" 2>/dev/null | grep -Eq "$2"; do
        if [ $SECONDS -ge $deadline ] || ! kill -0 "$pid" 2>/dev/null; then
            fail "$1: no line matching $2 within $3 s"
            tail -5 "$work/$1.err"
            return 1
        fi
        sleep 0.2
    done
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
    grep -q 'stopped (OK)' "$work/$log.err" || fail "$log: no clean stop"
}

e2e_tamper() {
    work_make e2e-tamper
    trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; [ "$failures" -eq 0 ] && rm -rf "$work"' EXIT
    prefix_boot || exit 1
    : >"$work/feed/trace.txt"
    feed_jobs 001 1 2 100
    run_start run1
    wait_line run1 '^detection: .* record=103$' 60 && echo "ok   subscribed, two detections"
    # Disabled while subscribed: the subscription stays alive and silent; events written meanwhile are lost.
    touch "$work/feed/channel-disabled"
    t0=$SECONDS
    feed_jobs 002 11 1 200
    wait_line run1 '^finding: alert=channel-disabled .*channel=Microsoft-Windows-Bits-Client/Operational' 75 &&
        echo "ok   found disabled while subscribed after $((SECONDS - t0)) s (safety-net wake)"
    grep -q 'err:eventlog:ReportEventW L"channel-disabled"' "$work/run1.err" || fail "no Event Log error for the tamper alert"
    grep -q '^dropped 2 events (channel disabled)' "$work/feed/trace.txt" || fail "the double logged events while disabled"
    # Enabled again: a gap for the disabled time, then the events written after that, read once.
    rm -f "$work/feed/channel-disabled"
    feed_jobs 003 21 1 300
    wait_line run1 '^detection: .* record=301$' 120 && echo "ok   read again once enabled"
    grep -q '^possible gap: .*reason=channel disabled: from .* until ' "$work/run1.out" || fail "no gap for the disabled time"
    [ "$(grep -c '^finding: alert=channel-disabled' "$work/run1.out")" -eq 1 ] || fail "more than one tamper alert in one streak"
    grep -q '^error:' "$work/run1.out" && fail "the disabled channel was reported as an error too"
    run_stop run1
    got=$(alerts run1 | sort -n | tr '\n' ' ')
    [ "$got" = "101 103 301 " ] || fail "detections alerted: [$got], want [101 103 301 ]"
    dups=$(grep '^event ' "$work/feed/trace.txt" | sort | uniq -d | wc -l)
    [ "$dups" -eq 0 ] || fail "$dups events handed out twice"
    w "$work/bitsguard.exe" query --db "$db" --findings --format json >"$work/findings.json" 2>&1
    grep -q '"alert":"channel-disabled".*"channel":"Microsoft-Windows-Bits-Client/Operational"' "$work/findings.json" ||
        fail "the channel-disabled finding is not stored: $(head -c 300 "$work/findings.json")"
    w "$work/bitsguard.exe" status --db "$db" >"$work/status.txt" 2>&1
    grep -q '1 channel-disabled' "$work/status.txt" || fail "status does not count the finding"
    [ "$failures" -eq 0 ] || { echo "$failures failure(s); work folder kept: $work"; exit 1; }
    echo "all tamper checks passed"
    exit 0
}
harness_main e2e_tamper
