# The one Wine harness (sourced) of the tests that boot a prefix or start a service: prefixes, bounded calls, retries.
# shellcheck shell=bash disable=SC2154 # top, exe and dll are set by the script that sources it.
#
# Usage: set top (the repo root) and, for work_make, exe and dll; `. "$top/tests/wevtapi/harness.sh"`;
# wine_find; prefix_env PREFIX; define the test as a function BODY and end the script with
# `harness_main BODY`. harness_main runs BODY in a subshell up to BG_WINE_ATTEMPTS times (default 3),
# each time on a fresh copy of a pristine template prefix, and decides what a failed attempt means:
#   - Wine's fault when the attempt saw a Wine crash: "wineserver crashed" in the prefix's server log, the
#     persistent wineserver the harness started gone or replaced, or a crash the body recorded with
#     wine_fault. The attempt is reported as such (`harness: WINE FAULT ...`) and run again from a fresh
#     prefix; it never counts as a product failure.
#   - a product failure otherwise: the test fails at once, without a retry. A product failure in an
#     attempt that also saw a Wine crash must fail its retry too, so a retry never hides one.
# BODY exits 0 (pass), 1 (failure), 77 (skip); it may give up with wine_giveup when Wine fails under it.
# Whatever happens (pass, failure, INT, TERM, or SIGKILL of the script, through a watchdog), every process
# of the prefix is ended by pid on exit: `wineserver -k` only reaches the clients of a live server, and
# those of a crashed one hang for ever (seen: 21 of them an hour after a failed run).
#
# Rules every Wine call here follows: stdin from /dev/null and output never a pipe (Wine's helper processes
# and the service inherit the output of whoever boots the prefix, and a pipe they hold never closes); 8>&- so
# a lock on descriptor 8 is not inherited by Wine's long-lived processes.

failures=0
unplanned=0

fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

# shellcheck source=../../cmake/wine-find.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../cmake/wine-find.sh"
# Sets wine (the 64-bit loader) and wineserver; skips the test (exit 77) when Wine is not installed.
wine_find() {
    wine_locate || { echo "SKIP: no wine64"; exit 77; }
}

# Exports the environment of Wine prefix $1: 64-bit, no Mono/Gecko prompts, and the double beside the exe
# preferred over Wine's stub wevtapi (once, on a prefix being re-created, the builtin stub was loaded).
# Sets hdir, the folder of the harness's own logs ($1.harness), and boot, the boot log (the output every
# service inherits; a test may point it elsewhere before prefix_boot).
prefix_env() {
    export WINEPREFIX=$1
    export WINEARCH=win64 WINELOADER="$wine_loader"
    export WINEDLLOVERRIDES="mscoree,mshtml=;wevtapi=n,b"
    export WINEDEBUG="${WINEDEBUG:--all}"
    hdir="$1.harness"
    boot="$hdir/boot.log"
    mkdir -p "$hdir"
}

# The pristine prefix every attempt starts from: created once (wineboot, tens of seconds) under a lock, in
# BG_WINE_TEMPLATE (default .cache/wine-template), and copied per attempt (about a second).
prefix_template() {
    local t=${BG_WINE_TEMPLATE:-$top/.cache/wine-template}
    template=$t
    [ -f "$t/.bitsguard-template" ] && return 0
    mkdir -p "$(dirname "$t")"
    (
        flock 9
        [ -f "$t/.bitsguard-template" ] && exit 0
        rm -rf "$t"
        WINEPREFIX=$t WINEDEBUG=-all timeout -s KILL 300 "$wine" wineboot --init </dev/null >"$t.log" 2>&1
        WINEPREFIX=$t timeout -s KILL 120 "$wineserver" -w </dev/null >>"$t.log" 2>&1
        WINEPREFIX=$t prefix_kill
        [ -f "$t/system.reg" ] && touch "$t/.bitsguard-template"
    ) 9>"$t.lock"
    [ -f "$t/.bitsguard-template" ] || { echo "FAIL: cannot create the Wine prefix template $t (see $t.log)"; exit 1; }
}
# A fresh prefix: nothing of an earlier run (installed services, registry, a crashed server's half-written
# state) survives into the attempt.
prefix_fresh() {
    prefix_template
    prefix_kill
    rm -rf "$WINEPREFIX"
    cp -a "$template" "$WINEPREFIX" || { echo "FAIL: cannot copy the Wine prefix template"; exit 1; }
}

