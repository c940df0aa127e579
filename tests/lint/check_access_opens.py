#!/usr/bin/env python3
"""Every SCM, registry and file open in service/win requests the rights of the access table (win_access.c).

Wine checks no service access rights, so an open that requests a hard-coded mask can lack a right one of
its calls needs and still pass every Wine test (setup opened the service without SERVICE_START, which
ChangeServiceConfig2W needs for restart actions: the MSI rolled back on Windows). This check makes every
open take its rights from win_open_access(), whose table tests/unit/test_service_winaccess.c checks
against Microsoft's documentation, and whose win_access_check() guards every call.

usage: check_access_opens.py SERVICE_WIN_DIR
"""
import pathlib
import re
import sys

# The functions that open a handle, and the index of their access argument (0-based).
OPENS = {
    "OpenSCManagerW": 2,
    "OpenServiceW": 2,
    "CreateServiceW": 3,
    "RegOpenKeyExW": 3,
    "RegCreateKeyExW": 5,
    "admin_path_open_nofollow": 1,
}
# An access argument is fine when it comes from the table (or is a variable set from it), or requests nothing.
ALLOWED = re.compile(r"^(win_open_access\(\w+\)(\s*\|\s*KEY_WOW64_64KEY)?|granted(\s*\|\s*KEY_WOW64_64KEY)?|access|0)$")


def call_args(text, start):
    """The top-level arguments of the call whose '(' is at text[start]."""
    depth, args, cur = 0, [], []
    for ch in text[start:]:
        if ch == "(":
            depth += 1
            if depth == 1:
                continue
        elif ch == ")":
            depth -= 1
            if depth == 0:
                args.append("".join(cur).strip())
                return args
        elif ch == "," and depth == 1:
            args.append("".join(cur).strip())
            cur = []
            continue
        cur.append(ch)
    return None


def main():
    folder = pathlib.Path(sys.argv[1])
    failures = checked = 0
    for path in sorted(folder.glob("*.c")):
        if path.name == "win_access.c":
            continue
        text = re.sub(r"/\*.*?\*/", " ", path.read_text(), flags=re.S)
        for name, index in OPENS.items():
            for m in re.finditer(r"\b%s\s*\(" % name, text):
                line = text.count("\n", 0, m.start()) + 1
                before = text[max(0, m.start() - 40):m.start()]
                if re.search(r"(HANDLE|SC_HANDLE)\s+$", before):
                    continue  # The definition of admin_path_open_nofollow.
                args = call_args(text, m.end() - 1)
                if args is None or len(args) <= index:
                    print(f"{path.name}:{line}: {name}: cannot read its arguments")
                    failures += 1
                    continue
                access = " ".join(args[index].split())
                checked += 1
                if name == "RegOpenKeyExW" and access == "access":
                    # win_config.c: `access` must be set from the table.
                    if not re.search(r"access\s*=\s*win_open_access\(", text):
                        print(f"{path.name}:{line}: {name}: access not from win_open_access()")
                        failures += 1
                    continue
                if name == "admin_path_open_nofollow" and path.name == "admin_security.c":
                    continue  # The helper itself passes its caller's access on.
                if not ALLOWED.match(access):
                    print(f"{path.name}:{line}: {name} requests '{access}', not rights from win_open_access()")
                    failures += 1
    print(f"{checked} opens checked, {failures} not taking their rights from the access table")
    if checked == 0:
        print("no opens found: wrong folder?")
        return 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
