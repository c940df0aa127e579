#!/usr/bin/env bash
# Cross-check of the classifier against Node's WHATWG URL parser on every http(s) name of its unit table.
set -uo pipefail
bin=$1
command -v node >/dev/null || { echo "node not installed: cross-check skipped"; exit 77; }
here=$(cd "$(dirname "$0")" && pwd)
exec node "$here/whatwg_crosscheck.js" "$bin" "$here/../unit/test_detector_classify.c"
