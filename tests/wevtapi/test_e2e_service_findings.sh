#!/usr/bin/env bash
# End to end under Wine: the installed bitsguard service's findings (notify command, credentials to a direct
# IP, the channel disabled): Event Log alerts with their insertion strings, stored rows, exactly once.
#
# Usage: test_e2e_service_findings.sh BITSGUARD_EXE WEVTAPI_DLL
# Checks the ReportEventW lines Wine prints (+eventlog) for alerts 1002 (notify-command, Warning), 1003
# (credentials-direct-ip, Error) and 1005 (channel-disabled, Error): their 22 insertion strings in the order
# of docs/alerts.md; `query --findings`; after a SIGKILL mid-stream and a restart whose bookmark is rejected
# (every event read again from the oldest record), no finding row twice and no finding alerted twice.
# Exit 0 pass, 1 fail, 77 skip (no Wine).
set -u
exe=${1:?usage: test_e2e_service_findings.sh BITSGUARD_EXE WEVTAPI_DLL}
dll=${2:?usage: test_e2e_service_findings.sh BITSGUARD_EXE WEVTAPI_DLL}
top=$(cd "$(dirname "$0")/../.." && pwd)

# shellcheck source=tests/wevtapi/harness.sh
. "$(dirname "$0")/harness.sh"
wine_find

export WINEDEBUG=-all,+eventlog
prefix_env "${BG_E2E_FINDINGS_WINEPREFIX:-$top/.cache/wine-prefix-e2e-findings}"

# Feed file NAME.xml with COUNT pairs of jobs from job JOB and record RECORD: job J is created (3) and given a
# notify command line (6) that fails once (63, naming the job by its title); job J+1000 is created (3) and
# answers an NTLM challenge from 45.33.7.N with its credentials, accepted (203 version 1, job by title).
feed_findings() {
    local name=$1 job=$2 count=$3 record=$4 k j c guid cguid
    sys() { # event id, version, record
        printf '<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System><Provider Name="Microsoft-Windows-Bits-Client"/><EventID>%d</EventID><Version>%d</Version><Level>4</Level><TimeCreated SystemTime="2026-11-30T02:00:00.0000000Z"/><EventRecordID>%d</EventRecordID><Channel>Microsoft-Windows-Bits-Client/Operational</Channel><Computer>WINE</Computer><Security UserID="S-1-5-18"/></System><EventData>' "$1" "$2" "$3"
    }
    {
        echo "<Events>"
        for ((k = 0; k < count; k++)); do
            j=$((job + k))
            c=$((j + 1000))
            guid=$(printf "%08X-0000-4000-8000-%012X" "$j" "$j")
            cguid=$(printf "%08X-0000-4000-8000-%012X" "$c" "$c")
            sys 3 3 "$record"
            printf '<Data Name="jobTitle">notify %d</Data><Data Name="jobId">{%s}</Data><Data Name="jobOwner">WINE\\user</Data><Data Name="processPath">C:\\Windows\\System32\\bitsadmin.exe</Data><Data Name="processId">%d</Data></EventData></Event>\n' "$j" "$guid" $((200000 + j))
            sys 6 0 $((record + 1))
            printf '<Data Name="jobId">{%s}</Data><Data Name="jobOwner">WINE\\user</Data><Data Name="program">C:\\ProgramData\\u%d.exe</Data><Data Name="parameters">/install /q</Data></EventData></Event>\n' "$guid" "$j"
            sys 63 0 $((record + 2))
            printf '<Data Name="Job">notify %d</Data><Data Name="Url">https://cdn.example.com/u.exe</Data><Data Name="Pgm">C:\\ProgramData\\u%d.exe</Data><Data Name="hr">1</Data></EventData></Event>\n' "$j" "$j"
            sys 3 3 $((record + 3))
            printf '<Data Name="jobTitle">creds %d</Data><Data Name="jobId">{%s}</Data><Data Name="jobOwner">WINE\\user</Data><Data Name="processPath">C:\\Users\\user\\r.exe</Data><Data Name="processId">%d</Data></EventData></Event>\n' "$c" "$cguid" $((200000 + c))
            sys 203 1 $((record + 4))
            printf '<Data Name="scheme">NTLM</Data><Data Name="server">45.33.7.%d</Data><Data Name="job">creds %d</Data><Data Name="url">http://45.33.7.%d:8080/upload</Data><Data Name="user">WINE\\user</Data></EventData></Event>\n' $((j % 250 + 1)) "$c" $((j % 250 + 1))
            record=$((record + 5))
        done
        echo "</Events>"
    } >"$work/gen/$name.tmp" && mv "$work/gen/$name.tmp" "$work/feed/$name.xml"
}

