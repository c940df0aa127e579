/* What setup applies to the service entry that the MSI cannot: SCM settings, quoted image path, Event Log source. */
#include <windows.h>

#include <stdio.h>
#include <stdlib.h>
#include <wchar.h>

#include "admin.h"
#include "win_access.h"
#include "win_service.h"
#include "win_util.h"

/* Event Log source bitsguard in the Application log, with this exe as its message file. */
static int event_source_register(void)
{
    const char *what = "event source (Application log)";
    wchar_t exe[MAX_PATH];
    if (!win_module_path(exe, MAX_PATH)) {
        admin_step_failed(what, GetLastError());
        return 0;
    }
    HKEY key = NULL;
    const DWORD granted = win_open_access(WIN_OPEN_REG_EVENT_SOURCE);
    LSTATUS rc = RegCreateKeyExW(HKEY_LOCAL_MACHINE, EVENTLOG_SOURCE_KEY, 0, NULL, 0, granted | KEY_WOW64_64KEY, NULL,
                                 &key, NULL);
    if (rc == ERROR_SUCCESS && !win_access_check(granted, WIN_CALL_REG_SET_VALUE))
        rc = ERROR_ACCESS_DENIED;
    if (rc == ERROR_SUCCESS)
        rc = RegSetValueExW(key, L"EventMessageFile", 0, REG_EXPAND_SZ, (const BYTE *)exe,
                            (DWORD)((wcslen(exe) + 1) * sizeof(wchar_t)));
    DWORD types = EVENTLOG_ERROR_TYPE | EVENTLOG_WARNING_TYPE | EVENTLOG_INFORMATION_TYPE;
    if (rc == ERROR_SUCCESS)
        rc = RegSetValueExW(key, L"TypesSupported", 0, REG_DWORD, (const BYTE *)&types, sizeof types);
    if (key)
        RegCloseKey(key);
    if (rc != ERROR_SUCCESS) {
        admin_step_failed(what, (DWORD)rc);
        return 0;
    }
    admin_step_print(what, "ok", NULL);
    return 1;
}

/* ERROR_INVALID_LEVEL from ChangeServiceConfig2W: the system does not know this setting (Wine answers
 * 124 for the SID type, required privileges and delayed start). Reported, not fatal: on Windows 10
 * and later every level used here exists. Returns 1 when the last error was that. */
static int config2_unsupported(const char *what)
{
    if (GetLastError() != ERROR_INVALID_LEVEL)
        return 0;
    admin_step_print(what, "warning", "not supported by this system (error 124), skipped");
    return 1;
}

/* ChangeServiceConfig2W after checking the handle's rights for that call (win_access.c). */
static BOOL config2_set(SC_HANDLE svc, DWORD granted, win_call call, DWORD level, void *info)
{
    return win_access_check(granted, call) && ChangeServiceConfig2W(svc, level, info);
}

/* Quotes the service's image path when it is not: Wine's msiexec writes "C:\Program Files\...\bitsguard.exe
 * service" unquoted, which lets C:\Program.exe run as the service (CWE-428). Idempotent. */
static int image_path_quote(SC_HANDLE svc, DWORD granted)
{
    const char *what = "quoted image path";
    BYTE qbuf[8192];
    QUERY_SERVICE_CONFIGW *qc = (QUERY_SERVICE_CONFIGW *)qbuf;
    DWORD need = 0;
    if (!win_access_check(granted, WIN_CALL_SVC_QUERY_CONFIG) || !QueryServiceConfigW(svc, qc, sizeof qbuf, &need)) {
        admin_step_failed(what, GetLastError());
        return 0;
    }
    if (qc->lpBinaryPathName && qc->lpBinaryPathName[0] == L'"') {
        admin_step_print(what, "ok", "already quoted");
        return 1;
    }
    wchar_t exe[MAX_PATH], path[MAX_PATH + 16];
    if (!win_module_path(exe, MAX_PATH)) {
        admin_step_failed(what, GetLastError());
        return 0;
    }
    int n = _snwprintf(path, sizeof path / sizeof path[0], L"\"%ls\" service", exe);
    if (n < 0 || (size_t)n >= sizeof path / sizeof path[0] || !win_access_check(granted, WIN_CALL_SVC_CHANGE_CONFIG) ||
        !ChangeServiceConfigW(svc, SERVICE_NO_CHANGE, SERVICE_NO_CHANGE, SERVICE_NO_CHANGE, path, NULL, NULL, NULL,
                              NULL, NULL, NULL)) {
        admin_step_failed(what, GetLastError());
        return 0;
    }
    admin_step_print(what, "ok", "was unquoted, fixed");
    return 1;
}

