#!/usr/bin/env python3
"""Checks the WEF subscription: its XPath selects exactly bitsguard's detection and self-test event ids from service/win/messages.mc.

usage: test_wef_subscription.py SUBSCRIPTION_XML MESSAGES_MC WIN_SERVICE_H

The alert ids are read from the message file (windmc source), never from a second copy: every message
whose SymbolicName starts with MSG_DETECTION is a detection alert, and MSG_SELFTEST is the self-test alert. The event source name is the service
name (WIN_SERVICE_NAME in service/win/win_service.h: the service registers its Event Log source under it).
The XPath is evaluated, not pattern-matched: its predicate is translated into a small expression over
(provider, event id) and run for every id 0..65535, so `EventID>=1000`, `or`, `not` and parentheses
all count the way Windows would count them. Anything outside that small grammar fails the test.
Exit 0 pass, 1 fail.
"""
import re
import sys
import xml.etree.ElementTree as ET

SUB_NS = "{http://schemas.microsoft.com/2006/03/windows/events/subscription}"
ALERT_PREFIX = "MSG_DETECTION"
# The self-test alert (`bitsguard selftest`) is forwarded too: it proves WEF carries alerts end to end.
ALERT_NAMES = {"MSG_SELFTEST"}
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg)


def mc_messages(path):
    """{symbolic name: id} from a windmc source, following its MessageId rules (blank = previous + 1)."""
    messages = {}
    current = -1
    pending_id = None
    in_text = False
    with open(path, encoding="utf-8-sig") as f:
        for raw in f:
            line = raw.rstrip("\r\n")
            if in_text:
                if line == ".":
                    in_text = False
                continue
            if line.startswith(";"):
                continue
            m = re.match(r"\s*MessageId\s*=\s*(\S*)\s*$", line, re.I)
            if m:
                value = m.group(1)
                if value == "":
                    pending_id = current + 1
                elif value.startswith("+"):
                    pending_id = current + int(value[1:], 0)
                else:
                    pending_id = int(value, 0)
                current = pending_id
                continue
            m = re.match(r"\s*SymbolicName\s*=\s*(\w+)", line, re.I)
            if m and pending_id is not None:
                messages[m.group(1)] = pending_id
                continue
            if re.match(r"\s*Language\s*=", line, re.I) and pending_id is not None:
                in_text = True
    return messages


def service_name(path):
    with open(path, encoding="utf-8") as f:
        m = re.search(r'#define\s+WIN_SERVICE_NAME\s+L?"([^"]+)"', f.read())
    return m.group(1) if m else None


TOKEN = re.compile(r"\s*(?:(?P<num>\d+)|(?P<str>'[^']*')|(?P<op><=|>=|!=|=|<|>)|(?P<paren>[()])|(?P<word>[A-Za-z_]+))")


def compile_predicate(xpath):
    """Translates *[System[...]] over Provider/@Name and EventID into a Python predicate, or raises."""
    m = re.fullmatch(r"\s*\*\[System\[(.*)\]\]\s*", xpath, re.S)
    if not m:
        raise ValueError("not of the form *[System[...]]: " + xpath)
    body = re.sub(r"Provider\[@Name=('[^']*')\]", r"provider_is(\1)", m.group(1))
    out = []
    pos = 0
    while pos < len(body):
        if body[pos:].strip() == "":
            break
        t = TOKEN.match(body, pos)
        if not t:
            raise ValueError("unsupported XPath text at: " + body[pos:])
        pos = t.end()
        if t.group("num"):
            out.append(t.group("num"))
        elif t.group("str"):
            out.append(repr(t.group("str")[1:-1]))
        elif t.group("op"):
            out.append({"=": "==", "!=": "!="}.get(t.group("op"), t.group("op")))
        elif t.group("paren"):
            out.append(t.group("paren"))
        else:
            word = t.group("word")
            if word == "EventID":
                out.append("eid")
            elif word in ("and", "or", "not"):
                out.append(word)
            elif word == "provider_is":
                out.append("provider_is")
            else:
                raise ValueError("unsupported XPath name: " + word)
    code = compile(" ".join(out), "<xpath>", "eval")

    def predicate(provider, eid):
        return bool(eval(code, {"__builtins__": {}}, {"eid": eid, "provider_is": lambda n: n == provider}))

    return predicate


