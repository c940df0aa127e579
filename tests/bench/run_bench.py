#!/usr/bin/env python3
"""Runs the bitsguard benchmark: every figure next to its ceiling from the same run; prints a table and writes JSON."""
import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile


def run_timed(cmd, stdout=subprocess.DEVNULL, env=None, feed=None):
    """Runs cmd, returns (CPU seconds, peak RSS in KiB of that child, its stdout text or None).

    CPU time (user + system) rather than wall time: on a shared machine other processes stretch the
    wall clock of every step differently, while a step's own processor time stays comparable.
    feed: a file written to the command's stdin through a pipe, by the probe (whose own time is not
    counted), so that the command reads a pipe and not a file."""
    # ru_maxrss of RUSAGE_CHILDREN is the max over all children so far, so measure in a fresh python.
    probe = (
        "import resource,subprocess,sys,time,json,threading,tempfile\n"
        "t=time.perf_counter()\n"
        "feed=sys.argv[2]\n"
        "err=tempfile.TemporaryFile()\n"
        "p=subprocess.Popen(sys.argv[3:],stdout=(subprocess.PIPE if sys.argv[1]=='1' else subprocess.DEVNULL),"
        "stderr=err,stdin=(subprocess.PIPE if feed else subprocess.DEVNULL))\n"
        "def pump():\n"
        "    with open(feed,'rb') as f:\n"
        "        while True:\n"
        "            b=f.read(1<<16)\n"
        "            if not b: break\n"
        "            p.stdin.write(b)\n"
        "    p.stdin.close()\n"
        "th=threading.Thread(target=pump) if feed else None\n"
        "th and th.start()\n"
        "out=p.stdout.read() if p.stdout else None\n"
        "th and th.join()\n"
        "p.wait()\n"
        "dt=time.perf_counter()-t\n"
        "u=resource.getrusage(resource.RUSAGE_CHILDREN)\n"
        "err.seek(0)\n"
        "print(json.dumps({'rc':p.returncode,'dt':dt,'cpu':u.ru_utime+u.ru_stime,'rss':u.ru_maxrss,"
        "'out':(out.decode('utf-8','replace') if out else None),"
        "'err':err.read().decode('utf-8','replace')[-2000:]}))\n"
    )
    want = "1" if stdout is subprocess.PIPE else "0"
    res = subprocess.run([sys.executable, "-c", probe, want, feed or ""] + cmd, stdout=subprocess.PIPE, env=env,
                         check=True)
    r = json.loads(res.stdout)
    if r["rc"] not in (0, 1):
        raise SystemExit(f"benchmark step failed ({r['rc']}): {' '.join(cmd)}\n{r['err']}")
    return r["cpu"], r["rss"], r["out"]


