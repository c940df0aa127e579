# shellcheck shell=bash
# The shell test library of the command-line tests (tests/cli/test_*.sh), sourced first thing:
#   . "$(dirname "$0")/../lib/cli.sh" "$@"
# The script's arguments are BITSGUARD FIXTURES [SAMPLES]; the library sets $bin, $fixtures, $samples
# (may be empty) and $work (a private temporary folder removed at exit), and provides:
#   expect_exit STATUS CMD...      runs CMD (stdin from /dev/null), keeps its stdout and stderr for:
#   expect_exit_in FILE STATUS CMD...   the same with stdin from FILE
#   expect_stdout ERE / expect_stderr ERE   the last command's output matches (grep -E)
#   expect_no_stdout / expect_no_stderr     the last command wrote nothing there
#   expect_stdout_file FILE        the last command's stdout is exactly FILE
#   expect_stdout_is TEXT          ... is exactly TEXT (trailing newlines aside, as "$(cat)" reads it)
#   expect DESCRIPTION CMD...      a check of its own: passes when CMD succeeds
#   expect_ok DESCRIPTION STATUS   passes when STATUS (an exit status already taken, often $?) is 0
#   pass TEXT / fail TEXT          count a result directly
#   test_done                      prints "N passed, N failed" and is the script's exit status
# $out and $err are the files holding the last command's stdout and stderr. A command that runs longer
# than $cli_timeout seconds (default 300; a script may lower it) is killed and fails its check.
set -uo pipefail

# shellcheck disable=SC2034 # bin, fixtures and samples are for the scripts that source this file.
{
    bin=${1:?usage: $0 BITSGUARD FIXTURES [SAMPLES]}
    fixtures=${2:?usage: $0 BITSGUARD FIXTURES [SAMPLES]}
    samples=${3:-}
}
work=$(mktemp -d "${TMPDIR:-/tmp}/bg-cli.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
out=$work/last.out
err=$work/last.err
tests_passed=0
tests_failed=0
last_cmd=
cli_timeout=300

pass() {
    tests_passed=$((tests_passed + 1))
    echo "ok:   $*"
}

fail() {
    tests_failed=$((tests_failed + 1))
    echo "FAIL: $*"
}

# Shows the first lines of a file indented, after a failure.
show() {
    head -n 8 "$2" | sed "s/^/  $1: /"
}

expect_exit_in() {
    local input=$1 want=$2
    shift 2
    last_cmd="$*"
    timeout -s KILL "$cli_timeout" "$@" <"$input" >"$out" 2>"$err"
    local got=$?
    if [ "$got" -eq "$want" ]; then
        pass "exit $want: $last_cmd"
    else
        fail "exit $got, expected $want: $last_cmd"
        show stderr "$err"
    fi
}

expect_exit() {
    expect_exit_in /dev/null "$@"
}

expect_stdout() {
    if grep -qE -- "$1" "$out"; then pass "stdout matches /$1/"; else
        fail "stdout does not match /$1/: $last_cmd"
        show stdout "$out"
    fi
}

expect_stderr() {
    if grep -qE -- "$1" "$err"; then pass "stderr matches /$1/"; else
        fail "stderr does not match /$1/: $last_cmd"
        show stderr "$err"
    fi
}

expect_no_stdout() {
    if [ ! -s "$out" ]; then pass "no stdout"; else
        fail "stdout not empty: $last_cmd"
        show stdout "$out"
    fi
}

expect_no_stderr() {
    if [ ! -s "$err" ]; then pass "no stderr"; else
        fail "stderr not empty: $last_cmd"
        show stderr "$err"
    fi
}

expect_stdout_file() {
    if cmp -s "$out" "$1"; then pass "stdout is $(basename "$1")"; else
        fail "stdout differs from $1: $last_cmd"
        diff "$1" "$out" | head -n 10
        show stderr "$err"
    fi
}

expect_stdout_is() {
    local got
    got=$(cat "$out")
    if [ "$got" = "$1" ]; then pass "stdout is as expected"; else
        fail "stdout was [$got], expected [$1]: $last_cmd"
    fi
}

expect() {
    local what=$1
    shift
    if "$@"; then pass "$what"; else fail "$what"; fi
}

expect_ok() {
    if [ "$2" -eq 0 ]; then pass "$1"; else fail "$1"; fi
}

test_done() {
    echo "$tests_passed passed, $tests_failed failed"
    [ "$tests_failed" -eq 0 ] && [ "$tests_passed" -gt 0 ]
}
