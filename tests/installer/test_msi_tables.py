#!/usr/bin/env python3
"""Checks the tables of the built MSI (msiinfo export) against the project's own definitions.

usage: test_msi_tables.py MSIINFO MSI VERSION CONFIG_H WIN_SERVICE_H

Version from project(VERSION); service name, display name and description from service/win/win_service.h;
configuration value names from service/engine/config.h; custom action types and their place in the sequence
(setup after InstallServices and before StartServices, teardown after StopServices and before
DeleteServices/RemoveFiles, everything deferred inside InstallInitialize..InstallFinalize).
Exit 0 pass, 1 fail.
"""
import re
import subprocess
import sys

failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg)


def check(cond, msg):
    if cond:
        print("ok: " + msg)
    else:
        fail(msg)


def table(msiinfo, msi, name):
    """Rows of one table as dicts (msiinfo export: column names, types, table name + keys, rows)."""
    out = subprocess.run([msiinfo, "export", msi, name], check=True, capture_output=True, text=True).stdout
    lines = out.split("\n")
    cols = lines[0].rstrip("\r").split("\t")
    rows = []
    for line in lines[3:]:
        line = line.rstrip("\r")
        if line:
            rows.append(dict(zip(cols, line.split("\t") + [""] * (len(cols) - len(line.split("\t"))))))
    return rows


def header_wstring(text, name):
    """The value of #define NAME L"..." L"..." (adjacent literals joined, line continuations allowed)."""
    m = re.search(r"#define\s+%s[\s\\]+((?:L?\"(?:[^\"\\]|\\.)*\"[\s\\]*)+)" % name, text)
    if not m:
        return None
    return "".join(re.findall(r"L?\"((?:[^\"\\]|\\.)*)\"", m.group(1))).replace("\\\\", "\\")


