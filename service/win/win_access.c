/* The table of the access right Microsoft documents for each SCM, registry and file-security call, and the check of a
 * handle against it. */
#include "win_access.h"

#include <stdio.h>

#define DOC_SVC "https://learn.microsoft.com/en-us/windows/win32/api/winsvc/nf-winsvc-"
#define DOC_REG "https://learn.microsoft.com/en-us/windows/win32/api/winreg/nf-winreg-"
#define DOC_ACL "https://learn.microsoft.com/en-us/windows/win32/api/aclapi/nf-aclapi-"

/* One row per call, in win_call order (checked by tests/unit/test_win_access.c). */
static const win_access_rule win_access_table[WIN_CALL_COUNT] = {
    {WIN_CALL_SCM_OPEN_SERVICE, "OpenServiceW", SC_MANAGER_CONNECT, DOC_SVC "openservicew"},
    {WIN_CALL_SCM_CREATE_SERVICE, "CreateServiceW", SC_MANAGER_CREATE_SERVICE, DOC_SVC "createservicew"},
    {WIN_CALL_SVC_QUERY_CONFIG, "QueryServiceConfigW", SERVICE_QUERY_CONFIG, DOC_SVC "queryserviceconfigw"},
    {WIN_CALL_SVC_CHANGE_CONFIG, "ChangeServiceConfigW", SERVICE_CHANGE_CONFIG, DOC_SVC "changeserviceconfigw"},
    {WIN_CALL_SVC_CHANGE_CONFIG2, "ChangeServiceConfig2W", SERVICE_CHANGE_CONFIG, DOC_SVC "changeserviceconfig2w"},
    /* "If the service controller handles the SC_ACTION_RESTART action, hService must have the
     * SERVICE_START access right." (winsw issue 893 hit it) */
    {WIN_CALL_SVC_CHANGE_CONFIG2_RESTART, "ChangeServiceConfig2W(SERVICE_CONFIG_FAILURE_ACTIONS, SC_ACTION_RESTART)",
     SERVICE_CHANGE_CONFIG | SERVICE_START, DOC_SVC "changeserviceconfig2w"},
    {WIN_CALL_SVC_QUERY_STATUS, "QueryServiceStatusEx", SERVICE_QUERY_STATUS, DOC_SVC "queryservicestatusex"},
    {WIN_CALL_SVC_START, "StartServiceW", SERVICE_START, DOC_SVC "startservicew"},
    {WIN_CALL_SVC_CONTROL_STOP, "ControlService(SERVICE_CONTROL_STOP)", SERVICE_STOP, DOC_SVC "controlservice"},
    {WIN_CALL_SVC_CONTROL_PARAMCHANGE, "ControlService(SERVICE_CONTROL_PARAMCHANGE)", SERVICE_PAUSE_CONTINUE,
     DOC_SVC "controlservice"},
    {WIN_CALL_SVC_DELETE, "DeleteService", DELETE, DOC_SVC "deleteservice"},
    {WIN_CALL_REG_QUERY_VALUE, "RegQueryValueExW", KEY_QUERY_VALUE, DOC_REG "regqueryvalueexw"},
    {WIN_CALL_REG_SET_VALUE, "RegSetValueExW", KEY_SET_VALUE, DOC_REG "regsetvalueexw"},
    /* "The key must have been opened with the WRITE_DAC access right" (for DACL_SECURITY_INFORMATION). */
    {WIN_CALL_REG_SET_SECURITY, "RegSetKeySecurity(DACL)", WRITE_DAC, DOC_REG "regsetkeysecurity"},
    {WIN_CALL_FILE_GET_SECURITY, "GetSecurityInfo(OWNER | DACL)", READ_CONTROL, DOC_ACL "getsecurityinfo"},
    {WIN_CALL_FILE_SET_DACL, "SetSecurityInfo(DACL)", WRITE_DAC, DOC_ACL "setsecurityinfo"},
    {WIN_CALL_FILE_SET_OWNER, "SetSecurityInfo(OWNER)", WRITE_OWNER, DOC_ACL "setsecurityinfo"},
    {WIN_CALL_FILE_DELETE_HANDLE, "SetFileInformationByHandle(FileDispositionInfo)", DELETE,
     "https://learn.microsoft.com/en-us/windows/win32/api/winbase/ns-winbase-file_disposition_info"},
};

/* The calls made on each handle bitsguard opens (one list per purpose, in win_open order). */
static const win_call calls_scm[] = {WIN_CALL_SCM_OPEN_SERVICE};
static const win_call calls_scm_install[] = {WIN_CALL_SCM_CREATE_SERVICE, WIN_CALL_SCM_OPEN_SERVICE};
static const win_call calls_svc_setup[] = {WIN_CALL_SVC_QUERY_CONFIG, WIN_CALL_SVC_CHANGE_CONFIG,
                                           WIN_CALL_SVC_CHANGE_CONFIG2, WIN_CALL_SVC_CHANGE_CONFIG2_RESTART};