/* What the MSI (wixl) cannot express, applied to an existing service. Returns 1 when nothing failed. */
int admin_service_setup(SC_HANDLE svc, DWORD granted)
{
    int ok = image_path_quote(svc, granted);

    SERVICE_DESCRIPTIONW desc = {(LPWSTR)WIN_SERVICE_DESCRIPTION};
    if (config2_set(svc, granted, WIN_CALL_SVC_CHANGE_CONFIG2, SERVICE_CONFIG_DESCRIPTION, &desc))
        admin_step_print("description", "ok", NULL);
    else
        ok = 0, admin_step_failed("description", GetLastError());

    /* An unrestricted service SID: the folder and channel ACLs can name this service alone. */
    SERVICE_SID_INFO sid_info = {SERVICE_SID_TYPE_UNRESTRICTED};
    if (config2_set(svc, granted, WIN_CALL_SVC_CHANGE_CONFIG2, SERVICE_CONFIG_SERVICE_SID_INFO, &sid_info))
        admin_step_print("service SID type", "ok", "unrestricted");
    else if (!config2_unsupported("service SID type"))
        ok = 0, admin_step_failed("service SID type", GetLastError());

    /* Only bypass-traverse-checking: reading a channel, writing its own folder and reporting events
     * need no privilege. Everything else LocalService holds is removed from the process token. */
    SERVICE_REQUIRED_PRIVILEGES_INFOW privs = {(LPWSTR)L"SeChangeNotifyPrivilege\0"};
    if (config2_set(svc, granted, WIN_CALL_SVC_CHANGE_CONFIG2, SERVICE_CONFIG_REQUIRED_PRIVILEGES_INFO, &privs))
        admin_step_print("required privileges", "ok", "SeChangeNotifyPrivilege");
    else if (!config2_unsupported("required privileges"))
        ok = 0, admin_step_failed("required privileges", GetLastError());

    /* Restart after 5 s, 10 s, then 60 s; the failure count resets after a day without failure. */
    SC_ACTION actions[3] = {{SC_ACTION_RESTART, 5000}, {SC_ACTION_RESTART, 10000}, {SC_ACTION_RESTART, 60000}};
    SERVICE_FAILURE_ACTIONSW fa = {86400, NULL, NULL, 3, actions};
    char recovery[96];
    snprintf(recovery, sizeof recovery, "restart after %lu s, %lu s, %lu s; reset after %lu s",
             (unsigned long)actions[0].Delay / 1000, (unsigned long)actions[1].Delay / 1000,
             (unsigned long)actions[2].Delay / 1000, (unsigned long)fa.dwResetPeriod);
    if (config2_set(svc, granted, WIN_CALL_SVC_CHANGE_CONFIG2_RESTART, SERVICE_CONFIG_FAILURE_ACTIONS, &fa))
        admin_step_print("recovery actions", "ok", recovery);
    else
        ok = 0, admin_step_failed("recovery actions", GetLastError());
    /* Also when the service stops itself with an error exit code, not only on a crash. */
    SERVICE_FAILURE_ACTIONS_FLAG flag = {TRUE};
    if (config2_set(svc, granted, WIN_CALL_SVC_CHANGE_CONFIG2, SERVICE_CONFIG_FAILURE_ACTIONS_FLAG, &flag))
        admin_step_print("recovery on error exit", "ok", NULL);
    else
        admin_step_print("recovery on error exit", "warning", "not supported here");

    SERVICE_PRESHUTDOWN_INFO pre = {WIN_PRESHUTDOWN_TIMEOUT_MS};
    if (config2_set(svc, granted, WIN_CALL_SVC_CHANGE_CONFIG2, SERVICE_CONFIG_PRESHUTDOWN_INFO, &pre)) {
        char timeout[32];
        snprintf(timeout, sizeof timeout, "%u s", WIN_PRESHUTDOWN_TIMEOUT_MS / 1000);
        admin_step_print("preshutdown time-out", "ok", timeout);
    } else
        ok = 0, admin_step_failed("preshutdown time-out", GetLastError());

    /* Delayed auto-start only makes sense for auto-start services. Wine answers 124: not fatal. */
    BYTE qbuf[8192];
    QUERY_SERVICE_CONFIGW *qc = (QUERY_SERVICE_CONFIGW *)qbuf;
    DWORD need = 0;
    if (win_access_check(granted, WIN_CALL_SVC_QUERY_CONFIG) && QueryServiceConfigW(svc, qc, sizeof qbuf, &need) &&
        qc->dwStartType == SERVICE_AUTO_START) {
        SERVICE_DELAYED_AUTO_START_INFO delayed = {TRUE};
        if (config2_set(svc, granted, WIN_CALL_SVC_CHANGE_CONFIG2, SERVICE_CONFIG_DELAYED_AUTO_START_INFO, &delayed))
            admin_step_print("delayed auto-start", "ok", NULL);
        else if (!config2_unsupported("delayed auto-start"))
            ok = 0, admin_step_failed("delayed auto-start", GetLastError());
    } else {
        admin_step_print("delayed auto-start", "skipped", "the service is not auto-start");
    }

    if (!admin_data_folder_secure())
        ok = 0;
    if (!event_source_register())
        ok = 0;
    if (!admin_status_key_setup())
        ok = 0;
    admin_channel_access_grant(1);
    return ok;
}

