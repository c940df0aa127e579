#!/usr/bin/env bash
# Prints, at the end of the wine leg, every program cmake/wine-run.sh ran a second time after it exited non-zero silently.
#
# usage: wine_reruns.sh ROOT   (ROOT/.cache/wine-run-reruns.log, which the leg deletes before it starts)
# Such a re-run is not a pass bought quietly: each one is listed here with its exit status, how long it
# ran and the server crashes seen, so the leg's output shows how often Wine did not run a program.
# Always exits 0: the re-run's own result is what its test judged.
set -u
log="${1:?usage: wine_reruns.sh ROOT}/.cache/wine-run-reruns.log"
if [ -s "$log" ]; then
    echo "wine-run: $(wc -l <"$log") program(s) exited non-zero with no output at all and were run once more:"
    sed 's/^/  /' "$log"
else
    echo "wine-run: no program needed a second run"
fi
exit 0
