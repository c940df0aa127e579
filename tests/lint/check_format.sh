#!/usr/bin/env bash
# clang-format --dry-run over every C source and header (the committed .clang-format is the style).
# usage: check_format.sh SOURCE_DIR
set -uo pipefail
top=${1:?usage: check_format.sh SOURCE_DIR}
cd "$top" || exit 2
command -v clang-format >/dev/null || { echo "SKIP: clang-format not installed (scripts/setup.sh installs it)"; exit 77; }
mapfile -t files < <(git ls-files '*.c' '*.h' 2>/dev/null)
[ ${#files[@]} -gt 0 ] || mapfile -t files < <(find . -name '*.[ch]' -not -path './build*' -not -path './.*')
clang-format --dry-run --Werror "${files[@]}" || exit 1
echo "clang-format: ${#files[@]} files, no difference"
