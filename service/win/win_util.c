/* Small Windows helpers shared by the service files: error text, paths. */
#include "win_util.h"

#include <knownfolders.h>
#include <shlobj.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "win_service.h"

const char *win_error_text(DWORD code, char *buf, size_t len)
{
    wchar_t msg[256];
    DWORD n = FormatMessageW(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, NULL, code, 0, msg,
                             (DWORD)(sizeof msg / sizeof msg[0]), NULL);
    /* Drop the trailing ".\r\n" FormatMessage appends. */
    while (n > 0 && (msg[n - 1] == L'\r' || msg[n - 1] == L'\n' || msg[n - 1] == L'.' || msg[n - 1] == L' '))
        n--;
    msg[n] = L'\0';
    char *u = n ? bg_utf8_from_utf16(msg) : NULL;
    snprintf(buf, len, "%s (%lu)", u ? u : "system error", (unsigned long)code);
    free(u);
    return buf;
}

int win_module_path(wchar_t *buf, size_t len)
{
    DWORD n = GetModuleFileNameW(NULL, buf, (DWORD)len);
    return n > 0 && n < len;
}

/* The ProgramData folder as Windows records it (ProfileList\ProgramData, "%SystemDrive%\ProgramData"). */
static int program_data_registry(wchar_t *buf, size_t len)
{
    wchar_t raw[MAX_PATH];
    DWORD size = sizeof raw - sizeof raw[0], type = 0;
    memset(raw, 0, sizeof raw);
    if (RegGetValueW(HKEY_LOCAL_MACHINE, L"SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\ProfileList",
                     L"ProgramData", RRF_RT_REG_SZ | RRF_RT_REG_EXPAND_SZ | RRF_NOEXPAND, &type, raw,
                     &size) != ERROR_SUCCESS)
        return 0;
    DWORD n = ExpandEnvironmentStringsW(raw, buf, (DWORD)len);
    return n > 0 && n <= len && buf[0] != L'\0' && wcschr(buf, L'%') == NULL;
}

int win_data_folder(wchar_t *buf, size_t len)
{
    /*
     * Not %ProgramData% nor, first, the known-folder API: setup (run by an administrator) and the
     * service (LocalService) must agree on the folder whose ACL setup protects, and under Wine both
     * the service's environment and SHGetKnownFolderPath answered C:\users\Public for LocalService
     * while the console got C:\ProgramData. The machine-wide registry value is the same for all
     * accounts (and is where Windows itself takes %ProgramData% from); the known folder is the fallback.
     */
    wchar_t base[MAX_PATH];
    int ok = program_data_registry(base, MAX_PATH);
    if (!ok) {
        wchar_t *known = NULL;
        if (SHGetKnownFolderPath(&FOLDERID_ProgramData, KF_FLAG_DONT_VERIFY, NULL, &known) == S_OK && known) {
            int n = _snwprintf(base, MAX_PATH, L"%ls", known);
            ok = n > 0 && n < MAX_PATH;
        }
        if (known)
            CoTaskMemFree(known);
    }
    if (!ok)
        return 0;
    int n = _snwprintf(buf, len, L"%ls\\%ls", base, WIN_DATA_FOLDER_NAME);
    return n > 0 && (size_t)n < len;
}
