#!/usr/bin/env bash
# `bitsguard selftest` end to end under Wine: the installed service with the wevtapi double, Wine's BITS service.
#
# Usage: test_e2e_selftest.sh BITSGUARD_EXE WEVTAPI_DLL
# Wine logs no Bits-Client events, so when selftest prints its job id this script writes into the double's
# feed the events Windows would log for that job (3 created, 16403 file added, 5 cancelled). Checks: each
# stage printed with its latency and exit 0; the self-test stored and alerted as such (the selftests row,
# an Information ReportEventW carrying the nonce); the job created through Wine's BITS service and
# cancelled; with no event logged, exit 6 naming the stage; a job titled like a self-test whose nonce no
# administrator registered alerted as an ordinary detection.
# Exit 0 pass, 1 fail, 77 skip (no Wine).
# shellcheck disable=SC2034,SC2154 # exe and dll are read by harness.sh, which sets work, db, boot, failures.
set -u
exe=${1:?usage: test_e2e_selftest.sh BITSGUARD_EXE WEVTAPI_DLL}
dll=${2:?usage: test_e2e_selftest.sh BITSGUARD_EXE WEVTAPI_DLL}
top=$(cd "$(dirname "$0")/../.." && pwd)

# shellcheck source=tests/wevtapi/harness.sh
. "$(dirname "$0")/harness.sh"
wine_find
export WINEDEBUG=-all,+eventlog
prefix_env "${BG_E2E_SELFTEST_WINEPREFIX:-$top/.cache/wine-prefix-e2e-selftest}"

# Feed file NAME.xml: the events Windows logs for a BITS job GUID titled TITLE with file URL, from
# record RECORD: 3 (created), 16403 (file added), 5 (cancelled), stamped now.
feed_bits_job() {
    local name=$1 guid=$2 title=$3 url=$4 record=$5 now
    now=$(date -u +%Y-%m-%dT%H:%M:%S.0000000Z)
    local sys='<Provider Name="Microsoft-Windows-Bits-Client"/><EventID>%s</EventID><Version>%s</Version><Level>4</Level><TimeCreated SystemTime="'"$now"'"/><EventRecordID>%s</EventRecordID><Channel>Microsoft-Windows-Bits-Client/Operational</Channel><Computer>WINE</Computer><Security UserID="S-1-5-18"/>'
    {
        echo "<Events>"
        # shellcheck disable=SC2059 # the System part is a format on purpose
        printf "<Event xmlns=\"http://schemas.microsoft.com/win/2004/08/events/event\"><System>$sys</System><EventData><Data Name=\"jobTitle\">%s</Data><Data Name=\"jobId\">{%s}</Data><Data Name=\"jobOwner\">WINE\\\\admin</Data><Data Name=\"processPath\">C:\\\\bitsguard\\\\bitsguard.exe</Data><Data Name=\"processId\">4242</Data><Data Name=\"ClientProcessStartKey\">77</Data></EventData></Event>\n" \
            3 3 "$record" "$title" "$guid"
        # shellcheck disable=SC2059
        printf "<Event xmlns=\"http://schemas.microsoft.com/win/2004/08/events/event\"><System>$sys</System><EventData><Data Name=\"User\">WINE\\\\admin</Data><Data Name=\"jobTitle\">%s</Data><Data Name=\"jobId\">{%s}</Data><Data Name=\"jobOwner\">WINE\\\\admin</Data><Data Name=\"fileCount\">1</Data><Data Name=\"RemoteName\">%s</Data><Data Name=\"LocalName\">C:\\\\windows\\\\temp\\\\t.bin</Data><Data Name=\"processId\">4242</Data><Data Name=\"ClientProcessStartKey\">77</Data></EventData></Event>\n" \
            16403 0 $((record + 1)) "$title" "$guid" "$url"
        # shellcheck disable=SC2059
        printf "<Event xmlns=\"http://schemas.microsoft.com/win/2004/08/events/event\"><System>$sys</System><EventData><Data Name=\"User\">WINE\\\\admin</Data><Data Name=\"jobTitle\">%s</Data><Data Name=\"jobId\">{%s}</Data><Data Name=\"jobOwner\">WINE\\\\admin</Data><Data Name=\"fileCount\">1</Data></EventData></Event>\n" \
            5 0 $((record + 2)) "$title" "$guid"
        echo "</Events>"
    } >"$work/gen/$name.tmp" && mv "$work/gen/$name.tmp" "$work/feed/$name.xml"
}

