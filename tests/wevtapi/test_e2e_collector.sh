#!/usr/bin/env bash
# End to end under Wine, collector mode: the installed service with Channels = ForwardedEvents and the local
# Bits-Client channel, the wevtapi double serving both (feed\ForwardedEvents: three computers interleaved,
# the same job GUIDs on each), SIGKILL of the service mid-stream and restart: each channel resumes after its
# own bookmark with nothing lost or doubled, and the per-computer counts are exact.
#
# Usage: test_e2e_collector.sh BITSGUARD_EXE WEVTAPI_DLL
# Exit 0 pass, 1 fail, 77 skip (no Wine).
set -u
exe=${1:?usage: test_e2e_collector.sh BITSGUARD_EXE WEVTAPI_DLL}
dll=${2:?usage: test_e2e_collector.sh BITSGUARD_EXE WEVTAPI_DLL}
top=$(cd "$(dirname "$0")/../.." && pwd)

# shellcheck source=tests/wevtapi/harness.sh
. "$(dirname "$0")/harness.sh"
wine_find

export WINEDEBUG=-all,+eventlog
prefix_env "${BG_E2E_COLLECTOR_WINEPREFIX:-$top/.cache/wine-prefix-e2e-collector}"

fwd_computers=(PC1.corp.example PC2.corp.example PC3.corp.example)

# Writes ForwardedEvents feed file NAME.xml with COUNT jobs per computer from job JOB and record RECORD:
# per job and computer an event 3 and a 16403 to a public IP (RenderingInfo after EventData, as WEF's
# RenderedText delivers them), the computers interleaved event by event; the same job GUID on each computer.
# Record ids: RECORD, RECORD+1, ... in feed order. Process ids (700000 + ...) stay out of the record ranges.
feed_fwd() {
    local name=$1 job=$2 count=$3 record=$4 k c id guid eid ver data
    mkdir -p "$work/feed/ForwardedEvents"
    {
        echo "<Events>"
        for ((k = 0; k < count; k++)); do
            id=$((job + k))
            guid=$(printf "%08X-0000-4000-8000-%012X" "$id" "$id")
            for eid in 3 16403; do
                for c in 0 1 2; do
                    ver=0
                    if [ "$eid" = 3 ]; then
                        ver=3
                        data="<Data Name=\"jobTitle\">job $id</Data><Data Name=\"jobId\">{$guid}</Data><Data Name=\"jobOwner\">PC$c\\\\user</Data><Data Name=\"processPath\">C:\\\\Windows\\\\System32\\\\bitsadmin.exe</Data><Data Name=\"processId\">$((700000 + id))</Data>"
                    else
                        data="<Data Name=\"User\">PC$c\\\\user</Data><Data Name=\"jobTitle\">job $id</Data><Data Name=\"jobId\">{$guid}</Data><Data Name=\"jobOwner\">PC$c\\\\user</Data><Data Name=\"fileCount\">1</Data><Data Name=\"RemoteName\">http://45.34.$((id / 250)).$((id % 250 + 1))/payload$id.exe</Data><Data Name=\"LocalName\">C:\\\\Temp\\\\p.exe</Data><Data Name=\"processId\">$((700000 + id))</Data>"
                    fi
                    printf '<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System><Provider Name="Microsoft-Windows-Bits-Client"/><EventID>%d</EventID><Version>%d</Version><Level>4</Level><TimeCreated SystemTime="2026-11-30T02:00:%02d.0000000Z"/><EventRecordID>%d</EventRecordID><Channel>Microsoft-Windows-Bits-Client/Operational</Channel><Computer>%s</Computer><Security UserID="S-1-5-18"/></System><EventData>%s</EventData><RenderingInfo Culture="en-US"><Message>BITS</Message><Level>Information</Level><Channel>Microsoft-Windows-Bits-Client/Operational</Channel><Provider>Microsoft-Windows-Bits-Client</Provider></RenderingInfo></Event>\n' \
                        "$eid" "$ver" $((k % 60)) "$record" "${fwd_computers[$c]}" "$data"
                    record=$((record + 1))
                done
            done
        done
        echo "</Events>"
    } >"$work/gen/fwd-$name.tmp" && mv "$work/gen/fwd-$name.tmp" "$work/feed/ForwardedEvents/$name.xml"
}
# "computer record" of each 16403 of feed_fwd NAME JOB COUNT RECORD: the detections it must store.
expect_fwd() {
    local count=$1 record=$2 k c
    for ((k = 0; k < count; k++)); do
        for c in 0 1 2; do echo "${fwd_computers[$c]} $((record + 6 * k + 3 + c))"; done
    done
}
# The System log (feed\System): Event Log event 104 for CHANNEL cleared by dave, with record RECORD.
feed_cleared() {
    local name=$1 record=$2 channel=$3
    mkdir -p "$work/feed/System"
    printf '<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System><Provider Name="Microsoft-Windows-Eventlog" Guid="{fc65ddd8-d6ef-4962-83d5-6e5cfe9ce148}"/><EventID>104</EventID><Version>0</Version><Level>4</Level><TimeCreated SystemTime="2026-11-30T03:00:00.0000000Z"/><EventRecordID>%d</EventRecordID><Channel>System</Channel><Computer>WINE</Computer><Security UserID="S-1-5-18"/></System><UserData><LogFileCleared xmlns="http://manifests.microsoft.com/win/2004/08/windows/eventlog"><SubjectUserSid>S-1-5-21-1-2-3-1104</SubjectUserSid><SubjectUserName>dave</SubjectUserName><SubjectDomainName>WINE</SubjectDomainName><Channel>%s</Channel><BackupPath></BackupPath></LogFileCleared></UserData></Event>\n' \
        "$record" "$channel" >"$work/gen/sys-$name.tmp" && mv "$work/gen/sys-$name.tmp" "$work/feed/System/$name.xml"
}
cleared_alerts() { grep -c 'ReportEventW L"channel-cleared"' "$boot"; }
expect_local() { expect_records "$@" | sed 's/^/WINE /'; }
# Every stored detection as "computer record_id", sorted.
stored_pairs() {
    w "$work/bitsguard.exe" query --db "$db" --format json >"$work/query.out" 2>"$work/query.err"
    python3 -c 'import json, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    print(r["computer"], r["record_id"])' "$work/query.out" | sort
}
wait_pairs() { # count, seconds
    local deadline=$((SECONDS + $2))
    while [ "$(stored_pairs | wc -l)" -lt "$1" ]; do
        [ $SECONDS -lt $deadline ] || { fail "$(stored_pairs | wc -l) rows stored, expected $1"; return 1; }
        sleep 0.5
    done
}
check_pairs() { # label, expected pairs
    local got want
    got=$(stored_pairs)
    want=$(sort <<<"$2")
    [ "$got" = "$want" ] || fail "$1: stored rows differ: $(diff <(echo "$want") <(echo "$got") | head -5 | tr '\n' ' ')"
}
# Events handed out twice per channel (trace lines "event ID" and "event ID ForwardedEvents").
twice_local() { grep -E '^event [0-9]+$' "$work/feed/trace.txt" | sort | uniq -d; }
twice_fwd() { grep -E '^event [0-9]+ ForwardedEvents$' "$work/feed/trace.txt" | sort | uniq -d; }

