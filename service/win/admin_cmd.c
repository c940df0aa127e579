/* Administration without the MSI: the install, uninstall, start, stop, reload, setup and teardown commands. */
#include <windows.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "admin.h"
#include "bg_error.h"
#include "bg_version.h"
#include "cli.h"
#include "cli_opt.h"
#include "win_access.h"
#include "win_service.h"
#include "win_util.h"

/* How long start/stop wait for the service to reach the requested state. */
#define ADMIN_WAIT_MS 30000u

/* The step log of setup and teardown: Windows Installer logs only a custom action's exit code, not its
 * output, so while admin_log_begin is in effect every step is also kept here and written to a file in the
 * data folder at the end (admin_log_end). Bounded: a runaway step list cannot grow it past the cap. */
#define ADMIN_LOG_MAX (256u * 1024u)
static char *admin_log_text;
static size_t admin_log_len, admin_log_cap;
static int admin_log_on;

static void admin_log_add(const char *line)
{
    size_t n = strlen(line);
    if (!admin_log_on || admin_log_len + n + 1 > ADMIN_LOG_MAX)
        return;
    if (admin_log_len + n + 1 > admin_log_cap) {
        size_t cap = admin_log_cap ? admin_log_cap * 2 : 4096;
        while (cap < admin_log_len + n + 1)
            cap *= 2;
        char *grown = realloc(admin_log_text, cap);
        if (!grown)
            return;
        admin_log_text = grown;
        admin_log_cap = cap;
    }
    memcpy(admin_log_text + admin_log_len, line, n + 1);
    admin_log_len += n;
}

/* Prints a line (with its newline) and keeps it for the step log. */
static void admin_say(const char *line)
{
    fputs(line, stdout);
    fflush(stdout);
    admin_log_add(line);
}

/* One step's outcome, printed as the step runs so an installer log shows how far it went. */
void admin_step_print(const char *what, const char *status, const char *detail)
{
    char line[1200];
    snprintf(line, sizeof line, "  %-34s %s%s%s\n", what, status, detail && detail[0] ? ": " : "",
             detail ? detail : "");
    admin_say(line);
}

static void admin_log_begin(const char *cmd)
{
    char line[160];
    SYSTEMTIME t;
    GetSystemTime(&t);
    admin_log_on = 1;
    admin_log_len = 0;
    snprintf(line, sizeof line, "bitsguard %s (version %s) at %04u-%02u-%02uT%02u:%02u:%02uZ:\n", cmd, BG_VERSION,
             t.wYear, t.wMonth, t.wDay, t.wHour, t.wMinute, t.wSecond);
    admin_log_add(line);
    printf("bitsguard %s:\n", cmd);
}

/*
 * Writes the step log to <data folder>\name (setup.log, teardown.log), replacing an older one. Never through
 * a link: a folder that is a reparse point is skipped, an existing file is deleted through a handle that
 * does not follow links, and the new one is created with CREATE_NEW, so nothing planted is followed.
 * Not written when the data folder does not exist (teardown after --remove-data).
 */
