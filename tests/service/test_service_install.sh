#!/usr/bin/env bash
# Wine test of the service shell: install, sc qc/query, start, stop within 5 s, Event Log lines, uninstall.
#
# Usage: test_service_install.sh BITSGUARD.EXE [WORKDIR] [WEVTAPI_DOUBLE.DLL]
# Runs through the Wine harness (tests/wevtapi/harness.sh): each attempt on a fresh prefix of its own
# (WORKDIR/prefix, copied from the pristine template), booted with a persistent wineserver and its output in
# a file (the service inherits it and prints ReportEventW's insertion strings there with
# WINEDEBUG=+eventlog), never a pipe; a Wine crash is retried and reported as Wine's, every process of the
# prefix ended on exit.
# Exit 0 pass, 1 fail, 77 skip (no Wine).
set -u
exe_unix=$(readlink -f "$1")
work=$(readlink -f "${2:-$PWD/service-wine}")
mkdir -p "$work"
top=$(cd "$(dirname "$0")/../.." && pwd)

# shellcheck source=tests/wevtapi/harness.sh
. "$top/tests/wevtapi/harness.sh"
wine_find
# wevtapi=n,b (set by prefix_env): the test double beside the exe, not Wine's stub (whose
# EvtCreateBookmark aborts).
export WINEDEBUG="-all,+eventlog"
prefix_env "$work/prefix"
double="${3:-${BG_WEVTAPI_DOUBLE:-}}"
# The attempt's logs are the harness's (kept per failed attempt); boot.log is the services' output.
logs=$hdir
load_stop=""
ok() {
    echo "ok:   $*"
}
# Runs a Windows program with its output in a file (never a pipe: a service could inherit it), bounded.
run() {
    local name=$1
    shift
    timeout -s KILL 120 "$wine" "$@" >"$logs/$name.out" 2>"$logs/$name.err" </dev/null 8>&-
    local rc=$?
    echo "$rc" >"$logs/$name.rc"
    return $rc
}
# Waits up to $3 (default 30) seconds for the boot log to hold more than $2 lines matching $1 (an event the
# service reports).
event_wait() {
    local deadline=$((SECONDS + ${3:-30}))
    while [ "$(grep -c "$1" "$boot")" -le "$2" ]; do
        [ $SECONDS -lt $deadline ] || return 1
        sleep 0.2
    done
}

