#!/usr/bin/env bash
# `bitsguard.exe scan --channel` under Wine: the live channel read with EvtQuery through the wevtapi double.
#
# Usage: test_scan_channel.sh BITSGUARD_EXE WEVTAPI_DLL FIXTURES_DIR
# The double serves the events of feed\*.xml beside it as the channel's content; scan must find the
# same detections as it does in the exported file, and report a missing channel clearly.
# Exit 0 pass, 1 fail, 77 skip (no Wine).
set -u
exe=${1:?usage} dll=${2:?usage} fixtures=${3:?usage}
top=$(cd "$(dirname "$0")/../.." && pwd)
[ -x /usr/lib/wine/wine64 ] || command -v wine64 >/dev/null || { echo "SKIP: no wine64"; exit 77; }
export WINEDLLOVERRIDES="mscoree,mshtml=;wevtapi=n,b"

work=$(mktemp -d "${TMPDIR:-/tmp}/bg-scan-channel.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
cp "$exe" "$work/bitsguard.exe" && cp "$dll" "$work/wevtapi.dll" && mkdir "$work/feed" || exit 1
cp "$fixtures/exports/mixed-detections.xml" "$work/feed/" || exit 1
failures=0 checks=0
check() { # check NAME STATUS
    checks=$((checks + 1))
    [ "$2" -eq 0 ] || { echo "FAIL: $1"; failures=$((failures + 1)); }
}

bash "$top/cmake/wine-run.sh" "$work/bitsguard.exe" scan --json --channel Microsoft-Windows-Bits-Client/Operational \
    >"$work/out.json" 2>"$work/err.txt"
st=$?
[ "$st" -eq 1 ]
check "scan --channel exits 1 (detections found), got $st" $?
# The same export read as a file: the findings (lines with an "alert" key, such as the fixture's
# notify command) must come out of the channel exactly as they do out of the file.
bash "$top/cmake/wine-run.sh" "$work/bitsguard.exe" scan --json "$work/feed/mixed-detections.xml" \
    >"$work/file.json" 2>/dev/null
python3 - "$work/out.json" "$fixtures/exports/mixed-detections.expected" "$work/file.json" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
got = sorted((d["job_id"], d["url"], d["ip"]) for d in lines if "alert" not in d)
want = sorted(tuple(l.rstrip("\n").split("\t")[:3]) for l in open(sys.argv[2]) if l.strip() and not l.startswith("#"))
if got != want:
    print("detections differ:\n got ", got, "\n want", want)
    sys.exit(1)
findings = sorted(json.dumps(d, sort_keys=True) for d in lines if "alert" in d)
from_file = sorted(json.dumps(d, sort_keys=True) for d in map(json.loads, filter(str.strip, open(sys.argv[3]))) if "alert" in d)
if not findings or findings != from_file:
    print("findings differ or are missing:\n channel", findings, "\n file   ", from_file)
    sys.exit(1)
PY
check "the channel gives the fixture's expected detections and the file's findings" $?
grep -q "events read" "$work/err.txt"
check "summary printed" $?

bash "$top/cmake/wine-run.sh" "$work/bitsguard.exe" scan --channel No-Such/Channel >"$work/out2.txt" 2>"$work/err2.txt"
st=$?
[ "$st" -eq 3 ]
check "a missing channel exits 3, got $st" $?
grep -q "No-Such/Channel" "$work/err2.txt"
check "a missing channel is named in the error" $?

echo "$((checks - failures)) passed, $failures failed"
[ "$failures" -eq 0 ]