def selected_ids(selects, provider):
    ids = set()
    for p in selects:
        ids |= {eid for eid in range(65536) if p(provider, eid)}
    return ids


def main():
    if len(sys.argv) != 4:
        print(__doc__)
        return 2
    sub_path, mc_path, header_path = sys.argv[1:]
    messages = mc_messages(mc_path)
    alerts = {i for name, i in messages.items() if name.startswith(ALERT_PREFIX) or name in ALERT_NAMES}
    source = service_name(header_path)
    print("messages.mc: %d messages, alert ids %s; event source %r" % (len(messages), sorted(alerts), source))
    if len(messages) < 2 or not alerts:
        fail("no messages or no %s* message found in %s" % (ALERT_PREFIX, mc_path))
    if not source:
        fail("WIN_SERVICE_NAME not found in " + header_path)

    root = ET.parse(sub_path).getroot()
    get = lambda tag: (root.findtext(SUB_NS + tag) or "").strip()
    for tag, want in (("SubscriptionType", "SourceInitiated"), ("LogFile", "ForwardedEvents"),
                      ("Uri", "http://schemas.microsoft.com/wbem/wsman/1/windows/EventLog"), ("Enabled", "true")):
        if get(tag) != want:
            fail("%s is %r, want %r" % (tag, get(tag), want))
    if not get("SubscriptionId"):
        fail("no SubscriptionId")
    if not get("AllowedSourceDomainComputers") and not get("AllowedSourceNonDomainComputers"):
        fail("no allowed source computers: no endpoint could subscribe")

    query_list = ET.fromstring(get("Query"))
    selects = []
    for query in query_list.iter("Query"):
        if query.findall("Suppress"):
            fail("Suppress elements are not evaluated by this test: keep the query to Select elements")
        for sel in query.iter("Select"):
            if sel.get("Path") != "Application" or query.get("Path") != "Application":
                fail("Select/Query Path is %r/%r, want Application" % (sel.get("Path"), query.get("Path")))
            try:
                selects.append(compile_predicate(sel.text or ""))
            except (ValueError, SyntaxError) as e:
                fail("XPath not understood: %s" % e)
    if not selects:
        fail("the subscription has no Select")

    got = selected_ids(selects, source)
    if got != alerts:
        fail("XPath selects ids %s, messages.mc's alerts are %s (missing %s, extra %s)"
             % (sorted(got)[:20], sorted(alerts), sorted(alerts - got), sorted(got - alerts)[:20]))
    other = selected_ids(selects, "SomeOtherProvider")
    if other:
        fail("XPath also selects events of other providers (ids %s...)" % sorted(other)[:5])

    # The evaluator can fail: a query that lost an alert id, and one without the provider test,
    # must both be told apart from the expected set.
    if alerts:
        some = sorted(alerts)
        lost = compile_predicate("*[System[Provider[@Name='%s'] and (%s)]]"
                                 % (source, " or ".join("EventID=%d" % i for i in some[1:]) or "EventID=-1"))
        unfiltered = compile_predicate("*[System[%s]]" % " or ".join("EventID=%d" % i for i in some))
        if selected_ids([lost], source) == alerts or not selected_ids([unfiltered], "SomeOtherProvider"):
            fail("self-check: the evaluator did not notice a lost id or a missing provider test")

    if failures:
        print("%d failure(s)" % len(failures))
        return 1
    print("ok: the subscription selects exactly ids %s of provider %r" % (sorted(alerts), source))
    return 0


if __name__ == "__main__":
    sys.exit(main())
