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

wine=""
for candidate in "${BG_WINE:-}" /usr/lib/wine/wine64 /usr/lib/wine64/wine64 "$(command -v wine64 || true)"; do
    if [ -n "$candidate" ] && [ -x "$candidate" ]; then
        wine=$candidate
        break
    fi
done
[ -n "$wine" ] || { echo "SKIP: no wine64"; exit 77; }
wineserver=$(command -v wineserver || echo /usr/lib/wine/wineserver64)

# A prefix of its own: this test restarts the prefix's wineserver (the service inherits the environment
# and output of the command that boots it), which must not disturb other tests.
export WINEPREFIX="${BG_E2E_SVC_WINEPREFIX:-$top/.cache/wine-prefix-e2e-svc}"
export WINEARCH=win64 WINELOADER="$wine"
export WINEDLLOVERRIDES="mscoree,mshtml=;wevtapi=n,b"
WINEDEBUG=-all bash "$top/cmake/wine-run.sh" cmd /c exit >/dev/null 2>&1 || { echo "FAIL: no Wine prefix"; exit 1; }
exec 8>"$WINEPREFIX.e2e.lock"
flock 8

work=$(mktemp -d "${TMPDIR:-/tmp}/bg-e2e-svc.XXXXXX") || exit 1
cp "$exe" "$work/bitsguard.exe" && cp "$dll" "$work/wevtapi.dll" && mkdir "$work/feed" || exit 1
wdir="Z:${work//\//\\}"
db="$wdir\\bg.db"
boot="$work/boot.log"
failures=0
fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}
w() { WINEDEBUG=-all "$wine" "$@" </dev/null; }

cleanup() {
    w sc stop bitsguard >/dev/null 2>&1
    w "$work/bitsguard.exe" uninstall >/dev/null 2>&1
    w reg delete 'HKLM\SOFTWARE\bitsguard' /f >/dev/null 2>&1
    "$wineserver" -k >/dev/null 2>&1
    "$wineserver" -w >/dev/null 2>&1
    [ "$failures" -eq 0 ] && rm -rf "$work"
}
trap cleanup EXIT

# Boot the prefix with the environment the service must inherit: +eventlog prints the alerts to boot.log.
"$wineserver" -k >/dev/null 2>&1
"$wineserver" -w >/dev/null 2>&1
"$wineserver" -p </dev/null >/dev/null 2>&1
WINEDEBUG=-all,+eventlog "$wine" cmd /c exit </dev/null >"$boot" 2>&1

# The same generator as test_e2e_run.sh: COUNT jobs from JOB, records from RECORD (3 then 16403 each).
feed_jobs() {
    local name=$1 job=$2 count=$3 record=$4 k id guid
    {
        echo "<Events>"
        for ((k = 0; k < count; k++)); do
            id=$((job + k))
            guid=$(printf "%08X-0000-4000-8000-%012X" "$id" "$id")
            printf '<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System><Provider Name="Microsoft-Windows-Bits-Client"/><EventID>3</EventID><Version>3</Version><Level>4</Level><TimeCreated SystemTime="2026-11-30T01:00:00.0000000Z"/><EventRecordID>%d</EventRecordID><Channel>Microsoft-Windows-Bits-Client/Operational</Channel><Computer>WINE</Computer><Security UserID="S-1-5-18"/></System><EventData><Data Name="jobTitle">job %d</Data><Data Name="jobId">{%s}</Data><Data Name="jobOwner">WINE\\user</Data><Data Name="processPath">C:\\Windows\\System32\\bitsadmin.exe</Data><Data Name="processId">%d</Data><Data Name="ClientProcessStartKey">%d</Data></EventData></Event>\n' \
                "$record" "$id" "$guid" $((100000 + id)) $((5000 + id))
            printf '<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System><Provider Name="Microsoft-Windows-Bits-Client"/><EventID>16403</EventID><Version>0</Version><Level>4</Level><TimeCreated SystemTime="2026-11-30T01:00:01.0000000Z"/><EventRecordID>%d</EventRecordID><Channel>Microsoft-Windows-Bits-Client/Operational</Channel><Computer>WINE</Computer><Security UserID="S-1-5-18"/></System><EventData><Data Name="User">WINE\\user</Data><Data Name="jobTitle">job %d</Data><Data Name="jobId">{%s}</Data><Data Name="jobOwner">WINE\\user</Data><Data Name="fileCount">1</Data><Data Name="RemoteName">http://45.33.%d.%d/payload%d.exe</Data><Data Name="LocalName">C:\\Temp\\payload%d.exe</Data><Data Name="processId">%d</Data><Data Name="ClientProcessStartKey">%d</Data></EventData></Event>\n' \
                $((record + 1)) "$id" "$guid" $((id / 250)) $((id % 250 + 1)) "$id" "$id" $((100000 + id)) $((5000 + id))
            record=$((record + 2))
        done
        echo "</Events>"
    } >"$work/feed/$name.tmp" && mv "$work/feed/$name.tmp" "$work/feed/$name.xml"
}
expect_records() {
    local count=$1 record=$2 k
    for ((k = 0; k < count; k++)); do echo $((record + 2 * k + 1)); done
}