# The pids of every process of the prefix: Wine's loader, its Windows programs and the wineserver (by
# executable, never this script or its helpers), whose environment names the prefix.
prefix_pids() {
    local want=$WINEPREFIX p e
    for p in /proc/[0-9]*; do
        e=$(readlink "$p/exe" 2>/dev/null) || continue
        case "${e##*/}" in wine | wine64 | wine-preloader | wine64-preloader | wineserver | wineserver64) ;; *) continue ;; esac
        if tr '\0' '\n' 2>/dev/null <"$p/environ" | grep -qxF "WINEPREFIX=$want"; then echo "${p#/proc/}"; fi
    done
    return 0
}
# Ends every process of the prefix by pid (SIGKILL), until none is left (at most 10 s).
prefix_kill() {
    local p left
    for _ in $(seq 20); do
        left=$(prefix_pids)
        [ -n "$left" ] || return 0
        for p in $left; do kill -9 "$p" 2>/dev/null; done
        sleep 0.5
    done
    echo "harness: processes of $WINEPREFIX survive SIGKILL: $(prefix_pids | tr '\n' ' ')"
    return 1
}

# One Wine command, quiet and bounded: when the prefix's wineserver dies, Wine clients blocked on it hang
# for ever (they hold both ends of their wait pipes: seen, `sc query` stuck for minutes); killed, the call
# fails and the crash check takes over. BG_WINE_CALL_TIMEOUT (default 90 s) bounds each call.
w() { WINEDEBUG=-all timeout -s KILL "${BG_WINE_CALL_TIMEOUT:-90}" "$wine" "$@" </dev/null 8>&-; }
# The same with the inherited WINEDEBUG (for calls whose +eventlog lines a test reads).
wd() { timeout -s KILL "${BG_WINE_CALL_TIMEOUT:-90}" "$wine" "$@" </dev/null 8>&-; }

# The pid of the prefix's persistent wineserver (started with -p), if one runs.
server_pid() {
    local p
    for p in $(prefix_pids); do
        case "$(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline")" in *wineserver*" -p"*) echo "$p" && return 0 ;; esac
    done
    return 1
}
# The persistent server prefix_boot started is still the prefix's server. Without it the service hangs in
# its next server call, and a Wine command run now would start a new server that boots the prefix again
# from the registry on disk (seen: the just-installed service gone, "Service does not exist (1060)").
server_alive() {
    local want p
    want=$(cat "$hdir/server.pid" 2>/dev/null) || return 1
    for p in $(prefix_pids); do [ "$p" = "$want" ] && return 0; done
    return 1
}
# Gone for 3 s in a row (a scan of /proc can miss a process now and then: seen once in a 1 M run).
server_gone() {
    for _ in 1 2 3; do
        server_alive && return 1
        sleep 1
    done
    return 0
}
# The number of wineserver crashes in the prefix's server log (its SIGSEGV handler prints the line).
server_crashes() {
    local n
    n=$(grep -c 'wineserver crashed' "$hdir/wineserver.log" 2>/dev/null)
    echo "${n:-0}"
}

# Records a Wine crash the body saw (the harness adds its own evidence at the end of the attempt).
wine_fault() {
    echo "$*" >>"$hdir/wine-faults"
    echo "harness: Wine fault: $*"
}
# The body gives up on an attempt because Wine failed under it (the check that follows is meaningless).
wine_giveup() {
    wine_fault "$*"
    exit 1
}
# Prints the attempt's evidence of a Wine crash, one line each; nothing when Wine held.
wine_evidence() {
    local n
    [ -s "$hdir/wine-faults" ] && cat "$hdir/wine-faults"
    n=$(server_crashes)
    [ "$n" -gt 0 ] && echo "wineserver crashed $n time(s) (its log: $hdir/wineserver.log)"
    if [ -s "$hdir/server.pid" ] && ! server_alive; then
        echo "the persistent wineserver (pid $(cat "$hdir/server.pid")) is gone or was replaced"
    fi
    return 0
}

