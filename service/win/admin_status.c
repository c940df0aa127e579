/* The Status registry key (HKLM\SOFTWARE\bitsguard\Status): created and secured by setup, removed by teardown. */
#include <windows.h>

#include <sddl.h>
#include <stdio.h>
#include <wchar.h>

#include "admin.h"
#include "config.h"
#include "win_access.h"
#include "win_util.h"

/*
 * The service account (LocalService, with the service SID) may read but not write SOFTWARE\bitsguard, which
 * holds its configuration. It gets query and set-value on this one subkey, nothing else: no key creation,
 * no deletion, no change of the ACL. Administrators and SYSTEM full control; Users read (CMPivot runs as
 * SYSTEM, an admin's regedit or `reg query` as anyone). Protected: nothing inherited from SOFTWARE widens it.
 */
#define STATUS_KEY_SERVICE_MASK L"0x3" /* KEY_QUERY_VALUE | KEY_SET_VALUE */

int admin_status_key_setup(void)
{
    const char *what = "Status registry key";
    wchar_t sid_text[96], sddl[256];
    char text[200];
    PSECURITY_DESCRIPTOR sd = NULL;
    HKEY key = NULL;
    int ok = 0;
    if (!admin_service_sid(sid_text, sizeof sid_text / sizeof sid_text[0])) {
        admin_step_print(what, "failed", "cannot compute the service SID");
        return 0;
    }
    _snwprintf(sddl, sizeof sddl / sizeof sddl[0], L"O:BAD:P(A;;KA;;;SY)(A;;KA;;;BA)(A;;KR;;;BU)(A;;%ls;;;%ls)",
               STATUS_KEY_SERVICE_MASK, sid_text);
    sddl[sizeof sddl / sizeof sddl[0] - 1] = L'\0';
    if (!ConvertStringSecurityDescriptorToSecurityDescriptorW(sddl, SDDL_REVISION_1, &sd, NULL)) {
        admin_step_failed(what, GetLastError());
        return 0;
    }
    SECURITY_ATTRIBUTES sa = {sizeof sa, sd, FALSE};
    const DWORD granted = win_open_access(WIN_OPEN_REG_STATUS_SETUP);
    LSTATUS rc = RegCreateKeyExW(HKEY_LOCAL_MACHINE, L"" CONFIG_KEY_STATUS, 0, NULL, 0, granted | KEY_WOW64_64KEY, &sa,
                                 &key, NULL);
    /* The descriptor applies only when the key is created: an existing key (an earlier install, or one
     * planted before it) gets the DACL set again. */
    if (rc == ERROR_SUCCESS && !win_access_check(granted, WIN_CALL_REG_SET_SECURITY))
        rc = ERROR_ACCESS_DENIED;
    if (rc == ERROR_SUCCESS)
        rc = RegSetKeySecurity(key, DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION, sd);
    if (rc == ERROR_SUCCESS) {
        admin_step_print(what, "ok", "Users read, the service query and set-value only");
        ok = 1;
    } else if (key && admin_on_wine()) {
        /* Wine keeps no registry ACLs; the key exists, which is what the service needs there. */
        admin_step_print(what, "warning", win_error_text((DWORD)rc, text, sizeof text));
        ok = 1;
    } else {
        admin_step_failed(what, (DWORD)rc);
    }
    if (key)
        RegCloseKey(key);
    LocalFree(sd);
    return ok;
}

int admin_status_key_remove(void)
{
    LSTATUS rc = RegDeleteKeyExW(HKEY_LOCAL_MACHINE, L"" CONFIG_KEY_STATUS, KEY_WOW64_64KEY, 0);
    if (rc == ERROR_SUCCESS || rc == ERROR_FILE_NOT_FOUND) {
        admin_step_print("remove Status registry key", "ok", rc == ERROR_FILE_NOT_FOUND ? "was not there" : NULL);
        return 1;
    }
    admin_step_failed("remove Status registry key", (DWORD)rc);
    return 0;
}