static void admin_log_end(const wchar_t *name, const char *last)
{
    wchar_t folder[MAX_PATH], path[MAX_PATH + 32];
    admin_say(last);
    admin_log_on = 0;
    if (!win_data_folder(folder, MAX_PATH))
        goto cleanup;
    DWORD attr = GetFileAttributesW(folder);
    if (attr == INVALID_FILE_ATTRIBUTES || !(attr & FILE_ATTRIBUTE_DIRECTORY) || (attr & FILE_ATTRIBUTE_REPARSE_POINT))
        goto cleanup;
    _snwprintf(path, sizeof path / sizeof path[0], L"%ls\\%ls", folder, name);
    path[sizeof path / sizeof path[0] - 1] = L'\0';
    HANDLE old = admin_path_open_nofollow(path, win_open_access(WIN_OPEN_DATA_FILE_DELETE));
    if (old != INVALID_HANDLE_VALUE) {
        FILE_DISPOSITION_INFO del = {TRUE};
        if (win_access_check(win_open_access(WIN_OPEN_DATA_FILE_DELETE), WIN_CALL_FILE_DELETE_HANDLE))
            SetFileInformationByHandle(old, FileDispositionInfo, &del, sizeof del);
        CloseHandle(old);
    }
    HANDLE h = CreateFileW(path, GENERIC_WRITE, 0, NULL, CREATE_NEW,
                           FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OPEN_REPARSE_POINT, NULL);
    if (h == INVALID_HANDLE_VALUE) {
        char text[200];
        fprintf(stderr, "bitsguard: the step log was not written: %s\n",
                win_error_text(GetLastError(), text, sizeof text));
        goto cleanup;
    }
    DWORD put = 0;
    if (admin_log_len)
        WriteFile(h, admin_log_text, (DWORD)admin_log_len, &put, NULL);
    CloseHandle(h);
cleanup:
    free(admin_log_text);
    admin_log_text = NULL;
    admin_log_len = admin_log_cap = 0;
}

void admin_step_failed(const char *what, DWORD err)
{
    char text[200];
    admin_step_print(what, "FAILED", win_error_text(err, text, sizeof text));
}

/* The SCM opened for purpose (WIN_OPEN_SCM or WIN_OPEN_SCM_INSTALL), with the rights its calls need. */
static SC_HANDLE scm_open(win_open purpose)
{
    SC_HANDLE scm = OpenSCManagerW(NULL, NULL, win_open_access(purpose));
    if (!scm) {
        char text[200];
        fprintf(stderr, "bitsguard: cannot open the Service Control Manager: %s%s\n",
                win_error_text(GetLastError(), text, sizeof text),
                GetLastError() == ERROR_ACCESS_DENIED ? " (run as Administrator)" : "");
    }
    return scm;
}

/* Our service, opened through an SCM handle of kind WIN_OPEN_SCM for purpose, with the rights its calls need. */
static SC_HANDLE service_open(SC_HANDLE scm, win_open purpose)
{
    SC_HANDLE svc = win_access_check(win_open_access(WIN_OPEN_SCM), WIN_CALL_SCM_OPEN_SERVICE)
                        ? OpenServiceW(scm, WIN_SERVICE_NAME, win_open_access(purpose))
                        : NULL;
    if (!svc) {
        char text[200];
        DWORD err = GetLastError();
        fprintf(stderr, "bitsguard: cannot open the service: %s%s\n", win_error_text(err, text, sizeof text),
                err == ERROR_SERVICE_DOES_NOT_EXIST ? " (run 'bitsguard install' first)" : "");
    }
    return svc;
}

static int setup_run(void)
{
    int status = CLI_EXIT_ERROR;
    SC_HANDLE scm = scm_open(WIN_OPEN_SCM);
    SC_HANDLE svc = scm ? service_open(scm, WIN_OPEN_SVC_SETUP) : NULL;
    if (svc) {
        admin_log_begin("setup");
        status = admin_service_setup(svc, win_open_access(WIN_OPEN_SVC_SETUP)) ? CLI_EXIT_OK : CLI_EXIT_ERROR;
        /* After the data folder is secured: the database is created inside its ACL. */
        if (status == CLI_EXIT_OK)
            admin_inventory_store();
        admin_log_end(L"" ADMIN_LOG_SETUP,
                      status == CLI_EXIT_OK ? "bitsguard setup: done\n" : "bitsguard setup: FAILED (see above)\n");
    }
    if (svc)
        CloseServiceHandle(svc);
    if (scm)
        CloseServiceHandle(scm);
    return status;
}

