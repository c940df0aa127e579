#!/usr/bin/env bash
# The Windows leg: static mingw dependencies, the mingw-w64 build in build-win, a ready Wine prefix, tests under Wine.
#
# usage: scripts/test-windows.sh [leg|test]
#   leg   build the dependencies (cached), configure and build build-win, prepare the Wine prefix;
#         scripts/test.sh then runs `ctest -L wine` in build-win.
#   test  (default) the same, then run `ctest -L wine` here.
# Environment: BG_WIN_BUILD_DIR (default build-win), WINEPREFIX (default .cache/wine-prefix, see
# cmake/wine-run.sh, which ctest uses as the emulator so a bare `ctest --test-dir build-win` works).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
mode=${1:-test}
case "$mode" in
leg | test) ;;
*)
    echo "usage: $0 [leg|test]" >&2
    exit 2
    ;;
esac
dir=${BG_WIN_BUILD_DIR:-build-win}
jobs=$(nproc 2>/dev/null || echo 2)

# Prints "label: N s" for the step that just ended; the figures go into CI logs.
step_start() { step_t0=$SECONDS; }
step_end() { echo "test-windows: $1: $((SECONDS - step_t0)) s"; }

step_start
bash scripts/build-windows-deps.sh
step_end "dependencies"

step_start
mkdir -p "$dir"
if ! cmake -S . -B "$dir" -G Ninja -DCMAKE_TOOLCHAIN_FILE="$top/cmake/mingw-w64-x86_64.cmake" >"$dir/configure.log" 2>&1; then
    cat "$dir/configure.log" >&2
    echo "test-windows: configure of $dir failed" >&2
    exit 1
fi
cmake --build "$dir" -j "$jobs"
step_end "mingw build"

# Boot the prefix once now (tens of seconds when new) rather than inside the first test's timeout.
# The wrapper keeps every Wine process off the caller's pipes, so `| tee` around this script is safe.
step_start
if ! cmake/wine-run.sh cmd /c exit; then
    echo "test-windows: the Wine prefix could not be prepared" >&2
    exit 1
fi
step_end "wine prefix"

if [ "$mode" = test ]; then
    step_start
    status=0
    rm -f .cache/wine-run-reruns.log
    ctest --test-dir "$dir" -L wine --output-on-failure -j "$jobs" || status=$?
    bash tests/wevtapi/wine_reruns.sh "$top"
    bash tests/wevtapi/wine_leftovers.sh "$top" || status=1
    step_end "wine tests"
    exit "$status"
fi