# Boots the prefix: a persistent wineserver (its stderr, where a crash is reported, in wineserver.log) and
# `cmd /c exit` with the environment and output the services inherit ($boot; WINEDEBUG from $boot_debug,
# default the caller's). A clean shutdown of the running server first writes the registry to disk (a test
# that installs a service restarts the prefix before relying on it). Measured: now and then `wineserver -p`
# right after `-k`/`-w` reaches the old server as it goes away, and the boot then starts an ordinary server,
# which ends the services with the last other Wine process: the persistent server is checked and the boot
# retried.
prefix_boot() {
    local try pid
    for try in 1 2 3 4 5; do
        prefix_shutdown
        "$wineserver" -p </dev/null >/dev/null 2>>"$hdir/wineserver.log" 8>&-
        pid=$(server_pid) && echo "$pid" >"$hdir/server.pid"
        WINEDEBUG=${boot_debug:-$WINEDEBUG} timeout -s KILL 120 "$wine" cmd /c exit </dev/null >>"$boot" 2>&1 8>&-
        [ -n "$pid" ] && server_alive && return 0
        echo "harness: no persistent wineserver after booting the prefix (try $try): booting again"
        sleep 1
    done
    wine_fault "no persistent wineserver after 5 boots"
    return 1
}

# A clean shutdown of the prefix (its registry written to disk), bounded; prefix_kill ends what is left.
# Planned: the server's absence is no longer a sign of a crash.
prefix_shutdown() {
    rm -f "$hdir/server.pid"
    timeout -s KILL 60 "$wineserver" -k </dev/null >/dev/null 2>&1 8>&-
    timeout -s KILL 60 "$wineserver" -w </dev/null >/dev/null 2>&1 8>&-
    prefix_kill
}

# The state number of service $1 (default bitsguard; 1 stopped, 4 running), empty when unknown. Through a
# file, never a pipe: if this call has to boot the prefix, Wine's services inherit its output.
sc_state() {
    w sc query "${1:-bitsguard}" >"$hdir/sc.out" 2>/dev/null
    tr -d '\r' <"$hdir/sc.out" | sed -n 's/.*STATE *: *\([0-9]*\).*/\1/p'
}
state_reached() { # state, seconds[, service]; quiet
    local deadline=$((SECONDS + $2))
    while [ "$(sc_state "${3:-bitsguard}")" != "$1" ]; do
        [ $SECONDS -lt $deadline ] || return 1
        sleep 0.2
    done
}
wait_state() { # state, seconds; a failure when not reached
    state_reached "$1" "$2" && return 0
    ! server_alive && wine_giveup "the wineserver went away while waiting for service state $1"
    fail "service state $(sc_state), expected $1"
    return 1
}
service_pid() { # The Unix pid of this run's service process (its command line names our exe path).
    local p c
    for p in $(prefix_pids); do
        c=$(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline") || continue
        case "$c" in *"$wdir\\bitsguard.exe"*service*) echo "$p" ;; esac
    done
}

# Starts the service with `sc start` (after booting the prefix when $1 is "boot"), up to 3 times. Wine 8.0's
# wineserver now and then crashes right after a service reaches RUNNING ("wineserver crashed" in its log)
# and the service goes with it; a new boot has always held. A start is tried again only on such evidence
# (each extra try counted in unplanned); a service that stops by itself under a live server is a failure.
service_start() {
    local try p crashes
    for try in 1 2 3; do
        crashes=$(server_crashes)
        if [ "$try" -gt 1 ]; then
            unplanned=$((unplanned + 1))
            echo "harness: Wine fault at the service's start (server crash or lost server): booting again (try $try)"
            for p in $(service_pid); do kill -9 "$p" 2>/dev/null; done
        fi
        if [ "$try" -gt 1 ] || [ "${1:-}" = boot ]; then
            prefix_boot || continue
            state_reached 1 30 || { server_alive || continue; fail "service state $(sc_state) before its start, expected 1"; return 1; }
        fi
        w sc start bitsguard >>"$hdir/start.log" 2>&1
        if state_reached 4 60; then
            sleep 2
            [ "$(sc_state)" = 4 ] && server_alive && return 0
        fi
        if server_alive && [ "$(server_crashes)" = "$crashes" ]; then
            fail "the service did not stay RUNNING after sc start (state $(sc_state)) while Wine held"
            return 1
        fi
    done
    wine_giveup "the service could not be started: Wine failed at 3 starts"
}
# After a SIGKILL of the service, and for the first start: Wine's SCM does not notice a killed service (it
# stays RUNNING and refuses stop and start), so the prefix is restarted, as a reboot or the SCM's own recovery
# would; the restart also saves the install and DatabasePath to disk before a crash could lose them.
service_restart() { service_start boot; }

