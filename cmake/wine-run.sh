#!/usr/bin/env bash
# Runs one Windows program under Wine for ctest (the toolchain's CMAKE_CROSSCOMPILING_EMULATOR).
#
# It sets the Wine environment itself (prefix, 64-bit, quiet) so a bare `ctest --test-dir build-win`
# works, creates the prefix once as a copy of the Wine harness's pristine template (tests/wevtapi/harness.sh;
# serialised with flock when tests run in parallel), and never lets a
# Wine process hold ctest's output pipe: the prefix is booted with its output in a log file, and the
# program's stdout/stderr go to files that are copied out after it exits. Wine's helper processes
# (services.exe, winedevice.exe...) inherit the output of whoever booted the prefix, and a pipe they
# hold keeps ctest waiting (see the Wine notes in the project's reference).
# Environment: WINEPREFIX (default: <repo>/.cache/wine-prefix), WINEDEBUG (default -all),
# BG_WINE_TEXT_OUTPUT=1 reads the program's output the way a Windows text-mode reader does
# (CR LF becomes LF), so scripts written for the native program can compare lines.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
export WINEPREFIX="${WINEPREFIX:-$top/.cache/wine-prefix}"
export WINEARCH=win64
export WINEDEBUG="${WINEDEBUG:--all}"
# No Mono/Gecko installer prompts when the prefix is created.
export WINEDLLOVERRIDES="${WINEDLLOVERRIDES:-mscoree,mshtml=}"

# shellcheck source=tests/wevtapi/harness.sh
. "$top/tests/wevtapi/harness.sh"
if ! wine_locate; then
    echo "wine-run: no wine64 found (apt-get install wine wine64)" >&2
    exit 127
fi
export WINELOADER="$wine_loader"

