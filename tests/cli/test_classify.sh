#!/usr/bin/env bash
# Tests of `bitsguard classify`: text and JSON output, standard input, --allow, exit statuses, usage errors.
. "$(dirname "$0")/../lib/cli.sh"

tab=$'\t'

# Text output: one line per name, six tab-separated columns.
expect_exit 0 "$bin" classify 'http://45.33.32.156/x.exe'
expect_stdout_is "public-ip${tab}45.33.32.156${tab}http${tab}-${tab}whatwg${tab}http://45.33.32.156/x.exe"
expect_exit 0 "$bin" classify '\\10.0.0.5\c$\x' 'https://1drv.ms/x' 'C:\x' 'ftp://1.2.3.4/'
expect_stdout_is "private-ip${tab}10.0.0.5${tab}smb${tab}private-use${tab}unc${tab}\\\\10.0.0.5\\c\$\\x
domain${tab}-${tab}https${tab}-${tab}-${tab}https://1drv.ms/x
local${tab}-${tab}local${tab}-${tab}-${tab}C:\\x
invalid${tab}-${tab}unknown${tab}-${tab}-${tab}ftp://1.2.3.4/"
expect_exit 0 "$bin" classify 'http://[2001:DB8:0:0:1::1]:8080/'
expect_stdout_is "private-ip${tab}2001:db8::1:0:0:1${tab}http${tab}documentation${tab}whatwg${tab}http://[2001:DB8:0:0:1::1]:8080/"
# The reading that reached the IP when WHATWG's did not.
expect_exit 0 "$bin" classify 'http://a.example\@45.33.32.156/' 'http://payload-93-184-215-14.nip.io/'
expect_stdout_is "public-ip${tab}45.33.32.156${tab}http${tab}-${tab}rfc3986${tab}http://a.example\\@45.33.32.156/
public-ip${tab}93.184.215.14${tab}http${tab}-${tab}wildcard-dns${tab}http://payload-93-184-215-14.nip.io/"

# Control characters in a name never reach the terminal.
expect_exit 0 "$bin" classify $'http://a.example/\x1b[2Jx'
expect "no escape character reaches the output" bash -c "! grep -q $'\x1b' '$out'"
expect "a name with control characters gives one line" test "$(wc -l <"$out")" -eq 1

# JSON: one object per line with every field; null ip and range when absent.
expect_exit 0 "$bin" classify --json 'http://user@0x2d.33.32.156:80/x' 'http://example.com/'
expect_stdout_is '{"url":"http://user@0x2d.33.32.156:80/x","verdict":"public-ip","ip":"45.33.32.156","kind":"http","range":null,"reading":"whatwg","embedded_ipv4":null,"host":"45.33.32.156","allowed":false}
{"url":"http://example.com/","verdict":"domain","ip":null,"kind":"http","range":null,"reading":null,"embedded_ipv4":null,"host":"example.com","allowed":false}'
expect_exit 0 "$bin" classify --json 'http://a"b\c/'
expect_stdout_is '{"url":"http://a\"b\\c/","verdict":"domain","ip":null,"kind":"http","range":null,"reading":null,"embedded_ipv4":null,"host":"a\"b","allowed":false}'
expect_exit 0 "$bin" classify --json 'http://[64:ff9b::45.33.32.156]/'
expect_stdout_is '{"url":"http://[64:ff9b::45.33.32.156]/","verdict":"public-ip","ip":"64:ff9b::2d21:209c","kind":"http","range":null,"reading":"whatwg","embedded_ipv4":"45.33.32.156","host":"[64:ff9b::2d21:209c]","allowed":false}'
if command -v python3 >/dev/null; then
    expect_exit 0 "$bin" classify --json 'http://127.1/' '\\?\UNC\8.8.8.8\s' $'http://x/\x01\xff' 'file:///C:/x'
    python3 - "$out" <<'PY' && pass "JSON lines have the expected shape" || fail "JSON lines do not have the expected shape"