def main():
    if len(sys.argv) != 6:
        print(__doc__)
        return 2
    msiinfo, msi, version, config_h, service_h = sys.argv[1:]
    config = open(config_h, encoding="utf-8").read()
    service = open(service_h, encoding="utf-8").read()
    value_names = set(re.findall(r'XX\(\s*\w+\s*,\s*"(\w+)"', config))
    settings_key = re.search(r'#define\s+CONFIG_KEY_SETTINGS\s+"([^"]+)"', config).group(1).replace("\\\\", "\\")
    svc_name = header_wstring(service, "WIN_SERVICE_NAME")
    svc_display = header_wstring(service, "WIN_SERVICE_DISPLAY_NAME")
    svc_desc = header_wstring(service, "WIN_SERVICE_DESCRIPTION")

    props = {r["Property"]: r["Value"] for r in table(msiinfo, msi, "Property")}
    check(props.get("ProductVersion") == version, "ProductVersion %s == project version %s" % (props.get("ProductVersion"), version))
    check(props.get("Manufacturer") == "bitsguard project", "Manufacturer")
    check(props.get("UpgradeCode") == "{B61EEEEC-322D-42DE-BE32-73AFA0224D98}", "UpgradeCode unchanged (upgrades depend on it)")
    check(props.get("ALLUSERS") == "1", "per-machine (ALLUSERS=1)")
    check(bool(props.get("ARPHELPLINK")) and bool(props.get("ARPURLINFOABOUT")), "ARP links set")
    for p in ("ALLOWLIST", "BACKFILL", "RETENTION_DAYS", "ALERT_PRIVATE"):
        # No default in the Property table: a default would hide the value an upgrade finds in the registry.
        check(p not in props, "%s has no Property-table default (AppSearch and command line decide)" % p)

    svcs = table(msiinfo, msi, "ServiceInstall")
    check(len(svcs) == 1, "one ServiceInstall row")
    if svcs:
        s = svcs[0]
        check(s["Name"] == svc_name, "service name %r == WIN_SERVICE_NAME %r" % (s["Name"], svc_name))
        check(s["DisplayName"] == svc_display, "display name == WIN_SERVICE_DISPLAY_NAME")
        check(s["Description"] == svc_desc, "description == WIN_SERVICE_DESCRIPTION")
        check(s["StartName"] == "NT AUTHORITY\\LocalService", "account NT AUTHORITY\\LocalService")
        check(s["StartType"] == "2", "start type auto (2)")
        check(s["ErrorControl"] == "1", "error control normal (1)")
        check(s["ServiceType"] == "16", "own process (16)")
        check(s["Arguments"] == "service", "arguments 'service'")
        check(s["Password"] == "", "no password stored")
    ctl = table(msiinfo, msi, "ServiceControl")
    # 1 start on install + 2 stop on install + 32 stop on uninstall + 128 delete on uninstall.
    check(len(ctl) == 1 and ctl[0]["Name"] == svc_name and ctl[0]["Event"] == "163", "ServiceControl start/stop/remove (163)")

    reg = table(msiinfo, msi, "Registry")
    evt = "SYSTEM\\CurrentControlSet\\Services\\EventLog\\Application\\%s" % svc_name
    evt_values = {r["Name"]: r["Value"] for r in reg if r["Key"].rstrip("\\").lower() == evt.lower() and r["Root"] == "2"}
    check(evt_values.get("EventMessageFile") == "[#MainExe]", "EventMessageFile = [#MainExe]")
    check(evt_values.get("TypesSupported") == "#7", "TypesSupported = 7 (REG_DWORD)")
    settings = {r["Name"]: r["Value"] for r in reg if r["Key"].rstrip("\\").lower() == settings_key.lower() and r["Root"] == "2"}
    check(set(settings) <= value_names and settings, "settings value names %s are all in config.h" % sorted(settings))
    expect_props = {"Allowlist": "[ALLOWLIST]", "Backfill": "[BACKFILL]", "RetentionDays": "[RETENTION_DAYS]",
                    "AlertPrivateRanges": "[ALERT_PRIVATE]"}
    for name, value in expect_props.items():
        check(settings.get(name) == value, "%s written from %s" % (name, value))
    others = [r for r in reg if r["Key"].rstrip("\\").lower() not in (evt.lower(), settings_key.lower())]
    check(not others, "no other registry writes")

    ca = {r["Action"]: r for r in table(msiinfo, msi, "CustomAction")}
    # 18 exe from an installed file + 1024 deferred + 2048 no impersonation (+ 64 return ignored).
    for action, typ, target in (("RunSetup", "3090", "setup"), ("RunTeardown", "3154", "teardown"),
                                ("RunTeardownRemoveData", "3154", "teardown --remove-data")):
        r = ca.get(action, {})
        check(r.get("Type") == typ and r.get("Source") == "MainExe" and r.get("Target") == target,
              "%s: type %s, bitsguard.exe %s" % (action, typ, target))
        check('"' not in r.get("Target", ""), "%s passes no quoted path (the trailing-backslash pitfall)" % action)

    seq = {r["Action"]: (int(r["Sequence"]), r["Condition"]) for r in table(msiinfo, msi, "InstallExecuteSequence")}
    at = lambda a: seq.get(a, (-1, ""))[0]
    check(at("InstallServices") < at("RunSetup") < at("StartServices"), "setup between InstallServices and StartServices")
    check(at("InstallFiles") < at("RunSetup"), "setup after InstallFiles")
    check(seq.get("RunSetup", (0, ""))[1] == "NOT REMOVE", "setup only when not removing")
    # The rollback of setup: 18 exe + 1024 in-script + 256 rollback + 2048 no impersonation + 64 ignored,
    # scheduled right before RunSetup so it is in the script before setup runs.
    r = ca.get("RollbackSetup", {})
    check(r.get("Type") == "3410" and r.get("Source") == "MainExe" and r.get("Target") == "teardown",
          "RollbackSetup: type 3410 (rollback, no impersonation), bitsguard.exe teardown")
    check(0 < at("RollbackSetup") < at("RunSetup") and seq.get("RollbackSetup", (0, ""))[1] == "NOT REMOVE" and
          not [a for a, (n, _) in seq.items() if at("RollbackSetup") < n < at("RunSetup")],
          "RollbackSetup right before RunSetup, only when not removing")
    for t in ("RunTeardown", "RunTeardownRemoveData"):
        check(at("StopServices") < at(t) < at("DeleteServices") < at("RemoveFiles"), "%s after StopServices, before DeleteServices" % t)
        check('REMOVE="ALL"' in seq.get(t, (0, ""))[1], "%s only on REMOVE=\"ALL\"" % t)
    check('REMOVE_DATA="1"' in seq.get("RunTeardownRemoveData", (0, ""))[1] and
          'NOT REMOVE_DATA="1"' in seq.get("RunTeardown", (0, ""))[1], "REMOVE_DATA chooses the teardown")
    for a, r in ca.items():
        if int(r["Type"]) & 1024:
            check(at("InstallInitialize") < at(a) < at("InstallFinalize"), "deferred %s inside the script" % a)
    check(at("InstallValidate") < at("RemoveExistingProducts") < at("InstallInitialize"),
          "RemoveExistingProducts after InstallValidate (old version removed before the new installs)")
    check(at("FindRelatedProducts") < min(at(a) for a in ca if a.startswith("SaveCmd")) and
          max(at(a) for a in ca if a.startswith("SaveCmd")) < at("AppSearch") <
          min(at(a) for a in ca if a.startswith("RestoreCmd")) and
          max(at(a) for a in ca if a.startswith("RestoreCmd")) < min(at(a) for a in ca if a.startswith("Default")) <
          at("LaunchConditions"), "command-line values saved before AppSearch, restored after, then defaults")

    up = table(msiinfo, msi, "Upgrade")
    check(any(r["VersionMin"] == version and r["ActionProperty"] == "WIX_DOWNGRADE_DETECTED" for r in up),
          "Upgrade row detects newer versions")
    lc = table(msiinfo, msi, "LaunchCondition")
    check(any(r["Condition"] == "NOT WIX_DOWNGRADE_DETECTED" and "newer version" in r["Description"] for r in lc),
          "downgrade refused with a message")
    files = table(msiinfo, msi, "File")
    check([f["FileName"] for f in files] == ["bitsguard.exe"], "one file: bitsguard.exe")
    dirs = {r["Directory"]: r for r in table(msiinfo, msi, "Directory")}
    check(dirs.get("INSTALLDIR", {}).get("Directory_Parent") == "ProgramFiles64Folder" and
          dirs["INSTALLDIR"].get("DefaultDir", "").endswith("bitsguard"), "INSTALLDIR = ProgramFiles64Folder\\bitsguard")

    if failures:
        print("%d failure(s)" % len(failures))
        return 1
    print("all MSI table checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
