#!/usr/bin/env python3
"""Checks the collector-mode WEF subscription: its XPath selects exactly the Bits-Client events bitsguard reads.

usage: test_wef_raw_subscription.py SUBSCRIPTION_XML DETECTION_H CORRELATE_C

The expected ids come from the sources, never from a copy: the detection events are DETECTION_EVENT_MAP in
detector/detection.h; the findings events (63, 64: notify command failed; 203, 204: credentials sent) must
each be read by detector/correlate.c (`ev->event_id == N`), so a change there fails this test. The XPath is
evaluated for every id 0..65535 with test_wef_subscription.py's evaluator, for the Bits-Client provider
and for another one. Exit 0 pass, 1 fail.
"""
import os
import re
import sys
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_wef_subscription import SUB_NS, compile_predicate, selected_ids  # noqa: E402

CHANNEL = "Microsoft-Windows-Bits-Client/Operational"
PROVIDER = "Microsoft-Windows-Bits-Client"
FINDING_EVENTS = {63, 64, 203, 204}
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg)


def main():
    if len(sys.argv) != 4:
        print(__doc__)
        return 2
    sub_path, detection_h, correlate_c = sys.argv[1:]
    m = re.search(r"#define\s+DETECTION_EVENT_MAP\(XX\)\s+(.*)", open(detection_h, encoding="utf-8").read())
    detections = {int(i) for i in re.findall(r"XX\((\d+),", m.group(1))} if m else set()
    if len(detections) < 8:
        fail("DETECTION_EVENT_MAP not found or short in %s: %s" % (detection_h, sorted(detections)))
    read = {int(i) for i in re.findall(r"ev->event_id == (\d+)", open(correlate_c, encoding="utf-8").read())}
    if not FINDING_EVENTS <= read:
        fail("correlate.c no longer reads events %s: update the subscription" % sorted(FINDING_EVENTS - read))
    wanted = detections | FINDING_EVENTS
    print("expected ids %s" % sorted(wanted))

    root = ET.parse(sub_path).getroot()
    get = lambda tag: (root.findtext(SUB_NS + tag) or "").strip()
    for tag, want in (("SubscriptionType", "SourceInitiated"), ("LogFile", "ForwardedEvents"),
                      ("Uri", "http://schemas.microsoft.com/wbem/wsman/1/windows/EventLog"), ("Enabled", "true"),
                      ("ReadExistingEvents", "true")):
        if get(tag) != want:
            fail("%s is %r, want %r" % (tag, get(tag), want))
    if get("ContentFormat") not in ("Events", "RenderedText"):
        fail("ContentFormat %r" % get("ContentFormat"))
    if get("SubscriptionId") in ("", "bitsguard-alerts"):
        fail("SubscriptionId %r: empty, or the alerts subscription's" % get("SubscriptionId"))
    if not get("AllowedSourceDomainComputers") and not get("AllowedSourceNonDomainComputers"):
        fail("no allowed source computers: no endpoint could subscribe")

    selects = []
    for query in ET.fromstring(get("Query")).iter("Query"):
        if query.findall("Suppress"):
            fail("Suppress elements are not evaluated by this test")
        for sel in query.iter("Select"):
            if sel.get("Path") != CHANNEL or query.get("Path") != CHANNEL:
                fail("Select/Query Path is %r/%r, want %s" % (sel.get("Path"), query.get("Path"), CHANNEL))
            try:
                selects.append(compile_predicate(sel.text or ""))
            except (ValueError, SyntaxError) as e:
                fail("XPath not understood: %s" % e)
    if not selects:
        fail("the subscription has no Select")
    got = selected_ids(selects, PROVIDER)
    if got != wanted:
        fail("XPath selects %s, want %s (missing %s, extra %s)"
             % (sorted(got)[:20], sorted(wanted), sorted(wanted - got), sorted(got - wanted)[:20]))
    if selected_ids(selects, "SomeOtherProvider"):
        fail("XPath also selects events of other providers")
    # The evaluator can fail: dropping one id must be noticed.
    lost = compile_predicate("*[System[Provider[@Name='%s'] and (%s)]]"
                             % (PROVIDER, " or ".join("EventID=%d" % i for i in sorted(wanted)[1:])))
    if selected_ids([lost], PROVIDER) == wanted:
        fail("self-check: the evaluator did not notice a lost id")
    if failures:
        print("%d failure(s)" % len(failures))
        return 1
    print("ok: the subscription selects exactly ids %s of %s" % (sorted(wanted), PROVIDER))
    return 0


if __name__ == "__main__":
    sys.exit(main())
