#!/usr/bin/env bash
# Tests of the Wine harness (harness.sh): a Wine crash is retried as Wine's, a product failure never, no process survives.
#
# Usage: test_harness.sh [WORKDIR]   (ctest wine_harness; exit 0 pass, 1 fail, 77 skip without Wine)
# A wineserver crash is made the way Wine 8.0 crashes by itself: SIGSEGV to the prefix's persistent server,
# whose handler prints "wineserver crashed" to its log, and whose clients then hang. Each case runs this
# script again as `case NAME` (a test of its own, with harness_main) and checks its exit status, its
# output and that no process of its prefix is left, also after TERM and SIGKILL mid-attempt.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/wevtapi/harness.sh
. "$top/tests/wevtapi/harness.sh"
wine_find

# ---- one case, run as a test of its own: `test_harness.sh case NAME WORKDIR`
if [ "${1:-}" = case ]; then
    name=$2 dir=$3
    prefix_env "$dir/prefix-$name"
    crash() { kill -SEGV "$(cat "$hdir/server.pid")" && sleep 1; }
    # The attempt number, counted in a file (each attempt is a subshell).
    attempt_next() {
        echo x >>"$dir/$name.attempts"
        wc -l <"$dir/$name.attempts"
    }
    body() {
        local n
        n=$(attempt_next)
        prefix_boot || exit 1
        case "$name" in
        crash-once) # Wine crashes under the first attempt, which then fails a check; the second passes.
            [ "$n" = 1 ] && crash && fail "a check after the crash"
            ;;
        product) # A failure while Wine holds: never retried.
            fail "a product check"
            ;;
        crash-then-product) # A product failure with a crash in attempt 1, without one in attempt 2.
            [ "$n" = 1 ] && crash
            fail "a product check (attempt $n)"
            ;;
        crash-always) # Wine crashes in every attempt: a failure, reported as untested.
            crash
            fail "a check after the crash"
            ;;
        hang-*) # A Wine program left running, a crashed server's clients hanging: for TERM and SIGKILL.
            (cd "$dir" && exec "$wine" cmd /c "ping -n 600 127.0.0.1" </dev/null >/dev/null 2>&1 8>&-) &
            sleep 2
            crash
            echo "hanging"
            sleep 600
            ;;
        esac
        [ "$failures" -eq 0 ]
    }
    harness_main body
    exit
fi

work=$(readlink -f "${1:-${TMPDIR:-/tmp}/bg-harness-test}")
rm -rf "$work"
mkdir -p "$work"
failures=0
checks=0
check() { # NAME STATUS
    checks=$((checks + 1))
    if [ "$2" -eq 0 ]; then echo "ok   $1"; else fail "$1"; fi
}
# No process of the case's prefix is left (the watchdog may need a second after a SIGKILL).
no_leftovers() {
    local left
    WINEPREFIX="$work/prefix-$1"
    for _ in $(seq 15); do
        left=$(prefix_pids)
        [ -z "$left" ] && return 0
        sleep 1
    done
    echo "     left: $(for p in $left; do tr '\0' ' ' <"/proc/$p/cmdline"; echo; done)"
    prefix_kill
    return 1
}
run_case() { # NAME ATTEMPTS: runs the case, sets rc and out
    BG_WINE_ATTEMPTS=$2 bash "$0" case "$1" "$work" >"$work/$1.out" 2>&1
    rc=$?
    out="$work/$1.out"
    sed 's/^/     | /' "$out" | grep -E 'harness:|FAIL' | head -12
}

run_case crash-once 3
check "crash-once: passes on its second attempt (exit $rc)" "$([ "$rc" = 0 ]; echo $?)"
grep -q 'WINE FAULT in attempt 1 .*wineserver crashed' "$out"
check "crash-once: attempt 1 reported as a Wine fault, naming the server crash" $?
grep -q "the failures of attempt 1 are Wine's, not the product's" "$out"
check "crash-once: its failure is not counted as the product's" $?
grep -q 'attempt 2 passed.*1 earlier attempt(s) lost to Wine' "$out"
check "crash-once: the pass says one attempt was lost to Wine" $?
no_leftovers crash-once
check "crash-once: no process of its prefix left (the crashed server's clients hang otherwise)" $?

run_case product 3
check "product: fails (exit $rc)" "$([ "$rc" = 1 ]; echo $?)"
grep -q 'PRODUCT FAILURE in attempt 1' "$out" && ! grep -q 'attempt 2 of' "$out"
check "product: reported as a product failure and not retried" $?
no_leftovers product
check "product: no process left" $?
# The next script on the same prefix writes its body's pid where the finished one's watchdog looks: that
# watchdog must have ended with its script (it outlived it and killed the next body: 2 of 10 wine legs).
sleep 600 &
victim=$!
echo "$victim" >"$work/prefix-product.harness/body.pid"
sleep 3
kill -0 "$victim" 2>/dev/null
check "product: its watchdog ended with it (the next body in that prefix lives)" $?
kill "$victim" 2>/dev/null
wait "$victim" 2>/dev/null

run_case crash-then-product 3
check "crash-then-product: fails (exit $rc)" "$([ "$rc" = 1 ]; echo $?)"
grep -q 'WINE FAULT in attempt 1' "$out" && grep -q 'PRODUCT FAILURE in attempt 2' "$out"
check "crash-then-product: the retry fails the product check again, as a product failure" $?
no_leftovers crash-then-product
check "crash-then-product: no process left" $?

run_case crash-always 2
check "crash-always: fails (exit $rc)" "$([ "$rc" = 1 ]; echo $?)"
grep -q 'Wine crashed in all 2 attempts: the product was not tested' "$out"
check "crash-always: reported as untested after every attempt lost to Wine" $?
no_leftovers crash-always
check "crash-always: no process left" $?

# A prefix per signal: the second case must not depend on how the first one's prefix was left.
for sig in TERM KILL; do
    bash "$0" case "hang-$sig" "$work" >"$work/hang-$sig.out" 2>&1 &
    pid=$!
    for _ in $(seq 120); do grep -q hanging "$work/hang-$sig.out" && break; sleep 0.5; done
    WINEPREFIX="$work/prefix-hang-$sig"
    n=$(prefix_pids | wc -l)
    [ "$n" -gt 0 ]
    check "SIG$sig: the hanging case runs ($n processes of its prefix)" $?
    # Seen once in 10 runs: the case had ended before this point. Its own words say why.
    [ "$n" -gt 0 ] || sed 's/^/     | /' "$work/hang-$sig.out" | tail -n 20
    kill -"$sig" "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    no_leftovers "hang-$sig"
    check "SIG$sig of a test mid-attempt ($n processes of its prefix running, a server crash's clients hanging): none left" $?
done

echo "$((checks - failures)) passed, $failures failed"
[ "$failures" -eq 0 ] && rm -rf "$work"
[ "$failures" -eq 0 ]
