#!/usr/bin/env bash
# Checks that docs/alerts.md documents exactly the event ids of service/win/messages.mc, with the same
# symbolic names, and that the windmc-generated header (when given) carries the same values.
# Usage: test_messages_doc.sh MESSAGES.MC ALERTS.MD [MESSAGES.H]
set -u
mc=$1 doc=$2 hdr=${3:-}
fail=0
# "MessageId=N" followed by "SymbolicName=NAME": one "N NAME" line per message.
mc_ids=$(awk -F= '/^MessageId=/{id=$2} /^SymbolicName=/{print id, $2}' "$mc" | tr -d '\r' | sort -n)
# The documentation's table rows: "| 1000 | MSG_DETECTION | ...".
doc_ids=$(sed -n 's/^| *\([0-9][0-9]*\) *| *`\{0,1\}\(MSG_[A-Z_]*\)`\{0,1\} *|.*/\1 \2/p' "$doc" | sort -n)
if [ -z "$mc_ids" ]; then
    echo "FAIL: no messages found in $mc"
    exit 1
fi
if [ "$mc_ids" != "$doc_ids" ]; then
    echo "FAIL: event ids differ between $mc and $doc"
    diff <(echo "$mc_ids") <(echo "$doc_ids")
    fail=1
else
    echo "ok: $(echo "$mc_ids" | wc -l) event ids documented"
fi
if [ -n "$hdr" ] && [ -f "$hdr" ]; then
    while read -r id name; do
        val=$(sed -n "s/^#define $name (DWORD) \(0x[0-9a-fA-F]*\).*/\1/p" "$hdr")
        if [ -z "$val" ] || [ $((val)) -ne "$id" ]; then
            echo "FAIL: $name is ${val:-missing} in $hdr, expected $id"
            fail=1
        fi
    done <<<"$mc_ids"
    [ "$fail" -eq 0 ] && echo "ok: generated header matches"
fi
# The insertion strings: the detection table (1000, 1001, 1100) lists %1..%20 once each, in order, then
# the finding table (1002..1005) %1..%22; each table ends where the next "## " heading starts.
tables=$(awk '/^## /{t++} /^\| *%[0-9]+ *\|/{sub(/^\| *%/, ""); sub(/ *\|.*/, ""); printf "%s%s", (t != last ? (NR > 1 && last ? ";" : "") : " "), $0; last = t}' "$doc")
expected="1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20;1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22"
if [ "$tables" != "$expected" ]; then
    echo "FAIL: insertion string tables are '$tables', expected '$expected'"
    fail=1
else
    echo "ok: insertion strings %1..%20 (detections) and %1..%22 (findings) documented in order"
fi
exit $fail