# Ends process $1 and all its descendants by pid (the body of an attempt and what it started: sleep,
# timeout, a background Wine program), children first seen before any is killed.
proc_tree_kill() {
    local all=$1 new p ppid
    new=$1
    while [ -n "$new" ]; do
        local next=""
        for p in /proc/[0-9]*; do
            ppid=$(awk '{ print $4 }' "$p/stat" 2>/dev/null) || continue
            case " $new " in *" $ppid "*) next="$next ${p#/proc/}" ;; esac
        done
        new=${next# }
        all="$all $new"
    done
    for p in $all; do kill -9 "$p" 2>/dev/null; done
    return 0
}

# Ends the prefix's processes when the script exits by any path; a watchdog does it if the script is killed
# with SIGKILL (no trap runs then: ctest's time-out, an impatient user).
harness_guard() {
    local self=$$
    (
        trap '' INT TERM
        while kill -0 "$self" 2>/dev/null; do sleep 1; done
        [ -s "$hdir/body.pid" ] && proc_tree_kill "$(cat "$hdir/body.pid")"
        prefix_kill
    ) </dev/null >/dev/null 2>&1 8>&- &
    harness_watchdog=$!
    trap harness_exit EXIT
    trap 'echo "harness: interrupted"; exit 130' INT
    trap 'echo "harness: terminated"; exit 143' TERM
}
# (harness_cleanup, when the script defines it, runs first: a graceful stop, removing a work folder.)
harness_exit() {
    if [ -n "${harness_body:-}" ]; then proc_tree_kill "$harness_body"; fi
    if [ "$(type -t harness_cleanup)" = function ]; then harness_cleanup; fi
    prefix_kill
    # SIGKILL: the watchdog ignores TERM (so ctest's TERM to the group cannot end it first). Left alive,
    # it woke within a second of this exit and killed the body.pid and the processes of the prefix of the
    # NEXT script using this prefix (seen: test_harness's SIGKILL case killed at start, 2 of 10 runs).
    if [ -n "${harness_watchdog:-}" ]; then
        kill -KILL "$harness_watchdog" 2>/dev/null
        wait "$harness_watchdog" 2>/dev/null
    fi
    return 0
}

