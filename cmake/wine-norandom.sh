#!/bin/sh
# Starts the Wine loader named by BG_WINE_LOADER with the kernel's address-space randomisation off (setarch -R).
#
# Debian 12 ships wine64 without its preloader (/usr/lib/wine/wine64-preloader is absent, the loader's
# execve of it fails with ENOENT), and the preloader is what reserves Wine's fixed Windows addresses before
# anything else is mapped. Without it, the kernel places the loader's brk heap anywhere in the 1 GB above
# the loader's fixed image at 0x7d000000; about one start in 3,000 the heap covers 0x7ffe0000, where Wine
# must map the shared user data, and the program exits 1 before running, its "failed to map the shared
# user data" error hidden by WINEDEBUG=-all (measured: tests/wevtapi/README.md). With randomisation off the
# heap starts right after the loader's image, 48 MB below that page, every time. The setting is inherited,
# so every Windows process Wine starts from this one (services.exe, winedevice.exe, the service) gets it
# too; the wineserver, which the scripts start directly, is a plain Unix program and needs none.
# BG_WINE_RANDOMIZE=1 starts the loader as it is, to reproduce the failure.
if [ "${BG_WINE_RANDOMIZE:-0}" = 1 ]; then
    exec "$BG_WINE_LOADER" "$@"
fi
exec setarch -R "$BG_WINE_LOADER" "$@"
