/* The access right Microsoft documents for each SCM, registry and security call bitsguard makes, and the check of a
 * handle against it. */
#ifndef BG_WIN_ACCESS_H
#define BG_WIN_ACCESS_H

#include <windows.h>

#include <stddef.h>

/*
 * Why: Wine checks no service access rights, so a handle opened without a right that one of its calls
 * needs works in every test and fails on Windows (ChangeServiceConfig2W with SC_ACTION_RESTART needs
 * SERVICE_START: setup failed with error 5 and the MSI rolled back). Every handle bitsguard opens is
 * therefore opened with the rights computed from the calls it will make (win_access_for), and every call
 * is checked against the rights its handle was opened with (win_access_check), which fails the way
 * Windows would, under Wine too.
 */
typedef enum win_call {
    /* On the Service Control Manager handle. */
    WIN_CALL_SCM_OPEN_SERVICE,   /* OpenServiceW: SC_MANAGER_CONNECT */
    WIN_CALL_SCM_CREATE_SERVICE, /* CreateServiceW: SC_MANAGER_CREATE_SERVICE */
    /* On a service handle. */
    WIN_CALL_SVC_QUERY_CONFIG,           /* QueryServiceConfigW: SERVICE_QUERY_CONFIG */
    WIN_CALL_SVC_CHANGE_CONFIG,          /* ChangeServiceConfigW: SERVICE_CHANGE_CONFIG */
    WIN_CALL_SVC_CHANGE_CONFIG2,         /* ChangeServiceConfig2W, any other level: SERVICE_CHANGE_CONFIG */
    WIN_CALL_SVC_CHANGE_CONFIG2_RESTART, /* ChangeServiceConfig2W(FAILURE_ACTIONS) with SC_ACTION_RESTART:
                                          * SERVICE_CHANGE_CONFIG | SERVICE_START */
    WIN_CALL_SVC_QUERY_STATUS,           /* QueryServiceStatusEx: SERVICE_QUERY_STATUS */
    WIN_CALL_SVC_START,                  /* StartServiceW: SERVICE_START */
    WIN_CALL_SVC_CONTROL_STOP,           /* ControlService(SERVICE_CONTROL_STOP): SERVICE_STOP */
    WIN_CALL_SVC_CONTROL_PARAMCHANGE,    /* ControlService(SERVICE_CONTROL_PARAMCHANGE): SERVICE_PAUSE_CONTINUE */
    WIN_CALL_SVC_DELETE,                 /* DeleteService: DELETE */
    /* On a registry key. */
    WIN_CALL_REG_QUERY_VALUE,  /* RegQueryValueExW: KEY_QUERY_VALUE */
    WIN_CALL_REG_SET_VALUE,    /* RegSetValueExW: KEY_SET_VALUE */
    WIN_CALL_REG_SET_SECURITY, /* RegSetKeySecurity(DACL): WRITE_DAC */
    /* On a file or folder handle. */
    WIN_CALL_FILE_GET_SECURITY,  /* GetSecurityInfo(OWNER | DACL): READ_CONTROL */
    WIN_CALL_FILE_SET_DACL,      /* SetSecurityInfo(DACL): WRITE_DAC */
    WIN_CALL_FILE_SET_OWNER,     /* SetSecurityInfo(OWNER): WRITE_OWNER */
    WIN_CALL_FILE_DELETE_HANDLE, /* SetFileInformationByHandle(FileDispositionInfo): DELETE */
    WIN_CALL_COUNT
} win_call;

typedef struct win_access_rule {
    win_call call;
    const char *name; /* The call as the documentation names it. */
    DWORD need;       /* The access rights the documentation requires on the handle. */
    const char *doc;  /* Where Microsoft documents it. */
} win_access_rule;

/* Every handle bitsguard opens, by purpose: the calls it makes on it decide the rights it is opened with. */
typedef enum win_open {
    WIN_OPEN_SCM,              /* OpenSCManagerW to open our service or the EventLog service */
    WIN_OPEN_SCM_INSTALL,      /* OpenSCManagerW for install: create or open the service */
    WIN_OPEN_SVC_SETUP,        /* CreateServiceW / OpenServiceW for install and setup */
    WIN_OPEN_SVC_START,        /* OpenServiceW for `bitsguard start` */
    WIN_OPEN_SVC_STOP,         /* OpenServiceW for `bitsguard stop` */
    WIN_OPEN_SVC_UNINSTALL,    /* OpenServiceW for uninstall: stop, then delete */
    WIN_OPEN_SVC_RELOAD,       /* OpenServiceW for `bitsguard reload` */
    WIN_OPEN_SVC_EVENTLOG,     /* OpenServiceW of the EventLog service: its process id (safety net) */
    WIN_OPEN_REG_EVENT_SOURCE, /* RegCreateKeyExW of the event source key (setup) */
    WIN_OPEN_REG_CONFIG,       /* RegOpenKeyExW of the configuration and policy keys */
    WIN_OPEN_DATA_FOLDER,      /* CreateFileW of the data folder: its owner and protected DACL, read back */
    WIN_OPEN_DATA_FILE,        /* CreateFileW of a store file: its owner and DACL reset, read back */
    WIN_OPEN_DATA_FILE_DELETE, /* CreateFileW of a store file deleted by uninstall --remove-data */
    WIN_OPEN_SVC_SELFTEST,     /* OpenServiceW for `bitsguard selftest`: is the service running */
    WIN_OPEN_REG_STATUS,       /* RegOpenKeyExW of the Status key by the service: compare, then write */
    WIN_OPEN_REG_STATUS_SETUP, /* RegCreateKeyExW of the Status key by setup: its DACL */
    WIN_OPEN_COUNT
} win_open;

typedef struct win_open_profile {
    win_open open;
    const char *what;
    const win_call *calls; /* The calls made on the handle. */
    size_t ncalls;
} win_open_profile;

/* The profile of open (never NULL for a valid one). */
const win_open_profile *win_open_profile_get(win_open open);

/* The access rights to request for open: every right its calls need, and nothing more. */
DWORD win_open_access(win_open open);

/* The table's row for call (never NULL for a valid call). */
const win_access_rule *win_access_rule_get(win_call call);

/* The access rights a handle needs for every call in calls[0..n): what its open must request. */
DWORD win_access_for(const win_call *calls, size_t n);

/*
 * Whether a handle opened with `granted` may make `call`: 1 if so; else 0, SetLastError(ERROR_ACCESS_DENIED)
 * (what Windows answers) and a line on stderr naming the call and the missing rights, so the mistake is
 * found under Wine too, which checks no service access rights.
 */
int win_access_check(DWORD granted, win_call call);

#endif
