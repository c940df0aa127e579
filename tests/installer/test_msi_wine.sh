#!/usr/bin/env bash
# Installs bitsguard's MSI with Wine's msiexec and checks install, service, events, upgrade, downgrade refusal and uninstall.
#
# usage: test_msi_wine.sh WIXL BITSGUARD_EXE WXS VERSION WORKDIR [WEVTAPI_DLL FEED_XML EXPECTED]
#   WORKDIR  holds the MSIs, the run's Wine prefix (a fresh copy of the harness's pristine template per
#            attempt) and every log (the harness's folder WORKDIR/prefix.harness, kept for inspection).
#   WEVTAPI_DLL, FEED_XML, EXPECTED: the wevtapi test double, a file of Bits-Client events and its
#            .expected file (job id, URL, IP per line); when given, the events are fed to the installed
#            service and every expected URL and IP must show up in `bitsguard query`.
# Exit: 0 pass, 1 fail, 77 skip (no Wine). Prints "figure:" lines (MSI size, msiexec times).
#
# Runs through the Wine harness (tests/wevtapi/harness.sh): a persistent wineserver so the service lives
# between commands; every wine command bounded and its output in a file, never a pipe (the service
# inherits the booting process's stdout/stderr); a Wine crash retried on a fresh prefix and reported as
# Wine's; every process of the prefix ended on exit. msiexec's exit code arrives modulo 256.
set -u
# Checks read `COND && pass ... || fail ...`: pass and fail always return 0, so exactly one runs.
# shellcheck disable=SC2015,SC2317
if [ $# -ne 5 ] && [ $# -ne 8 ]; then
    echo "usage: test_msi_wine.sh WIXL BITSGUARD_EXE WXS VERSION WORKDIR [WEVTAPI_DLL FEED_XML EXPECTED]" >&2
    exit 2
fi
wixl=$1 exe=$2 wxs=$3 version=$4 work=$5 dll=${6:-} feed=${7:-} expected=${8:-}
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
build_msi="$top/installer/build-msi.sh"

# shellcheck source=tests/wevtapi/harness.sh
. "$top/tests/wevtapi/harness.sh"
wine_find

# Exit codes of msiexec as Wine's process exit status shows them (8 bits).
MSI_OK=0
MSI_FATAL=$((1603 % 256)) # 1603 ERROR_INSTALL_FAILURE: what a refused downgrade returns -> 67
# 1638 ERROR_PRODUCT_VERSION (another version of this product is installed) would be 1638 % 256 = 102.

pass() { echo "ok: $*"; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
# Z:\... path of a Unix path, as the Windows side sees it.
winpath() { printf 'Z:%s' "${1//\//\\}"; }

mkdir -p "$work"
work=$(cd "$work" && pwd)
rm -rf "$work/logs" # The layout before the harness.

# --- the MSIs: this version, and the next build number for the upgrade (the downgrade test then
# installs this version over the newer one). Same script as the `msi` target.
if ! [[ "$version" =~ ^([0-9]+)\.([0-9]+)\.([0-9]+)$ ]]; then
    echo "FAIL: version '$version' is not major.minor.build"
    exit 1
fi
next="${BASH_REMATCH[1]}.${BASH_REMATCH[2]}.$((BASH_REMATCH[3] + 1))"
msi_base="$work/bitsguard-$version-x64.msi"
msi_next="$work/bitsguard-$next-x64.msi"
if ! bash "$build_msi" "$wixl" "$exe" "$wxs" "$version" https://example.invalid/help "$msi_base" >"$work/wixl-base.log" 2>&1 ||
    ! bash "$build_msi" "$wixl" "$exe" "$wxs" "$next" https://example.invalid/help "$msi_next" >"$work/wixl-next.log" 2>&1; then
    cat "$work"/wixl-*.log
    echo "FAIL: wixl could not build the MSIs"
    exit 1
fi
echo "figure: MSI size $(stat -c %s "$msi_base") bytes (bitsguard.exe $(stat -c %s "$exe") bytes)"

# --- the Wine prefix: fresh per attempt; the wevtapi double put in system32 below wins over Wine's
# builtin stub (prefix_env sets wevtapi=n,b).
export WINEDEBUG="-all,+eventlog"
prefix_env "$work/prefix"
logs=$hdir
msi_test() {
    drive_c="$WINEPREFIX/drive_c"
    program_dir="$drive_c/Program Files/bitsguard"
    data_dir="$drive_c/ProgramData/bitsguard"

    # The wevtapi test double replaces Wine's stub in system32 (Wine's stub aborts the process on
    # EvtCreateBookmark, so the service must never start without the double). Its feed folder is beside
    # it; the program folder then holds exactly what the MSI installs.
    if [ -n "$dll" ]; then
        cp "$dll" "$drive_c/windows/system32/wevtapi.dll"
        mkdir -p "$drive_c/windows/system32/feed"
        cp "$feed" "$drive_c/windows/system32/feed/"
    fi
    # The first wine process boots the prefix; services.exe and the service inherit its output: boot.log.
    prefix_boot || exit 1

    # Runs one wine command with its output in $logs/NAME.log; returns its exit status.
    wrun() {
        local name=$1
        shift
        timeout -s KILL 120 "$wine" "$@" </dev/null >"$logs/$name.log" 2>&1 8>&-
    }
    # msiexec with a verbose log; sets msi_rc and msi_time.
    msiexec_run() {
        local name=$1
        shift
        local t0
        t0=$(now)
        timeout -s KILL 300 "$wine" msiexec "$@" /qn /l*v "$(winpath "$logs/$name.msilog")" </dev/null >"$logs/$name.log" 2>&1 8>&-
        msi_rc=$?
        msi_time=$(elapsed "$t0" "$(now)")
    }
    # Waits up to $2 seconds for `sc query` to show state $1 (RUNNING, STOPPED).
    service_wait() {
        local want=$1 limit=$2 i
        for ((i = 0; i < limit * 4; i++)); do
            wrun sc-query sc query bitsguard
            grep -Eq "STATE +: [0-9]+ +$want" "$logs/sc-query.log" && return 0
            sleep 0.25
        done
        return 1
    }
    reg_value() { # KEY NAME: prints the data of one registry value (empty when absent)
        wrun reg-query reg query "$1" /v "$2" || return 1
        sed -n -E "s/^ +$2 +REG_[A-Z_]+ +(.*)\r?$/\1/p" "$logs/reg-query.log" | tr -d '\r'
    }
    arp_version() { # DisplayVersion of the installed bitsguard (Add/Remove Programs)
        wrun arp reg query 'HKLM\Software\Microsoft\Windows\CurrentVersion\Uninstall' /s
        tr -d '\r' <"$logs/arp.log" | awk '/^HKEY/ { key = $0; name = ""; ver = "" }
            / DisplayName / { name = $3 } / DisplayVersion / { ver = $3 }
            name == "bitsguard" && ver != "" { print ver; exit }'
    }
    query_rows() { # bitsguard query through the installed exe, as JSON (the table shortens long URLs): query-$1.log
        wrun "query-$1" "C:\\Program Files\\bitsguard\\bitsguard.exe" query --format json
    }

    svc_key='HKLM\SYSTEM\CurrentControlSet\Services\bitsguard'
    cfg_key='HKLM\SOFTWARE\bitsguard'
    evt_key='HKLM\SYSTEM\CurrentControlSet\Services\EventLog\Application\bitsguard'

    # ------------------------------------------------------------------ install with public properties
    # RETENTION_DAYS: not the default, and long enough for the fixture's 2024 events to survive restarts.
    msiexec_run install /i "$(winpath "$msi_base")" 'ALLOWLIST=203.0.113.0/24;updates.example.com' RETENTION_DAYS=36500
    echo "figure: install $msi_time s"
    if [ "$msi_rc" -ne "$MSI_OK" ]; then
        fail "msiexec /i exited $msi_rc (see $logs/install.msilog)"
        exit 1
    fi
    pass "msiexec /i $version exit 0"
    [ -f "$program_dir/bitsguard.exe" ] && pass "bitsguard.exe in Program Files" || fail "no $program_dir/bitsguard.exe"

    # The service as the SCM stored it (Wine's sc has no qc; the SCM's registry key is the same data).
    image=$(reg_value "$svc_key" ImagePath)
    [ "$image" = '"C:\Program Files\bitsguard\bitsguard.exe" service' ] && pass "quoted image path: $image" ||
        fail "image path not quoted: [$image] (Wine's msiexec writes it unquoted: 'bitsguard setup' must quote it)"
    account=$(reg_value "$svc_key" ObjectName)
    [ "$account" = 'NT AUTHORITY\LocalService' ] && pass "account $account" || fail "account [$account]"
    start=$(reg_value "$svc_key" Start)
    [ "$start" = 0x2 ] && pass "start type auto (2)" || fail "start type [$start], want 0x2 (auto)"
    service_wait RUNNING 20 && pass "service RUNNING after install" || fail "service not RUNNING: $(tr -d '\r' <"$logs/sc-query.log")"

    # Event Log source and configuration values.
    [ "$(reg_value "$evt_key" EventMessageFile)" = 'C:\Program Files\bitsguard\bitsguard.exe' ] &&
        pass "EventMessageFile" || fail "EventMessageFile [$(reg_value "$evt_key" EventMessageFile)]"
    [ "$(reg_value "$evt_key" TypesSupported)" = 0x7 ] && pass "TypesSupported 7" || fail "TypesSupported"
    [ "$(reg_value "$cfg_key" Allowlist)" = '203.0.113.0/24;updates.example.com' ] && pass "ALLOWLIST written" ||
        fail "Allowlist [$(reg_value "$cfg_key" Allowlist)]"
    [ "$(reg_value "$cfg_key" RetentionDays)" = 36500 ] && pass "RETENTION_DAYS written" || fail "RetentionDays"
    [ "$(reg_value "$cfg_key" Backfill)" = 1 ] && pass "Backfill default 1" || fail "Backfill [$(reg_value "$cfg_key" Backfill)]"
    [ "$(reg_value "$cfg_key" AlertPrivateRanges)" = 0 ] && pass "AlertPrivateRanges default 0" || fail "AlertPrivateRanges"
    [ "$(arp_version)" = "$version" ] && pass "Add/Remove Programs shows $version" || fail "ARP version [$(arp_version)]"
    # The service read them: its "configuration loaded" event (102) carries the retention days.
    grep -q 'eventlog:ReportEventW L"36500"' "$logs/boot.log" && pass "the service loaded RetentionDays=36500 (event 102)" ||
        fail "no configuration-loaded event with RetentionDays 36500 in boot.log"
    # The deferred custom action ran bitsguard.exe setup (its output reaches msiexec's stdout under Wine).
    grep -q 'bitsguard setup: done' "$logs/install.log" && pass "setup custom action ran and succeeded" ||
        fail "no 'bitsguard setup: done' in $logs/install.log"
    # setup (the deferred custom action) creates the data folder before the service starts.
    [ -d "$data_dir" ] && pass "data folder created" || fail "no $data_dir after install"

    # ------------------------------------------------------------------ events through the test double
    if [ -n "$dll" ]; then
        # Every expected detection (URL and IP) listed; the service commits batches, so poll a little.
        want=$(grep -c . "$expected")
        seen=0
        for ((i = 0; i < 60; i++)); do
            query_rows feed
            seen=0
            while IFS=$'\t' read -r _job url ip; do
                grep -qF "$url" "$logs/query-feed.log" && grep -qF "$ip" "$logs/query-feed.log" && seen=$((seen + 1))
            done <"$expected"
            [ "$seen" = "$want" ] && break
            sleep 0.5
        done
        [ "$want" -gt 0 ] && [ "$seen" = "$want" ] && pass "all $want expected detections in bitsguard query" ||
            fail "$seen of $want expected detections in bitsguard query: $(tr -d '\r' <"$logs/query-feed.log" | head -n 5)"
        # Wine prints ReportEventW's insertion strings on the eventlog channel of the booting process.
        alerted=0
        while IFS=$'\t' read -r _job url ip; do
            grep 'eventlog:ReportEventW' "$logs/boot.log" | grep -qF "L\"$url\"" && alerted=$((alerted + 1))
        done <"$expected"
        [ "$alerted" = "$want" ] && pass "an Event Log alert for each detection" || fail "$alerted of $want detections alerted"
    else
        echo "note: no wevtapi test double given: the events step is not run"
    fi

    # ------------------------------------------------------------------ upgrade keeps data and settings
    db="$data_dir/bitsguard.db"
    db_before=""
    [ -f "$db" ] && db_before=$(stat -c %s "$db")
    [ -n "$dll" ] && cp "$logs/query-feed.log" "$logs/query-before-upgrade.log"
    # A property given on the upgrade's command line wins; the others come back from the registry.
    msiexec_run upgrade /i "$(winpath "$msi_next")" ALERT_PRIVATE=1
    echo "figure: upgrade $msi_time s"
    [ "$msi_rc" -eq "$MSI_OK" ] && pass "upgrade to $next exit 0" || fail "upgrade exited $msi_rc"
    [ "$(arp_version)" = "$next" ] && pass "Add/Remove Programs shows $next" || fail "after upgrade ARP [$(arp_version)]"
    service_wait RUNNING 20 && pass "service RUNNING after upgrade" || fail "service not RUNNING after upgrade"
    [ "$(reg_value "$cfg_key" Allowlist)" = '203.0.113.0/24;updates.example.com' ] && pass "upgrade kept ALLOWLIST" ||
        fail "upgrade lost Allowlist [$(reg_value "$cfg_key" Allowlist)]"
    [ "$(reg_value "$cfg_key" RetentionDays)" = 36500 ] && pass "upgrade kept RETENTION_DAYS" || fail "upgrade lost RetentionDays"
    [ "$(reg_value "$cfg_key" AlertPrivateRanges)" = 1 ] && pass "ALERT_PRIVATE=1 given to the upgrade applied" ||
        fail "AlertPrivateRanges [$(reg_value "$cfg_key" AlertPrivateRanges)] after the upgrade with ALERT_PRIVATE=1"
    # Under Wine the older version's teardown also runs during the upgrade (no UPGRADINGPRODUCTCODE):
    # the newer version must leave the Event Log source registered all the same.
    [ "$(reg_value "$evt_key" EventMessageFile)" = 'C:\Program Files\bitsguard\bitsguard.exe' ] &&
        pass "Event Log source registered after the upgrade" || fail "Event Log source lost in the upgrade"
    if [ -n "$db_before" ]; then
        [ -f "$db" ] && pass "database survived the upgrade ($(stat -c %s "$db") bytes, was $db_before)" ||
            fail "database gone after upgrade"
    fi
    if [ -n "$dll" ]; then
        # Every detection listed before is still listed (the data survived, not just the file).
        query_rows after-upgrade
        missing=0
        while IFS= read -r ip; do
            grep -qF "$ip" "$logs/query-after-upgrade.log" || missing=$((missing + 1))
        done < <(grep -Eo '([0-9]{1,3}\.){3}[0-9]{1,3}' "$logs/query-before-upgrade.log" | sort -u)
        [ "$missing" = 0 ] && pass "detections survived the upgrade" || fail "$missing detection addresses lost in the upgrade"
    fi

    # ------------------------------------------------------------------ downgrade refused
    msiexec_run downgrade /i "$(winpath "$msi_base")"
    echo "figure: refused downgrade $msi_time s"
    [ "$msi_rc" -eq "$MSI_FATAL" ] && pass "downgrade refused: exit $msi_rc (1603 % 256)" ||
        fail "downgrade exited $msi_rc, want $MSI_FATAL (1603 % 256)"
    [ "$(arp_version)" = "$next" ] && pass "still $next installed" || fail "after downgrade attempt ARP [$(arp_version)]"
    service_wait RUNNING 10 && pass "service still RUNNING" || fail "service not RUNNING after the refused downgrade"

    # ------------------------------------------------------------------ uninstall keeps the data
    msiexec_run uninstall /x "$(winpath "$msi_next")"
    echo "figure: uninstall $msi_time s"
    [ "$msi_rc" -eq "$MSI_OK" ] && pass "msiexec /x exit 0" || fail "uninstall exited $msi_rc"
    grep -q 'bitsguard teardown:' "$logs/uninstall.log" && pass "teardown custom action ran" ||
        fail "no 'bitsguard teardown:' output in $logs/uninstall.log"
    wrun svc-gone reg query "$svc_key" && fail "service still registered after uninstall" || pass "service removed"
    wrun sc-query sc query bitsguard
    grep -q 'RUNNING' "$logs/sc-query.log" && fail "service still running after uninstall" || pass "service not running"
    [ ! -e "$program_dir" ] && pass "program folder removed" || fail "left behind: $(ls -A "$program_dir" | tr '\n' ' ')"
    wrun evt-gone reg query "$evt_key" && fail "Event Log source left registered" || pass "Event Log source removed"
    [ -z "$(arp_version)" ] && pass "gone from Add/Remove Programs" || fail "still in Add/Remove Programs"
    [ -d "$data_dir" ] && pass "data folder kept without REMOVE_DATA" || fail "data folder removed without REMOVE_DATA=1"
    if [ -n "$db_before" ]; then
        [ -f "$db" ] && pass "database kept" || fail "database removed without REMOVE_DATA=1"
    fi

    # ------------------------------------------------------------------ REMOVE_DATA=1 removes it
    msiexec_run reinstall /i "$(winpath "$msi_base")"
    [ "$msi_rc" -eq "$MSI_OK" ] && pass "reinstall $version exit 0" || fail "reinstall exited $msi_rc"
    service_wait RUNNING 20 || fail "service not RUNNING after reinstall"
    msiexec_run uninstall-data /x "$(winpath "$msi_base")" REMOVE_DATA=1
    echo "figure: uninstall with REMOVE_DATA=1 $msi_time s"
    [ "$msi_rc" -eq "$MSI_OK" ] && pass "msiexec /x REMOVE_DATA=1 exit 0" || fail "uninstall REMOVE_DATA=1 exited $msi_rc"
    [ ! -e "$data_dir" ] && pass "data folder removed with REMOVE_DATA=1" ||
        fail "data left with REMOVE_DATA=1 (bitsguard teardown --remove-data removes it): $(ls -A "$data_dir" | tr '\n' ' ')"
    [ ! -e "$program_dir" ] && pass "program folder removed" || fail "program folder left after second uninstall"

    if [ "$failures" -ne 0 ]; then
        echo "$failures check(s) failed; logs in $logs"
        exit 1
    fi
    echo "all installer checks passed"
    exit 0
}
harness_main msi_test