import json, sys
keys = ["url", "verdict", "ip", "kind", "range", "reading", "embedded_ipv4", "host", "allowed"]
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
assert len(lines) == 4, lines
for line in lines:
    obj = json.loads(line)
    assert list(obj) == keys, obj
    assert isinstance(obj["allowed"], bool)
    assert (obj["ip"] is None) == (obj["verdict"] not in ("public-ip", "private-ip")), obj
    assert (obj["range"] is None) == (obj["verdict"] != "private-ip"), obj
    assert (obj["reading"] is None) == (obj["ip"] is None), obj
first = json.loads(lines[0])
assert first["ip"] == "127.0.0.1" and first["range"] == "loopback", first
assert json.loads(lines[1])["kind"] == "smb"
assert json.loads(lines[3])["verdict"] == "local"
PY
fi

# --allow: CIDR, host and suffix entries; both spellings; applies to names before it too.
expect_exit 0 "$bin" classify --json --allow 45.33.32.0/24 --allow='*.example.com' \
    'http://45.33.32.156/' 'http://45.33.33.1/' 'http://a.example.com/' 'http://example.com/'
got=$(grep -o '"allowed":[a-z]*' "$out" | tr '\n' ' ')
expect "allowed flags [$got]" test "$got" = '"allowed":true "allowed":false "allowed":true "allowed":false ' 
expect_exit 0 "$bin" classify --json 'http://[::ffff:10.1.2.3]/' --allow 10.0.0.0/8
expect_stdout '"allowed":true' # --allow after the name applies to it

# Standard input: one name per line, CRLF and a BOM tolerated, empty lines skipped.
printf '\xef\xbb\xbfhttp://45.33.32.156/\r\n\nhttp://10.0.0.1/\n\\\\localhost\\share' >"$work/in"
expect_exit_in "$work/in" 0 "$bin" classify -
expect_stdout_is "public-ip${tab}45.33.32.156${tab}http${tab}-${tab}whatwg${tab}http://45.33.32.156/
private-ip${tab}10.0.0.1${tab}http${tab}private-use${tab}whatwg${tab}http://10.0.0.1/
private-ip${tab}127.0.0.1${tab}smb${tab}loopback${tab}unc${tab}\\\\localhost\\share"
# A long line from stdin (100 KB) is classified whole.
{ printf 'http://45.33.32.156/'; head -c 100000 /dev/zero | tr '\0' 'a'; printf '\n'; } >"$work/long"
expect_exit_in "$work/long" 0 "$bin" classify --json -
expect_stdout '"verdict":"public-ip"' # the 100 KB line is classified whole
# A line over the 1 MiB limit is an input error (exit 3), the other lines still print.
{ head -c 1100000 /dev/zero | tr '\0' 'a'; printf '\nhttp://8.8.8.8/\n'; } >"$work/huge"
expect_exit_in "$work/huge" 3 "$bin" classify -
expect_stdout '8\.8\.8\.8' # the line after the over-long one is not lost
# "--" ends the options: a name may then start with '-'.
expect_exit 0 "$bin" classify -- -x
expect_stdout_is "invalid${tab}-${tab}unknown${tab}-${tab}-${tab}-x"

# Help and usage errors.
expect_exit 0 "$bin" classify --help
expect_stdout 'exit status'
expect_stdout '--allow'
expect_exit 2 "$bin" classify
expect_stderr 'no name to classify'
expect_exit 2 "$bin" classify --json
expect_exit 2 "$bin" classify --bogus http://1.2.3.4/
expect_stderr "unknown option '--bogus'"
expect_no_stdout
expect_exit 2 "$bin" classify http://1.2.3.4/ --allow
expect_exit 2 "$bin" classify --allow 10.0.0.1/8 http://1.2.3.4/
expect_stderr 'host bits'
expect_exit 2 "$bin" classify --allow 'not a host' http://1.2.3.4/

test_done
