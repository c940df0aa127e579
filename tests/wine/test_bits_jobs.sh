#!/usr/bin/env bash
# `bitsguard.exe jobs` against Wine's BITS service (qmgr.dll) with real jobs, in a Wine prefix of its own.
#
# Usage: test_bits_jobs.sh BITSGUARD_EXE BITS_JOB_MAKE_EXE
# bits_job_make creates suspended jobs through IBackgroundCopyManager (never resumed: nothing is sent);
# jobs must list them with their files classified, flag the direct-IP ones (exit 1), store them once with
# --db (source inventory), cancel one with an audit row, and say what Wine's BITS service does not report.
# Wine's qmgr keeps its jobs in the BITS service process only, which stops when idle: each step runs at
# once after the jobs are made. Exit 0 pass, 1 fail, 77 skip (no Wine).
# Not run in attempts by the Wine harness: under its persistent wineserver `jobs --cancel` hung (Wine's BITS
# service then never stops when idle), so the programs run through cmake/wine-run.sh. The harness's guard
# still ends every process of the prefix by pid on exit, whatever happened (also SIGKILL, by a watchdog).
set -u
exe=${1:?usage} maker=${2:?usage}
top=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=tests/wevtapi/harness.sh
. "$top/tests/wevtapi/harness.sh"
wine_find
prefix_env "${BG_BITS_WINEPREFIX:-$top/.cache/wine-prefix-bits}"

work=$(mktemp -d "${TMPDIR:-/tmp}/bg-bits-jobs.XXXXXX") || exit 1
# The prefix's BITS service and wineserver end with the test (a clean shutdown, then by pid): nothing is left.
harness_cleanup() {
    prefix_shutdown
    [ "$failures" -eq 0 ] && rm -rf "$work"
}
checks=0
harness_guard
check() { # check NAME STATUS
    checks=$((checks + 1))
    [ "$2" -eq 0 ] || { echo "FAIL: $1"; failures=$((failures + 1)); }
}
# Every step is bounded: Wine's BITS service was seen to hang a step for good (the whole test then hit
# ctest's 600 s time-out with nothing said). A hung step is Wine's fault only if it does not come back: the
# test then starts once more on a fresh prefix, and a second hang fails it (a product hang hangs twice).
attempt=${BG_BITS_ATTEMPT:-1}
run() { # run NAME PROGRAM ARGS...: output in $work/NAME.out and .err, status in $st
    local name=$1
    shift
    timeout -s KILL "${BG_BITS_STEP_TIMEOUT:-120}" bash "$top/cmake/wine-run.sh" "$@" \
        </dev/null >"$work/$name.out" 2>"$work/$name.err"
    st=$?
    [ "$st" -eq 137 ] || return 0
    echo "harness: WINE FAULT in attempt $attempt: step '$name' hung (killed after ${BG_BITS_STEP_TIMEOUT:-120} s)"
    if [ "$attempt" -ge 2 ]; then
        echo "FAIL: step '$name' hung in both attempts"
        exit 1
    fi
    prefix_shutdown
    rm -rf "$WINEPREFIX" "$work"
    BG_BITS_ATTEMPT=2 exec bash "$0" "$exe" "$maker"
}
db="Z:${work//\//\\}\\jobs.db"

# The BITS service must run in the prefix (COM activation alone failed on a fresh prefix: 0x80070002).
run sc-start sc start BITS
run make "$maker" "evil" "http://45.33.32.156/p.exe" 'C:\windows\temp\p.exe' \
    "updater" "https://dl.example.com/u.cab" 'C:\windows\temp\u.cab' \
    "hex" "http://0x2d.0x21.0x20.0x9c/a.exe" 'C:\windows\temp\a.exe'
check "bits_job_make created 3 jobs (status $st: $(cat "$work/make.err"))" "$st"
mapfile -t ids < <(tr -d '\r{}' <"$work/make.out" | tr 'A-F' 'a-f')
[ "${#ids[@]}" -eq 3 ] || { echo "FAIL: no job ids"; exit 1; }

