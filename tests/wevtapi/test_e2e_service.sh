#!/usr/bin/env bash
# End to end under Wine: bitsguard.exe installed and run as a Windows service, with the wevtapi.dll test
# double beside it, driven by `wine sc start/stop`.
#
# Usage: test_e2e_service.sh BITSGUARD_EXE WEVTAPI_DLL
# Checks database rows (`bitsguard query --format json`) and the Event Log alerts (ReportEventW lines that
# Wine prints on its eventlog channel to the output of the command that booted the prefix):
#   install; start; backfill and live events; stop within 5 s and restart resume with nothing lost or
#   repeated; an Event Log outage mid-stream; hostile events; SIGKILL of the service process mid-stream, restart,
#   exactly-once rows and no alert twice; uninstall.
# Exit 0 pass, 1 fail, 77 skip (no Wine).
set -u
exe=${1:?usage: test_e2e_service.sh BITSGUARD_EXE WEVTAPI_DLL}
dll=${2:?usage: test_e2e_service.sh BITSGUARD_EXE WEVTAPI_DLL}
top=$(cd "$(dirname "$0")/../.." && pwd)

# shellcheck source=tests/wevtapi/harness.sh
. "$(dirname "$0")/harness.sh"
wine_find

# A prefix of its own: this test restarts the prefix's wineserver (the service inherits the environment
# and output of the command that boots it), which must not disturb other tests. WINEDEBUG +eventlog: the
# alerts go to the boot log.
export WINEDEBUG=-all,+eventlog
prefix_env "${BG_E2E_SVC_WINEPREFIX:-$top/.cache/wine-prefix-e2e-svc}"

