#!/usr/bin/env python3
"""installer/fleet/: every SQL its files hold runs with the sqlite3 shell against a database that `bitsguard
scan --db` makes from the fixtures, and returns the rows bitsguard's own commands report; the JSON and YAML
parse; the Velociraptor artifact's command line is one bitsguard accepts; the Intune script's one line is
checked with PowerShell where `pwsh` exists, else its logic is mirrored from `status --json`'s fields.

usage: test_fleet_files.py BITSGUARD FIXTURES FLEET_DIR
"""
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unicodedata

import yaml

failures = 0


def check(ok, what):
    global failures
    print(("ok:   " if ok else "FAIL: ") + what)
    if not ok:
        failures += 1


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, timeout=120, **kw)


def sqlite_rows(db, sql):
    """The rows of sql as dicts, through the sqlite3 shell, read-only (as fleet readers open it)."""
    r = run(["sqlite3", "-readonly", "-json", db, sql])
    if r.returncode != 0:
        raise RuntimeError(f"sqlite3 failed ({r.stderr.strip()}): {sql[:120]}")
    return json.loads(r.stdout) if r.stdout.strip() else []


def view_row_of_query(d):
    """What detections_v1 must hold for one object of `bitsguard query --format json` (another code path:
    the C reader of the detections table)."""
    return {
        "computer": d["computer"], "job_id": d["job_id"], "url": d["url"], "event_id": d["event_id"],
        "record_id": d["record_id"], "event_time": d["time"], "job_title": d["job_title"],
        "job_owner": d["job_owner"], "ip": d["ip"], "embedded_ipv4": d["embedded_ipv4"], "verdict": d["verdict"],
        "kind": d["kind"], "range": d["range"], "reading": d["reading"], "local_name": d["local_name"],
        "process_id": d["process_id"], "process_path": d["process_path"], "notify_program": d["notify_program"],
        "notify_parameters": d["notify_parameters"], "first_seen": d["first_seen"], "last_seen": d["last_seen"],
        "transfer_hr": d["transfer_hr"], "bytes_total": d["bytes_total"], "bytes_transferred": d["bytes_transferred"],
        "state": d["state"], "allowed": int(d["allowed"]), "source": d["source"], "recovered": int(d["recovered"]),
        "events": ",".join(str(e) for e in sorted(d["events_seen"])),
    }


