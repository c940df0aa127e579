/* Shared by the administration commands' files (admin_*.c) only: the step log and the security helpers. */
#ifndef BG_WIN_ADMIN_H
#define BG_WIN_ADMIN_H

#include <windows.h>

#include <stddef.h>

#include "win_service.h"

/* The Event Log source of the service (Application log): registered by setup, deleted by teardown. */
#define EVENTLOG_SOURCE_KEY L"SYSTEM\\CurrentControlSet\\Services\\EventLog\\Application\\" WIN_SERVICE_NAME

/* The step logs setup and teardown leave in the data folder (Windows Installer does not log a custom
 * action's output); uninstall --remove-data deletes them with the store's files. */
#define ADMIN_LOG_SETUP    "setup.log"
#define ADMIN_LOG_TEARDOWN "teardown.log"

/* admin_cmd.c: one step's outcome, printed as the step runs so an installer log shows how far it went. */
void admin_step_print(const char *what, const char *status, const char *detail);
void admin_step_failed(const char *what, DWORD err);

/* admin_security.c */
/* The service SID (NT SERVICE\bitsguard) as SDDL text into out (len characters). 1 on success. */
int admin_service_sid(wchar_t *out, size_t len);
/* 1 under Wine (only to downgrade the failures Wine is known to produce into warnings). */
int admin_on_wine(void);
/* Compares two DACLs ACE by ACE; 1 when equal, else 0 with why set. */
int admin_dacl_equal(PACL a, PACL b, char *why, size_t len);
/* The final path of an open handle ("\\?\C:\..."); 0 on failure. */
int admin_handle_final_path(HANDLE h, wchar_t *out, DWORD len);
/* Opens path itself, never what a final reparse point names; INVALID_HANDLE_VALUE on failure. */
HANDLE admin_path_open_nofollow(const wchar_t *path, DWORD access);
/* Why the object opened as h is not a plain file (want_dir 0) or folder (1) whose final path is
 * expected: NULL when it is. */
const char *admin_handle_link_reason(HANDLE h, const wchar_t *path, const wchar_t *expected, int want_dir);
/* Enables a privilege in this process's token; failure shows in the operation that needs it. */
void admin_privilege_enable(const wchar_t *name);
/* Prints a refusal naming the object, the reason and what the administrator should do. */
void admin_link_refused(const char *what, const wchar_t *path, const char *reason, const char *hint);

/* admin_datadir.c: secures the data folder and the store's files in it (1 when all went well);
 * removes the store's files and the folder (1 when it is gone or was never there). Both print. */
int admin_data_folder_secure(void);
int admin_data_folder_remove(void);

/* admin_channel.c: read access to the Bits-Client channel for the service SID (add 1) or its removal
 * (add 0). Never fatal: prints a warning where the channel cannot be configured. */
void admin_channel_access_grant(int add);

/* admin_status.c: the Status key the service writes its summary under (CMPivot): created with its own
 * protected DACL (1 when it is in place), removed by teardown (1 when gone or never there). Both print. */
int admin_status_key_setup(void);
int admin_status_key_remove(void);

/* admin_setup.c: what the MSI cannot express, applied to an existing service (1 when nothing failed);
 * an existing service kept only with our account and image path cmd (1 when it is, now, ours). granted:
 * the rights svc was opened with (win_open_access(WIN_OPEN_SVC_SETUP)), checked before every call. */
int admin_service_setup(SC_HANDLE svc, DWORD granted);
int admin_service_config_verify(SC_HANDLE svc, DWORD granted, const wchar_t *cmd);

/* admin_inventory.c: stores the flagged BITS jobs that exist now in the service's database (once: a stored
 * job is never stored again); never fails setup, says what it did or why it skipped. */
void admin_inventory_store(void);

#endif
