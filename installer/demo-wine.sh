#!/usr/bin/env bash
# The real product end to end on Debian: build the MSI, install it into a Wine prefix, feed sample events, print `bitsguard query`.
#
# usage: installer/demo-wine.sh            (from anywhere; run scripts/setup.sh as root first on a fresh machine)
# Environment: BG_BUILD_DIR (default build-msi), BG_DEMO_PREFIX (default .cache/demo-prefix).
#
# Steps: static libxml2/SQLite for mingw (cached), the cross build (bitsguard.exe, the wevtapi test
# double, the MSI), a fresh Wine prefix (a copy of the Wine harness's pristine template,
# tests/wevtapi/harness.sh) with the test double in place of Wine's wevtapi stub and the bundled sample
# events in its feed folder, `msiexec /i ... /qn` (which installs and starts the service), then
# `bitsguard query` and `bitsguard status` through the installed exe. The prefix is kept for a look
# around; the service is stopped at the end and every process of the prefix ended, whatever happened.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
build=${BG_BUILD_DIR:-build-msi}
prefix=${BG_DEMO_PREFIX:-$top/.cache/demo-prefix}
events="$top/tests/fixtures/exports/mixed-detections.xml"
say() { printf '\n== %s\n' "$*"; }

say "Windows dependencies (static libxml2 and SQLite, cached in .deps/)"
bash scripts/build-windows-deps.sh
say "cross build: bitsguard.exe, the wevtapi test double and the MSI ($build)"
mkdir -p .cache
cmake -S . -B "$build" -G Ninja -DCMAKE_TOOLCHAIN_FILE=cmake/mingw-w64-x86_64.cmake >.cache/demo-configure.log 2>&1 ||
    { cat .cache/demo-configure.log; exit 1; }
cmake --build "$build" --target bitsguard wevtapi_double msi
version=$(sed -n 's/^#define BG_VERSION "\(.*\)"$/\1/p' "$build/generated/bg_version.h")
msi="$top/$build/bitsguard-$version-x64.msi"
dll=$(find "$build/tests/wevtapi" -maxdepth 1 -name wevtapi.dll | head -n 1)
[ -f "$msi" ] && [ -n "$dll" ] || { echo "demo: MSI or wevtapi.dll missing" >&2; exit 1; }

# shellcheck source=tests/wevtapi/harness.sh
. "$top/tests/wevtapi/harness.sh"
wine_locate || { echo "demo: no wine64 (run scripts/setup.sh)" >&2; exit 1; }
export WINEDEBUG="-all,+eventlog"
prefix_env "$prefix"
logs="$prefix.logs"
exe='C:\Program Files\bitsguard\bitsguard.exe'
# Every Wine call below is bounded (w, wd); a graceful stop of the service, then every process of the
# prefix ended by pid, on any exit. A Wine crash (tests/wevtapi/README.md) is reported as such and the
# demo runs again on a fresh prefix, as the tests do.
harness_cleanup() { w sc stop bitsguard >"$logs/sc-stop.log" 2>&1; }

demo() {
    say "fresh Wine prefix $prefix"
    rm -rf "$logs"
    mkdir -p "$logs"
    # Wine's wevtapi is a stub that aborts the service: the test double replaces it, and reads its events
    # from the feed folder beside it. Files dropped there later are delivered live.
    cp "$dll" "$prefix/drive_c/windows/system32/wevtapi.dll"
    mkdir -p "$prefix/drive_c/windows/system32/feed"
    cp "$events" "$prefix/drive_c/windows/system32/feed/"
    # A persistent wineserver keeps the service alive between commands; the service's output (and
    # the Event Log alerts Wine prints) goes to the file of the command that boots the prefix.
    boot="$logs/service.log"
    prefix_boot || { echo "demo: the Wine prefix did not boot (see $hdir/wineserver.log)" >&2; exit 1; }

    say "msiexec /i $(basename "$msi") /qn"
    t0=$(date +%s.%N)
    msi_win="Z:${msi//\//\\}"
    BG_WINE_CALL_TIMEOUT=300 wd msiexec /i "$msi_win" /qn /l*v "Z:${logs//\//\\}\\install.msilog" >"$logs/msiexec.log" 2>&1 ||
        { echo "msiexec failed ($? = exit code modulo 256); see $logs/"; cat "$logs/msiexec.log"; exit 1; }
    awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "installed in %.1f s\n", b - a }'
    sed 's/\r$//' "$logs/msiexec.log"
    w sc query bitsguard >"$logs/sc-query.log" 2>&1 || true
    sed 's/\r$//' "$logs/sc-query.log"

    say "bitsguard query (the service reads the sample events through the test double)"
    for _ in $(seq 1 40); do
        w "$exe" query >"$logs/query.log" 2>&1 || true
        grep -q 'no detections' "$logs/query.log" || [ "$(grep -c . "$logs/query.log")" -lt 2 ] || break
        sleep 0.5
    done
    sed 's/\r$//' "$logs/query.log"
    say "bitsguard status"
    w "$exe" status >"$logs/status.log" 2>&1 || true
    sed 's/\r$//' "$logs/status.log"
    say "Event Log alerts the service wrote (Wine prints their insertion strings)"
    echo "$(grep -c 'eventlog:ReportEventW' "$logs/service.log" || true) ReportEventW lines in $logs/service.log, for example:"
    grep 'eventlog:ReportEventW' "$logs/service.log" | grep -m 3 'L"http' || true
    # Stopped cleanly, so the kept prefix's registry holds the installed service.
    harness_cleanup
    prefix_shutdown
    printf '\nPrefix kept: WINEPREFIX=%s; logs in %s\n' "$prefix" "$logs"
}
harness_main demo || exit 1