def main():
    bitsguard, fixtures, fleet = sys.argv[1:4]
    if not shutil.which("sqlite3"):
        print("sqlite3 shell not installed (scripts/setup.sh installs it)")
        return 77
    work = tempfile.mkdtemp(prefix="bg-fleet.")
    db = os.path.join(work, "fleet.db")
    try:
        # The database: every fixture export and event, one address allow-listed.
        inputs = sorted(glob.glob(os.path.join(fixtures, "exports", "*.xml")) +
                        glob.glob(os.path.join(fixtures, "events", "*.xml")))
        r = run([bitsguard, "scan", "--db", db, "--allow", "93.184.215.14"] + inputs)
        check(r.returncode == 1, f"scan --db over {len(inputs)} fixtures found detections (exit {r.returncode})")
        r = run([bitsguard, "query", "--db", db, "--format", "json", "--all"])
        reference = [view_row_of_query(json.loads(line)) for line in r.stdout.splitlines()]
        # The expected rows are what `query` (the C reader of the detections table) reports; the fixtures
        # give at least the 6 detections of the Bits-Client exports, one of them allow-listed here.
        total = len(reference)
        check(r.returncode == 0 and total >= 6 and sum(x["allowed"] for x in reference) == 1,
              f"the fixtures give {total} detections (at least 6), 1 allow-listed")
        key = lambda x: (x["computer"], x["job_id"], x["url"])  # noqa: E731
        reference.sort(key=key)
        # One acknowledged detection, so the acknowledged columns and counts are exercised.
        first_id = sqlite_rows(db, "SELECT min(id) AS id FROM detections_v1 WHERE allowed = 0")[0]["id"]
        r = run([bitsguard, "ack", "--db", db, "--note", "fleet test", str(first_id)])
        check(r.returncode == 0, f"ack {first_id}")

        def status():
            r = run([bitsguard, "status", "--db", db, "--json"])
            return json.loads(r.stdout)

        st = status()
        check(st["detections_unacknowledged"] == total - 2,
              f"status: {total - 2} unacknowledged ({total}, one allow-listed, one acknowledged)")

        # --- docs/fleet.md: the contract lists the view's columns in order, and the Status key's values ---
        top = os.path.dirname(os.path.dirname(os.path.abspath(fleet)))
        doc = open(os.path.join(top, "docs", "fleet.md"), encoding="utf-8").read()
        documented = re.findall(r"^\| (\d+) \| `(\w+)` \|", doc, re.M)
        columns = [row["name"] for row in sqlite_rows(db, "SELECT name FROM pragma_table_xinfo('detections_v1')")]
        check([int(n) for n, _ in documented] == list(range(len(columns))) and [c for _, c in documented] == columns,
              f"docs/fleet.md documents the {len(columns)} columns of detections_v1 in order")
        header = open(os.path.join(top, "service", "win", "win_status.h"), encoding="utf-8").read()
        names = re.findall(r'XX\(\w+, "(\w+)"\)', header)
        section = doc[doc.index("## ConfigMgr CMPivot"):]
        check(len(names) == 7 and re.findall(r"^\| `(\w+)` \| REG_", section, re.M) == names,
              f"docs/fleet.md documents the Status values of win_status.h in order ({names})")

        # --- osquery: the ATC configuration ---
        conf_path = os.path.join(fleet, "osquery", "bitsguard.conf")
        conf = json.load(open(conf_path, encoding="utf-8"))
        atc = conf.get("auto_table_construction", {})
        check(set(atc) == {"bitsguard_detections", "bitsguard_status"}, "osquery: two ATC tables")
        for name, table in atc.items():
            check(set(table) == {"query", "path", "columns", "platform"} and table["platform"] == "windows",
                  f"osquery {name}: exactly query, path, columns, platform (windows)")
            check(table["path"] == "C:\\ProgramData\\bitsguard\\bitsguard.db", f"osquery {name}: the default path")
            rows = sqlite_rows(db, table["query"])
            # ATC maps result columns to its declared columns by name: every row must have exactly those.
            check(len(rows) > 0 and all(list(row) == table["columns"] for row in rows),
                  f"osquery {name}: the query returns exactly the declared columns, in order")
            if name == "bitsguard_detections":
                got = sorted(({k: v for k, v in row.items() if k in reference[0]} for row in rows), key=key)
                check(got == reference, "osquery bitsguard_detections: the rows `query --format json --all` gives")
                acked = [row for row in rows if row["acknowledged"] == 1]
                check(len(acked) == 1 and acked[0]["id"] == first_id and acked[0]["acknowledged_by"],
                      "osquery bitsguard_detections: the acknowledged row, and by whom")
            else:
                row = rows[0]
                want = {"detections_total": st["detections_total"], "detections_allowed": st["detections_allowed"],
                        "detections_unacknowledged": st["detections_unacknowledged"],
                        "newest_unacknowledged_id": st["unacknowledged_last"][0]["id"],
                        "newest_detection": st["newest_event"], "errors_total": st["errors_total"],
                        "gaps_total": st["gaps_total"], "last_commit": None, "service_sampled_at": None}
                check(len(rows) == 1 and row == want, f"osquery bitsguard_status: what status --json says ({row})")

        # --- Velociraptor: the artifact ---
        art_path = os.path.join(fleet, "velociraptor", "Custom.Windows.Bitsguard.Detections.yaml")
        art = yaml.safe_load(open(art_path, encoding="utf-8"))
        check(art["name"] == "Custom.Windows.Bitsguard.Detections" and art["type"] == "CLIENT",
              "velociraptor: name and type")
        params = {p["name"]: p.get("default") for p in art["parameters"]}
        sources = {s["name"]: s["query"] for s in art["sources"]}
        check(set(sources) == {"Database", "Query"}, "velociraptor: the Database and Query sources")
        sqls = re.findall(r'query="([^"]*)"', sources["Database"])
        check(len(sqls) == 1 and "FROM detections_v1" in sqls[0], "velociraptor Database: one SQL, on detections_v1")
        check("sqlite(file=DatabasePath" in sources["Database"] and
              "LET SQLITE_ALWAYS_MAKE_TEMPFILE <= TRUE" in sources["Database"],
              "velociraptor Database: sqlite() on a copy of DatabasePath")
        rows = sqlite_rows(db, sqls[0])
        got = sorted(({k: v for k, v in row.items() if k in reference[0]} for row in rows), key=key)
        check(got == reference and [row["id"] for row in rows] == sorted(row["id"] for row in rows),
              "velociraptor Database: the rows `query` gives, by id")
        unacked = [row for row in rows if row["allowed"] == 0 and row["acknowledged"] == 0]
        check(len(unacked) == st["detections_unacknowledged"], "velociraptor Database: its filter keeps the unacknowledged")
        m = re.search(r"argv=\[BitsguardExe, ([^\]]*)\]", sources["Query"])
        check(m is not None and "parse_jsonl(filename=Stdout" in sources["Query"] and 'sep="\\n"' in sources["Query"],
              "velociraptor Query: execve of bitsguard, one JSON line per row")
        args = [a.strip() for a in m.group(1).split(",")] if m else []
        argv = [params[a] if a in params else json.loads(a) for a in args]
        check(argv[:4] == ["query", "--format", "json", "--all"] and params["Since"] == "30d",
              f"velociraptor Query: {argv}")
        # The same command line against the test database (the fixtures are from 2024: an older --since).
        argv = ["2000-01-01" if a == params["Since"] else a for a in argv]
        r = run([bitsguard] + argv + ["--db", db])
        lines = [json.loads(line) for line in r.stdout.splitlines()]
        check(r.returncode == 0 and sorted(map(view_row_of_query, lines), key=key) == reference,
              "velociraptor Query: bitsguard accepts the options and gives every detection as JSON lines")
        r = run([bitsguard] + [params["Since"] if a == "2000-01-01" else a for a in argv] + ["--db", db])
        check(r.returncode == 0, "velociraptor Query: the default --since 30d is accepted")

        # --- SQL in the README (```sql blocks) ---
        readme = open(os.path.join(fleet, "README.md"), encoding="utf-8").read()
        blocks = re.findall(r"```sql\n(.*?)```", readme, re.S)
        statements = []
        for block in blocks:
            block = "\n".join(l for l in block.splitlines() if not l.strip().startswith("--"))
            statements += [s.strip() for s in block.split(";") if s.strip()]
        # Their rows, in order: the unacknowledged ones, the one acknowledgement, the (verdict, state) pairs.
        want = [st["detections_unacknowledged"], 1, len({(x["verdict"], x["state"]) for x in reference})]
        check(len(statements) == len(want), f"README: {len(statements)} SQL statements")
        for sql, n in zip(statements, want):
            try:
                rows = sqlite_rows(db, sql)
                check(len(rows) == n, f"README SQL returns {n} rows ({len(rows)}): {sql.splitlines()[0][:60]}")
            except RuntimeError as e:
                check(False, str(e))

        intune(bitsguard, db, fleet, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"{failures} failed")
    return 1 if failures else 0