static int teardown_run(void)
{
    admin_log_begin("teardown");
    LSTATUS rc = RegDeleteKeyExW(HKEY_LOCAL_MACHINE, EVENTLOG_SOURCE_KEY, KEY_WOW64_64KEY, 0);
    int ok = rc == ERROR_SUCCESS || rc == ERROR_FILE_NOT_FOUND;
    if (ok)
        admin_step_print("remove event source", "ok", rc == ERROR_FILE_NOT_FOUND ? "was not registered" : NULL);
    else
        admin_step_failed("remove event source", (DWORD)rc);
    if (!admin_status_key_remove())
        ok = 0;
    admin_channel_access_grant(0);
    admin_log_end(L"" ADMIN_LOG_TEARDOWN, ok ? "bitsguard teardown: done (the data folder is kept)\n"
                                             : "bitsguard teardown: FAILED (the data folder is kept)\n");
    return ok ? CLI_EXIT_OK : CLI_EXIT_ERROR;
}

/* Parses the command line of an administration command (opts may be NULL: options none); returns 1 when
 * the command must end with *status (after --help or a usage error), 0 to go on. */
static int args_parse(const char *cmd, const cli_opt *opts, const char *about, int argc, char **argv, int *status)
{
    const cli_spec spec = {cmd, NULL, about, opts, NULL};
    return cli_opt_parse(&spec, argc, argv, status) < 0;
}

int win_setup_main(int argc, char **argv)
{
    int status = CLI_EXIT_OK;
    if (args_parse("setup", NULL,
                   "Applies to the installed service what the MSI cannot: description, service SID,\n"
                   "privileges, recovery, delayed start, preshutdown, data folder ACL, event source,\n"
                   "read access to the Bits-Client channel; then stores the flagged BITS jobs that\n"
                   "already exist (bitsguard jobs) in the service's database, once.",
                   argc, argv, &status))
        return status;
    return setup_run();
}

int win_teardown_main(int argc, char **argv)
{
    int remove_data = 0, parsed = CLI_EXIT_OK;
    const cli_opt opts[] = {
        {"remove-data", CLI_OPT_FLAG, &remove_data, NULL, NULL,
         "also delete the data folder (the MSI passes it when REMOVE_DATA=1)"},
        {NULL, 0, NULL, NULL, NULL, NULL},
    };
    if (args_parse("teardown", opts, "Undoes setup.", argc, argv, &parsed))
        return parsed;
    int status = teardown_run();
    if (remove_data) {
        if (!admin_data_folder_remove())
            status = CLI_EXIT_ERROR;
    }
    return status;
}

