# shellcheck shell=bash
# Finds the 64-bit Wine loader and its wineserver; sourced by cmake/wine-run.sh and the Wine test scripts.
# Debian 12's /usr/bin/wine is a launcher script that prefers a 32-bit loader, so the 64-bit one is looked
# for first (BG_WINE overrides). Sets wine_loader (the loader itself, for WINELOADER), wine (the command
# every script runs: cmake/wine-norandom.sh, which starts the loader with address-space randomisation off,
# see there why) and wineserver; returns 1 (wine empty) when none is installed, and the caller decides
# whether that skips a test or is an error.
wine_locate() {
    local candidate
    wine=""
    wine_loader=""
    for candidate in "${BG_WINE:-}" /usr/lib/wine/wine64 /usr/lib/wine64/wine64 "$(command -v wine64 || true)"; do
        if [ -n "$candidate" ] && [ -x "$candidate" ]; then
            wine_loader=$candidate
            break
        fi
    done
    # shellcheck disable=SC2034 # For the scripts that source this file.
    wineserver=$(command -v wineserver || echo /usr/lib/wine/wineserver64)
    [ -n "$wine_loader" ] || return 1
    export BG_WINE_LOADER="$wine_loader"
    # shellcheck disable=SC2034
    wine="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/wine-norandom.sh"
}
