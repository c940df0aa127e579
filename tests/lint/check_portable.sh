#!/usr/bin/env bash
# Portable code knows no platform: no #if on _WIN32/WIN32/BG_HAVE_SERVICE and no <windows.h> in common/
# (but its bg_os_win.c), detector/, store/, service/engine/ and service/cli/. Platform code goes into
# common/bg_os_*.c or service/win/. usage: check_portable.sh SOURCE_DIR
set -uo pipefail
top=${1:?usage: check_portable.sh SOURCE_DIR}
cd "$top" || exit 2
found=$(grep -nE '^[[:space:]]*#[[:space:]]*(if|ifdef|ifndef|elif).*(_WIN32|WIN32|_MSC_VER|__MINGW|BG_HAVE_SERVICE)|#[[:space:]]*include[[:space:]]*<(windows|winevt|io|direct)\.h>' \
    common/*.[ch] detector/*.[ch] store/*.[ch] service/engine/*.[ch] service/cli/*.[ch] | grep -v '^common/bg_os_win\.c:')
if [ -n "$found" ]; then
    echo "platform code in portable files (move it to common/bg_os_*.c or service/win/):"
    echo "$found"
    exit 1
fi
count=$(ls common/*.[ch] detector/*.[ch] store/*.[ch] service/engine/*.[ch] service/cli/*.[ch] | wc -l)
echo "portable: $count files, no platform conditionals"