# One attempt on a fresh prefix (harness_main runs it again when Wine crashes under it).
install_test() {
    prefix_boot || exit 1

    # The image path has a space: the installer must quote it.
    dir="$WINEPREFIX/drive_c/Program Files/bitsguard"
    mkdir -p "$dir"
    cp "$exe_unix" "$dir/bitsguard.exe" || { echo "FAIL: cannot copy $exe_unix"; exit 1; }
    # The wevtapi test double, when built, replaces Wine's stub (which aborts in EvtRender/EvtCreateBookmark).
    rm -rf "$dir/feed"
    if [ -n "$double" ] && [ -f "$double" ]; then
        cp "$double" "$dir/wevtapi.dll"
        mkdir -p "$dir/feed"
        # A hardened channel ACL without SU, so setup must append the service's own read entry (Windows'
        # default lets SU read: that case is checked after the uninstall below).
        touch "$dir/feed/channel-hardened"
    else
        echo "note: no wevtapi test double given: the reader may abort in Wine's stub"
    fi
    exe='C:\Program Files\bitsguard\bitsguard.exe'

    pd="$WINEPREFIX/drive_c/ProgramData"
    victim="$WINEPREFIX/drive_c/victim"

    # 1. `bitsguard service` from a console must refuse (exit 2) instead of running ServiceMain.
    run console_service "$exe" service
    rc=$(cat "$logs/console_service.rc")
    if [ "$rc" = 2 ] && grep -q "Service Control Manager only" "$logs/console_service.err"; then
        ok "'bitsguard service' from a console exits 2 with a clear message"
    else
        fail "'bitsguard service' from a console: exit $rc (expected 2)"; cat "$logs/console_service.err"
    fi

    # 2. install (demand start: auto-start services restart at every prefix boot).
    if run install "$exe" install --start demand; then
        ok "install"
    else
        fail "install exited $(cat "$logs/install.rc")"
    fi
    cat "$logs/install.out"
    grep -q "delayed auto-start *skipped" "$logs/install.out" || fail "delayed auto-start should be skipped for demand start"
    # Wine keeps no file ACLs: setup must notice it by reading the ACL back (on Windows that is a failure).
    grep -q "data folder ACL *warning: read back:.*Wine does not store file ACLs" "$logs/install.out" ||
        grep -q "data folder ACL *ok" "$logs/install.out" || fail "data folder ACL neither applied nor detected as not applied"
    # The channel read grant: exactly one read entry for the service SID appended to the channel's DACL (the
    # double saves the channel's access SDDL in feed\channel-access.sddl), no Event Log Readers membership.
    access_default='O:BAG:SYD:(A;;0xf0007;;;SY)(A;;0x7;;;BA)(A;;0x3;;;BO)(A;;0x5;;;SO)(A;;0x1;;;IU)(A;;0x1;;;S-1-5-32-573)'
    if [ -d "$dir/feed" ]; then
        access=$(cat "$dir/feed/channel-access.sddl" 2>/dev/null)
        svc_ace=$(grep -o '(A;;0x1;;;S-1-5-80-[0-9-]*)' <<<"$access")
        if [ "$(grep -c . <<<"$svc_ace")" = 1 ] && [ "$access" = "$access_default$svc_ace" ]; then
            ok "setup added exactly one channel read entry for the service SID: $svc_ace"
        else
            fail "channel access after setup: '$access'"
        fi
        grep -q "Bits-Client channel read access *ok: (A;;0x1;;;S-1-5-80-" "$logs/install.out" ||
            fail "install did not report the channel read entry"
        run setup_again "$exe" setup
        [ "$(cat "$dir/feed/channel-access.sddl")" = "$access" ] &&
            grep -q "Bits-Client channel read access *ok: already readable" "$logs/setup_again.out" &&
            ok "setup again: the channel entry is not added twice" ||
            { fail "setup again changed the channel access"; cat "$dir/feed/channel-access.sddl" "$logs/setup_again.out"; }
        # Windows' default channel access lets SU (every service) read: setup adds nothing and says so. The
        # hardened state is put back afterwards for the teardown check below.
        cp "$dir/feed/channel-access.sddl" "$logs/channel-access.saved"
        rm -f "$dir/feed/channel-hardened" "$dir/feed/channel-access.sddl"
        run setup_su "$exe" setup
        grep -q "Bits-Client channel read access *ok: already readable" "$logs/setup_su.out" &&
            [ ! -e "$dir/feed/channel-access.sddl" ] && ok "default channel access (SU reads): setup adds no entry" ||
            { fail "setup changed the default channel access"; cat "$logs/setup_su.out"; }
        touch "$dir/feed/channel-hardened"
        cp "$logs/channel-access.saved" "$dir/feed/channel-access.sddl"
    fi
    # setup's own step log (Windows Installer logs only a custom action's exit code): the last setup's steps.
    setup_log="$WINEPREFIX/drive_c/ProgramData/bitsguard/setup.log"
    if [ -d "$dir/feed" ]; then
        grep -q '^bitsguard setup (version [^)]*) at 20[0-9-]*T[0-9:]*Z:' "$setup_log" 2>/dev/null &&
            grep -q '^  recovery actions  *ok' "$setup_log" && grep -q '^bitsguard setup: done' "$setup_log" &&
            ok "setup wrote its steps to %ProgramData%\\bitsguard\\setup.log" ||
            { fail "no setup.log with the steps"; head -5 "$setup_log" 2>/dev/null; }
    fi
    grep -q "Event Log Readers" "$logs/install.out" && fail "install still touches Event Log Readers" ||
        ok "install does not join Event Log Readers"

    # Wine's sc has no qc: the SCM keeps the configuration in the service's registry key.
    run qc reg query 'HKLM\SYSTEM\CurrentControlSet\Services\bitsguard'
    if grep -q 'ImagePath.*"C:\\Program Files\\bitsguard\\bitsguard.exe" service' "$logs/qc.out"; then
        ok "image path is quoted"
    else
        fail "image path not quoted as expected"; cat "$logs/qc.out"
    fi
    grep -q 'ObjectName.*NT AUTHORITY\\LocalService' "$logs/qc.out" && ok "account LocalService" ||
        fail "account is not NT AUTHORITY\\LocalService"
    grep -q 'Start.*REG_DWORD.*0x3' "$logs/qc.out" && ok "demand start" || fail "start type is not demand (3)"
    grep -q 'Description.*REG_SZ.*BITS' "$logs/qc.out" && ok "description set" || fail "no description"

    run regsrc reg query 'HKLM\SYSTEM\CurrentControlSet\Services\EventLog\Application\bitsguard'
    if grep -q 'EventMessageFile.*REG_EXPAND_SZ.*bitsguard.exe' "$logs/regsrc.out" && grep -q 'TypesSupported.*0x7' "$logs/regsrc.out"; then
        ok "event source registered"
    else
        fail "event source registry values"; cat "$logs/regsrc.out"
    fi

    # The Status key (CMPivot) exists for the service to write into; setup says it secured it (a warning
    # where Wine keeps no registry ACL).
    run regstatus reg query 'HKLM\SOFTWARE\bitsguard\Status'
    if [ "$(cat "$logs/regstatus.rc" 2>/dev/null)" = 0 ] && grep -Eq "Status registry key +(ok|warning)" "$logs/install.out"; then
        ok "Status key created by setup"
    else
        fail "no Status key after setup"; grep "Status registry key" "$logs/install.out"
    fi

    # 3. start: RUNNING, and the started/configuration events reached the Event Log.
    if run start "$exe" start; then
        ok "start: $(grep 'start service' "$logs/start.out" | sed 's/  */ /g')"
    else
        fail "start exited $(cat "$logs/start.rc")"; cat "$logs/start.out" "$logs/start.err"
    fi
    run query sc query bitsguard
    grep -q "STATE *: *4 *RUNNING" "$logs/query.out" && ok "sc query: RUNNING" || { fail "sc query not RUNNING"; cat "$logs/query.out"; }
    # Event 100 (started, its third string the channel) follows RUNNING: wait for it, not for time.
    event_wait 'ReportEventW L"Microsoft-Windows-Bits-Client/Operational"' 0 || fail "no started event within 30 s"
    grep -q "eventlog.*service start" "$logs/boot.log" && ok "event 102 (configuration loaded) reported" ||
        fail "no configuration-loaded event in the log"
    grep -q 'eventlog.*ProgramData\\\\bitsguard\\\\bitsguard.db\|eventlog.*ProgramData\\bitsguard\\bitsguard.db' "$logs/boot.log" &&
        ok "event 100 (started) names the database" || fail "no started event naming the database"
    [ -d "$WINEPREFIX/drive_c/ProgramData/bitsguard" ] && ok "data folder exists" || fail "no data folder"

    # 3b. A detection through the service: one job (event 3, then a 16403 to a public IP) in the double's
    # feed; the alert (event 1000) carries the 20 insertion strings in the documented order.
    if [ -d "$dir/feed" ]; then
        guid=0000002A-0000-4000-8000-00000000002A
        ev_head='<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System><Provider Name="Microsoft-Windows-Bits-Client"/>'
        {
            echo "<Events>"
            echo "${ev_head}<EventID>3</EventID><Version>3</Version><Level>4</Level><TimeCreated SystemTime=\"2026-11-30T01:00:00.0000000Z\"/><EventRecordID>10</EventRecordID><Channel>Microsoft-Windows-Bits-Client/Operational</Channel><Computer>WINE</Computer><Security UserID=\"S-1-5-18\"/></System><EventData><Data Name=\"jobTitle\">svc job</Data><Data Name=\"jobId\">{$guid}</Data><Data Name=\"jobOwner\">WINE\\user</Data><Data Name=\"processPath\">C:\\Windows\\System32\\bitsadmin.exe</Data><Data Name=\"processId\">4242</Data><Data Name=\"ClientProcessStartKey\">77</Data></EventData></Event>"
            echo "${ev_head}<EventID>16403</EventID><Version>0</Version><Level>4</Level><TimeCreated SystemTime=\"2026-11-30T01:00:01.0000000Z\"/><EventRecordID>11</EventRecordID><Channel>Microsoft-Windows-Bits-Client/Operational</Channel><Computer>WINE</Computer><Security UserID=\"S-1-5-18\"/></System><EventData><Data Name=\"User\">WINE\\user</Data><Data Name=\"jobTitle\">svc job</Data><Data Name=\"jobId\">{$guid}</Data><Data Name=\"jobOwner\">WINE\\user</Data><Data Name=\"fileCount\">1</Data><Data Name=\"RemoteName\">http://45.33.0.2/svc.exe</Data><Data Name=\"LocalName\">C:\\Temp\\svc.exe</Data><Data Name=\"processId\">4242</Data><Data Name=\"ClientProcessStartKey\">77</Data></EventData></Event>"
            echo "</Events>"
        } >"$dir/feed/001.tmp" && mv "$dir/feed/001.tmp" "$dir/feed/001.xml"
        alerted=""
        for _ in $(seq 1 75); do
            if grep -q 'eventlog:ReportEventW L"http://45.33.0.2/svc.exe"' "$logs/boot.log"; then
                alerted=1
                break
            fi
            sleep 0.2
        done
        if [ -n "$alerted" ]; then
            ok "detection alert reported"
            sleep 0.5
            # The 20 strings of the first detection event, in order, from the reporting thread only.
            line=$(grep -m1 'eventlog:ReportEventW L"http://45.33.0.2/svc.exe"' "$logs/boot.log")
            tid=${line%%:*}
            got=$(grep "^$tid:warn:eventlog:ReportEventW" "$logs/boot.log" | grep -A19 -m1 'L"http://45.33.0.2/svc.exe"' |
                sed -n 's/.*ReportEventW L"\(.*\)"$/\1/p')
            n=$(echo "$got" | wc -l)
            [ "$n" = 20 ] && ok "20 insertion strings" || fail "$n insertion strings, expected 20"
            expect_at() {
                local pos=$1 want=$2 have
                have=$(echo "$got" | sed -n "${pos}p")
                [ "$have" = "$want" ] && ok "%$pos = $want" || fail "%$pos = '$have', expected '$want'"
            }
            expect_at 1 "http://45.33.0.2/svc.exe"
            expect_at 2 "45.33.0.2"
            expect_at 3 "public-ip"
            expect_at 4 "http"
            expect_at 5 "-"
            expect_at 6 "0000002a-0000-4000-8000-00000000002a"
            expect_at 7 "svc job"
            expect_at 8 'WINE\\user'
            expect_at 9 "4242"
            expect_at 12 "WINE"
            expect_at 14 "11"
            expect_at 15 "16403"
            expect_at 18 "whatwg"
            expect_at 19 "-"
            expect_at 20 "http://45.33.0.2/svc.exe"
        else
            fail "no detection alert within 15 s"
        fi
    fi

    # 4. PARAMCHANGE: configuration from the registry, Group Policy winning value by value, an invalid
    # allowlist entry reported (event 103) and ignored, the service still running.
    run reg0 reg add 'HKLM\SOFTWARE\bitsguard' /v Allowlist /t REG_MULTI_SZ /d '198.51.100.0/24\0example.org' /f
    run reg1 reg add 'HKLM\SOFTWARE\Policies\bitsguard' /v Allowlist /t REG_SZ /d '10.0.0.0/99;192.0.2.1' /f
    run reg5 reg add 'HKLM\SOFTWARE\Policies\bitsguard' /v DatabasePath /t REG_EXPAND_SZ /d '%SystemDrive%\ProgramData\bitsguard\other.db' /f
    run reg2 reg add 'HKLM\SOFTWARE\bitsguard' /v RetentionDays /t REG_DWORD /d 9 /f
    run reg3 reg add 'HKLM\SOFTWARE\Policies\bitsguard' /v RetentionDays /t REG_DWORD /d 5 /f
    run reg4 reg add 'HKLM\SOFTWARE\bitsguard' /v Backfill /t REG_DWORD /d 7 /f
    # A reload is done when the service says so: event 102, then the old reader's "stopped" and the new
    # reader's "subscribed" (event 104), each counted from before the request.
    subscribed='ReportEventW L"subscribed"'
    n_sub=$(grep -c "$subscribed" "$boot")
    if run reload "$exe" reload; then
        ok "reload requested"
    else
        fail "reload exited $(cat "$logs/reload.rc")"; cat "$logs/reload.out" "$logs/reload.err"
    fi
    if event_wait "eventlog.*reloaded on PARAMCHANGE" 0; then
        ok "event 102 after PARAMCHANGE"
        # Event 102's strings follow "reloaded on PARAMCHANGE": allowlist count, backfill, retention days.
        strings=$(grep -A6 "eventlog.*reloaded on PARAMCHANGE" "$logs/boot.log" | sed -n 's/.*ReportEventW L"\(.*\)"/\1/p' | tr '\n' ' ')
        want='reloaded on PARAMCHANGE 1 1 5 0 0 C:\\ProgramData\\bitsguard\\other.db '
        [ "$strings" = "$want" ] &&
            ok "reloaded: policy Allowlist (REG_SZ, 1 valid entry) and RetentionDays win, Backfill 7 ignored, REG_EXPAND_SZ path expanded" ||
            fail "reloaded configuration strings: '$strings' (expected '$want')"
    else
        fail "no configuration event after PARAMCHANGE"
    fi
    event_wait "$subscribed" "$n_sub" && ok "the new reader subscribed after the reload (event 104)" ||
        fail "no 'subscribed' from the reader within 30 s of the reload"
    grep -q 'eventlog.*L"10.0.0.0/99"' "$logs/boot.log" && ok "event 103 names the invalid allowlist entry" ||
        fail "no event 103 for the invalid allowlist entry"
    grep -q 'eventlog.*L"Backfill"' "$logs/boot.log" && ok "event 103 names the invalid Backfill value" ||
        fail "no event 103 for Backfill=7"
    # The invalid values are also in the database's errors (where "config"), so `bitsguard status` lists them,
    # and the restarted engine records its process health there.
    listed=""
    for _ in $(seq 1 50); do
        run status_cfg "$exe" status --db 'C:\ProgramData\bitsguard\other.db'
        if grep -q 'config.*CONFIG.*Allowlist: .*10.0.0.0/99' "$logs/status_cfg.out" &&
            grep -q 'config.*CONFIG.*Backfill: must be 0 or 1' "$logs/status_cfg.out"; then
            listed=1
            break
        fi
        sleep 0.2
    done
    [ -n "$listed" ] && ok "status lists the invalid Allowlist entry and Backfill value under errors" ||
        { fail "status does not list the invalid configuration values"; cat "$logs/status_cfg.out" "$logs/status_cfg.err"; }
    grep -Eq '^service: *pid [0-9]+, [0-9]+\.[0-9] MB resident \(peak [0-9]+\.[0-9] MB\), [0-9]+ handles, sampled [0-9]+ s ago' \
        "$logs/status_cfg.out" && ok "status shows the service's pid, memory and handles" ||
        { fail "status has no service health line"; cat "$logs/status_cfg.out"; }
    # Without the policy's Allowlist the settings key's REG_MULTI_SZ (two entries) applies.
    run regdel0 reg delete 'HKLM\SOFTWARE\Policies\bitsguard' /v Allowlist /f
    n_before=$(grep -c "eventlog.*reloaded on PARAMCHANGE" "$logs/boot.log")
    n_sub=$(grep -c "$subscribed" "$boot")
    run reload2 "$exe" reload || fail "second reload exited $(cat "$logs/reload2.rc")"
    event_wait "eventlog.*reloaded on PARAMCHANGE" "$n_before" || fail "no configuration event after the second PARAMCHANGE"
    event_wait "$subscribed" "$n_sub" || fail "no 'subscribed' from the reader within 30 s of the second reload"
    count=$(grep -A1 "eventlog.*reloaded on PARAMCHANGE" "$logs/boot.log" | sed -n 's/.*ReportEventW L"\([0-9]*\)"$/\1/p' | tail -1)
    [ "$count" = 2 ] && ok "REG_MULTI_SZ allowlist: 2 entries" || fail "REG_MULTI_SZ allowlist gave '${count}' entries, expected 2"
    run query1b sc query bitsguard
    grep -q "STATE *: *4 *RUNNING" "$logs/query1b.out" && ok "still RUNNING after reload" || { fail "not running after reload"; cat "$logs/query1b.out"; }
    run regdel1 reg delete 'HKLM\SOFTWARE\bitsguard' /f
    run regdel2 reg delete 'HKLM\SOFTWARE\Policies\bitsguard' /f

    # 4c. PARAMCHANGE while the reader is stuck in one call for longer than the 30 s a stop may take (a 40 s
    # EvtRender): the new reader must start only once the old one has stopped. Two at once would share the
    # database and the bookmark, and the old one would read a configuration already freed.
    if [ -d "$dir/feed" ]; then
        : >"$dir/feed/trace.txt"
        echo 40000 >"$dir/feed/slow-render.tmp" && mv "$dir/feed/slow-render.tmp" "$dir/feed/slow-render.txt"
        g=0000003C-0000-4000-8000-00000000003C
        {
            echo "<Events>"
            echo "${ev_head}<EventID>3</EventID><Version>3</Version><Level>4</Level><TimeCreated SystemTime=\"2026-11-30T01:30:00.0000000Z\"/><EventRecordID>60</EventRecordID><Channel>Microsoft-Windows-Bits-Client/Operational</Channel><Computer>WINE</Computer><Security UserID=\"S-1-5-18\"/></System><EventData><Data Name=\"jobTitle\">stuck job</Data><Data Name=\"jobId\">{$g}</Data><Data Name=\"jobOwner\">WINE\\user</Data><Data Name=\"processId\">4343</Data></EventData></Event>"
            echo "${ev_head}<EventID>16403</EventID><Version>0</Version><Level>4</Level><TimeCreated SystemTime=\"2026-11-30T01:30:01.0000000Z\"/><EventRecordID>61</EventRecordID><Channel>Microsoft-Windows-Bits-Client/Operational</Channel><Computer>WINE</Computer><Security UserID=\"S-1-5-18\"/></System><EventData><Data Name=\"jobTitle\">stuck job</Data><Data Name=\"jobId\">{$g}</Data><Data Name=\"jobOwner\">WINE\\user</Data><Data Name=\"RemoteName\">http://45.33.0.61/stuck.exe</Data><Data Name=\"LocalName\">C:\\Temp\\s.exe</Data></EventData></Event>"
            echo "</Events>"
        } >"$dir/feed/003.tmp" && mv "$dir/feed/003.tmp" "$dir/feed/003.xml"
        # The reader took event 60 (the double traces it) and is now inside its 40 s EvtRender.
        for _ in $(seq 150); do grep -qx 'event 60' "$dir/feed/trace.txt" && break; sleep 0.2; done
        grep -qx 'event 60' "$dir/feed/trace.txt" || fail "the reader did not take the stuck job's first event"
        n_stop=$(grep -c 'ReportEventW L"stopped"' "$boot")
        n_sub=$(grep -c "$subscribed" "$boot")
        run reload3 "$exe" reload || fail "reload during a stuck call exited $(cat "$logs/reload3.rc")"
        rm -f "$dir/feed/slow-render.txt" # Only the call in progress stays slow.
        if event_wait "$subscribed" "$n_sub" 90; then
            stop_at=$(grep -n 'ReportEventW L"stopped"' "$boot" | sed -n "$((n_stop + 1))p" | cut -d: -f1)
            sub_at=$(grep -n "$subscribed" "$boot" | sed -n "$((n_sub + 1))p" | cut -d: -f1)
            [ -n "$stop_at" ] && [ "$stop_at" -lt "$sub_at" ] &&
                ok "reload during a 40 s call: the new reader subscribed after the old one stopped" ||
                fail "reload during a 40 s call: a new reader subscribed (boot.log line $sub_at) while the old one still ran (its stop: line ${stop_at:-none})"
        else
            fail "no reader subscribed within 90 s of a reload during a 40 s call"
        fi
        grep -q 'L"the reader did not stop in time"' "$boot" && fail "the reload gave up on the old reader"
        event_wait 'ReportEventW L"http://45.33.0.61/stuck.exe"' 0 && ok "the stuck job's detection was alerted after the reload" ||
            fail "the stuck job's detection was not alerted"
        [ "$(sc_state)" = 4 ] && ok "still RUNNING after the reload during a stuck call" || fail "not RUNNING after the reload during a stuck call"
    fi

    # 4b. Stop under load: slow rendering and 300 events queued, so the service is mid-batch when STOP
    # arrives. 30 ms per event keeps a full batch (64 events, ~2 s) inside the 5 s bound: measured, the
    # reader finishes the batch in hand before it stops (100 ms per event took 4.6 s, near the bound).
    if [ -d "$dir/feed" ] && [ "${BG_SVC_LOAD_STOP:-1}" = 1 ]; then
        echo "${BG_SVC_SLOW_RENDER_MS:-30}" >"$dir/feed/slow-render.tmp" && mv "$dir/feed/slow-render.tmp" "$dir/feed/slow-render.txt"
        {
            echo "<Events>"
            for ((k = 0; k < 150; k++)); do
                g=$(printf "%08X-0000-4000-8000-%012X" $((100 + k)) $((100 + k)))
                echo "${ev_head}<EventID>3</EventID><Version>3</Version><Level>4</Level><TimeCreated SystemTime=\"2026-11-30T02:00:00.0000000Z\"/><EventRecordID>$((100 + 2 * k))</EventRecordID><Channel>Microsoft-Windows-Bits-Client/Operational</Channel><Computer>WINE</Computer><Security UserID=\"S-1-5-18\"/></System><EventData><Data Name=\"jobTitle\">load $k</Data><Data Name=\"jobId\">{$g}</Data><Data Name=\"jobOwner\">WINE\\user</Data><Data Name=\"processId\">7</Data></EventData></Event>"
                echo "${ev_head}<EventID>16403</EventID><Version>0</Version><Level>4</Level><TimeCreated SystemTime=\"2026-11-30T02:00:01.0000000Z\"/><EventRecordID>$((101 + 2 * k))</EventRecordID><Channel>Microsoft-Windows-Bits-Client/Operational</Channel><Computer>WINE</Computer><Security UserID=\"S-1-5-18\"/></System><EventData><Data Name=\"jobTitle\">load $k</Data><Data Name=\"jobId\">{$g}</Data><Data Name=\"jobOwner\">WINE\\user</Data><Data Name=\"RemoteName\">http://45.33.1.$((k % 250 + 1))/load$k.exe</Data><Data Name=\"LocalName\">C:\\Temp\\l.exe</Data></EventData></Event>"
            done
            echo "</Events>"
        } >"$dir/feed/002.tmp" && mv "$dir/feed/002.tmp" "$dir/feed/002.xml"
        # STOP while the reader is mid-feed: wait until it alerted on the first of these events.
        event_wait 'ReportEventW L"http://45.33.1.' 0 || fail "the service read none of the 300 queued events"
        load_stop=1
    fi

    # 5. stop: STOP_PENDING then STOPPED within 5 s, and a stopped event.
    if run stop "$exe" stop; then
        ms=$(sed -n 's/.*stopped in \([0-9]*\) ms.*/\1/p' "$logs/stop.out")
        if [ -n "$ms" ] && [ "$ms" -le 5000 ]; then
            ok "stopped in $ms ms${load_stop:+ (while reading slowly rendered events)}"
        else
            fail "stop took ${ms:-?} ms"
        fi
    else
        fail "stop exited $(cat "$logs/stop.rc")"; cat "$logs/stop.out" "$logs/stop.err"
    fi
    run query2 sc query bitsguard
    grep -q "STATE *: *1 *STOPPED" "$logs/query2.out" && ok "sc query: STOPPED" || { fail "not STOPPED"; cat "$logs/query2.out"; }
    grep -q "eventlog.*stop requested" "$logs/boot.log" && ok "event 101 (stopped) reported" || fail "no stopped event"
    # Every reader has stopped now: the job read across the reload during a stuck call was alerted once.
    if [ -d "$dir/feed" ]; then
        # The URL as the first insertion string (two lines before the verdict %3); %20 repeats it exactly.
        n=$(grep -B2 'ReportEventW L"public-ip"' "$boot" | grep -c 'ReportEventW L"http://45.33.0.61/stuck.exe"')
        [ "$n" = 1 ] && ok "the stuck job's detection was alerted once" || fail "the stuck job's detection was alerted $n times"
    fi

    # 6. uninstall keeps the data unless asked; the service and the event source are gone.
    run uninstall "$exe" uninstall && ok "uninstall" || { fail "uninstall exited $(cat "$logs/uninstall.rc")"; cat "$logs/uninstall.out"; }
    teardown_log="$WINEPREFIX/drive_c/ProgramData/bitsguard/teardown.log"
    grep -q '^  remove event source  *ok' "$teardown_log" 2>/dev/null && grep -q '^bitsguard teardown: done' "$teardown_log" &&
        ok "teardown wrote its steps to teardown.log" || fail "no teardown.log with the steps"
    run query3 reg query 'HKLM\SYSTEM\CurrentControlSet\Services\bitsguard'
    grep -q "ImagePath" "$logs/query3.out" && { fail "service still exists"; cat "$logs/query3.out"; } || ok "service deleted"
    run regsrc2 reg query 'HKLM\SYSTEM\CurrentControlSet\Services\EventLog\Application\bitsguard'
    grep -q 'EventMessageFile' "$logs/regsrc2.out" && fail "event source still registered" || ok "event source removed"
    run regstatus2 reg query 'HKLM\SOFTWARE\bitsguard\Status'
    [ "$(cat "$logs/regstatus2.rc" 2>/dev/null)" = 0 ] && fail "Status key still there after teardown" || ok "Status key removed"
    [ -d "$WINEPREFIX/drive_c/ProgramData/bitsguard" ] && ok "data folder kept" || fail "data folder removed without --remove-data"
    if [ -d "$dir/feed" ]; then
        access=$(cat "$dir/feed/channel-access.sddl" 2>/dev/null)
        [ "$access" = "$access_default" ] && ok "teardown removed exactly the service's channel entry" ||
            fail "channel access after uninstall: '$access'"
    fi

    # Uninstall again, with --remove-data: the service is gone, the rest still applies.
    run uninstall2 "$exe" uninstall --remove-data && ok "uninstall --remove-data of an uninstalled service" ||
        { fail "second uninstall exited $(cat "$logs/uninstall2.rc")"; cat "$logs/uninstall2.out"; }
    [ -d "$WINEPREFIX/drive_c/ProgramData/bitsguard" ] && fail "data folder not removed" || ok "data folder removed"

    # Default install is auto-start with delayed start; Wine answers 124 for the latter: a warning, not a failure.
    if run install_auto "$exe" install; then
        ok "install (auto-start)"
    else
        fail "install (auto-start) exited $(cat "$logs/install_auto.rc")"; cat "$logs/install_auto.out"
    fi
    grep -q "delayed auto-start *ok\|delayed auto-start *warning: .*(error 124)" "$logs/install_auto.out" &&
        ok "delayed auto-start applied or reported as unsupported" || { fail "delayed auto-start"; grep delayed "$logs/install_auto.out"; }
    run qc_auto reg query 'HKLM\SYSTEM\CurrentControlSet\Services\bitsguard'
    grep -q 'Start.*REG_DWORD.*0x2' "$logs/qc_auto.out" && ok "auto start" || fail "start type is not auto (2)"
    run uninstall3 "$exe" uninstall --remove-data || fail "uninstall of the auto-start service exited $(cat "$logs/uninstall3.rc")"

    # 7. A service that already exists under our name with another account and path (created by someone
    # else): install keeps it only after setting LocalService and the quoted path of this exe.
    run sc_evil sc create bitsguard binpath= 'C:\evil.exe service' obj= LocalSystem start= demand
    run install_existing "$exe" install --start demand ||
        fail "install over an existing service exited $(cat "$logs/install_existing.rc")"
    grep -q "existing service account/path *ok: account was LocalSystem; image path was C:.evil.exe service, fixed" \
        "$logs/install_existing.out" && ok "install over a foreign service reports the account and path it fixed" ||
        { fail "install over a foreign service"; cat "$logs/install_existing.out"; }
    run qc_existing reg query 'HKLM\SYSTEM\CurrentControlSet\Services\bitsguard'
    grep -q 'ObjectName.*NT AUTHORITY\\LocalService' "$logs/qc_existing.out" &&
        grep -q 'ImagePath.*"C:\\Program Files\\bitsguard\\bitsguard.exe" service' "$logs/qc_existing.out" &&
        ok "the existing service now runs this exe as LocalService" || { fail "existing service not fixed"; cat "$logs/qc_existing.out"; }
    run uninstall4 "$exe" uninstall --remove-data || fail "uninstall after the foreign service exited $(cat "$logs/uninstall4.rc")"

    # 8. A data folder planted before install (users may create folders in ProgramData). Wine shows a Unix
    # symlink to a folder as a reparse point and resolves a file link in the handle's final path, so both
    # refusals are exercised here; the victim's files must survive setup and --remove-data untouched.
    mkdir -p "$victim"
    echo secret >"$victim/secret.db"
    ln -s "$victim" "$pd/bitsguard"
    run install_link "$exe" install --start demand && fail "install accepted a data folder that is a link" ||
        ok "install refused a data folder that is a link (exit $(cat "$logs/install_link.rc"))"
    grep -q "data folder ACL *FAILED: .*it is a reparse point" "$logs/install_link.out" &&
        ok "the refusal names the reparse point" || { fail "no reparse-point refusal"; cat "$logs/install_link.out"; }
    run uninstall_link "$exe" uninstall --remove-data && fail "--remove-data accepted a data folder that is a link" ||
        ok "--remove-data refused a data folder that is a link"
    [ -f "$victim/secret.db" ] && [ -L "$pd/bitsguard" ] && ok "the link's target is untouched" ||
        fail "the link's target was changed"
    rm -f "$pd/bitsguard"
    # A real folder holding a link named like the database, one of our files and a file that is not ours.
    mkdir -p "$pd/bitsguard"
    ln -s "$victim/secret.db" "$pd/bitsguard/bitsguard.db"
    echo wal >"$pd/bitsguard/bitsguard.db-wal"
    echo keep >"$pd/bitsguard/notes.txt"
    run install_flink "$exe" install --start demand && fail "install accepted a database that is a link" ||
        ok "install refused a database file that is a link"
    grep -q "data files ACL *FAILED: .*bitsguard.db: it resolves to another path" "$logs/install_flink.out" &&
        ok "the refusal names the linked database" || { fail "no refusal of the linked database"; cat "$logs/install_flink.out"; }
    run uninstall_flink "$exe" uninstall --remove-data && fail "--remove-data removed a folder holding a link" ||
        ok "--remove-data stops at the link and the foreign file"
    [ -f "$victim/secret.db" ] && [ "$(cat "$victim/secret.db")" = secret ] && ok "--remove-data did not delete through the link" ||
        fail "--remove-data deleted the link's target"
    [ ! -e "$pd/bitsguard/bitsguard.db-wal" ] && ok "--remove-data deleted the store's own file" ||
        fail "bitsguard.db-wal not deleted"
    [ -f "$pd/bitsguard/notes.txt" ] && grep -q "kept.*notes.txt" "$logs/uninstall_flink.out" &&
        ok "--remove-data kept and named a file bitsguard does not make" || fail "notes.txt deleted or not named"
    rm -f "$pd/bitsguard/bitsguard.db" "$pd/bitsguard/notes.txt"
    rm -rf "$victim"
    run uninstall5 "$exe" uninstall --remove-data || fail "final uninstall exited $(cat "$logs/uninstall5.rc")"
    [ -e "$pd/bitsguard" ] && fail "data folder left after the final uninstall" || ok "data folder removed at the end"

    echo "--- eventlog lines"
    grep eventlog "$logs/boot.log" | head -20
    if [ "$failures" -ne 0 ]; then
        echo "$failures failure(s); logs in $logs"
        exit 1
    fi
    echo "all passed"
    exit 0
}
harness_main install_test