stored() {
    w "$work/bitsguard.exe" query --db "$db" --format json >"$work/query.out" 2>"$work/query.err"
    grep -o '"record_id":[0-9]*' "$work/query.out" | sed 's/.*://' | sort -n
}
wait_stored() { # count, seconds
    local deadline=$((SECONDS + $2))
    while [ "$(stored | wc -l)" -lt "$1" ]; do
        [ $SECONDS -lt $deadline ] || { fail "$(stored | wc -l) rows stored, expected $1"; return 1; }
        sleep 0.3
    done
}
check_stored() { # label, expected ids
    local got want
    got=$(stored)
    want=$(sort -n <<<"$2")
    [ "$got" = "$want" ] || fail "$1: stored record ids differ: got [$(echo $got)] want [$(echo $want)]"
}
# Record ids of the detection alerts: the insertion strings that equal a 16403 record id (odd, in the
# range given); the generator keeps process ids and other numbers out of those ranges.
alerted_records() {
    grep -o 'warn:eventlog:ReportEventW L"[0-9]*"' "$boot" | sed 's/.*L"//; s/"//' |
        awk -v lo="$1" -v hi="$2" '$1 >= lo && $1 <= hi && $1 % 2 == 1'
}
sc_state() { w sc query bitsguard 2>/dev/null | tr -d '\r' | sed -n 's/.*STATE *: *\([0-9]*\).*/\1/p'; }
wait_state() { # state, seconds
    local deadline=$((SECONDS + $2))
    while [ "$(sc_state)" != "$1" ]; do
        [ $SECONDS -lt $deadline ] || { fail "service state $(sc_state), expected $1"; return 1; }
        sleep 0.2
    done
}
service_pid() { # The Unix pid of this run's service process (its command line names our exe path).
    local p c
    for p in /proc/[0-9]*; do
        c=$(tr '\0' ' ' 2>/dev/null <"$p/cmdline") || continue
        case "$c" in *"$wdir\\bitsguard.exe"*service*) echo "${p#/proc/}" ;; esac
    done
}

# Events the double handed out more than once (from feed\trace.txt), one record id per line.
handed_twice() { grep '^event ' "$work/feed/trace.txt" | sort | uniq -d | sed 's/^event //'; }

# 1. Install (demand start), point the database into the work folder, start.
w "$work/bitsguard.exe" uninstall >/dev/null 2>&1 # A service left by an interrupted run would be kept.
w "$work/bitsguard.exe" install --start demand >"$work/install.log" 2>&1 || { fail "install"; cat "$work/install.log"; }
w reg add 'HKLM\SOFTWARE\bitsguard' /v DatabasePath /t REG_SZ /d "$db" /f >/dev/null 2>&1 || fail "reg add"
: >"$work/feed/trace.txt" # The double logs every subscribe and every event it hands out.
feed_jobs 001 1 5 100
want1=$(expect_records 5 100)
w sc start bitsguard >"$work/start1.log" 2>&1
wait_state 4 30 && echo "ok   installed and RUNNING"
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
w sc start bitsguard >"$work/start2.log" 2>&1
wait_state 4 30
wait_stored 15 60 && echo "ok   stop and restart resume"

