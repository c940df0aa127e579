#!/usr/bin/env bash
# scan reads a file in one pass and a pipe event by event: same output either way, and peak RSS under 32 MB on hostile input.
# The file path takes the single-document pass (detector/export_events.c); these inputs make it stop on
# purpose (huge comments, oversized events, thousands of element names) and hand over to the slicer.
. "$(dirname "$0")/../lib/cli.sh"
command -v python3 >/dev/null || { echo "python3 not installed"; exit 77; }

python3 - "$work" <<'PY'
import sys
work = sys.argv[1]
NS = 'xmlns="http://schemas.microsoft.com/win/2004/08/events/event"'
def ev(rec, url, extra=""):
    return ('<Event %s><System><Provider Name="Microsoft-Windows-Bits-Client"/><EventID>16403</EventID>'
            '<Version>0</Version><Level>4</Level><TimeCreated SystemTime="2024-01-02T03:04:%02d.0000000Z"/>'
            '<EventRecordID>%d</EventRecordID><Channel>Microsoft-Windows-Bits-Client/Operational</Channel>'
            '<Computer>PC1</Computer><Security UserID="S-1-5-18"/></System><EventData>'
            '<Data Name="jobTitle">job %d</Data><Data Name="jobId">{AAAAAAAA-2222-3333-4444-%012d}</Data>'
            '<Data Name="RemoteName">%s</Data>%s</EventData></Event>\n' % (NS, rec % 60, rec, rec, rec, url, extra))
def url(rec):
    return "http://45.33.%d.%d/p%d.exe" % (rec // 250 % 250 + 1, rec % 250 + 1, rec) if rec % 50 == 0 \
        else "https://download%d.example.com/f" % rec

# Clean: 100,000 events in an <Events> document (the whole file in one pass).
with open(work + "/clean.xml", "w") as f:
    f.write('<?xml version="1.0" encoding="UTF-8"?>\n<Events>\n')
    for rec in range(1, 100001):
        f.write(ev(rec, url(rec)))
    f.write("</Events>\n")

# Hostile: first 15,000 events the single pass takes although they are heavy (every 500th has a URL of
# 1,000,000 bytes, every 500th+1 has 4,000 extra elements with distinct names), then 5,000 events
# salted with what makes it stop (3 MB comments, events just over 1 MiB): about 80 MB in all.
names = "".join("<n%d/>" % i for i in range(4000))
with open(work + "/hostile.xml", "w") as f:
    f.write("<Events>\n")
    for rec in range(1, 20001):
        if rec <= 15000 and rec % 500 == 0:
            f.write(ev(rec, "http://9.9.9.9/" + "a" * 1_000_000))
        elif rec <= 15000 and rec % 500 == 1:
            f.write(ev(rec, url(rec), names))
        elif rec > 15000 and rec % 1000 == 10:
            f.write("<!-- " + "x" * 3_000_000 + " -->\n")
            f.write(ev(rec, url(rec)))
        elif rec > 15000 and rec % 1000 == 20:
            f.write(ev(rec, "http://9.9.9.9/" + "a" * (1 << 20)))
        else:
            f.write(ev(rec, url(rec)))
    f.write("</Events>\n")

# Deep: a detection nested 300 levels (past the per-event limit of 256: skipped by file and pipe
# alike), then one event nested 3,000,000 levels (21 MB) between two good ones.
with open(work + "/deep.xml", "w") as f:
    f.write(ev(1, url(50)))
    f.write(ev(2, "http://45.33.32.156/deep300", "<x>" * 300 + "</x>" * 300))
    head, tail = ev(3, "http://45.33.32.156/deep3m").split("</EventData>")
    f.write(head)
    for _ in range(300):
        f.write("<a>" * 10000)
    for _ in range(300):
        f.write("</a>" * 10000)
    f.write("</EventData>" + tail)
    f.write(ev(4, url(100)))

# Long value: one event whose job title is 200 MiB, written a MiB at a time, between two good ones.
with open(work + "/longvalue.xml", "w") as f:
    f.write(ev(1, url(50)))
    head, tail = ev(2, "http://45.33.32.156/title").split("job 2")
    f.write(head)
    block = "T" * (1 << 20)
    for _ in range(200):
        f.write(block)
    f.write(tail)
    f.write(ev(3, url(100)))
PY

# run_rss OUT ERR FEED ARGS...: runs bitsguard (FEED: a file written to its stdin through a pipe, or -),
# prints its peak resident set in KiB.
run_rss() {
    python3 - "$@" <<'PY'
import resource, subprocess, sys
out, err = open(sys.argv[1], "wb"), open(sys.argv[2], "wb")
p = subprocess.Popen(sys.argv[4:], stdout=out, stderr=err, stdin=subprocess.PIPE if sys.argv[3] != "-" else None)
if sys.argv[3] != "-":
    with open(sys.argv[3], "rb") as f:
        while True:
            b = f.read(1 << 16)
            if not b:
                break
            p.stdin.write(b)
    p.stdin.close()
p.wait()
# Only bitsguard is a child of this interpreter.
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
PY
}

for name in clean hostile deep longvalue; do
    f="$work/$name.xml"
    file_rss=$(run_rss "$work/$name.file.out" "$work/$name.file.err" - "$bin" scan --json "$f")
    pipe_rss=$(run_rss "$work/$name.pipe.out" "$work/$name.pipe.err" "$f" "$bin" scan --json -)
    echo "  $name: $(du -m "$f" | cut -f1) MB, peak RSS file $((file_rss / 1024)) MB, pipe $((pipe_rss / 1024)) MB"
    expect "$name: same detections from the file (one pass) and the pipe (event by event)" \
        cmp -s "$work/$name.file.out" "$work/$name.pipe.out"
    # stderr names the input differently (path or -); the rest must be equal line by line.
    expect "$name: same skipped events and summary" \
        cmp -s <(sed "s|$f|INPUT|" "$work/$name.file.err") <(sed "s|^bitsguard scan: -:|bitsguard scan: INPUT:|" "$work/$name.pipe.err")
    expect "$name: some detections" test -s "$work/$name.file.out"
    # The bound is for the plain native build: sanitizers add shadow memory, and under Wine the
    # measured process is Wine itself.
    if [ -z "${BG_SANITIZED:-}" ] && [ "${BG_TEST_PLATFORM:-}" != wine ]; then
        expect "$name: peak RSS under 32 MB reading the file ($((file_rss / 1024)) MB)" test "$file_rss" -lt 32768
        expect "$name: peak RSS under 32 MB reading the pipe ($((pipe_rss / 1024)) MB)" test "$pipe_rss" -lt 32768
    fi
done
expect "hostile: the five oversized events are reported as skipped" \
    test "$(grep -c 'exceeds the size limit' "$work/hostile.file.err")" -eq 5
expect "deep: the event nested 300 levels is skipped for its depth" \
    grep -q "nested deeper than 256 levels" "$work/deep.file.err"
expect "deep: the event nested 3,000,000 levels is skipped as oversized" grep -q "exceeds the size limit" "$work/deep.file.err"
expect "deep: the two good events are read" grep -q "4 events read.*2 malformed" "$work/deep.file.err"
expect "longvalue: the 200 MiB event is skipped as oversized" grep -q "exceeds the size limit" "$work/longvalue.file.err"
expect "clean: 100,000 events read, none skipped" grep -q "100000 events read.*0 malformed" "$work/clean.file.err"
test_done