e2e_selftest() {
    work_make e2e-selftest
    trap '[ "$failures" -eq 0 ] && rm -rf "$work"' EXIT
    prefix_boot || exit 1
    w "$work/bitsguard.exe" install --start demand >"$work/install.log" 2>&1 || { fail "install"; cat "$work/install.log"; }
    w reg add 'HKLM\SOFTWARE\bitsguard' /v DatabasePath /t REG_SZ /d "$db" /f >/dev/null 2>&1 || fail "reg add"
    service_restart && echo "ok   installed and RUNNING" || exit 1
    # Wine's BITS service (qmgr) runs the job side; COM activation alone failed on a fresh prefix.
    w sc start BITS >"$work/bits-start.log" 2>&1

    # 1. The whole chain: selftest in the background; its job id appears, then the events Windows would log.
    w "$work/bitsguard.exe" selftest --timeout 60 >"$work/selftest.out" 2>"$work/selftest.err" &
    local pid=$! guid="" url="" nonce
    for _ in $(seq 300); do
        guid=$(tr -d '\r' <"$work/selftest.out" | sed -n 's/^  job {\([0-9a-f-]*\)} .*/\1/p')
        [ -n "$guid" ] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    [ -n "$guid" ] || fail "selftest printed no job id: $(cat "$work/selftest.out" "$work/selftest.err")"
    url=$(tr -d '\r' <"$work/selftest.out" | sed -n 's/^  job {[0-9a-f-]*} \(.*\)$/\1/p')
    nonce=$(tr -d '\r' <"$work/selftest.out" | sed -n 's/^bitsguard selftest \([0-9a-f]*\)$/\1/p')
    [ -n "$nonce" ] || fail "selftest printed no nonce"
    [ -n "$guid" ] && feed_bits_job 001 "$guid" "bitsguard selftest $nonce" "$url" 100
    wait "$pid"
    local st=$?
    tr -d '\r' <"$work/selftest.out" >"$work/selftest.txt"
    sed 's/^/     | /' "$work/selftest.txt" # the stages and their latencies, for the log
    [ "$st" -eq 0 ] || fail "selftest exited $st: $(cat "$work/selftest.txt" "$work/selftest.err")"
    for stage in "job created" "event logged" "stored" "alert written" "job cancelled"; do
        grep -Eq "^  $stage +ok +[0-9]+ ms$" "$work/selftest.txt" || fail "stage '$stage' not reported ok with a latency"
    done
    grep -q "^selftest passed$" "$work/selftest.txt" || fail "no 'selftest passed'"
    case "$url" in http://192.88.99.1/bitsguard-selftest/"$nonce".bin) ;; *) fail "unexpected remote name '$url'" ;; esac
    n=$(sqlite3 "$work/bg.db" "SELECT count(*) FROM selftests WHERE nonce = '$nonce' AND job_id = '$guid'
        AND stored_at IS NOT NULL AND alerted_at IS NOT NULL")
    [ "$n" = 1 ] || fail "the selftests row is not stored and alerted"
    # An Information event (Wine prints those as trace:) with the nonce in the title, not a detection warning.
    grep -q "trace:eventlog:ReportEventW L\"bitsguard selftest $nonce\"" "$boot" || fail "no self-test alert in the Event Log"
    grep -q "warn:eventlog:ReportEventW L\"bitsguard selftest $nonce\"" "$boot" && fail "the self-test was alerted as a detection"
    [ "$failures" -eq 0 ] && echo "ok   selftest: every stage, stored and alerted as a self-test"
    # The job went through Wine's BITS service and was cancelled (Wine lists cancelled jobs; Windows drops them).
    w "$work/bitsguard.exe" jobs --format json >"$work/jobs.json" 2>"$work/jobs.err"
    if grep -q "\"job_id\":\"$guid\"" "$work/jobs.json"; then
        grep -q "\"job_id\":\"$guid\".*\"state\":\"cancelled\"" "$work/jobs.json" || fail "the self-test job is not cancelled"
    fi

    # 2. No event ever logged (nothing written to the feed): exit 6, naming the stage, job cancelled.
    w "$work/bitsguard.exe" selftest --timeout 3 >"$work/selftest2.out" 2>"$work/selftest2.err"
    st=$?
    [ "$st" -eq 6 ] || fail "selftest without events exited $st, expected 6: $(cat "$work/selftest2.err")"
    grep -q "stage event logged: Windows logged no Bits-Client event" "$work/selftest2.err" || fail "stage 6 not explained"
    grep -Eq "^  job cancelled +ok" "$work/selftest2.out" || fail "the job of the failed self-test was not cancelled"
    [ "$failures" -eq 0 ] && echo "ok   a missing event fails stage 6 and cancels the job"

    # 3. A job titled like a self-test with a nonce nobody registered: an ordinary detection alert.
    feed_bits_job 002 "0f0f0f0f-0000-4000-8000-00000000beef" "bitsguard selftest 0123456789abcdef0123456789abcdef" \
        "http://45.33.32.156/p.exe" 200
    for _ in $(seq 100); do
        grep -q 'ReportEventW L"http://45.33.32.156/p.exe"' "$boot" && break
        sleep 0.2
    done
    grep -q 'warn:eventlog:ReportEventW L"http://45.33.32.156/p.exe"' "$boot" ||
        fail "a job with an unregistered self-test nonce was not alerted as a detection"
    [ "$failures" -eq 0 ] && echo "ok   an unregistered nonce is a detection"

    w sc stop bitsguard >/dev/null 2>&1
    wait_state 1 10
    w "$work/bitsguard.exe" uninstall >"$work/uninstall.log" 2>&1 || fail "uninstall"
    [ "$failures" -eq 0 ] || { echo "$failures failure(s); work folder kept: $work"; exit 1; }
    echo "all selftest end-to-end checks passed"
    exit 0
}
harness_main e2e_selftest