# 3. Event Log outage: the subscription breaks, two resubscribes fail, the service recovers by itself.
echo 2 >"$work/feed/outage.txt"
for _ in $(seq 150); do [ -e "$work/feed/outage.txt" ] || break; sleep 0.1; done
[ -e "$work/feed/outage.txt" ] && fail "outage.txt was not consumed by resubscribes"
feed_jobs 004 301 5 400
want4=$(expect_records 5 400)
wait_stored 20 60 && echo "ok   outage and resubscribe"
# Hostile events (empty, undefined entity, invalid UTF-8, deep nesting), then a good job: the service goes on.
{
    printf '<Events><Event/><Event xmlns="e"><System><EventRecordID>450</EventRecordID></System></Event>\n'
    printf '<Event><System><EventID>16403</EventID><EventRecordID>452</EventRecordID></System><EventData><Data Name="RemoteName">&xxe;</Data></EventData></Event>\n'
    printf '<Event><System><EventID>16403</EventID><EventRecordID>454</EventRecordID></System><EventData><Data Name="RemoteName">http://\xff\xfe\x80/</Data></EventData></Event>\n'
    printf '<Event><System><EventID>16403</EventID><EventRecordID>456</EventRecordID></System>'
    for _ in $(seq 2000); do printf '<a>'; done
    printf '</System></Event>\n</Events>\n'
} >"$work/feed/0045.tmp" && mv "$work/feed/0045.tmp" "$work/feed/0045.xml"
feed_jobs 0046 451 1 460
want46=$(expect_records 1 460)
wait_stored 21 60 && [ "$(sc_state)" = 4 ] && echo "ok   hostile events"
before_kill="$want1"$'\n'"$want2"$'\n'"$want3"$'\n'"$want4"$'\n'"$want46"
check_stored "before kill" "$before_kill"
got=$(alerted_records 100 499 | sort -n)
[ "$got" = "$(sort -n <<<"$before_kill")" ] || fail "alerts before the kill: got [$(echo $got)]"

[ -z "$(handed_twice)" ] || fail "events handed out twice before the kill: $(handed_twice | head -5 | tr '\n' ' ')"
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
"$wineserver" -k >/dev/null 2>&1
"$wineserver" -w >/dev/null 2>&1
"$wineserver" -p </dev/null >/dev/null 2>&1
WINEDEBUG=-all,+eventlog "$wine" cmd /c exit </dev/null >>"$boot" 2>&1
wait_state 1 30
w sc start bitsguard >"$work/start3.log" 2>&1
wait_state 4 30
wait_stored 321 180
check_stored "after kill and restart" "$before_kill"$'\n'"$want5"
dups=$(alerted_records 100 1599 | sort | uniq -d | wc -l)
[ "$dups" -eq 0 ] || fail "$dups records alerted twice"
# Only the batch in flight at the kill (at most 64 events, uncommitted) may be handed out again.
replayed=$(handed_twice | wc -l)
[ "$replayed" -le 64 ] || fail "$replayed events handed out twice after the kill (more than one batch)"
[ -z "$(handed_twice | awk '$1 < 1000')" ] || fail "events from before the kill were read again"
echo "     $replayed events of the uncommitted batch were read again after the restart"
[ "$failures" -eq 0 ] && echo "ok   SIGKILL and restart: exactly-once"

w sc stop bitsguard >/dev/null 2>&1
wait_state 1 10
w "$work/bitsguard.exe" uninstall >"$work/uninstall.log" 2>&1 || fail "uninstall"
w sc query bitsguard >"$work/query-gone.log" 2>&1 && fail "service still registered after uninstall"

[ "$failures" -eq 0 ] || { echo "$failures failure(s); work folder kept: $work"; exit 1; }
echo "all service end-to-end checks passed"
exit 0
