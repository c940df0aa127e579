/* Windows service shell of bitsguard: names shared by the service, installer and run mode, and the command entry
 * points. */
#ifndef BG_WIN_SERVICE_H
#define BG_WIN_SERVICE_H

#include "store.h"

/* The service name is also the Event Log source and the name of the service SID (NT SERVICE\bitsguard). */
#define WIN_SERVICE_NAME         L"bitsguard"
#define WIN_SERVICE_DISPLAY_NAME L"bitsguard BITS direct-IP detector"
#define WIN_SERVICE_DESCRIPTION                                                                             \
    L"Watches Microsoft-Windows-Bits-Client/Operational for BITS jobs that download from direct, globally " \
    L"reachable IP addresses, stores them in a local database and raises Event Log alerts (source bitsguard)."
/* Data folder under %ProgramData%, and the database file in it (the store defines the names). */
#define WIN_DATA_FOLDER_NAME L"" STORE_FOLDER_NAME
#define WIN_DATABASE_NAME    L"" STORE_DATABASE_NAME
/* The engine must stop within this bound (ms) after STOP; reported as the STOP_PENDING wait hint. */
#define WIN_STOP_WAIT_HINT_MS 5000u
/* PRESHUTDOWN time-out given to the SCM (ms): enough to commit the batch in hand. */
#define WIN_PRESHUTDOWN_TIMEOUT_MS 10000u

/* `bitsguard service`: the entry the SCM starts (StartServiceCtrlDispatcherW). */
int win_service_main(int argc, char **argv);
/* `bitsguard run [--db PATH] [--channel NAME]`: the same engine in the foreground until Ctrl+C. */
int win_run_main(int argc, char **argv);
/* `bitsguard install|uninstall|start|stop|setup|teardown`: administration without the MSI. */
int win_install_main(int argc, char **argv);
int win_uninstall_main(int argc, char **argv);
int win_start_main(int argc, char **argv);
int win_stop_main(int argc, char **argv);
int win_setup_main(int argc, char **argv);
int win_teardown_main(int argc, char **argv);
/* `bitsguard selftest`: a never-resumed BITS job followed through event, store and alert (win_selftest.c). */
int win_selftest_main(int argc, char **argv);
/* `bitsguard reload`: sends PARAMCHANGE so the running service reloads its configuration. */
int win_reload_main(int argc, char **argv);

#endif
