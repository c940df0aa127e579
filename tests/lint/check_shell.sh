#!/usr/bin/env bash
# Runs shellcheck -S warning over every shell script of the repository (tracked by git, else found on disk);
# sourced files are followed from each script's folder. usage: check_shell.sh SOURCE_DIR
set -uo pipefail
top=${1:?usage: check_shell.sh SOURCE_DIR}
cd "$top" || exit 2
command -v shellcheck >/dev/null || { echo "SKIP: shellcheck not installed (scripts/setup.sh installs it)"; exit 77; }
mapfile -t files < <(git ls-files '*.sh' 2>/dev/null)
[ ${#files[@]} -gt 0 ] || mapfile -t files < <(find . -name '*.sh' -not -path './build*' -not -path './.*')
shellcheck -x -P SCRIPTDIR -S warning "${files[@]}" || exit 1
echo "shellcheck: ${#files[@]} scripts, no warning"
