# shellcheck shell=bash
# Finds the 64-bit Wine loader and its wineserver; sourced by cmake/wine-run.sh and the Wine test scripts.
# Debian 12's /usr/bin/wine is a launcher script that prefers a 32-bit loader, so the 64-bit one is looked
# for first (BG_WINE overrides). Sets wine and wineserver; returns 1 (wine empty) when none is installed,
# and the caller decides whether that skips a test or is an error.
wine_locate() {
    local candidate
    wine=""
    for candidate in "${BG_WINE:-}" /usr/lib/wine/wine64 /usr/lib/wine64/wine64 "$(command -v wine64 || true)"; do
        if [ -n "$candidate" ] && [ -x "$candidate" ]; then
            wine=$candidate
            break
        fi
    done
    # shellcheck disable=SC2034 # For the scripts that source this file.
    wineserver=$(command -v wineserver || echo /usr/lib/wine/wineserver64)
    [ -n "$wine" ]
}
