/* Event Log alerts: the bitsguard source in the Application log, as an engine_alert_sink and for the service's own
 * events. */
#ifndef BG_WIN_EVENTLOG_H
#define BG_WIN_EVENTLOG_H

#include <windows.h>

#include "engine.h"

typedef struct win_eventlog win_eventlog;

/* Opens the source (RegisterEventSourceW). echo: also print one line per alert on stdout (run mode).
 * Never NULL unless out of memory: a source that cannot be registered now is retried at each report. */
win_eventlog *win_eventlog_open(int echo);
void win_eventlog_close(win_eventlog *log);

/* Reports event id (a MSG_* constant of messages.h) with UTF-8 insertion strings (NULL shows as "-").
 * type is EVENTLOG_INFORMATION_TYPE, EVENTLOG_WARNING_TYPE or EVENTLOG_ERROR_TYPE. Thread-safe.
 * Returns 1 when the Event Log accepted it. */
int win_eventlog_report(win_eventlog *log, WORD type, DWORD id, const char *const *strings, WORD count);

/* The engine's alert sink writing to this log: detection (1000/1001), gap (200), error (300), state (104). */
void win_eventlog_sink(win_eventlog *log, engine_alert_sink *sink);

/* The config_report_fn for invalid configuration values (event 103); ctx is the win_eventlog. */
void win_eventlog_config_invalid(void *ctx, const char *name, const char *value, const char *why);

/* Number of insertion strings of a detection event (1000/1001), in the order documented in docs/alerts.md. */
#define WIN_DETECTION_STRINGS 19

#endif
