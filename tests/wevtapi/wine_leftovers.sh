#!/usr/bin/env bash
# End-of-leg check: no process of the Wine tests' prefixes survives the wine leg; survivors are listed, killed, failed.
#
# Usage: wine_leftovers.sh ROOT...   (scripts/test.sh passes the source tree, which holds .cache/ and build-win/)
# A Wine process belongs to the tests when its WINEPREFIX lies under one of the ROOTs. The shared prefix of
# cmake/wine-run.sh (ROOT/.cache/wine-prefix) keeps a wineserver warm for 30 s after its last program by
# design: it is shut down first, then every prefix gets 10 s to empty. Exit 0 clean, 1 leftovers.
set -u
[ $# -ge 1 ] || { echo "usage: wine_leftovers.sh ROOT..." >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=cmake/wine-find.sh
. "$here/../../cmake/wine-find.sh"
wine_locate || exit 0 # No Wine, no Wine processes.

roots=()
for r in "$@"; do roots+=("$(readlink -f "$r")"); done

# "pid<TAB>prefix<TAB>command line" of every Wine process whose prefix is under a root.
leftovers() {
    local p e prefix r
    for p in /proc/[0-9]*; do
        e=$(readlink "$p/exe" 2>/dev/null) || continue
        case "${e##*/}" in wine | wine64 | wine-preloader | wine64-preloader | wineserver | wineserver64) ;; *) continue ;; esac
        prefix=$(tr '\0' '\n' 2>/dev/null <"$p/environ" | sed -n 's/^WINEPREFIX=//p')
        [ -n "$prefix" ] || continue
        for r in "${roots[@]}"; do
            case "$prefix/" in "$r"/*)
                printf '%s\t%s\t%s\n' "${p#/proc/}" "$prefix" "$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null)"
                break
                ;;
            esac
        done
    done
}

for r in "${roots[@]}"; do
    [ -d "$r/.cache/wine-prefix" ] && WINEPREFIX="$r/.cache/wine-prefix" timeout -s KILL 30 "$wineserver" -k </dev/null >/dev/null 2>&1
done
for _ in $(seq 10); do
    [ -z "$(leftovers)" ] && { echo "wine leftovers: none under ${roots[*]}"; exit 0; }
    sleep 1
done
left=$(leftovers)
[ -z "$left" ] && { echo "wine leftovers: none under ${roots[*]}"; exit 0; }
echo "FAIL: $(grep -c . <<<"$left") Wine process(es) of the tests' prefixes survived the leg (ended now):"
printf '%s\n' "$left" | cut -c1-200
cut -f1 <<<"$left" | while read -r pid; do kill -9 "$pid" 2>/dev/null; done
exit 1
