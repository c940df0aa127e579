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
# The detection events' insertion strings: the table lists %1..%N once each, in order.
n=$(sed -n 's/^| *%\([0-9][0-9]*\) *|.*/\1/p' "$doc" | tr '\n' ' ')
expected=$(seq -s ' ' 1 20)
if [ "$n" != "$expected " ]; then
    echo "FAIL: insertion string table is '$n', expected '$expected '"
    fail=1
else
    echo "ok: insertion strings %1..%20 documented in order"
fi
exit $fail
