#!/usr/bin/env bash
# Under Wine: every output format of bitsguard ends its lines one way, never CR CR LF (text-mode stdout).
# args: $1 emulator (cmake/wine-run.sh), $2 bitsguard.exe, $3 fixtures dir. exit 0 pass, 1 fail, 77 skip.
#
# The Windows C runtime opens stdout in text mode: each "\n" written becomes CR LF, so code that
# writes "\r\n" itself (CSV's RFC 4180 line end) produces CR CR LF, which CSV readers see as a blank
# record. Linux never shows this; only the Windows build can.
set -uo pipefail
emu=$1
exe=$2
fixtures=$3
input="$fixtures/exports/mixed-detections.xml"
[ -f "$input" ] || {
    echo "skip: $input absent"
    exit 77
}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0

# line_ends NAME FILE: fails on CR CR LF, on a mix of CR LF and bare LF, or on no line at all.
line_ends() {
    local name=$1 file=$2 lines crlf crcrlf
    lines=$(tr -cd '\n' <"$file" | wc -c)
    crlf=$(grep -c $'\r$' "$file")
    crcrlf=$(grep -c $'\r\r$' "$file")
    if [ "$lines" -eq 0 ]; then
        echo "FAIL $name: no output lines"
        failures=$((failures + 1))
    elif [ "$crcrlf" -ne 0 ]; then
        echo "FAIL $name: $crcrlf of $lines lines end in CR CR LF"
        od -c "$file" | head -n 4
        failures=$((failures + 1))
    elif [ "$crlf" -ne 0 ] && [ "$crlf" -ne "$lines" ]; then
        echo "FAIL $name: $crlf of $lines lines end in CR LF, the others in LF"
        failures=$((failures + 1))
    else
        echo "ok   $name ($lines lines, $crlf CR LF)"
    fi
}

# Detections into a database (exit 1: detections found), then every view of them.
"$emu" "$exe" scan --db "$work/bits.db" "$input" >"$work/scan.txt" 2>"$work/scan.err"
status=$?
if [ "$status" -ne 1 ]; then
    echo "FAIL scan --db exited $status, expected 1"
    cat "$work/scan.err"
    exit 1
fi
line_ends "scan (text)" "$work/scan.txt"
"$emu" "$exe" scan --json "$input" >"$work/scan.json" 2>/dev/null
line_ends "scan --json" "$work/scan.json"
for format in table json csv; do
    if "$emu" "$exe" query --db "$work/bits.db" --all --format "$format" >"$work/query.$format" 2>"$work/query.err"; then
        line_ends "query --format $format" "$work/query.$format"
    else
        echo "FAIL query --format $format exited non-zero"
        cat "$work/query.err"
        failures=$((failures + 1))
    fi
done
"$emu" "$exe" status --db "$work/bits.db" >"$work/status.txt" 2>/dev/null
line_ends "status" "$work/status.txt"

[ "$failures" -eq 0 ]
