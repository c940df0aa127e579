#!/usr/bin/env bash
# Builds bitsguard's MSI with wixl (and msibuild for what wixl drops): shared by the `msi` target and the Wine tests.
#
# usage: build-msi.sh WIXL BITSGUARD_EXE WXS VERSION HELP_URL OUTPUT_MSI
# wixl 0.101 cannot take an absolute File/@Source (it asserts and fails with "Couldn't find file"),
# so it runs in the folder of the exe and is given the exe's bare name.
set -euo pipefail
if [ $# -ne 6 ]; then
    echo "usage: build-msi.sh WIXL BITSGUARD_EXE WXS VERSION HELP_URL OUTPUT_MSI" >&2
    exit 2
fi
wixl=$1 exe=$2 wxs=$3 version=$4 help_url=$5 out=$6
[ -f "$exe" ] || { echo "build-msi: $exe not found" >&2; exit 1; }
# MSI ProductVersion is major.minor.build, each field a number (major and minor <= 255, build <= 65535).
if ! [[ "$version" =~ ^([0-9]+)\.([0-9]+)\.([0-9]+)$ ]] || [ "${BASH_REMATCH[1]}" -gt 255 ] ||
    [ "${BASH_REMATCH[2]}" -gt 255 ] || [ "${BASH_REMATCH[3]}" -gt 65535 ]; then
    echo "build-msi: version '$version' is not an MSI version (major.minor.build)" >&2
    exit 1
fi
wxs_abs=$(cd "$(dirname "$wxs")" && pwd)/$(basename "$wxs")
out_dir=$(mkdir -p "$(dirname "$out")" && cd "$(dirname "$out")" && pwd)
out_abs=$out_dir/$(basename "$out")
tmp=$out_abs.tmp
rm -f "$tmp"
# wixl writes GLib warnings for attributes it ignores; keep them visible, they are how a dropped
# attribute shows. A successful run still leaves the output only once it is complete (tmp + mv).
(cd "$(dirname "$exe")" && "$wixl" -a x64 -D "Version=$version" -D "ExePath=$(basename "$exe")" \
    -D "HelpUrl=$help_url" -o "$tmp" "$wxs_abs")
# wixl 0.101 drops Execute="rollback": it writes RollbackSetup as type 2130, an immediate action that would
# run teardown at every installation. The row is set to 3410 (exe from an installed file 18 + in-script 1024 +
# rollback 256 + no impersonation 2048 + return ignored 64) with msitools' msibuild, and checked.
idt=$(mktemp -d)
trap 'rm -rf "$idt"' EXIT
msiinfo export "$tmp" CustomAction >"$idt/CustomAction.idt"
awk -F'\t' 'BEGIN { OFS = "\t" } $1 == "RollbackSetup" && $2 == "2130" { $2 = "3410" } { print }' \
    "$idt/CustomAction.idt" >"$idt/patched.idt"
mv -f "$idt/patched.idt" "$idt/CustomAction.idt"
msibuild "$tmp" -i "$idt/CustomAction.idt"
rows=$(msiinfo export "$tmp" CustomAction) # Not piped into grep -q: with pipefail its early exit fails the check.
if ! grep -q "^RollbackSetup	3410	MainExe	teardown" <<<"$rows"; then
    echo "build-msi: RollbackSetup is not a rollback action (type 3410) after msibuild" >&2
    exit 1
fi
mv -f "$tmp" "$out_abs"
