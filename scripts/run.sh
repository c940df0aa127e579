#!/usr/bin/env bash
# The README's first command: set up, build, and run bitsguard over the bundled sample events.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

bash scripts/setup.sh
cmake -S . -B build -G Ninja >/dev/null
cmake --build build -j "$(nproc 2>/dev/null || echo 2)"

sample=tests/fixtures/exports/mixed-detections.xml
db=$(mktemp -d)/bitsguard.db
echo
echo "== bitsguard scan $sample (Windows 10 and 11 job chains, public, private and domain sources)"
set +e
./build/service/bitsguard scan --db "$db" "$sample"
status=$?
set -e
echo "   (exit status $status: 1 means detections were found)"
echo
echo "== bitsguard query --db $db"
./build/service/bitsguard query --db "$db"
echo
./build/service/bitsguard status --db "$db"
[ "$status" -eq 1 ]