/*
 * An existing service (an earlier install, or one created by someone else under our name) is kept
 * only with our account and image path: anything else is changed to NT AUTHORITY\LocalService and
 * the quoted path of this exe, and what changed is reported. Returns 1 when it is (now) ours.
 */
int admin_service_config_verify(SC_HANDLE svc, DWORD granted, const wchar_t *cmd)
{
    const char *what = "existing service account/path";
    static const wchar_t account[] = L"NT AUTHORITY\\LocalService";
    BYTE qbuf[8192];
    QUERY_SERVICE_CONFIGW *qc = (QUERY_SERVICE_CONFIGW *)qbuf;
    DWORD need = 0;
    if (!win_access_check(granted, WIN_CALL_SVC_QUERY_CONFIG) || !QueryServiceConfigW(svc, qc, sizeof qbuf, &need)) {
        admin_step_failed(what, GetLastError());
        return 0;
    }
    const wchar_t *name = qc->lpServiceStartName ? qc->lpServiceStartName : L"";
    const wchar_t *path = qc->lpBinaryPathName ? qc->lpBinaryPathName : L"";
    /* "NT AUTHORITY\LOCAL SERVICE" is the same account under its display spelling. */
    int account_ok = _wcsicmp(name, account) == 0 || _wcsicmp(name, L"NT AUTHORITY\\LOCAL SERVICE") == 0;
    int path_ok = _wcsicmp(path, cmd) == 0;
    if (account_ok && path_ok) {
        admin_step_print(what, "ok", "LocalService, this executable");
        return 1;
    }
    char *was_name = bg_utf8_from_utf16(name), *was_path = bg_utf8_from_utf16(path);
    char detail[1200];
    snprintf(detail, sizeof detail, "%s%s%s%s%s%s", account_ok ? "" : "account was ", account_ok ? "" : was_name,
             !account_ok && !path_ok ? "; " : "", path_ok ? "" : "image path was ", path_ok ? "" : was_path, ", fixed");
    free(was_name);
    free(was_path);
    if (!win_access_check(granted, WIN_CALL_SVC_CHANGE_CONFIG) ||
        !ChangeServiceConfigW(svc, SERVICE_NO_CHANGE, SERVICE_NO_CHANGE, SERVICE_NO_CHANGE, path_ok ? NULL : cmd, NULL,
                              NULL, NULL, account_ok ? NULL : account, account_ok ? NULL : L"", NULL)) {
        admin_step_failed(what, GetLastError());
        return 0;
    }
    admin_step_print(what, "ok", detail);
    return 1;
}