e2e_collector() {
    work_make e2e-collector
    trap '[ "$failures" -eq 0 ] && rm -rf "$work"' EXIT
    prefix_boot || exit 1
    w "$work/bitsguard.exe" install --start demand >"$work/install.log" 2>&1 || { fail "install"; cat "$work/install.log"; }
    w reg add 'HKLM\SOFTWARE\bitsguard' /v DatabasePath /t REG_SZ /d "$db" /f >/dev/null 2>&1 || fail "reg add DatabasePath"
    w reg add 'HKLM\SOFTWARE\bitsguard' /v Channels /t REG_MULTI_SZ \
        /d 'ForwardedEvents\0Microsoft-Windows-Bits-Client/Operational' /f >/dev/null 2>&1 || fail "reg add Channels"
    : >"$work/feed/trace.txt"
    feed_jobs 001 1 5 100
    feed_fwd 001 1 5 300001
    want1=$(expect_local 5 100)$'\n'$(expect_fwd 5 300001)
    service_restart && echo "ok   installed and RUNNING with two channels" || exit 1
    wait_pairs 20 90 && echo "ok   backfill of both channels"
    grep -q 'ReportEventW L"ForwardedEvents; Microsoft-Windows-Bits-Client/Operational"' "$boot" ||
        fail "event 100 does not name both channels"
    # Each channel subscribed once, from its oldest record.
    [ "$(grep -c '^subscribe origin 2 strict 0 after 0 ForwardedEvents$' "$work/feed/trace.txt")" = 1 ] ||
        fail "ForwardedEvents: not one subscription from the oldest record: $(grep '^subscribe' "$work/feed/trace.txt" | tr '\n' ' ')"
    [ "$(grep -c '^subscribe origin 2 strict 0 after 0$' "$work/feed/trace.txt")" = 1 ] ||
        fail "Bits-Client: not one subscription from the oldest record"
    check_pairs "backfill" "$want1"

    # The built-in System reader (its own bookmark): the Bits-Client log cleared is alert 1004, once; another
    # log cleared is not.
    feed_cleared 001 7001 'Windows PowerShell'
    feed_cleared 002 7002 'Microsoft-Windows-Bits-Client/Operational'
    for _ in $(seq 300); do [ "$(cleared_alerts)" -ge 1 ] && break; sleep 0.2; done
    [ "$(cleared_alerts)" = 1 ] || fail "$(cleared_alerts) channel-cleared alerts (1004), expected 1"
    grep -q '^subscribe origin 2 strict 0 after 0 System$' "$work/feed/trace.txt" ||
        fail "the System log was not subscribed from its oldest record"
    [ "$(cleared_alerts)" = 1 ] && echo "ok   System log: the Bits-Client log cleared raised 1004 once"

    # SIGKILL mid-stream (rendering slowed, both channels busy), restart: each channel resumes after its own
    # bookmark; only each channel's batch in flight (at most 64 events) may be handed out again.
    echo 5 >"$work/feed/slow-render.txt"
    feed_jobs 002 1001 200 1000
    feed_fwd 002 1001 100 400001
    want2=$(expect_local 200 1000)$'\n'$(expect_fwd 100 400001)
    for _ in $(seq 600); do [ "$(stored_pairs | wc -l)" -ge 80 ] && break; sleep 0.2; done
    local spid
    spid=$(service_pid)
    if [ -n "$spid" ]; then
        kill -9 "$spid"
        echo "     killed the service (pid $spid) with $(stored_pairs | wc -l) of 520 rows stored"
    else
        fail "service process not found"
    fi
    rm -f "$work/feed/slow-render.txt"
    local unplanned_before=$unplanned
    service_restart || exit 1
    wait_pairs 520 240
    check_pairs "after kill and restart" "$want1"$'\n'"$want2"
    grep -Eq '^subscribe origin 3 strict 1 after [1-9][0-9]* ForwardedEvents$' "$work/feed/trace.txt" ||
        fail "ForwardedEvents did not resume after its bookmark"
    grep -Eq '^subscribe origin 3 strict 1 after [1-9][0-9]*$' "$work/feed/trace.txt" ||
        fail "Bits-Client did not resume after its bookmark"
    local restarts=$((1 + unplanned - unplanned_before)) tl tf
    tl=$(twice_local | wc -l)
    tf=$(twice_fwd | wc -l)
    [ "$tl" -le $((64 * restarts)) ] || fail "Bits-Client: $tl events handed out twice"
    [ "$tf" -le $((64 * restarts)) ] || fail "ForwardedEvents: $tf events handed out twice"
    echo "     events read again after the restart: Bits-Client $tl, ForwardedEvents $tf (each at most one batch)"
    # The same job GUID on the three forwarding computers and the collector itself: four rows, never merged.
    [ "$(grep -c '"job_id":"000003e9-0000-4000-8000-0000000003e9"' "$work/query.out")" = 4 ] ||
        fail "job 1001 is not one row per computer"
    # Per computer, every event counted exactly once across the kill: 2 events per job and computer.
    w "$work/bitsguard.exe" status --db "$db" --json >"$work/status.json" 2>"$work/status.err" || fail "status"
    python3 - "$work/status.json" <<'PY' || fail "per-computer counts: $(cat "$work/status.py.err" 2>/dev/null)"
import json, sys
s = json.load(open(sys.argv[1]))
rows = {(r["computer"], r["channel"]): r for r in s["computers"]}
for pc in ("PC1.corp.example", "PC2.corp.example", "PC3.corp.example"):
    r = rows[(pc, "ForwardedEvents")]
    assert r["events"] == 2 * 105 and r["detections"] == 105, r
local = rows[("WINE", "Microsoft-Windows-Bits-Client/Operational")]
assert local["events"] == 2 * 205 and local["detections"] == 205, local
assert s["computers_total"] == 4, s["computers_total"]
PY
    [ "$(cleared_alerts)" = 1 ] || fail "after the restart: $(cleared_alerts) channel-cleared alerts, expected 1"
    grep -Eq '^subscribe origin 3 strict 1 after 7002 System$' "$work/feed/trace.txt" ||
        fail "the System log did not resume after its own bookmark"
    dups=$(grep -o 'warn:eventlog:ReportEventW L"[0-9]*"' "$boot" | sed 's/.*L"//; s/"//' |
        awk '($1 >= 100 && $1 < 2000) || ($1 > 300000 && $1 < 500000)' | sort | uniq -d | wc -l)
    # At most one alert again per kill: the one written but not yet cleared from the outbox (engine.c).
    [ "$dups" -le $((1 + unplanned)) ] || fail "$dups records alerted twice (at most one per kill: $((1 + unplanned)))"
    [ "$failures" -eq 0 ] && echo "ok   SIGKILL and restart: each channel exactly once, per-computer counts exact"

    w sc stop bitsguard >/dev/null 2>&1
    wait_state 1 10
    w "$work/bitsguard.exe" uninstall >"$work/uninstall.log" 2>&1 || fail "uninstall"
    echo "     $unplanned unplanned restarts, $(server_crashes) wineserver crashes"
    [ "$failures" -eq 0 ] || { echo "$failures failure(s); work folder kept: $work"; exit 1; }
    echo "all collector end-to-end checks passed"
    exit 0
}
harness_main e2e_collector
