#!/usr/bin/env bash
# The program imports nothing that starts a process, opens a socket or pipe, or loads a DLL by name:
# the service (and scan) cannot be turned into a launcher or a listener, whatever the events say.
# Native: the dynamic symbols bitsguard itself needs (libxml2's own HTTP client is unreachable: no
# network, no DTD loading, tests/unit/test_detector_event.c). Under Wine (BG_TEST_PLATFORM=wine): the import table of
# bitsguard.exe, found in the launcher script tests/wine/CMakeLists.txt generates.
. "$(dirname "$0")/../lib/cli.sh"

if [ "${BG_TEST_PLATFORM:-}" = wine ]; then
    exe=$(grep -o '"[^"]*bitsguard\.exe"' "$bin" | tr -d '"' | head -n 1)
    [ -n "$exe" ] && [ -f "$exe" ] || { echo "cannot find bitsguard.exe in the launcher $bin"; exit 1; }
    objdump=$(command -v x86_64-w64-mingw32-objdump || true)
    [ -n "$objdump" ] || { echo "x86_64-w64-mingw32-objdump not installed"; exit 77; }
    # Imported names: the lines of each DLL's table ("<hint> <name>").
    "$objdump" -p "$exe" | awk '/DLL Name:/ { dll = tolower($3) } /^\t[0-9a-f]+[ \t]+[0-9]+[ \t]+[A-Za-z_]/ { print dll, $3 }' \
        >"$work/imports"
    known='CreateFileW'
    banned='^(CreateProcess.*|CreateProcessAsUser.*|ShellExecute.*|WinExec|CreateNamedPipe.*|ConnectNamedPipe|CallNamedPipe.*|RpcServer.*|LoadLibrary.*|WSAStartup|socket|bind|listen|accept|system|_w?popen|_w?spawn.*|_w?exec.*)$'
    expect "no network or RPC DLL imported (ws2_32, winhttp, wininet, rpcrt4...)" bash -c "! grep -qE '^(ws2_32|wsock32|winhttp|wininet|urlmon|rpcrt4)\\.dll ' '$work/imports'"
else
    [ -x "$bin" ] || { echo "no program at $bin"; exit 1; }
    command -v nm >/dev/null || { echo "nm not installed"; exit 77; }
    nm -D --undefined-only "$bin" | awk '{ sub(/@.*/, "", $NF); print "-", $NF }' >"$work/imports"
    # (A sanitizer build defines libc's functions itself; SQLite's are always imported.)
    known='sqlite3_open_v2'
    banned='^(socket|connect|bind|listen|accept4?|fork|vfork|clone|execl[ep]?|execv[ep]?|execvpe|fexecve|system|popen|posix_spawnp?|dlopen|ptrace)$'
fi

# The listing works (a function every build uses is in it), so an empty match below means something.
expect "the symbol listing finds $known" bash -c "awk '{ print \$2 }' '$work/imports' | grep -qx '$known'"
expect "at least 20 imports listed" test "$(wc -l <"$work/imports")" -ge 20
awk '{ print $2 }' "$work/imports" | grep -E "$banned" >"$work/found"
expect "no process, socket, pipe or dynamic-load import" test ! -s "$work/found"
[ -s "$work/found" ] && sed 's/^/  imported: /' "$work/found"

test_done
