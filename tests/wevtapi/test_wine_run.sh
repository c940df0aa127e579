#!/usr/bin/env bash
# Tests cmake/wine-run.sh with a stand-in Wine loader: a crash under exit 0 fails, a silent failure is run again once when that is safe, every start has randomisation off.
#
# usage: test_wine_run.sh WORKDIR
# The stand-in (BG_WINE, which cmake/wine-find.sh honours) plays what the real loader did in the wine
# leg: exit 0 after its wineserver crashed (Wine's client ends so when its server is gone), exit 1 with
# no output at all, then a normal run. A real wineserver keeps the prefix warm as in the leg (hence the
# wine label); the prefix is an empty folder marked ready, so no Wine program runs. Exit 0 pass, 1 fail,
# 77 skip (no wineserver).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/wevtapi/harness.sh
. "$top/tests/wevtapi/harness.sh"
wine_locate || { echo "no Wine: skipped"; exit 77; }

work=$(readlink -f "${1:?usage: test_wine_run.sh WORKDIR}")
rm -rf "$work"
mkdir -p "$work/prefix"
: >"$work/prefix/.bitsguard-prefix-ready"
export WINEPREFIX="$work/prefix"
# Its own re-run log (the leg's, ROOT/.cache/wine-run-reruns.log, may be filling meanwhile).
export BG_WINE_RERUN_LOG="$work/root/.cache/wine-run-reruns.log"
rerun_log=$BG_WINE_RERUN_LOG
checks=0
cleanup() {
    prefix_kill >/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
check() { # NAME STATUS
    checks=$((checks + 1))
    if [ "$2" -eq 0 ]; then echo "ok   $1"; else fail "$1"; fi
}

# The stand-in loader: its behaviour is chosen by the file $work/mode, and it counts its runs.
cat >"$work/fake-wine" <<EOF
#!/usr/bin/env bash
echo run >>"$work/runs"
case "\$(cat "$work/mode")" in
crash-exit0) echo "wineserver crashed, please enable coredumps (ulimit -c unlimited) and restart." >>"$work/prefix.wineserver.log"; exit 0 ;;
silent-once) if [ "\$(wc -l <"$work/runs")" -eq 1 ]; then exit 1; fi; cat; echo "second run"; exit 0 ;;
silent) exit 1 ;;
silent-slow) sleep 1; exit 1 ;;
personality) cat /proc/self/personality; exit 0 ;;
ok) echo "fine"; exit 0 ;;
esac
EOF
chmod +x "$work/fake-wine"
export BG_WINE="$work/fake-wine"

# case MODE STDIN-KIND: runs wine-run.sh once; sets rc, and leaves its stdout and stderr in $work/out, $work/err.
case_run() {
    echo "$1" >"$work/mode"
    rm -f "$work/runs"
    if [ "$2" = pipe ]; then
        echo "from a pipe" | bash "$top/cmake/wine-run.sh" prog.exe --flag >"$work/out" 2>"$work/err"
        rc=${PIPESTATUS[1]}
    elif [ "$2" = file ]; then
        echo "from a file" >"$work/in.txt"
        bash "$top/cmake/wine-run.sh" prog.exe --flag <"$work/in.txt" >"$work/out" 2>"$work/err"
        rc=$?
    else
        bash "$top/cmake/wine-run.sh" prog.exe --flag </dev/null >"$work/out" 2>"$work/err"
        rc=$?
    fi
    runs=$(wc -l <"$work/runs" 2>/dev/null || echo 0)
}

case_run ok null
check "a normal run: exit 0, its output, one run, nothing logged" \
    "$([ "$rc" -eq 0 ] && [ "$runs" -eq 1 ] && grep -qx fine "$work/out" && [ ! -s "$work/err" ] && [ ! -e "$rerun_log" ] && echo 0 || echo 1)"

case_run crash-exit0 null
check "exit 0 while the server crashed: exit 125, named a Wine fault" \
    "$([ "$rc" -eq 125 ] && grep -q 'WINE FAULT' "$work/err" && grep -q 'not a pass' "$work/err" && echo 0 || echo 1)"

case_run silent-once file
check "a silent exit 1 with stdin from a file: run again from the file's start, its result kept" \
    "$([ "$rc" -eq 0 ] && [ "$runs" -eq 2 ] && grep -qx 'from a file' "$work/out" && grep -qx 'second run' "$work/out" && echo 0 || echo 1)"
check "the second run is logged with the command and how the first ended" \
    "$(grep -q 'exit 1 after [0-9]* ms with nothing on stdout or stderr.*run again: prog.exe --flag' "$rerun_log" 2>/dev/null && echo 0 || echo 1)"
check "wine_reruns.sh lists it at the end of the leg" \
    "$(bash "$top/tests/wevtapi/wine_reruns.sh" "$work/root" | grep -q '^wine-run: 1 program(s) exited non-zero' && echo 0 || echo 1)"

rm -f "$rerun_log"
case_run silent null
check "silent every time: exit 1 after two runs, the failure described on stderr" \
    "$([ "$rc" -eq 1 ] && [ "$runs" -eq 2 ] && grep -q '^wine-run: exit 1 after' "$work/err" && echo 0 || echo 1)"

# Under BG_WINE_UNSTARTED_MS the program cannot have read its stdin: the real loader's silent exit took
# 9 ms, a whole run at least 43. The stand-in's exit takes a few ms; 400 keeps a loaded machine below.
rm -f "$rerun_log"
BG_WINE_UNSTARTED_MS=400 case_run silent-once pipe
check "a silent exit 1 too soon to have started, stdin from a pipe: run again on the same unread stream" \
    "$([ "$rc" -eq 0 ] && [ "$runs" -eq 2 ] && grep -qx 'from a pipe' "$work/out" && grep -qx 'second run' "$work/out" && echo 0 || echo 1)"
check "that second run is logged as never started" \
    "$(grep -q 'exit 1 after [0-9]* ms .*(under 400 ms: never started): run again: prog.exe --flag' "$rerun_log" 2>/dev/null && echo 0 || echo 1)"

rm -f "$rerun_log"
BG_WINE_UNSTARTED_MS=400 case_run silent-slow pipe
check "stdin from a pipe after it may have started: never run again (its input may be gone), exit 1 described" \
    "$([ "$rc" -eq 1 ] && [ "$runs" -eq 1 ] && grep -q '^wine-run: exit 1 after' "$work/err" && [ ! -e "$rerun_log" ] && echo 0 || echo 1)"

# Every Wine start goes through cmake/wine-norandom.sh: the loader runs with ADDR_NO_RANDOMIZE (0x0040000),
# without which Debian's preloader-less wine64 fails about one start in 3,000 (see that script).
case_run personality null
check "the loader starts with address-space randomisation off (ADDR_NO_RANDOMIZE)" \
    "$([ "$rc" -eq 0 ] && [ $((0x$(cat "$work/out") & 0x0040000)) -ne 0 ] && echo 0 || echo 1)"
BG_WINE_RANDOMIZE=1 case_run personality null
check "BG_WINE_RANDOMIZE=1 starts it with this script's own setting, to reproduce the failure" \
    "$([ "$rc" -eq 0 ] && [ "$(cat "$work/out")" = "$(cat /proc/self/personality)" ] && echo 0 || echo 1)"

echo "$((checks - failures)) passed, $failures failed"
[ "$failures" -eq 0 ]