/* --start auto|demand of install (a cli_opt_fn). */
static int start_type_set(void *dest, const char *value, char *why, size_t why_len)
{
    DWORD *start_type = dest;
    if (strcmp(value, "auto") == 0)
        *start_type = SERVICE_AUTO_START;
    else if (strcmp(value, "demand") == 0)
        *start_type = SERVICE_DEMAND_START;
    else {
        snprintf(why, why_len, "must be auto or demand");
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

int win_install_main(int argc, char **argv)
{
    DWORD start_type = SERVICE_AUTO_START;
    int parsed = CLI_EXIT_OK;
    const cli_opt opts[] = {
        {"start", CLI_OPT_CALL, &start_type, start_type_set, "auto|demand", "how the service starts (default: auto)"},
        {NULL, 0, NULL, NULL, NULL, NULL},
    };
    if (args_parse("install", opts,
                   "Creates the service (LocalService, auto-start by default) running this executable,\n"
                   "then applies setup. Start it with 'bitsguard start'.",
                   argc, argv, &parsed))
        return parsed;
    wchar_t exe[MAX_PATH], cmd[MAX_PATH + 16];
    if (!win_module_path(exe, MAX_PATH)) {
        cli_error("install", "cannot find this executable's path");
        return CLI_EXIT_ERROR;
    }
    /* Quoted: an unquoted path with spaces lets C:\Program.exe run as the service (CWE-428). */
    _snwprintf(cmd, sizeof cmd / sizeof cmd[0], L"\"%ls\" service", exe);
    cmd[sizeof cmd / sizeof cmd[0] - 1] = L'\0';

    SC_HANDLE scm = scm_open(WIN_OPEN_SCM_INSTALL);
    if (!scm)
        return CLI_EXIT_ERROR;
    printf("bitsguard install:\n");
    const DWORD scm_granted = win_open_access(WIN_OPEN_SCM_INSTALL), granted = win_open_access(WIN_OPEN_SVC_SETUP);
    SC_HANDLE svc = win_access_check(scm_granted, WIN_CALL_SCM_CREATE_SERVICE)
                        ? CreateServiceW(scm, WIN_SERVICE_NAME, WIN_SERVICE_DISPLAY_NAME, granted,
                                         SERVICE_WIN32_OWN_PROCESS, start_type, SERVICE_ERROR_NORMAL, cmd, NULL, NULL,
                                         NULL, L"NT AUTHORITY\\LocalService", NULL)
                        : NULL;
    int status = CLI_EXIT_ERROR;
    if (!svc && GetLastError() == ERROR_SERVICE_EXISTS) {
        admin_step_print("create service", "exists", "checking its account and path; applying setup");
        svc = win_access_check(scm_granted, WIN_CALL_SCM_OPEN_SERVICE) ? OpenServiceW(scm, WIN_SERVICE_NAME, granted)
                                                                       : NULL;
        if (svc && !admin_service_config_verify(svc, granted, cmd))
            goto cleanup;
    } else if (svc) {
        char *u = bg_utf8_from_utf16(cmd);
        admin_step_print("create service", "ok", u);
        free(u);
    }
    if (!svc) {
        admin_step_failed("create service", GetLastError());
        goto cleanup;
    }
    status = admin_service_setup(svc, granted) ? CLI_EXIT_OK : CLI_EXIT_ERROR;
    printf("bitsguard install: %s\n", status == CLI_EXIT_OK ? "done; start it with 'bitsguard start'" : "FAILED");
cleanup:
    if (svc)
        CloseServiceHandle(svc);
    CloseServiceHandle(scm);
    return status;
}

/* Polls the state until it is `want` or the bound passes (admin commands only; the service never polls). */
static int service_wait_state(SC_HANDLE svc, DWORD granted, DWORD want, SERVICE_STATUS_PROCESS *st, DWORD *elapsed_ms)
{
    ULONGLONG start = GetTickCount64();
    memset(st, 0, sizeof *st);
    for (;;) {
        DWORD need = 0;
        if (!win_access_check(granted, WIN_CALL_SVC_QUERY_STATUS) ||
            !QueryServiceStatusEx(svc, SC_STATUS_PROCESS_INFO, (LPBYTE)st, sizeof *st, &need))
            return 0;
        *elapsed_ms = (DWORD)(GetTickCount64() - start);
        if (st->dwCurrentState == want)
            return 1;
        if (want == SERVICE_RUNNING && st->dwCurrentState == SERVICE_STOPPED)
            return 0;
        if (*elapsed_ms >= ADMIN_WAIT_MS)
            return 0;
        Sleep(100);
    }
}

static void exit_code_print(const SERVICE_STATUS_PROCESS *st)
{
    if (st->dwWin32ExitCode == ERROR_SERVICE_SPECIFIC_ERROR)
        fprintf(stderr, "bitsguard: the service exited with bitsguard error %lu (%s)\n",
                (unsigned long)st->dwServiceSpecificExitCode, bg_error_name((bg_error)st->dwServiceSpecificExitCode));
    else if (st->dwWin32ExitCode != NO_ERROR) {
        char text[200];
        fprintf(stderr, "bitsguard: the service exited with %s\n",
                win_error_text(st->dwWin32ExitCode, text, sizeof text));
    }
}

/* Stops the service if it runs. Returns 1 when it is stopped (or was not running). */
static int service_stop(SC_HANDLE svc, DWORD granted)
{
    SERVICE_STATUS_PROCESS st;
    DWORD elapsed = 0, need = 0;
    if (!win_access_check(granted, WIN_CALL_SVC_QUERY_STATUS) ||
        !QueryServiceStatusEx(svc, SC_STATUS_PROCESS_INFO, (LPBYTE)&st, sizeof st, &need)) {
        admin_step_failed("stop service", GetLastError());
        return 0;
    }
    if (st.dwCurrentState == SERVICE_STOPPED) {
        admin_step_print("stop service", "ok", "was not running");
        return 1;
    }
    SERVICE_STATUS ss;
    if (!win_access_check(granted, WIN_CALL_SVC_CONTROL_STOP)) {
        admin_step_failed("stop service", GetLastError());
        return 0;
    }
    if (!ControlService(svc, SERVICE_CONTROL_STOP, &ss) && GetLastError() != ERROR_SERVICE_NOT_ACTIVE) {
        admin_step_failed("stop service", GetLastError());
        return 0;
    }
    if (!service_wait_state(svc, granted, SERVICE_STOPPED, &st, &elapsed)) {
        char why[64];
        snprintf(why, sizeof why, "still not stopped after %u s", ADMIN_WAIT_MS / 1000);
        admin_step_print("stop service", "FAILED", why);
        return 0;
    }
    char detail[64];
    snprintf(detail, sizeof detail, "stopped in %lu ms", (unsigned long)elapsed);
    admin_step_print("stop service", "ok", detail);
    exit_code_print(&st);
    return 1;
}

int win_stop_main(int argc, char **argv)
{
    int parsed = CLI_EXIT_OK;
    if (args_parse("stop", NULL, "Stops the service and waits until it has stopped.", argc, argv, &parsed))
        return parsed;
    SC_HANDLE scm = scm_open(WIN_OPEN_SCM);
    SC_HANDLE svc = scm ? service_open(scm, WIN_OPEN_SVC_STOP) : NULL;
    int status = svc && service_stop(svc, win_open_access(WIN_OPEN_SVC_STOP)) ? CLI_EXIT_OK : CLI_EXIT_ERROR;
    if (svc)
        CloseServiceHandle(svc);
    if (scm)
        CloseServiceHandle(scm);
    return status;
}

int win_start_main(int argc, char **argv)
{
    int parsed = CLI_EXIT_OK;
    if (args_parse("start", NULL, "Starts the service and waits until it runs.", argc, argv, &parsed))
        return parsed;
    int status = CLI_EXIT_ERROR;
    SC_HANDLE scm = scm_open(WIN_OPEN_SCM);
    SC_HANDLE svc = scm ? service_open(scm, WIN_OPEN_SVC_START) : NULL;
    const DWORD granted = win_open_access(WIN_OPEN_SVC_START);
    if (!svc)
        goto cleanup;
    if (!win_access_check(granted, WIN_CALL_SVC_START) ||
        (!StartServiceW(svc, 0, NULL) && GetLastError() != ERROR_SERVICE_ALREADY_RUNNING)) {
        admin_step_failed("start service", GetLastError());
        goto cleanup;
    }
    SERVICE_STATUS_PROCESS st;
    DWORD elapsed = 0;
    if (!service_wait_state(svc, granted, SERVICE_RUNNING, &st, &elapsed)) {
        char why[64];
        snprintf(why, sizeof why, "not running after %u s", ADMIN_WAIT_MS / 1000);
        admin_step_print("start service", "FAILED", st.dwCurrentState == SERVICE_STOPPED ? "it stopped" : why);
        exit_code_print(&st);
        goto cleanup;
    }
    char detail[64];
    snprintf(detail, sizeof detail, "running (pid %lu) after %lu ms", (unsigned long)st.dwProcessId,
             (unsigned long)elapsed);
    admin_step_print("start service", "ok", detail);
    status = CLI_EXIT_OK;
cleanup:
    if (svc)
        CloseServiceHandle(svc);
    if (scm)
        CloseServiceHandle(scm);
    return status;
}

int win_uninstall_main(int argc, char **argv)
{
    int remove_data = 0, parsed = CLI_EXIT_OK;
    const cli_opt opts[] = {
        {"remove-data", CLI_OPT_FLAG, &remove_data, NULL, NULL, "also delete the database and the data folder"},
        {NULL, 0, NULL, NULL, NULL, NULL},
    };
    if (args_parse("uninstall", opts,
                   "Stops and deletes the service and undoes setup. The database in %ProgramData%\\bitsguard\n"
                   "is kept unless --remove-data is given.",
                   argc, argv, &parsed))
        return parsed;
    int status = CLI_EXIT_ERROR;
    SC_HANDLE svc = NULL;
    SC_HANDLE scm = scm_open(WIN_OPEN_SCM);
    const DWORD granted = win_open_access(WIN_OPEN_SVC_UNINSTALL);
    if (!scm)
        goto cleanup;
    printf("bitsguard uninstall:\n");
    /* A service that is already gone is not an error: teardown and --remove-data still apply, so
     * uninstall can be repeated (or finish what an interrupted run left). */
    int stopped = 1;
    SC_HANDLE svc_handle = win_access_check(win_open_access(WIN_OPEN_SCM), WIN_CALL_SCM_OPEN_SERVICE)
                               ? OpenServiceW(scm, WIN_SERVICE_NAME, granted)
                               : NULL;
    if (svc_handle) {
        svc = svc_handle;
        /* Deleted even when it does not stop (hung, or crashed while the SCM still shows it running):
         * the SCM then removes it as soon as it stops, and the admin is told. */
        stopped = service_stop(svc, granted);
        if (!win_access_check(granted, WIN_CALL_SVC_DELETE) ||
            (!DeleteService(svc) && GetLastError() != ERROR_SERVICE_MARKED_FOR_DELETE)) {
            admin_step_failed("delete service", GetLastError());
            goto cleanup;
        }
        admin_step_print("delete service", "ok", stopped ? NULL : "marked for deletion; removed when it stops");
    } else if (GetLastError() == ERROR_SERVICE_DOES_NOT_EXIST) {
        admin_step_print("delete service", "ok", "was not installed");
    } else {
        admin_step_failed("open service", GetLastError());
        goto cleanup;
    }
    status = teardown_run();
    if (!stopped)
        status = CLI_EXIT_ERROR;
    if (remove_data) {
        if (!admin_data_folder_remove())
            status = CLI_EXIT_ERROR;
    }
cleanup:
    if (svc)
        CloseServiceHandle(svc);
    if (scm)
        CloseServiceHandle(scm);
    return status;
}

int win_reload_main(int argc, char **argv)
{
    int parsed = CLI_EXIT_OK;
    if (args_parse("reload", NULL,
                   "Asks the running service to reload its configuration from the registry\n"
                   "(SERVICE_CONTROL_PARAMCHANGE, as 'sc control bitsguard paramchange').",
                   argc, argv, &parsed))
        return parsed;
    int status = CLI_EXIT_ERROR;
    SC_HANDLE scm = scm_open(WIN_OPEN_SCM);
    /* PARAMCHANGE needs the pause/continue right (win_access.c). */
    SC_HANDLE svc = scm ? service_open(scm, WIN_OPEN_SVC_RELOAD) : NULL;
    SERVICE_STATUS ss;
    if (svc && win_access_check(win_open_access(WIN_OPEN_SVC_RELOAD), WIN_CALL_SVC_CONTROL_PARAMCHANGE) &&
        ControlService(svc, SERVICE_CONTROL_PARAMCHANGE, &ss)) {
        admin_step_print("reload configuration", "ok", "requested");
        status = CLI_EXIT_OK;
    } else if (svc) {
        admin_step_failed("reload configuration", GetLastError());
    }
    if (svc)
        CloseServiceHandle(svc);
    if (scm)
        CloseServiceHandle(scm);
    return status;
}