# The insertion strings of each alert whose first string is $1, one alert per line, fields joined by '|'.
alert_strings() {
    awk -v kind="L\"$1\"" '
        /:eventlog:ReportEventW L"/ {
            s = $0; sub(/.*:eventlog:ReportEventW /, "", s)
            if (n > 0) { line = line "|" s; if (++n == 22) { print line; n = 0 } ; next }
            if (s == kind) { line = s; n = 1 }
        }' "$boot"
}
findings_json() {
    w "$work/bitsguard.exe" query --db "$db" --findings --format json >"$work/findings.json" 2>"$work/findings.err"
    cat "$work/findings.json"
}
wait_findings() { # count, seconds
    local deadline=$((SECONDS + $2))
    while [ "$(findings_json | grep -c '"alert"')" -lt "$1" ]; do
        [ $SECONDS -lt $deadline ] || { fail "$(findings_json | grep -c '"alert"') findings stored, expected $1"; return 1; }
        sleep 0.5
    done
}

e2e_findings() {
    work_make e2e-findings
    trap '[ "$failures" -eq 0 ] && rm -rf "$work"' EXIT
    prefix_boot || exit 1
    w "$work/bitsguard.exe" install --start demand >"$work/install.log" 2>&1 || { fail "install"; cat "$work/install.log"; }
    w reg add 'HKLM\SOFTWARE\bitsguard' /v DatabasePath /t REG_SZ /d "$db" /f >/dev/null 2>&1 || fail "reg add"
    : >"$work/feed/trace.txt"
    # 1. One notify command and one credentials answer: stored and alerted with their insertion strings.
    feed_findings 001 1 1 100
    service_restart && echo "ok   installed and RUNNING" || exit 1
    wait_findings 2 60 && echo "ok   two findings stored"
    n=$(alert_strings notify-command | wc -l)
    [ "$n" -eq 1 ] || fail "$n notify-command alerts, expected 1"
    line=$(alert_strings notify-command | head -1)
    IFS='|' read -r -a f <<<"$line"
    # %2 job id, %3 title, %4 owner, %5 pid, %6 process, %7 computer, %10 event id, %11 program, %12 parameters.
    [ "${f[1]}" = 'L"00000001-0000-4000-8000-000000000001"' ] || fail "1002 %2: ${f[1]}"
    [ "${f[2]}" = 'L"notify 1"' ] || fail "1002 %3: ${f[2]}"
    [ "${f[3]}" = 'L"WINE\\user"' ] || fail "1002 %4: ${f[3]}"
    [ "${f[4]}" = 'L"200001"' ] || fail "1002 %5: ${f[4]}"
    [ "${f[5]}" = 'L"C:\\Windows\\System32\\bitsadmin.exe"' ] || fail "1002 %6: ${f[5]}"
    [ "${f[6]}" = 'L"WINE"' ] || fail "1002 %7: ${f[6]}"
    [ "${f[8]}" = 'L"101"' ] && [ "${f[9]}" = 'L"6"' ] || fail "1002 %9 %10: ${f[8]} ${f[9]}"
    [ "${f[10]}" = 'L"C:\\ProgramData\\u1.exe"' ] && [ "${f[11]}" = 'L"/install /q"' ] || fail "1002 %11 %12: ${f[10]} ${f[11]}"
    [ "${f[21]}" = 'L"-"' ] || fail "1002 %22: ${f[21]}"
    grep -q 'warn:eventlog:ReportEventW L"notify-command"' "$boot" || fail "1002 is not a Warning"
    n=$(alert_strings credentials-direct-ip | wc -l)
    [ "$n" -eq 1 ] || fail "$n credentials-direct-ip alerts, expected 1"
    line=$(alert_strings credentials-direct-ip | head -1)
    IFS='|' read -r -a f <<<"$line"
    [ "${f[1]}" = 'L"000003e9-0000-4000-8000-0000000003e9"' ] || fail "1003 %2: ${f[1]}"
    [ "${f[2]}" = 'L"creds 1001"' ] || fail "1003 %3: ${f[2]}"
    [ "${f[8]}" = 'L"104"' ] && [ "${f[9]}" = 'L"203"' ] || fail "1003 %9 %10: ${f[8]} ${f[9]}"
    [ "${f[14]}" = 'L"45.33.7.2"' ] || fail "1003 %15: ${f[14]}"
    [ "${f[15]}" = 'L"http://45.33.7.2:8080/upload"' ] || fail "1003 %16: ${f[15]}"
    [ "${f[16]}" = 'L"45.33.7.2"' ] && [ "${f[17]}" = 'L"whatwg"' ] || fail "1003 %17 %18: ${f[16]} ${f[17]}"
    [ "${f[18]}" = 'L"NTLM"' ] && [ "${f[19]}" = 'L"WINE\\user"' ] && [ "${f[20]}" = 'L"accepted"' ] ||
        fail "1003 %19-%21: ${f[18]} ${f[19]} ${f[20]}"
    grep -q 'err:eventlog:ReportEventW L"credentials-direct-ip"' "$boot" || fail "1003 is not an Error"
    findings_json >/dev/null
    grep -q '"alert":"notify-command".*"notify_failures":1' "$work/findings.json" || fail "the failure (63) is not in the row"
    [ "$failures" -eq 0 ] && echo "ok   alerts 1002 and 1003 with their insertion strings"

    # 2. SIGKILL mid-stream (rendering slowed), then a restart whose bookmark is rejected: every event is read
    # again from the oldest record; no finding row twice, no finding alerted twice.
    echo 5 >"$work/feed/slow-render.txt"
    feed_findings 002 2 60 200
    for _ in $(seq 300); do [ "$(alert_strings notify-command | wc -l)" -ge 10 ] && break; sleep 0.1; done
    spid=$(service_pid)
    if [ -n "$spid" ]; then
        kill -9 "$spid"
        echo "     killed the service (pid $spid) after $(alert_strings notify-command | wc -l) of 61 notify alerts"
    else
        fail "service process not found"
    fi
    rm -f "$work/feed/slow-render.txt"
    touch "$work/feed/reject-bookmark"
    service_restart || exit 1
    wait_findings 122 180
    rm -f "$work/feed/reject-bookmark"
    grep -q '^subscribe origin' "$work/feed/trace.txt" || fail "no subscribe in the trace"
    rows=$(findings_json | grep -c '"alert"')
    [ "$rows" -eq 122 ] || fail "$rows finding rows, expected 122"
    # Every finding alerted (those committed but not yet alerted at the kill come from the outbox at the
    # restart), and at most one twice per kill: the one written but not yet cleared from the outbox.
    twice=0
    for kind in notify-command credentials-direct-ip; do
        dups=$(alert_strings "$kind" | cut -d'|' -f2 | sort | uniq -d | wc -l)
        distinct=$(alert_strings "$kind" | cut -d'|' -f2 | sort -u | wc -l)
        twice=$((twice + dups))
        [ "$distinct" -eq 61 ] || fail "$kind: $distinct findings alerted, $dups twice (want 61)"
    done
    [ "$twice" -le $((1 + unplanned)) ] || fail "$twice findings alerted twice (at most one per kill: $((1 + unplanned)))"
    grep -q 'ReportEventW L"the event log rejected the stored bookmark' "$boot" || fail "no possible-gap alert for the rejected bookmark"
    [ "$failures" -eq 0 ] && echo "ok   SIGKILL, restart from the oldest record: no finding stored twice, every one alerted (twice: $twice)"

    # 3. The channel disabled at a start: the tamper alert 1005 (Error) once, the finding stored, and a gap
    # once it is enabled again.
    w sc stop bitsguard >/dev/null 2>&1
    wait_state 1 10
    touch "$work/feed/channel-disabled"
    service_start || exit 1
    # The double's channel-disabled disables every channel it serves, the System log the service also reads
    # among them: the Bits-Client channel's alert is the one checked.
    bits_disabled() { alert_strings channel-disabled | grep 'L"Microsoft-Windows-Bits-Client/Operational"$'; }
    for _ in $(seq 300); do [ "$(bits_disabled | wc -l)" -ge 1 ] && break; sleep 0.1; done
    line=$(bits_disabled | head -1)
    IFS='|' read -r -a f <<<"$line"
    [ "${f[0]}" = 'L"channel-disabled"' ] || fail "no 1005 alert"
    [ "${f[8]}" = 'L"-"' ] && [ "${f[9]}" = 'L"-"' ] || fail "1005 %9 %10: ${f[8]} ${f[9]}"
    [ "${f[21]}" = 'L"Microsoft-Windows-Bits-Client/Operational"' ] || fail "1005 %22: ${f[21]}"
    grep -q 'err:eventlog:ReportEventW L"channel-disabled"' "$boot" || fail "1005 is not an Error"
    rm -f "$work/feed/channel-disabled"
    for _ in $(seq 300); do grep -q 'ReportEventW L"channel disabled: from ' "$boot" && break; sleep 0.1; done
    grep -q 'ReportEventW L"channel disabled: from ' "$boot" || fail "no gap alert once the channel was enabled"
    [ "$(bits_disabled | wc -l)" -eq 1 ] || fail "more than one 1005 alert in one streak"
    findings_json | grep -q '"alert":"channel-disabled"' || fail "the channel-disabled finding is not stored"
    [ "$failures" -eq 0 ] && echo "ok   channel disabled: 1005 once, stored, a gap once enabled"

    w sc stop bitsguard >/dev/null 2>&1
    wait_state 1 10
    w "$work/bitsguard.exe" uninstall >"$work/uninstall.log" 2>&1 || fail "uninstall"
    echo "     $unplanned unplanned restarts, $(server_crashes) wineserver crashes"
    [ "$failures" -eq 0 ] || { echo "$failures failure(s); work folder kept: $work"; exit 1; }
    echo "all service findings checks passed"
    exit 0
}
harness_main e2e_findings
