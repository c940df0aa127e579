# Shared pieces of the Wine tests in tests/wevtapi (sourced): Wine lookup, crash-proof prefix/service control, feeds.
# shellcheck shell=bash disable=SC2154 # top, exe and dll are set by the script that sources it.
#
# Usage: set top (the repo root), exe and dll; `. "$(dirname "$0")/harness.sh"`; wine_find; then, as needed:
#   prefix_env PREFIX + prefix_create, or prefix_lock_create PREFIX LOCK (the same with the prefix's lock on
#   descriptor 8, for tests that restart its wineserver); work_make NAME (sets work, wdir, db, boot);
#   service_cleanup as the EXIT trap of service tests.
# State it keeps: failures (counted by fail) and unplanned (service restarts nobody asked for).
# Rules every Wine call here follows: stdin from /dev/null and output never a pipe (Wine's helper processes
# and the service inherit the output of whoever boots the prefix, and a pipe they hold never closes); 8>&- so
# the lock's descriptor is not inherited by Wine's long-lived processes (winedevice, services), or a killed
# run's leftovers would hold the lock for ever.

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

# Exports the environment of Wine prefix $1: 64-bit, and the double beside the exe preferred over Wine's stub
# wevtapi (once, on a prefix being re-created, the builtin stub was loaded instead).
prefix_env() {
    export WINEPREFIX=$1
    export WINEARCH=win64 WINELOADER="$wine"
    export WINEDLLOVERRIDES="mscoree,mshtml=;wevtapi=n,b"
}
# Creates the prefix once: the shared runner does it under its own lock and keeps a wineserver warm.
prefix_create() {
    WINEDEBUG=-all bash "$top/cmake/wine-run.sh" cmd /c exit >/dev/null 2>&1 8>&- || { echo "FAIL: no Wine prefix"; exit 1; }
}
# prefix_env $1, then lock file $2 on descriptor 8, then prefix_create. Tests that restart the prefix's
# wineserver run one at a time per prefix, and the lock comes first: even creating the prefix changes the
# running wineserver's persistence, which would let Wine end the service of a run in progress.
prefix_lock_create() {
    prefix_env "$1"
    mkdir -p "$(dirname "$WINEPREFIX")"
    exec 8>"$2"
    flock 8
    prefix_create
}

# A temporary folder bg-NAME.XXXXXX with the exe, the double beside it and its feed folder (plus gen, where
# feed files are written before the rename). Sets work, wdir (its Windows path), db and boot.
work_make() {
    work=$(mktemp -d "${TMPDIR:-/tmp}/bg-$1.XXXXXX") || exit 1
    cp "$exe" "$work/bitsguard.exe" && cp "$dll" "$work/wevtapi.dll" && mkdir "$work/feed" "$work/gen" || exit 1
    wdir="Z:${work//\//\\}"
    db="$wdir\\bg.db"
    boot="$work/boot.log"
}

# One Wine command, quiet and bounded: when the prefix's wineserver dies, Wine clients blocked on it hang
# for ever (they hold both ends of their wait pipes: seen, `sc query` stuck for minutes); killed, the call
# fails and the restart logic takes over.
w() { WINEDEBUG=-all timeout -s KILL 90 "$wine" "$@" </dev/null 8>&-; }

# Boots the prefix with the environment the service inherits: +eventlog prints the alerts to boot.log.
# Measured: now and then `wineserver -p` right after `-k`/`-w` reaches the old server as it goes away, and
# the boot then starts an ordinary server, which ends the service as soon as the last other Wine process
# exits (service state 1 after `sc start`). So the persistent server is checked and the boot retried.
# Its clean shutdown (`wineserver -k`) also writes the registry to disk.
prefix_boot() {
    local try
    for try in 1 2 3 4 5; do
        "$wineserver" -k >/dev/null 2>&1
        "$wineserver" -w >/dev/null 2>&1
        prefix_leftovers_kill
        "$wineserver" -p </dev/null >/dev/null 2>>"$work/wineserver.log" 8>&-
        WINEDEBUG=-all,+eventlog "$wine" cmd /c exit </dev/null >>"$boot" 2>&1 8>&-
        server_alive && return 0
        echo "     no persistent wineserver after booting the prefix (try $try): booting again"
        sleep 1
    done
    return 1
}

