#!/usr/bin/env bash
# End to end under Wine: query and status without --db read the database the service writes to, as set by
# DatabasePath in the registry, and the policy key's DatabasePath overrides the settings key's for them too.
#
# Usage: test_db_path.sh BITSGUARD_EXE WEVTAPI_DLL
# Exit 0 pass, 1 fail, 77 skip (no Wine).
set -u
exe=${1:?usage: test_db_path.sh BITSGUARD_EXE WEVTAPI_DLL}
dll=${2:?usage: test_db_path.sh BITSGUARD_EXE WEVTAPI_DLL}
top=$(cd "$(dirname "$0")/../.." && pwd)

# shellcheck source=tests/wevtapi/harness.sh
. "$(dirname "$0")/harness.sh"
wine_find
# A prefix of its own: the service and the HKLM values it reads must not meet other tests.
prefix_env "${BG_DB_PATH_WINEPREFIX:-$top/.cache/wine-prefix-db-path}"

# Record ids (sorted) that a command's JSON lines in FILE name.
records_in() { grep -o '"record_id":[0-9]*' "$1" | sed 's/.*://' | sort -n; }

db_path_body() {
    work_make db-path
    trap '[ "$failures" -eq 0 ] && rm -rf "$work"' EXIT
    prefix_boot || exit 1
    w "$work/bitsguard.exe" install --start demand >"$work/install.log" 2>&1 || { fail "install"; cat "$work/install.log"; }
    # The database away from its default place (%ProgramData%\bitsguard\bitsguard.db).
    w reg add 'HKLM\SOFTWARE\bitsguard' /v DatabasePath /t REG_SZ /d "$db" /f >/dev/null 2>&1 || fail "reg add"
    feed_jobs 001 1 3 100
    want=$(expect_records 3 100)
    service_restart || exit 1
    for _ in $(seq 200); do [ "$(stored | wc -l)" -ge 3 ] && break; sleep 0.3; done
    check_stored "the service stored the jobs in DatabasePath" "$want"

    # query and status with no --db: the same database, found the way the service finds it.
    w "$work/bitsguard.exe" query --format json >"$work/q.out" 2>"$work/q.err" || fail "query without --db: $(cat "$work/q.err")"
    [ "$(records_in "$work/q.out")" = "$(sort -n <<<"$want")" ] && echo "ok   query without --db lists the service's detections" ||
        fail "query without --db listed [$(records_in "$work/q.out" | tr '\n' ' ')]"
    w "$work/bitsguard.exe" status --json >"$work/s.out" 2>"$work/s.err" || fail "status without --db: $(cat "$work/s.err")"
    grep -q '"detections_total":3' "$work/s.out" && grep -qF "\"database\":\"${db//\\/\\\\}\"" "$work/s.out" &&
        echo "ok   status without --db reports the service's database" || fail "status without --db: $(cat "$work/s.out")"

    # The policy key wins value by value, for the commands as for the service.
    policy_db="$wdir\\policy.db"
    w reg add 'HKLM\SOFTWARE\Policies\bitsguard' /v DatabasePath /t REG_SZ /d "$policy_db" /f >/dev/null 2>&1 ||
        fail "reg add policy"
    w "$work/bitsguard.exe" query >"$work/p.out" 2>"$work/p.err"
    st=$?
    [ "$st" -eq 3 ] && grep -qF 'policy.db' "$work/p.err" && echo "ok   the policy's DatabasePath wins (query names it)" ||
        fail "with a policy DatabasePath, query exited $st: $(cat "$work/p.err")"

    w sc stop bitsguard >/dev/null 2>&1
    wait_state 1 10
    w "$work/bitsguard.exe" uninstall >/dev/null 2>&1 || fail "uninstall"
    w reg delete 'HKLM\SOFTWARE\Policies\bitsguard' /f >/dev/null 2>&1
    w reg delete 'HKLM\SOFTWARE\bitsguard' /f >/dev/null 2>&1
    [ "$failures" -eq 0 ] || { echo "$failures failure(s); work folder kept: $work"; exit 1; }
    echo "all database path checks passed"
    exit 0
}
harness_main db_path_body