def broken_malformed_write(src, dst):
    """Copies src with an unclosed element inserted just before the event nearest its middle."""
    size = os.path.getsize(src)
    with open(src, "rb") as f, open(dst, "wb") as out:
        head = f.read(size // 2)
        tail = f.read()
        cut = tail.find(b"<Event ")
        out.write(head)
        out.write(tail[:cut])
        out.write(b"<Event><System><EventID>1</EventID><broken></System></Event>\n")
        out.write(tail[cut:])


def parse_compare(text):
    cats, speed = [], {}
    for line in text.splitlines():
        f = line.split("\t")
        if f[0] == "category":
            cats.append({"category": f[1], "jobs": int(f[2]), "public": int(f[3]), "sigma": int(f[4]),
                         "bitsguard": int(f[5])})
        elif f[0] == "speed":
            speed[f[1]] = float(f[2])
    return cats, speed


def accuracy(cats, key):
    misses = sum(max(c["public"] - c[key], 0) for c in cats if c["public"])
    false_alarms = sum(c[key] for c in cats if not c["public"])
    return misses, false_alarms


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--build", required=True, help="native build folder (bitsguard and tests/bench executables)")
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--small", type=int, default=10_000, help="events of the small stream for the RSS comparison")
    ap.add_argument("--seed", type=int, default=20261130)
    ap.add_argument("--json", default="bench-results.json")
    ap.add_argument("--wine-build", help="mingw build folder: also run scan and the ceiling as .exe under Wine")
    ap.add_argument("--wine-events", type=int, default=100_000)
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--evtx", default=os.path.join(here, "..", "..", "..", "shared", "samples", "real-evtx",
                                                   "bits_openvpn.evtx"),
                    help="a real .evtx log: scan it beside evtxexport rendering it (skipped when absent)")
    ap.add_argument("--evtx-repeat", type=int, default=100, help="times the .evtx log is read by each side")
    ap.add_argument("--check", action="store_true",
                    help="only score accuracy, and fail unless bitsguard has no miss and no false alarm")
    a = ap.parse_args()

    b = os.path.abspath(a.build)
    exe = {n: os.path.join(b, "tests", "bench", n) for n in
           ("bench_gen", "bench_ceiling", "bench_compare", "bench_classify", "bench_store", "bench_collector")}
    bitsguard = os.path.join(b, "service", "bitsguard")
    work = tempfile.mkdtemp(prefix="bitsguard-bench-")
    big, big_truth = os.path.join(work, "big.xml"), os.path.join(work, "big.tsv")
    small, small_truth = os.path.join(work, "small.xml"), os.path.join(work, "small.tsv")
    subprocess.run([exe["bench_gen"], str(a.seed), str(a.events), big, big_truth], check=True)
    subprocess.run([exe["bench_gen"], str(a.seed + 1), str(a.small), small, small_truth], check=True)
    n = a.events
    size_mb = os.path.getsize(big) / 1e6

    if a.check:
        # The suite's smoke test: accuracy on the generated stream, no timing at all.
        _, _, out = run_timed([exe["bench_compare"], big, big_truth], stdout=subprocess.PIPE)
        cats, _ = parse_compare(out)
        bg_miss, bg_fa = accuracy(cats, "bitsguard")
        sg_miss, sg_fa = accuracy(cats, "sigma")
        print(f"{n} events, {sum(c['jobs'] for c in cats)} jobs: bitsguard {bg_miss} missed, {bg_fa} false alarms; "
              f"Sigma rule {sg_miss} missed, {sg_fa} false alarms")
        for p in (big, big_truth, small, small_truth):
            os.remove(p)
        # The stream must contain public jobs the rule misses, or the check would prove nothing.
        return 0 if (bg_miss == 0 and bg_fa == 0 and sg_miss > 0 and any(c["public"] for c in cats)) else 1

    _, _, out = run_timed([exe["bench_ceiling"], "sax", big], stdout=subprocess.PIPE)
    sax_eps = float(out.split()[2])
    _, _, out = run_timed([exe["bench_ceiling"], "dom", big], stdout=subprocess.PIPE)
    dom_eps = float(out.split()[2])
    dt, rss_big, _ = run_timed([bitsguard, "scan", "--json", big])
    scan_eps = n / dt
    # The same events through a pipe: no second reading is possible, so every event is sliced and
    # parsed on its own (the way scan read every file before the single-document pass).
    dt, _, _ = run_timed([bitsguard, "scan", "--json", "-"], feed=big)
    scan_pipe_eps = n / dt
    # The file with one malformed event in the middle: the single pass stops there, and the slicer
    # re-reads the file from the start, passing by the events already handed over.
    broken = os.path.join(work, "broken.xml")
    broken_malformed_write(big, broken)
    dt, _, _ = run_timed([bitsguard, "scan", "--json", broken])
    scan_broken_eps = n / dt
    os.remove(broken)
    _, rss_small, _ = run_timed([bitsguard, "scan", "--json", small])
    _, _, out = run_timed([exe["bench_compare"], big, big_truth], stdout=subprocess.PIPE)
    cats, speed = parse_compare(out)
    _, _, out = run_timed([exe["bench_classify"]], stdout=subprocess.PIPE)
    m = re.search(r"([\d.]+) names/s\s+mixed", out)
    classify_typical = float(m.group(1)) if m else 0.0
    _, _, out = run_timed([exe["bench_store"], work], stdout=subprocess.PIPE)
    store = {}
    for line in out.splitlines():
        m = re.search(r"synchronous=(\w+)\s+store_batch_commit\s+([\d.]+) det/s\s+raw INSERT\s+([\d.]+) det/s", line)
        if m:
            store[m.group(1)] = {"store_per_s": float(m.group(2)), "raw_per_s": float(m.group(3))}
            c = re.search(r"with a checkpoint per batch \(the service\)\s+([\d.]+) det/s", line)
            if c:
                store[m.group(1)]["checkpoint_per_s"] = float(c.group(1))

    # Collector mode: forwarded events from 1,000 computers through engine_run (bench_collector.c).
    _, _, out = run_timed([exe["bench_collector"], work, "200000", "1000"], stdout=subprocess.PIPE)
    m = re.search(r"([\d.]+) events/s through engine_run", out)
    collector_eps = float(m.group(1)) if m else 0.0

    # .evtx: scan (libevtx rendering, the hardened parser, classification, correlation) against
    # evtxexport -f xml (libevtx's own tool: the rendering alone, written to /dev/null), same file, same
    # run. scan reads the file --evtx-repeat times in one process; evtxexport runs that many times.
    evtx = None
    if os.path.isfile(a.evtx) and shutil.which("evtxexport"):
        r = a.evtx_repeat
        events = int(re.search(r"(\d+) records read", subprocess.run([bitsguard, "scan", a.evtx],
                                                                      stdout=subprocess.DEVNULL,
                                                                      stderr=subprocess.PIPE, text=True).stderr)[1])
        dt_scan, rss_evtx, _ = run_timed([bitsguard, "scan", "--json"] + [a.evtx] * r)
        dt_export, _, _ = run_timed(["sh", "-c", 'i=0; while [ $i -lt "$1" ]; do evtxexport -f xml "$2" >/dev/null; '
                                     'i=$((i + 1)); done', "sh", str(r), a.evtx])
        evtx = {"file": os.path.basename(a.evtx), "events": events, "repeat": r,
                "scan_events_per_s": events * r / dt_scan, "evtxexport_events_per_s": events * r / dt_export,
                "scan_to_evtxexport_ratio": dt_export / dt_scan, "scan_peak_rss_kib": rss_evtx}

    bg_miss, bg_fa = accuracy(cats, "bitsguard")
    sg_miss, sg_fa = accuracy(cats, "sigma")
    res = {
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                    "system": platform.platform()},
        "events": n, "stream_mb": round(size_mb, 1), "seed": a.seed,
        "ceiling_sax_events_per_s": sax_eps, "ceiling_dom_events_per_s": dom_eps,
        "scan_events_per_s": scan_eps, "scan_to_sax_ratio": scan_eps / sax_eps,
        "scan_pipe_events_per_s": scan_pipe_eps, "scan_one_malformed_events_per_s": scan_broken_eps,
        "classify_stream_names_per_s": speed.get("classify", 0.0), "classify_typical_names_per_s": classify_typical,
        "sigma_names_per_s": speed.get("sigma", 0.0),
        "store": store,
        "collector_forwarded_events_per_s": collector_eps,
        "rss_kib_small": rss_small, "rss_kib_big": rss_big, "rss_ratio": rss_big / max(rss_small, 1),
        "categories": cats,
        "bitsguard_misses": bg_miss, "bitsguard_false_alarms": bg_fa,
        "sigma_misses": sg_miss, "sigma_false_alarms": sg_fa,
        "evtx": evtx,
    }

    if a.wine_build:
        wb = os.path.abspath(a.wine_build)
        wsmall, wtruth = os.path.join(work, "wine.xml"), os.path.join(work, "wine.tsv")
        subprocess.run([exe["bench_gen"], str(a.seed + 2), str(a.wine_events), wsmall, wtruth], check=True)
        runner = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "cmake", "wine-run.sh")
        _, _, out = run_timed(["bash", runner, os.path.join(wb, "tests", "bench", "bench_ceiling.exe"), "sax",
                               "Z:" + wsmall], stdout=subprocess.PIPE)
        w_sax = float(out.split()[2])
        dt, _, _ = run_timed(["bash", runner, os.path.join(wb, "service", "bitsguard.exe"), "scan", "Z:" + wsmall])
        # Native figures on the same small stream, for the relative view.
        _, _, out = run_timed([exe["bench_ceiling"], "sax", wsmall], stdout=subprocess.PIPE)
        n_sax = float(out.split()[2])
        ndt, _, _ = run_timed([bitsguard, "scan", wsmall])
        res["wine"] = {"events": a.wine_events, "sax_events_per_s": w_sax, "scan_events_per_s": a.wine_events / dt,
                       "native_sax_events_per_s": n_sax, "native_scan_events_per_s": a.wine_events / ndt,
                       "note": "scan time under Wine includes process start-up of wine itself"}

    with open(a.json, "w") as f:
        json.dump(res, f, indent=2)

    def row(what, value, ceiling, target):
        print(f"  {what:<44} {value:>14} {ceiling:>16} {target:>22}")

    print(f"\nbitsguard benchmark: {n:,} events ({size_mb:.0f} MB), seed {a.seed}, {res['machine']['cores']} cores, "
          f"{res['machine']['system']}")
    row("measure", "value", "ceiling (same run)", "target / result")
    row("scan end to end (events/s)", f"{scan_eps:,.0f}", f"SAX {sax_eps:,.0f}",
        f">=0.70x: {scan_eps / sax_eps:.2f}x")
    row("scan from a pipe: per-event parsing (events/s)", f"{scan_pipe_eps:,.0f}", f"SAX {sax_eps:,.0f}",
        f"{scan_pipe_eps / sax_eps:.2f}x")
    row("scan, one malformed event mid-file (events/s)", f"{scan_broken_eps:,.0f}", f"SAX {sax_eps:,.0f}",
        f"{scan_broken_eps / sax_eps:.2f}x")
    row("libxml2 DOM per event (events/s)", f"{dom_eps:,.0f}", f"SAX {sax_eps:,.0f}", f"{dom_eps / sax_eps:.2f}x")
    row("classify, stream's 16403 names (names/s)", f"{speed.get('classify', 0):,.0f}", "", ">=5,000,000")
    row("classify, typical mix (names/s)", f"{classify_typical:,.0f}", "", ">=5,000,000")
    row("Sigma rule substring test (names/s)", f"{speed.get('sigma', 0):,.0f}", "", "")
    for sync, s in sorted(store.items()):
        row(f"store, batches of 64 + bookmark, sync={sync}", f"{s['store_per_s']:,.0f}/s",
            f"raw {s['raw_per_s']:,.0f}/s", f">=50k, <=2x: {s['raw_per_s'] / s['store_per_s']:.2f}x")
        if "checkpoint_per_s" in s:
            row(f"store + PASSIVE checkpoint per batch (service), sync={sync}", f"{s['checkpoint_per_s']:,.0f}/s",
                f"without {s['store_per_s']:,.0f}/s", f"{s['store_per_s'] / s['checkpoint_per_s']:.2f}x")
    row("collector: forwarded events, 1,000 computers", f"{collector_eps:,.0f}/s", "-", "engine_run, store")
    row(f"peak RSS scanning {a.small:,} events", f"{rss_small / 1024:.1f} MB", "", "")
    row(f"peak RSS scanning {n:,} events", f"{rss_big / 1024:.1f} MB", f"{rss_small / 1024:.1f} MB",
        f"<=1.2x, <32MB: {rss_big / max(rss_small, 1):.2f}x")
    if evtx:
        row(f".evtx scan, {evtx['file'][:22]} x{evtx['repeat']} (events/s)", f"{evtx['scan_events_per_s']:,.0f}",
            f"evtxexport {evtx['evtxexport_events_per_s']:,.0f}", f"{evtx['scan_to_evtxexport_ratio']:.2f}x")
    else:
        print(f"  .evtx scan: skipped ({a.evtx} or evtxexport absent)")
    if "wine" in res:
        w = res["wine"]
        row(f"under Wine, {w['events']:,} events: scan", f"{w['scan_events_per_s']:,.0f}",
            f"SAX {w['sax_events_per_s']:,.0f}", f"native {w['native_scan_events_per_s']:,.0f}")
    print("\n  accuracy by category (jobs; public = truly public IP)")
    print(f"  {'category':<20} {'jobs':>8} {'public':>8} {'Sigma alerts':>13} {'bitsguard':>10}")
    for c in sorted(cats, key=lambda c: (-c["public"], c["category"])):
        print(f"  {c['category']:<20} {c['jobs']:>8} {c['public']:>8} {c['sigma']:>13} {c['bitsguard']:>10}")
    print(f"  Sigma rule: {sg_miss} missed, {sg_fa} false alarms; bitsguard: {bg_miss} missed, {bg_fa} false alarms")
    print(f"\n  JSON: {os.path.abspath(a.json)}")
    for p in (big, big_truth, small, small_truth):
        os.remove(p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