if [ $# -lt 1 ]; then
    echo "usage: wine-run.sh PROGRAM.exe [ARGS...]" >&2
    exit 2
fi

# Create the prefix once, from the harness's template (made once by wineboot for every Wine test). The
# marker is ours: Wine writes system.reg lazily.
ready="$WINEPREFIX/.bitsguard-prefix-ready"
if [ ! -f "$ready" ]; then
    mkdir -p "$(dirname "$WINEPREFIX")"
    (
        flock 9
        if [ ! -f "$ready" ]; then
            prefix_template >"$WINEPREFIX.boot.log" 2>&1 && rm -rf "$WINEPREFIX" &&
                cp -a "$template" "$WINEPREFIX" && touch "$ready"
        fi
    ) 9>"$WINEPREFIX.lock"
    if [ ! -f "$ready" ]; then
        echo "wine-run: creating the Wine prefix $WINEPREFIX failed; see $WINEPREFIX.boot.log" >&2
        exit 127
    fi
fi

# Keep one wineserver warm between tests (it exits by itself 30 s after the last Wine process), its
# stderr (where it reports its own crash) in a log. If one already runs for this prefix this is a no-op.
server_log="$WINEPREFIX.wineserver.log"
crash_count() {
    local n
    n=$(grep -c 'wineserver crashed' "$server_log" 2>/dev/null)
    echo "${n:-0}"
}
crashes_before=$(crash_count)
"$wineserver" -p30 </dev/null >/dev/null 2>>"$server_log" || true

out=$(mktemp "${TMPDIR:-/tmp}/wine-run.XXXXXX") || exit 127
err="$out.err"
# Copies the captured output out, read as a Windows text-mode reader would if asked to.
output_dump() {
    if [ "${BG_WINE_TEXT_OUTPUT:-0}" = 1 ]; then
        sed 's/\r$//' "$out"
        sed 's/\r$//' "$err" >&2
    else
        cat "$out"
        cat "$err" >&2
    fi
    rm -f "$out" "$err"
}

# A failure under a crashed wineserver is Wine's (tests/wevtapi/README.md; its clients then hang until
# killed): say so next to the program's output, and end the prefix's processes by pid.
server_crashed() {
    grep -q 'wineserver crashed' "$err" 2>/dev/null || [ "$(crash_count)" != "$crashes_before" ]
}
# Succeeds when there was such a crash.
wine_fault_note() {
    if server_crashed; then
        echo "wine-run: WINE FAULT: the wineserver crashed while this program ran ($1): a Wine bug, not the program's failure" >>"$err"
        prefix_kill >/dev/null # Its other clients hang for ever: end them; the next program boots it again.
        return 0
    fi
    return 1
}

# Runs the program once with stdin from $1 ("&0": the caller's), its output in $out and $err; sets status.
# In the background so a TERM from ctest (timeout) can stop the program and still show its output;
# "<&0" keeps stdin, which a background job would otherwise lose to /dev/null.
program_run() {
    started=$(date +%s%N)
    if [ "$1" = "&0" ]; then
        "$wine" "${@:2}" <&0 >"$out" 2>"$err" &
    else
        "$wine" "${@:2}" <"$1" >"$out" 2>"$err" &
    fi
    child=$!
    # A watchdog for the SIGKILL case, which no trap sees: when this script is gone, the Windows
    # program must not live on (an orphaned test would keep the wineserver and CI busy).
    (
        while kill -0 "$wrapper" 2>/dev/null; do sleep 1; done
        kill -KILL "$child" 2>/dev/null
    ) </dev/null >/dev/null 2>&1 &
    watchdog=$!
    wait "$child"
    status=$?
    kill "$watchdog" 2>/dev/null
}
wrapper=$$
trap 'kill -TERM "$child" 2>/dev/null; wait "$child" 2>/dev/null; kill "$watchdog" 2>/dev/null; echo "wine-run: stopped by a signal" >>"$err"; wine_fault_note "stopped by a signal"; output_dump; exit 143' TERM INT HUP
# Where the caller's stdin comes from: a program that read /dev/null or a file can be run again.
stdin_from=$(readlink "/proc/$$/fd/0" 2>/dev/null) || stdin_from=
program_run "&0" "$@"
if [ "$status" -ne 0 ] && [ ! -s "$out" ] && [ ! -s "$err" ] && ! server_crashed; then
    # Four times in about 40 wine legs a program exited 1 with nothing on stdout or stderr and no
    # server crash, which bitsguard never does (`scan` prints what its 1 found, `status` exits 0, 2 or
    # 3, every error is printed). The two that were timed ended after 9 ms, before the program's code
    # can run (a whole `bitsguard --version` takes at least 43 ms). Found since: Debian's wine64 has no
    # preloader, and its randomised heap sometimes covers the page Wine needs for the shared user data
    # (Wine's error is an err: line, hidden by WINEDEBUG=-all). cmake/wine-norandom.sh removes that
    # cause; this net stays for any other start that fails before running.
    # Such a program is run once more when its stdin can be read again (/dev/null or a file), or
    # whatever its stdin when it ended too soon to have read any (unstarted_ms). Every re-run is
    # logged with what is known and printed at the end of the wine leg, so none goes unseen.
    lived_ms=$((($(date +%s%N) - started) / 1000000))
    unstarted_ms=${BG_WINE_UNSTARTED_MS:-25}
    silent="exit $status after $lived_ms ms with nothing on stdout or stderr, $(crash_count) server crash(es) in its log"
    rerun_from=
    if [ "$stdin_from" = /dev/null ] || [ -f "$stdin_from" ]; then
        rerun_from=$stdin_from
    elif [ "$lived_ms" -lt "$unstarted_ms" ]; then
        rerun_from="&0" # Not started, so its stdin is unread: the same stream serves the second run.
        silent="$silent (under $unstarted_ms ms: never started)"
    fi
    if [ -n "$rerun_from" ]; then
        rerun_log=${BG_WINE_RERUN_LOG:-$top/.cache/wine-run-reruns.log}
        mkdir -p "$(dirname "$rerun_log")"
        echo "$(date -u +%FT%TZ) $silent: run again: $*" >>"$rerun_log"
        program_run "$rerun_from" "$@"
    fi
    if [ "$status" -ne 0 ] && [ ! -s "$out" ] && [ ! -s "$err" ]; then
        echo "wine-run: $silent" >>"$err"
    fi
fi
if [ "$status" -ne 0 ]; then
    wine_fault_note "exit $status"
elif wine_fault_note "exit 0"; then
    # Wine's client ends its threads with exit code 0 when its server goes away (it reads end of file on
    # the server's pipe), so a program cut short by a crash would pass: its result cannot be trusted.
    echo "wine-run: exit 0 under a crashed wineserver is not a pass; exiting 125" >>"$err"
    status=125
fi
output_dump
exit "$status"