# Wine processes of this prefix left from an earlier server: `wineserver -k` only ends the clients it can
# reach, and one whose server is gone hangs for ever in its next call (seen: services.exe, the service).
prefix_leftovers_kill() {
    local p
    for p in /proc/[0-9]*; do
        # Windows programs only (their command line starts with a drive), and the server: never this script.
        case "$(tr '\0' ' ' 2>/dev/null <"$p/cmdline")" in [A-Z]:\\* | */wineserver64\ *) ;; *) continue ;; esac
        tr '\0' '\n' 2>/dev/null <"$p/environ" | grep -qx "WINEPREFIX=$WINEPREFIX" && kill -9 "${p#/proc/}" 2>/dev/null
    done
}

# The prefix's wineserver (the persistent one prefix_boot started): without it the service hangs in its
# next server call, which would look like a stall of the reader.
server_alive() {
    local p
    for p in /proc/[0-9]*; do
        case "$(tr '\0' ' ' 2>/dev/null <"$p/cmdline")" in *wineserver*" -p "*) ;; *) continue ;; esac
        tr '\0' '\n' 2>/dev/null <"$p/environ" | grep -qx "WINEPREFIX=$WINEPREFIX" && return 0
    done
    return 1
}
# Gone for 3 s in a row: a scan of /proc can miss a process now and then (seen once in a 1 M run).
server_gone() {
    for _ in 1 2 3; do
        server_alive && return 1
        sleep 1
    done
    return 0
}

# The bitsguard service's state number (1 stopped, 4 running). Through a file, never a pipe: if this call
# has to boot the prefix, Wine's services inherit its output.
sc_state() {
    w sc query bitsguard >"$work/sc.out" 2>/dev/null
    tr -d '\r' <"$work/sc.out" | sed -n 's/.*STATE *: *\([0-9]*\).*/\1/p'
}
state_reached() { # state, seconds; quiet
    local deadline=$((SECONDS + $2))
    while [ "$(sc_state)" != "$1" ]; do
        [ $SECONDS -lt $deadline ] || return 1
        sleep 0.2
    done
}
wait_state() { # state, seconds; a failure when not reached
    state_reached "$1" "$2" || { fail "service state $(sc_state), expected $1"; return 1; }
}
service_pid() { # The Unix pid of this run's service process (its command line names our exe path).
    local p c
    for p in /proc/[0-9]*; do
        c=$(tr '\0' ' ' 2>/dev/null <"$p/cmdline") || continue
        case "$c" in *"$wdir\\bitsguard.exe"*service*) echo "${p#/proc/}" ;; esac
    done
}

# Starts the service with `sc start` (after booting the prefix when $1 is "boot"), up to 3 times. Wine 8.0's
# wineserver now and then crashes right after a service reaches RUNNING ("wineserver crashed" in
# wineserver.log) and the service goes with it (state 1 soon after RUNNING, or no server): a new boot has
# always held. Each extra try is counted in unplanned.
service_start() {
    local try p
    for try in 1 2 3; do
        if [ "$try" -gt 1 ]; then
            unplanned=$((unplanned + 1))
            echo "     the service did not stay up after its start: booting again (try $try)"
            for p in $(service_pid); do kill -9 "$p" 2>/dev/null; done
        fi
        if [ "$try" -gt 1 ] || [ "${1:-}" = boot ]; then
            prefix_boot || continue
            state_reached 1 30 || continue
        fi
        w sc start bitsguard >>"$work/start.log" 2>&1
        state_reached 4 60 || continue
        sleep 2
        [ "$(sc_state)" = 4 ] && server_alive && return 0
    done
    fail "the service did not start after 3 tries"
    return 1
}
# After a SIGKILL of the service, and for the first start: Wine's SCM does not notice a killed service (it
# stays RUNNING and refuses stop and start), so the prefix is restarted, as a reboot or the SCM's own recovery
# would; the restart also saves the install and DatabasePath to disk before a crash could lose them.
service_restart() { service_start boot; }

# The number of wineserver crashes the run saw.
server_crashes() {
    local n
    n=$(grep -c 'wineserver crashed' "$work/wineserver.log" 2>/dev/null)
    echo "${n:-0}"
}

# EXIT trap of the service tests: uninstall, leave the prefix stopped, keep the work folder of a failed run.
service_cleanup() {
    w sc stop bitsguard >/dev/null 2>&1
    w "$work/bitsguard.exe" uninstall >/dev/null 2>&1
    w reg delete 'HKLM\SOFTWARE\bitsguard' /f >/dev/null 2>&1
    "$wineserver" -k >/dev/null 2>&1
    "$wineserver" -w >/dev/null 2>&1
    [ "$failures" -eq 0 ] && rm -rf "$work"
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
