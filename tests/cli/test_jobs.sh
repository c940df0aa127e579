#!/usr/bin/env bash
# bitsguard jobs: options and usage errors everywhere; on Linux it says the BITS service exists only on Windows.
# (Against a real BITS service: tests/wine/test_bits_jobs.sh under Wine, installer/validate/ on Windows.)
. "$(dirname "$0")/../lib/cli.sh"

expect_exit 0 "$bin" jobs --help
expect_stdout '^usage: bitsguard jobs \[--all-users\] \[--format FORMAT\] \[--db PATH\] \[--allow CIDR\|HOST\]'
expect_stdout 'exit status: 0 nothing flagged'
expect_exit 2 "$bin" jobs --format xml
expect_stderr 'bitsguard jobs: --format wants table, json or csv: xml'
expect_exit 2 "$bin" jobs --allow 10.0.0.1/8
expect_exit 2 "$bin" jobs --cancel
expect_exit 2 "$bin" jobs extra
expect_exit 0 "$bin" --help
expect_stdout '^  jobs +list the BITS service.s jobs'

if [ "${BG_TEST_PLATFORM:-native}" != wine ]; then
    # No BITS here: exit 3 with the reason, and nothing created (no database file for --db).
    expect_exit 3 "$bin" jobs --db "$work/jobs.db"
    expect_stderr 'bitsguard jobs: BITS jobs can be listed only on Windows'
    expect "no database created when BITS cannot be reached" test ! -e "$work/jobs.db"
    expect_exit 3 "$bin" jobs --cancel 0b2ee6b3-1d6e-4e3c-8b4b-2f7a4c1d9e10 --db "$work/jobs.db"
    expect_exit 2 "$bin" selftest
    expect_stderr "unknown command 'selftest'"
fi
test_done
