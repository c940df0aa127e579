#!/usr/bin/env bash
# Installs every Debian package the native build, the tests and the Windows leg need; idempotent.
set -euo pipefail

packages=(
  build-essential cmake pkg-config ninja-build
  libxml2-dev libsqlite3-dev sqlite3
  libevtx-dev libbfio-dev libevtx-utils
  clang llvm libclang-rt-14-dev valgrind
  gcc-mingw-w64-x86-64 binutils-mingw-w64-x86-64 mingw-w64-tools
  wine wine64 wixl msitools
  dpkg-dev tcl xz-utils python3 python3-yaml
  shellcheck clang-format git
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

# Node.js and npm bring the pinned IDNA mapping data (below) and run the WHATWG cross-check; a machine
# with a Node.js of its own (which bundles npm) keeps it.
if ! command -v npm >/dev/null; then
  missing+=(nodejs npm)
fi

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages present"
else
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The Unicode IDNA mapping data the build generates detector/idna.c's table from: the npm packages
# pinned in scripts/idna/package-lock.json, installed again whenever the lock file changes.
idna=$(cd "$(dirname "$0")" && pwd)/idna
if [ ! -f "$idna/node_modules/.package-lock.json" ] || [ "$idna/package-lock.json" -nt "$idna/node_modules/.package-lock.json" ]; then
  echo "setup: installing the IDNA data (npm ci in scripts/idna)"
  npm ci --prefix "$idna" --no-audit --no-fund --ignore-scripts --loglevel=error >/dev/null
fi
echo "setup: done"
