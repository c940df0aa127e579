#!/usr/bin/env bash
# End to end under Wine: the installed service against the double answering as Windows does (4317, restart, 1734, stale bookmark, cleared log).
#
# Usage: test_e2e_service_windows.sh BITSGUARD_EXE WEVTAPI_DLL
# The same findings as test_e2e_windows.sh (which drives `bitsguard run`), for the Windows service: installed
# with `bitsguard install --start demand`, DatabasePath in the registry, driven by `wine sc start/stop`:
#   nothing-now   an idle subscription whose EvtNext answers 4317 is not resubscribed;
#   restart       a silent Event Log restart is noticed by the safety-net wait (<= 60 s);
#   batch-bytes   EvtNext failing with 1734 halves the batch, nothing lost;
#   stale         15011 at a start: possible gap alerted, read again from the oldest record, nothing alerted twice;
#   cleared       the log cleared and refilled while stopped: gap "log cleared", the new log read from its start.
# Exit 0 pass, 1 fail, 77 skip (no Wine).
set -u
exe=${1:?usage: test_e2e_service_windows.sh BITSGUARD_EXE WEVTAPI_DLL}
dll=${2:?usage: test_e2e_service_windows.sh BITSGUARD_EXE WEVTAPI_DLL}
top=$(cd "$(dirname "$0")/../.." && pwd)

# shellcheck source=tests/wevtapi/harness.sh
. "$(dirname "$0")/harness.sh"
wine_find

# A prefix of its own, fresh for each attempt of the Wine harness (its wineserver is restarted). WINEDEBUG
# +eventlog: the alerts go to the boot log.
export WINEDEBUG=-all,+eventlog
prefix_env "${BG_E2E_SVCWIN_WINEPREFIX:-$top/.cache/wine-prefix-e2e-svcwin}"

wait_stored() { # count, seconds
    local deadline=$((SECONDS + $2))
    while [ "$(stored | wc -l)" -lt "$1" ]; do
        [ $SECONDS -lt $deadline ] || { fail "$(stored | wc -l) rows stored after $2 s, expected $1"; return 1; }
        sleep 0.5
    done
}
trace_count() { grep -c -- "$1" "$work/feed/trace.txt"; }
wait_gone() { # path, seconds
    local deadline=$((SECONDS + $2))
    while [ -e "$1" ]; do
        [ $SECONDS -lt $deadline ] || return 1
        sleep 0.1
    done
}
service_stop() {
    w sc stop bitsguard >"$work/stop.log" 2>&1
    wait_state 1 15
}
# Record ids (odd, in the range) among the alerts' insertion strings, as test_e2e_service.sh reads them.
alerted_records() {
    grep -o 'warn:eventlog:ReportEventW L"[0-9]*"' "$boot" | sed 's/.*L"//; s/"//' |
        awk -v lo="$1" -v hi="$2" '$1 >= lo && $1 <= hi && $1 % 2 == 1'
}

# One attempt on a fresh prefix (harness_main runs it again when Wine crashes under it).
e2e_service_windows() {
    work_make e2e-svcwin
    trap '[ "$failures" -eq 0 ] && rm -rf "$work"' EXIT
    prefix_boot || exit 1
    w "$work/bitsguard.exe" install --start demand >"$work/install.log" 2>&1 || { fail "install"; cat "$work/install.log"; }
    w reg add 'HKLM\SOFTWARE\bitsguard' /v DatabasePath /t REG_SZ /d "$db" /f >/dev/null 2>&1 || fail "reg add"
    : >"$work/feed/trace.txt"
    feed_jobs 001 1 3 100
    service_restart && echo "ok   installed and RUNNING" || exit 1
    wait_stored 3 60 && echo "ok   backfill"

    # nothing-now: idle for a while; every EvtNext answers 4317; one subscription, no error event.
    subs=$(trace_count '^subscribe ')
    sleep 8
    [ "$(trace_count '^subscribe ')" = "$subs" ] || fail "nothing-now: resubscribed while idle ($subs, then $(trace_count '^subscribe '))"
    grep -q 'err:eventlog:ReportEventW L"SOURCE_RETRY"' "$boot" && fail "nothing-now: an error event while idle"
    [ "$failures" -eq 0 ] && echo "ok   nothing-now: no resubscribe, no error while idle"

    # restart: the Event Log service restarts silently; the next job is read within the safety-net wait.
    touch "$work/feed/eventlog-restart"
    wait_gone "$work/feed/eventlog-restart" 10 || fail "restart: eventlog-restart was not applied"
    t0=$SECONDS
    feed_jobs 002 11 1 200
    wait_stored 4 100 && echo "ok   restart: noticed after $((SECONDS - t0)) s"

    # batch-bytes: batches over 6,000 bytes fail with 1734; the service halves its batch.
    echo 6000 >"$work/feed/max-batch-bytes.txt"
    feed_jobs 003 21 10 300
    wait_stored 14 60 && echo "ok   batch-bytes: $(trace_count '^fault max-batch-bytes') failed EvtNext calls, nothing lost"
    rm -f "$work/feed/max-batch-bytes.txt"

    # stale: at the next start the strict subscribe after the bookmark fails with 15011.
    service_stop
    feed_jobs 004 41 1 400
    echo 15011 >"$work/feed/bookmark-error.txt"
    service_start || exit 1
    wait_stored 15 60
    for _ in $(seq 100); do grep -q 'the event log rejected the stored bookmark' "$boot" && break; sleep 0.2; done
    grep -q '^fault bookmark-error 15011' "$work/feed/trace.txt" || fail "stale: the double did not answer 15011"
    grep -q 'the event log rejected the stored bookmark' "$boot" || fail "stale: no possible-gap alert"
    dups=$(alerted_records 100 499 | sort | uniq -d | wc -l)
    [ "$dups" -eq 0 ] || fail "stale: $dups records alerted twice after the replay"
    [ "$failures" -eq 0 ] && echo "ok   stale: gap alerted, read again from the oldest record, nothing alerted twice"

    # cleared: while stopped, the log is cleared and refilled with other jobs over the same record ids.
    service_stop
    rm -f "$work/feed/"*.xml
    echo 134200000000000000 >"$work/feed/log-created.txt"
    feed_jobs 001 501 160 101 # Records 101..420: the stored bookmark's record id (401) exists again.
    service_start || exit 1
    wait_stored 175 120
    for _ in $(seq 100); do grep -q 'log cleared' "$boot" && break; sleep 0.2; done
    grep -q 'log cleared' "$boot" || fail "cleared: no possible-gap alert with reason 'log cleared'"
    [ "$failures" -eq 0 ] && echo "ok   cleared: gap 'log cleared', the new log read from its oldest record"

    service_stop
    w "$work/bitsguard.exe" uninstall >"$work/uninstall.log" 2>&1 || fail "uninstall"
    echo "     $unplanned unplanned restarts, $(server_crashes) wineserver crashes"
    [ "$failures" -eq 0 ] || { echo "$failures failure(s); work folder kept: $work"; exit 1; }
    echo "all service Windows-fidelity checks passed"
    exit 0
}
harness_main e2e_service_windows