# Runs the test body (function $1) in attempts, see the header. The body runs in the background so that
# INT/TERM reach the traps at once.
harness_main() {
    local body=$1 attempts=${BG_WINE_ATTEMPTS:-3} attempt rc evidence faults=0 t0
    # One run per prefix at a time (a second ctest in the same tree would kill this one's processes).
    exec 8>"$WINEPREFIX.lock"
    flock 8
    harness_guard
    for ((attempt = 1; attempt <= attempts; attempt++)); do
        t0=$SECONDS
        rm -rf "$hdir"
        mkdir -p "$hdir"
        prefix_fresh
        echo "harness: attempt $attempt of $attempts on a fresh prefix ($WINEPREFIX)"
        # Without the lock's descriptor: a process the body leaves behind must not hold the prefix's lock.
        (
            trap - EXIT INT TERM
            "$body"
        ) 8>&- &
        harness_body=$!
        echo "$harness_body" >"$hdir/body.pid"
        rc=0
        wait "$harness_body" || rc=$?
        harness_body=""
        rm -f "$hdir/body.pid" # Ended: its pid may be reused, the watchdog must not kill it.
        evidence=$(wine_evidence)
        prefix_kill
        if [ "$rc" -eq 0 ] || [ "$rc" -eq 77 ]; then
            [ -n "$evidence" ] && echo "harness: attempt $attempt recovered from Wine faults by itself: ${evidence//$'\n'/; }"
            echo "harness: attempt $attempt $([ "$rc" = 0 ] && echo passed || echo skipped) in $((SECONDS - t0)) s;" \
                "$faults earlier attempt(s) lost to Wine"
            return "$rc"
        fi
        if [ -z "$evidence" ]; then
            echo "harness: PRODUCT FAILURE in attempt $attempt (exit $rc; Wine held: no server crash, server alive):" \
                "not retried"
            return 1
        fi
        faults=$((faults + 1))
        cp -r "$hdir" "$hdir.attempt$attempt" 2>/dev/null
        echo "harness: WINE FAULT in attempt $attempt (exit $rc after $((SECONDS - t0)) s): ${evidence//$'\n'/; }."
        echo "harness: the failures of attempt $attempt are Wine's, not the product's (logs kept in $hdir.attempt$attempt)$(
            [ "$attempt" -lt "$attempts" ] && echo ": retrying on a fresh prefix")"
    done
    echo "FAIL: Wine crashed in all $attempts attempts: the product was not tested"
    return 1
}

# A temporary folder bg-NAME.XXXXXX with the exe, the double beside it and its feed folder (plus gen, where
# feed files are written before the rename). Sets work, wdir (its Windows path) and db.
work_make() {
    work=$(mktemp -d "${TMPDIR:-/tmp}/bg-$1.XXXXXX") || exit 1
    cp "$exe" "$work/bitsguard.exe" && cp "$dll" "$work/wevtapi.dll" && mkdir "$work/feed" "$work/gen" || exit 1
    wdir="Z:${work//\//\\}"
    db="$wdir\\bg.db"
}

# Writes feed file NAME.xml (via NAME.tmp, as the double requires) with COUNT jobs starting at job JOB
# and record id RECORD: per job an event 3 (record R) and a 16403 to a public IP (record R+1). Process ids
# (100000 + job) stay out of the record id ranges the tests look for among the alerts' insertion strings.
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
    } >"$work/gen/$name.tmp" && mv "$work/gen/$name.tmp" "$work/feed/$name.xml"
}
# The record ids (16403 events) that COUNT jobs from record RECORD produce, one per line.
expect_records() {
    local count=$1 record=$2 k
    for ((k = 0; k < count; k++)); do echo $((record + 2 * k + 1)); done
}
# Feed file NAME.xml of hostile events (empty, undefined entity, invalid UTF-8, deep nesting), with record
# ids RECORD, RECORD+STEP, ... for the ones that carry one; the reader must count them and go on.
feed_hostile() {
    local name=$1 r=$2 step=$3
    {
        printf '<Events><Event/><Event xmlns="e"><System><EventRecordID>%d</EventRecordID></System></Event>\n' "$r"
        printf '<Event><System><EventID>16403</EventID><EventRecordID>%d</EventRecordID></System><EventData><Data Name="RemoteName">&xxe;</Data></EventData></Event>\n' $((r + step))
        printf '<Event><System><EventID>16403</EventID><EventRecordID>%d</EventRecordID></System><EventData><Data Name="RemoteName">http://\xff\xfe\x80/</Data></EventData></Event>\n' $((r + 2 * step))
        printf '<Event><System><EventID>16403</EventID><EventRecordID>%d</EventRecordID></System>' $((r + 3 * step))
        for _ in $(seq 2000); do printf '<a>'; done
        printf '</System></Event>\n</Events>\n'
    } >"$work/gen/$name.tmp" && mv "$work/gen/$name.tmp" "$work/feed/$name.xml"
}

