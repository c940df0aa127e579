/* The status summary under HKLM\SOFTWARE\bitsguard\Status that the service keeps for ConfigMgr CMPivot. */
#ifndef BG_WIN_STATUS_H
#define BG_WIN_STATUS_H

#include <windows.h>

#include "engine.h"

/*
 * The values, the one list the writer, setup and the documentation (docs/fleet.md) use:
 * XX(symbol, name). Counts are REG_DWORD (capped at 4294967295), the rest REG_SZ.
 */
#define WIN_STATUS_VALUES(XX)                                                                        \
    XX(VERSION, "Version")                          /* bitsguard's version */                        \
    XX(LAST_EVENT_TIME, "LastEventTime")            /* newest TimeCreated of the events committed */ \
    XX(DETECTION_COUNT, "DetectionCount")           /* stored detections, allow-listed ones aside */ \
    XX(UNACKNOWLEDGED_COUNT, "UnacknowledgedCount") /* of those, not acknowledged (bitsguard ack) */ \
    XX(LAST_DETECTION, "LastDetection")             /* the newest one: "LAST_SEEN IP URL" */         \
    XX(ERROR_COUNT, "ErrorCount")                   /* rows of the database's errors table */        \
    XX(UPDATED_AT, "UpdatedAt")                     /* when the service last changed a value here */

typedef struct win_status win_status;

/* Opens an existing Status key (setup creates it and grants the service SID query and set-value only) under
 * root\subkey: HKEY_LOCAL_MACHINE\CONFIG_KEY_STATUS for the service, another key in tests. NULL with the
 * Win32 error in *err when it cannot be opened for writing. */
win_status *win_status_open(HKEY root, const wchar_t *subkey, DWORD *err);
void win_status_close(win_status *st);

/*
 * An engine_summary_fn (ctx: a win_status): compares each value with what the key holds and writes only
 * those that differ, then UpdatedAt when any did, so an idle service never rewrites the key. Version is
 * this program's; LastEventTime only moves forward (several channels publish their own). Thread-safe:
 * the engines of several channels call it at once.
 */
void win_status_publish(void *ctx, const engine_summary *s);

/* How many values were written since the key was opened (tests). */
unsigned long win_status_writes(const win_status *st);

#endif
