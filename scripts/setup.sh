#!/usr/bin/env bash
# Installs every Debian package the native build, the tests and the Windows leg need; idempotent.
set -euo pipefail

packages=(
  build-essential cmake pkg-config ninja-build
  libxml2-dev libsqlite3-dev sqlite3
  clang llvm libclang-rt-14-dev valgrind
  gcc-mingw-w64-x86-64 binutils-mingw-w64-x86-64 mingw-w64-tools
  wine wine64 wixl msitools
  dpkg-dev tcl xz-utils python3
  shellcheck clang-format git
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi

echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done"