def intune_line(st):
    """The Intune script's logic (Detect-BitsguardUnacknowledged.ps1), mirrored: its line and exit code."""
    n = st["detections_unacknowledged"]
    if n > 0:
        d = st["unacknowledged_last"][0]
        text = "bitsguard: {0} unacknowledged detection(s); newest #{1} {2} {3} {4} {5}".format(
            n, d["id"], d["last_seen"], d["computer"], d["ip"] or "", d["url"])
        code = 1
    else:
        text = "bitsguard: no unacknowledged detection ({0} stored, {1} errors)".format(
            st["detections_total"], st["errors_total"])
        code = 0
    # PowerShell's -replace '[\p{Cc}\p{Cf}]', '?' (control and format characters).
    text = "".join("?" if unicodedata.category(c) in ("Cc", "Cf") else c for c in text)
    if len(text.encode("utf-16-le")) // 2 > 2048:
        units = text.encode("utf-16-le")[: 2045 * 2]
        text = units.decode("utf-16-le", errors="ignore") + "..."
    return text, code


def intune(bitsguard, db, fleet, work):
    script = os.path.join(fleet, "intune", "Detect-BitsguardUnacknowledged.ps1")
    body = open(script, encoding="utf-8").read()
    code_lines = [l for l in body.splitlines() if l.strip() and not l.lstrip().startswith("#")]
    check(len(code_lines) <= 30, f"intune: the script body is small ({len(code_lines)} lines of code)")
    fields = set(re.findall(r"\$s\.(\w+)", body)) | {"unacknowledged_last." + f for f in re.findall(r"\$d\.(\w+)", body)}
    mirrored = {"detections_unacknowledged", "unacknowledged_last", "detections_total", "errors_total",
                "unacknowledged_last.id", "unacknowledged_last.last_seen", "unacknowledged_last.computer",
                "unacknowledged_last.ip", "unacknowledged_last.url"}
    check(fields == mirrored, f"intune: the script reads the status --json fields this test mirrors ({sorted(fields)})")
    # A hostile detection: a 5,000-character URL with an escape sequence and a line break.
    url = "http://198.51.100.7/\x1b[2J\n" + "a" * 5000
    r = run(["sqlite3", db, "INSERT INTO detections(event_id, record_id, time, computer, job_id, url, ip, verdict, kind,"
             " last_seen) VALUES(59, 1, '2024-06-01T00:00:00.0000000Z', 'PC1', 'hostile', ?1, '198.51.100.7',"
             " 'public-ip', 'http', '2024-06-01T00:00:00.0000000Z')".replace("?1", "'" + url.replace("'", "''") + "'")])
    check(r.returncode == 0, "intune: a hostile detection added")
    pwsh = shutil.which("pwsh")
    cases = []
    st = json.loads(run([bitsguard, "status", "--db", db, "--json"]).stdout)
    for key in sorted(f for f in mirrored if "." not in f):
        check(key in st, f"status --json has {key}")
    cases.append(("unacknowledged", st, 1))
    r = run([bitsguard, "ack", "--db", db, "--all", "--up-to", "999"])
    check(r.returncode == 0, "intune: everything acknowledged")
    cases.append(("all acknowledged", json.loads(run([bitsguard, "status", "--db", db, "--json"]).stdout), 0))
    for what, st, want in cases:
        line, code = intune_line(st)
        check(code == want, f"intune ({what}): exit {want} (mirrored)")
        check("\n" not in line and "\x1b" not in line and len(line.encode("utf-16-le")) // 2 <= 2048,
              f"intune ({what}): one line of at most 2,048 characters (mirrored, {len(line)})")
    if not pwsh:
        print("intune: pwsh not installed: the script's logic is MIRRORED from status --json's fields (not run)")
        return
    # With PowerShell: the script itself, with a wrapper for the test database as its -Exe.
    wrapper = os.path.join(work, "bitsguard-wrapper.sh")
    with open(wrapper, "w") as f:
        f.write(f'#!/bin/sh\nexec "{bitsguard}" "$@" --db "{db}"\n')
    os.chmod(wrapper, 0o755)
    r = run([pwsh, "-NoProfile", "-File", script, "-Exe", wrapper])
    lines = r.stdout.splitlines()
    check(r.returncode == 0 and len(lines) == 1 and len(lines[0]) <= 2048,
          f"intune (pwsh, all acknowledged): exit 0, one line: {lines[-1:]}")
    run(["sqlite3", db, "UPDATE detections SET ack_id = NULL"])
    r = run([pwsh, "-NoProfile", "-File", script, "-Exe", wrapper])
    lines = r.stdout.splitlines()
    check(r.returncode == 1 and len(lines) == 1 and len(lines[0]) <= 2048 and "\x1b" not in lines[0],
          f"intune (pwsh, unacknowledged): exit 1, one line of at most 2,048 characters ({len(lines[0]) if lines else 0})")


if __name__ == "__main__":
    sys.exit(main())