# Soak feed file N (0-based) of PER events (even): jobs N*PER/2 ..., records 2j+1 (event 3) and 2j+2
# (event 16403) of job j. Every 100th job downloads from a public IP (one detection per 200 events), the
# others from a domain, as on a real host.
feed_soak_file() {
    local f=$1 per=$2 name
    name=$(printf "%06d" "$f")
    awk -v f="$f" -v per=$((per / 2)) 'BEGIN {
        print "<Events>"
        for (k = 0; k < per; k++) {
            j = f * per + k; r = 2 * j + 1
            guid = sprintf("%08X-0000-4000-8000-%012X", j, j)
            if (j % 100 == 99) url = sprintf("http://45.%d.%d.%d/p%d.exe", int(j / 62500) % 200 + 1, int(j / 250) % 250, j % 250 + 1, j)
            else url = sprintf("https://dl.example.com/updates/%d/file.cab", j)
            printf "<Event xmlns=\"http://schemas.microsoft.com/win/2004/08/events/event\"><System><Provider Name=\"Microsoft-Windows-Bits-Client\"/><EventID>3</EventID><Version>3</Version><Level>4</Level><TimeCreated SystemTime=\"2026-11-30T01:00:00.0000000Z\"/><EventRecordID>%d</EventRecordID><Channel>Microsoft-Windows-Bits-Client/Operational</Channel><Computer>SOAK</Computer><Security UserID=\"S-1-5-18\"/></System><EventData><Data Name=\"jobTitle\">job %d</Data><Data Name=\"jobId\">{%s}</Data><Data Name=\"jobOwner\">SOAK\\user</Data><Data Name=\"processPath\">C:\\Windows\\System32\\svchost.exe</Data><Data Name=\"processId\">%d</Data><Data Name=\"ClientProcessStartKey\">%d</Data></EventData></Event>\n", r, j, guid, 1000 + j % 5000, 7000 + j
            printf "<Event xmlns=\"http://schemas.microsoft.com/win/2004/08/events/event\"><System><Provider Name=\"Microsoft-Windows-Bits-Client\"/><EventID>16403</EventID><Version>0</Version><Level>4</Level><TimeCreated SystemTime=\"2026-11-30T01:00:01.0000000Z\"/><EventRecordID>%d</EventRecordID><Channel>Microsoft-Windows-Bits-Client/Operational</Channel><Computer>SOAK</Computer><Security UserID=\"S-1-5-18\"/></System><EventData><Data Name=\"User\">SOAK\\user</Data><Data Name=\"jobTitle\">job %d</Data><Data Name=\"jobId\">{%s}</Data><Data Name=\"jobOwner\">SOAK\\user</Data><Data Name=\"fileCount\">1</Data><Data Name=\"RemoteName\">%s</Data><Data Name=\"LocalName\">C:\\Temp\\f%d</Data><Data Name=\"processId\">%d</Data><Data Name=\"ClientProcessStartKey\">%d</Data></EventData></Event>\n", r + 1, j, guid, url, j, 1000 + j % 5000, 7000 + j
        }
        print "</Events>"
    }' >"$work/gen/$name.tmp" && mv "$work/gen/$name.tmp" "$work/feed/$name.xml"
}
# The detection URLs of the first EVENTS events of the soak feed, one per line (same formula as above).
feed_soak_urls() {
    awk -v jobs=$(($1 / 2)) 'BEGIN { for (j = 99; j < jobs; j += 100)
        printf "http://45.%d.%d.%d/p%d.exe\n", int(j / 62500) % 200 + 1, int(j / 250) % 250, j % 250 + 1, j }'
}

# Stored detections' record ids, sorted (`bitsguard query --format json` on the database).
stored() {
    w "$work/bitsguard.exe" query --db "$db" --format json >"$work/query.out" 2>"$work/query.err"
    grep -o '"record_id":[0-9]*' "$work/query.out" | sed 's/.*://' | sort -n
}
check_stored() { # label, expected ids (newline separated)
    local got want
    got=$(stored)
    want=$(sort -n <<<"$2")
    [ "$got" = "$want" ] || fail "$1: stored record ids differ: got [${got//$'\n'/ }] want [${want//$'\n'/ }]"
}
# Events the double handed out more than once (from feed\trace.txt), one record id per line.
handed_twice() { grep '^event ' "$work/feed/trace.txt" | sort | uniq -d | sed 's/^event //'; }