wait_stored() { # count, seconds
    local deadline=$((SECONDS + $2))
    while [ "$(stored | wc -l)" -lt "$1" ]; do
        [ $SECONDS -lt $deadline ] || { fail "$(stored | wc -l) rows stored, expected $1"; return 1; }
        sleep 0.3
    done
}
# Record ids of the detection alerts: the insertion strings that equal a 16403 record id (odd, in the
# range given); the generator keeps process ids and other numbers out of those ranges.
alerted_records() {
    grep -o 'warn:eventlog:ReportEventW L"[0-9]*"' "$boot" | sed 's/.*L"//; s/"//' |
        awk -v lo="$1" -v hi="$2" '$1 >= lo && $1 <= hi && $1 % 2 == 1'
}
# One attempt on a fresh prefix (harness_main runs it again when Wine crashes under it).
e2e_service() {
    work_make e2e-svc
    trap '[ "$failures" -eq 0 ] && rm -rf "$work"' EXIT
    # 1. Install (demand start), point the database into the work folder, start. The first boot gives the prefix
    # the environment the service inherits (+eventlog: the alerts go to boot.log).
    prefix_boot || exit 1
    w "$work/bitsguard.exe" install --start demand >"$work/install.log" 2>&1 || { fail "install"; cat "$work/install.log"; }
    w reg add 'HKLM\SOFTWARE\bitsguard' /v DatabasePath /t REG_SZ /d "$db" /f >/dev/null 2>&1 || fail "reg add"
    : >"$work/feed/trace.txt" # The double logs every subscribe and every event it hands out.
    feed_jobs 001 1 5 100
    want1=$(expect_records 5 100)
    # Started through a restart of the prefix, which saves the install and DatabasePath to disk first (see
    # service_restart): a wineserver crash at the start must not lose them.
    service_restart && echo "ok   installed and RUNNING" || exit 1
    wait_stored 5 60 && echo "ok   backfill"
    feed_jobs 002 101 5 200
    want2=$(expect_records 5 200)
    wait_stored 10 60 && echo "ok   live events"

    # 2. Stop within 5 s, events while stopped, restart: resume after the bookmark.
    t0=$SECONDS
    w sc stop bitsguard >"$work/stop1.log" 2>&1
    wait_state 1 10
    [ $((SECONDS - t0)) -le 5 ] || fail "stop took $((SECONDS - t0)) s"
    grep -q 'ReportEventW L"stopped"' "$boot" || fail "no 'stopped' state event"
    feed_jobs 003 201 5 300
    want3=$(expect_records 5 300)
    service_start || exit 1
    wait_stored 15 60 && echo "ok   stop and restart resume"

    # 3. Event Log outage: the subscription breaks, two resubscribes fail, the service recovers by itself.
    echo 2 >"$work/feed/outage.txt"
    for _ in $(seq 150); do [ -e "$work/feed/outage.txt" ] || break; sleep 0.1; done
    [ -e "$work/feed/outage.txt" ] && fail "outage.txt was not consumed by resubscribes"
    feed_jobs 004 301 5 400
    want4=$(expect_records 5 400)
    wait_stored 20 60 && echo "ok   outage and resubscribe"
    # Hostile events, then a good job: the service goes on.
    feed_hostile 0045 450 2
    feed_jobs 0046 451 1 460
    want46=$(expect_records 1 460)
    wait_stored 21 60 && [ "$(sc_state)" = 4 ] && echo "ok   hostile events"
    before_kill="$want1"$'\n'"$want2"$'\n'"$want3"$'\n'"$want4"$'\n'"$want46"
    check_stored "before kill" "$before_kill"
    got=$(alerted_records 100 499 | sort -n)
    [ "$got" = "$(sort -n <<<"$before_kill")" ] || fail "alerts before the kill: got [${got//$'\n'/ }]"

    # A restart after a wineserver crash (unplanned) kills the service like the SIGKILL below: each may let its
    # uncommitted batch (at most 64 events) be handed out again, nothing more.
    handed_twice >"$work/twice-before-kill.txt"
    twice_before=$(wc -l <"$work/twice-before-kill.txt")
    unplanned_before=$unplanned
    [ "$twice_before" -le $((64 * unplanned)) ] ||
        fail "events handed out twice before the kill ($unplanned unplanned restarts): $(head -5 "$work/twice-before-kill.txt" | tr '\n' ' ')"
    # 4. SIGKILL the service process mid-stream (rendering slowed), restart: exactly-once.
    echo 5 >"$work/feed/slow-render.txt"
    feed_jobs 005 1001 300 1000
    want5=$(expect_records 300 1000)
    for _ in $(seq 300); do [ "$(alerted_records 1000 1599 | wc -l)" -ge 20 ] && break; sleep 0.1; done
    spid=$(service_pid)
    if [ -n "$spid" ]; then
        kill -9 "$spid"
        echo "     killed the service (pid $spid) after $(alerted_records 1000 1599 | wc -l) of 300 alerts"
    else
        fail "service process not found"
    fi
    rm -f "$work/feed/slow-render.txt"
    # Wine's SCM does not notice that a service process died (it reports RUNNING and refuses stop and start:
    # seen with wine 8.0), so the prefix is restarted, the way the machine would reboot or the SCM restart it.
    service_restart || exit 1
    wait_stored 321 180
    check_stored "after kill and restart" "$before_kill"$'\n'"$want5"
    dups=$(alerted_records 100 1599 | sort | uniq -d | wc -l)
    [ "$dups" -eq 0 ] || fail "$dups records alerted twice"
    # Only the batch in flight at the kill (at most 64 events, uncommitted) may be handed out again.
    replayed=$(($(handed_twice | wc -l) - twice_before))
    [ "$replayed" -le $((64 * (1 + unplanned - unplanned_before))) ] ||
        fail "$replayed events handed out twice after the kill (more than one batch per restart)"
    handed_twice | awk '$1 < 1000' | grep -qvxFf "$work/twice-before-kill.txt" &&
        fail "events from before the kill were read again"
    echo "     $replayed events of the uncommitted batch were read again after the restart"
    [ "$failures" -eq 0 ] && echo "ok   SIGKILL and restart: exactly-once"

    w sc stop bitsguard >/dev/null 2>&1
    wait_state 1 10
    w "$work/bitsguard.exe" uninstall >"$work/uninstall.log" 2>&1 || fail "uninstall"
    w sc query bitsguard >"$work/query-gone.log" 2>&1 && fail "service still registered after uninstall"

    echo "     $unplanned unplanned restarts, $(server_crashes) wineserver crashes"
    [ "$failures" -eq 0 ] || { echo "$failures failure(s); work folder kept: $work"; exit 1; }
    echo "all service end-to-end checks passed"
    exit 0
}
harness_main e2e_service