run list "$exe" jobs --all-users --format json
[ "$st" -eq 1 ]
check "jobs exits 1 when a job is flagged (got $st; $(cat "$work/list.err"))" $?
python3 - "$work/list.out" "${ids[@]}" <<'PY'
import json, sys
jobs = {j["job_id"]: j for j in map(json.loads, open(sys.argv[1]))}
evil, upd, hexa = sys.argv[2:5]
bad = []
for jid in (evil, upd, hexa):
    if jid not in jobs:
        bad.append("job %s not listed" % jid)
if not bad:
    e, u, h = jobs[evil], jobs[upd], jobs[hexa]
    f = e["files"][0]
    if (e["title"], e["state"], e["type"], e["flags"]) != ("evil", "suspended", "download", ["direct-ip"]):
        bad.append("evil: %s" % e)
    if (f["remote_name"], f["verdict"], f["ip"], f["reading"], f["flagged"]) != (
            "http://45.33.32.156/p.exe", "public-ip", "45.33.32.156", "whatwg", True):
        bad.append("evil file: %s" % f)
    if u["flagged"] or u["files"][0]["verdict"] != "domain":
        bad.append("updater: %s" % u)
    if h["files"][0]["ip"] != "45.33.32.156" or h["flags"] != ["direct-ip"]:
        bad.append("hex: %s" % h)
for b in bad:
    print(b)
sys.exit(1 if bad else 0)
PY
check "jobs lists the three jobs, every file classified, the direct-IP ones flagged" $?
# Wine's qmgr answers E_NOTIMPL for these getters; the command says so instead of failing.
grep -q "does not report: .*GetOwner 0x80004001" "$work/list.err"
check "what Wine's BITS service lacks is said on stderr" $?

run csv "$exe" jobs --format csv
grep -q "^${ids[0]},evil,,download,suspended,.*,direct-ip,http://45.33.32.156/p.exe," "$work/csv.out"
check "csv: one row per file" $?

run store1 "$exe" jobs --db "$db"
run store2 "$exe" jobs --db "$db"
n=$(sqlite3 "$work/jobs.db" "SELECT count(*) FROM detections WHERE source = 'inventory'")
[ "$n" = 2 ]
check "--db twice stores the two flagged jobs once (got $n)" $?

run cancel "$exe" jobs --cancel "{${ids[0]}}" --db "$db"
[ "$st" -eq 0 ]
check "jobs --cancel exits 0 (got $st; $(cat "$work/cancel.err"))" $?
grep -q "^cancelled ${ids[0]} (recorded as cancelled by " "$work/cancel.out"
check "jobs --cancel prints the job and what it did" $?
n=$(sqlite3 "$work/jobs.db" "SELECT count(*) FROM job_actions WHERE action = 'cancel' AND job_id = '${ids[0]}'
    AND who <> '' AND what LIKE '%\"file1_remote_name\":\"http://45.33.32.156/p.exe\"%'")
[ "$n" = 1 ]
check "the cancellation is recorded with who and what (got $n)" $?
run after "$exe" jobs --format json
grep -q "\"job_id\":\"${ids[0]}\".*\"state\":\"cancelled\".*\"flagged\":false" "$work/after.out" ||
    ! grep -q "\"job_id\":\"${ids[0]}\"" "$work/after.out"
check "the cancelled job is no longer flagged (Wine keeps it listed as cancelled; Windows drops it)" $?

run unknown "$exe" jobs --cancel "{00000000-0000-4000-8000-000000000000}" --db "$db"
[ "$st" -eq 3 ] && grep -q "no BITS job 00000000-0000-4000-8000-000000000000" "$work/unknown.err"
check "cancelling an unknown job exits 3 and names it (got $st)" $?
n=$(sqlite3 "$work/jobs.db" "SELECT count(*) FROM job_actions")
[ "$n" = 1 ]
check "nothing recorded for the unknown job (got $n rows)" $?

run cancel2 "$exe" jobs --cancel "${ids[2]}" --db "$db"
run cancel3 "$exe" jobs --cancel "${ids[1]}" --db "$db"
run clean "$exe" jobs
[ "$st" -eq 0 ]
check "jobs exits 0 once nothing is flagged (got $st)" $?

echo "$((checks - failures)) passed, $failures failed"
[ "$failures" -eq 0 ]
