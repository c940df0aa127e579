#!/usr/bin/env bash
# The README's first command: set up, build, install the MSI into a Wine prefix, run the service on the
# bundled sample events (through the wevtapi test double) and print `bitsguard query`.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

bash scripts/setup.sh
# The native command-line scanner, for incident responders on Linux.
cmake -S . -B build -G Ninja >/dev/null
cmake --build build -j "$(nproc 2>/dev/null || echo 2)" --target bitsguard >/dev/null
sample=tests/fixtures/exports/mixed-detections.xml
printf '\n== native scanner: build/service/bitsguard scan %s\n' "$sample"
./build/service/bitsguard scan "$sample" || [ $? -eq 1 ]

# The Windows service, installed from its MSI.
bash installer/demo-wine.sh
