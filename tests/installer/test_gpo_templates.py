#!/usr/bin/env python3
"""Checks the Group Policy templates: well-formed, every reference resolves, value names and limits match service/engine/config.h.

usage: test_gpo_templates.py ADMX ADML CONFIG_H

config.h's CONFIG_VALUE_MAP is the one list of value names and types the service reads; the ADMX must
cover every name with an element of a matching kind (multi: multiText, dword: decimal or an
enabled/disabled decimal value, string: text) under Software\\Policies\\bitsguard, and nothing else.
Exit 0 pass, 1 fail.
"""
import re
import sys
import xml.etree.ElementTree as ET

NS = "{http://schemas.microsoft.com/GroupPolicy/2006/07/PolicyDefinitions}"
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg)


def config_values(path):
    """(names -> type, limits, policy key) from config.h."""
    text = open(path, encoding="utf-8").read()
    values = dict((name, typ) for name, typ in re.findall(r'XX\(\s*\w+\s*,\s*"(\w+)"\s*,\s*(\w+)\s*\)', text))
    limits = dict((k, int(v)) for k, v in re.findall(r"#define\s+CONFIG_(RETENTION_\w+)_MAX\s+(\d+)u?", text))
    key = re.search(r'#define\s+CONFIG_KEY_POLICY\s+"([^"]+)"', text)
    return values, limits, key.group(1).replace("\\\\", "\\") if key else None


def refs(attr_value, kind):
    m = re.fullmatch(r"\$\(%s\.(\w+)\)" % kind, attr_value or "")
    return m.group(1) if m else None


def main():
    if len(sys.argv) != 4:
        print(__doc__)
        return 2
    admx_path, adml_path, config_path = sys.argv[1:]
    values, limits, policy_key = config_values(config_path)
    print("config.h: values %s, limits %s, policy key %r" % (values, limits, policy_key))
    if len(values) < 2 or not policy_key:
        fail("could not read CONFIG_VALUE_MAP / CONFIG_KEY_POLICY from " + config_path)

    try:
        admx = ET.parse(admx_path).getroot()
        adml = ET.parse(adml_path).getroot()
    except ET.ParseError as e:
        fail("not well-formed: %s" % e)
        return 1
    if admx.tag != NS + "policyDefinitions" or adml.tag != NS + "policyDefinitionResources":
        fail("root elements are %s and %s" % (admx.tag, adml.tag))

    strings = {s.get("id") for s in adml.iter(NS + "string")}
    presentations = {p.get("id"): p for p in adml.iter(NS + "presentation")}
    used_strings = set()

    # $(string.X) anywhere in the ADMX must exist in the ADML.
    for el in admx.iter():
        for attr, val in el.attrib.items():
            sid = refs(val, "string")
            if sid:
                used_strings.add(sid)
                if sid not in strings:
                    fail("%s/@%s refers to missing string %s" % (el.tag.replace(NS, ""), attr, sid))
            elif val.startswith("$("):
                if not refs(val, "presentation"):
                    fail("unknown reference %s" % val)

    target = admx.find(NS + "policyNamespaces/" + NS + "target")
    local_prefix = target.get("prefix") if target is not None else None
    using = {u.get("prefix") for u in admx.iter(NS + "using")}
    categories = {c.get("name") for c in admx.iter(NS + "category")}
    supported = {d.get("name") for d in admx.iter(NS + "definition")}

    def resolves(ref, local):
        if ":" in ref:
            prefix, name = ref.split(":", 1)
            if prefix == local_prefix:
                return name in local
            return prefix in using  # another template's namespace, declared in <using>
        return ref in local

    for c in admx.iter(NS + "parentCategory"):
        if not resolves(c.get("ref"), categories):
            fail("parentCategory %s does not resolve" % c.get("ref"))
    for s in admx.iter(NS + "supportedOn"):
        if s.get("ref") is not None and not resolves(s.get("ref"), supported):
            fail("supportedOn %s does not resolve" % s.get("ref"))

    seen = {}
    used_presentations = set()
    for policy in admx.iter(NS + "policy"):
        name = policy.get("name")
        if policy.get("class") != "Machine":
            fail("policy %s is not class Machine: the service reads HKLM only" % name)
        # Registry key names are case-insensitive.
        if (policy.get("key") or "").lower() != (policy_key or "").lower():
            fail("policy %s writes key %r, the service reads %r" % (name, policy.get("key"), policy_key))
        elements = policy.find(NS + "elements")
        element_ids = set()
        if policy.get("valueName"):
            kind = "dword" if policy.find(NS + "enabledValue/" + NS + "decimal") is not None else "other"
            if policy.find(NS + "disabledValue/" + NS + "decimal") is None:
                kind = "other"
            seen.setdefault(policy.get("valueName"), []).append((name, kind))
        if elements is not None:
            for el in elements:
                tag = el.tag.replace(NS, "")
                element_ids.add(el.get("id"))
                kind = {"multiText": "multi", "decimal": "dword", "text": "string"}.get(tag, tag)
                seen.setdefault(el.get("valueName"), []).append((name, kind))
                if tag == "decimal":
                    limit_name = re.sub(r"(?<!^)([A-Z])", r"_\1", el.get("valueName")).upper()
                    if limit_name in limits and int(el.get("maxValue", "9999")) != limits[limit_name]:
                        fail("%s maxValue %s, config.h allows %d" % (el.get("valueName"), el.get("maxValue"),
                                                                    limits[limit_name]))
                if el.get("key"):
                    fail("element %s writes another key %s" % (el.get("id"), el.get("key")))
        pres = refs(policy.get("presentation"), "presentation")
        if element_ids and not pres:
            fail("policy %s has elements but no presentation" % name)
        if pres:
            used_presentations.add(pres)
            if pres not in presentations:
                fail("policy %s: presentation %s missing from the ADML" % (name, pres))
            else:
                ref_ids = {c.get("refId") for c in presentations[pres] if c.get("refId")}
                if ref_ids != element_ids:
                    fail("presentation %s refers to %s, policy %s has elements %s"
                         % (pres, sorted(ref_ids), name, sorted(element_ids)))

    for value, uses in sorted(seen.items()):
        if value not in values:
            fail("value name %r (policy %s) is not one the service reads (config.h)" % (value, uses[0][0]))
        elif len(uses) != 1:
            fail("value %s set by several policies: %s" % (value, uses))
        elif uses[0][1] != values[value]:
            fail("value %s is a %s element, config.h declares %s" % (value, uses[0][1], values[value]))
    for value in values:
        if value not in seen:
            fail("config.h value %s has no policy" % value)
    for pres in presentations:
        if pres not in used_presentations:
            fail("presentation %s is not used by any policy" % pres)
    unused = strings - used_strings
    if unused:
        fail("strings not referenced by the ADMX: %s" % sorted(unused))

    if failures:
        print("%d failure(s)" % len(failures))
        return 1
    print("ok: %d policies cover the %d values of config.h; every reference resolves" %
          (len(list(admx.iter(NS + "policy"))), len(values)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