static const win_call calls_svc_start[] = {WIN_CALL_SVC_START, WIN_CALL_SVC_QUERY_STATUS};
static const win_call calls_svc_stop[] = {WIN_CALL_SVC_QUERY_STATUS, WIN_CALL_SVC_CONTROL_STOP};
static const win_call calls_svc_uninstall[] = {WIN_CALL_SVC_QUERY_STATUS, WIN_CALL_SVC_CONTROL_STOP,
                                               WIN_CALL_SVC_DELETE};
static const win_call calls_svc_reload[] = {WIN_CALL_SVC_CONTROL_PARAMCHANGE};
static const win_call calls_svc_eventlog[] = {WIN_CALL_SVC_QUERY_STATUS};
static const win_call calls_reg_event_source[] = {WIN_CALL_REG_SET_VALUE};
static const win_call calls_reg_config[] = {WIN_CALL_REG_QUERY_VALUE};
static const win_call calls_data_folder[] = {WIN_CALL_FILE_SET_OWNER, WIN_CALL_FILE_SET_DACL,
                                             WIN_CALL_FILE_GET_SECURITY};
static const win_call calls_data_file[] = {WIN_CALL_FILE_SET_OWNER, WIN_CALL_FILE_SET_DACL, WIN_CALL_FILE_GET_SECURITY};
static const win_call calls_data_file_delete[] = {WIN_CALL_FILE_DELETE_HANDLE};
static const win_call calls_svc_selftest[] = {WIN_CALL_SVC_QUERY_STATUS};
static const win_call calls_reg_status[] = {WIN_CALL_REG_QUERY_VALUE, WIN_CALL_REG_SET_VALUE};
static const win_call calls_reg_status_setup[] = {WIN_CALL_REG_SET_SECURITY};

#define PROFILE(o, what, calls)                        \
    {                                                  \
        o, what, calls, sizeof calls / sizeof calls[0] \
    }
static const win_open_profile win_open_table[WIN_OPEN_COUNT] = {
    PROFILE(WIN_OPEN_SCM, "Service Control Manager", calls_scm),
    PROFILE(WIN_OPEN_SCM_INSTALL, "Service Control Manager (install)", calls_scm_install),
    PROFILE(WIN_OPEN_SVC_SETUP, "bitsguard service (install, setup)", calls_svc_setup),
    PROFILE(WIN_OPEN_SVC_START, "bitsguard service (start)", calls_svc_start),
    PROFILE(WIN_OPEN_SVC_STOP, "bitsguard service (stop)", calls_svc_stop),
    PROFILE(WIN_OPEN_SVC_UNINSTALL, "bitsguard service (uninstall)", calls_svc_uninstall),
    PROFILE(WIN_OPEN_SVC_RELOAD, "bitsguard service (reload)", calls_svc_reload),
    PROFILE(WIN_OPEN_SVC_EVENTLOG, "EventLog service (process id)", calls_svc_eventlog),
    PROFILE(WIN_OPEN_REG_EVENT_SOURCE, "event source registry key", calls_reg_event_source),
    PROFILE(WIN_OPEN_REG_CONFIG, "configuration registry keys", calls_reg_config),
    PROFILE(WIN_OPEN_DATA_FOLDER, "data folder", calls_data_folder),
    PROFILE(WIN_OPEN_DATA_FILE, "store file (ACL reset)", calls_data_file),
    PROFILE(WIN_OPEN_DATA_FILE_DELETE, "store file (removal)", calls_data_file_delete),
    PROFILE(WIN_OPEN_SVC_SELFTEST, "bitsguard service (selftest)", calls_svc_selftest),
    PROFILE(WIN_OPEN_REG_STATUS, "Status registry key (service)", calls_reg_status),
    PROFILE(WIN_OPEN_REG_STATUS_SETUP, "Status registry key (setup)", calls_reg_status_setup),
};

const win_open_profile *win_open_profile_get(win_open open)
{
    if ((unsigned)open >= WIN_OPEN_COUNT)
        return NULL;
    return &win_open_table[open];
}

DWORD win_open_access(win_open open)
{
    const win_open_profile *p = win_open_profile_get(open);
    return p ? win_access_for(p->calls, p->ncalls) : 0;
}

const win_access_rule *win_access_rule_get(win_call call)
{
    if ((unsigned)call >= WIN_CALL_COUNT)
        return NULL;
    return &win_access_table[call];
}

DWORD win_access_for(const win_call *calls, size_t n)
{
    DWORD need = 0;
    for (size_t i = 0; i < n; i++) {
        const win_access_rule *r = win_access_rule_get(calls[i]);
        if (r)
            need |= r->need;
    }
    return need;
}

int win_access_check(DWORD granted, win_call call)
{
    const win_access_rule *r = win_access_rule_get(call);
    if (!r) {
        SetLastError(ERROR_INVALID_PARAMETER);
        return 0;
    }
    DWORD missing = r->need & ~granted;
    if (missing == 0)
        return 1;
    /* A programming error, reported the way Windows reports it, so Wine runs fail where Windows would. */
    fprintf(stderr, "bitsguard: %s needs access 0x%lx on its handle, opened with 0x%lx (missing 0x%lx; %s)\n", r->name,
            (unsigned long)r->need, (unsigned long)granted, (unsigned long)missing, r->doc);
    SetLastError(ERROR_ACCESS_DENIED);
    return 0;
}
