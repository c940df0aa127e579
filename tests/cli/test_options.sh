#!/usr/bin/env bash
# The one option parser (service/cli/cli_opt.c) as every command sees it: options before and after
# operands, --x V and --x=V, "--", generated --help, usage errors (exit 2) and their messages.
. "$(dirname "$0")/../lib/cli.sh"
mixed=$fixtures/exports/mixed-detections.xml

# scan: an option after the file is an option, not a file name (was read as a file: exit 3).
expect_exit 1 "$bin" scan "$mixed" --json
expect_stdout '^\{"'
expect_stderr 'detections'
expect_exit 1 "$bin" scan --json "$mixed"
cp "$out" "$work/json-before"
expect_exit 1 "$bin" scan "$mixed" --json
expect_stdout_file "$work/json-before"

# scan --db=PATH as query and status take it (was refused as an unknown option: exit 2).
expect_exit 1 "$bin" scan --db="$work/eq.db" "$mixed"
expect_exit 0 "$bin" query --db="$work/eq.db" --format=csv
expect_stdout '^event_id,|203\.0\.113|198\.51\.100'
expect_exit 0 "$bin" status --db="$work/eq.db" --json
expect_stdout '"detections_total":2'
# ... and --db PATH after the file.
expect_exit 1 "$bin" scan "$mixed" --db "$work/after.db"
expect_exit 0 "$bin" query --db "$work/after.db" --format json --limit=1
expect_stdout '^\{'

# "--" ends the options: what follows is a file, even when it looks like an option.
expect_exit 3 "$bin" scan -- --json
expect_stderr 'scan: --json: No such file'
# classify: --allow=ENTRY and --allow ENTRY, before or after the names.
expect_exit 0 "$bin" classify --json http://10.1.2.3/x --allow=10.0.0.0/8
expect_stdout '"allowed":true'
expect_exit 0 "$bin" classify --json --allow 10.0.0.0/8 http://10.1.2.3/x
expect_stdout '"allowed":true'

# Usage errors: exit 2, the reason and where to look, nothing on stdout.
for cmd in classify scan query status; do
    expect_exit 2 "$bin" "$cmd" --bogus x
    expect_stderr "^bitsguard $cmd: unknown option '--bogus'"
    expect_stderr "Run 'bitsguard $cmd --help'"
    expect_no_stdout
done
expect_exit 2 "$bin" query --db
expect_stderr "query: this option needs a value: '--db'"
expect_exit 2 "$bin" query --db=
expect_stderr 'needs a value'
expect_exit 2 "$bin" status --json=yes
expect_stderr "takes no value: '--json=yes'"
expect_exit 2 "$bin" status extra
expect_stderr "unexpected argument 'extra'"
expect_exit 2 "$bin" classify --allow=10.0.0.0/99 x
expect_stderr "classify: --allow 10.0.0.0/99: "
expect_exit 2 "$bin" scan --allow 300.1.1.1/8 "$mixed"
expect_stderr "scan: --allow 300.1.1.1/8: "
# An option value is printed terminal-safe in the error.
expect_exit 2 "$bin" query $'--\e[31mred'
expect_stderr "unknown option '--\\?\\[31mred'"

# --help: generated from the option table, on stdout, exit 0.
for cmd in classify scan query status; do
    expect_exit 0 "$bin" "$cmd" --help
    expect_stdout "^usage: bitsguard $cmd "
    expect_stdout '^  -h, --help +print this help'
    expect_no_stderr
done
expect_exit 0 "$bin" scan -h
expect_stdout '--db PATH +also store the detections'
expect_stdout '\[--allow CIDR\|HOST\]\.\.\.'

test_done
