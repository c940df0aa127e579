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
/* The same; strings from raw_from on are passed exactly (no '%' guard), for machine-readable copies that the
 * message text does not show. */
int win_eventlog_report_raw(win_eventlog *log, WORD type, DWORD id, const char *const *strings, WORD count,
                            WORD raw_from);

/* At most this many insertion strings per event. */
#define WIN_EVENTLOG_STRINGS_MAX 24
/* The insertion strings of one event stay under this many UTF-16 characters in all: an Event Log record
 * holds at most 64 KB (the limit for ReportEvent's strings is not documented), so room is left. */
#define WIN_EVENTLOG_TOTAL_MAX 30000

/*
 * The insertion strings as ReportEventW receives them (out[i] heap UTF-16, NULL if out of memory; the caller
 * frees each): "-" for an empty string; in strings before raw_from a WORD JOINER (U+2060) after every '%'
 * that a digit or '%' follows, so Event Viewer cannot expand "%2F" or "%1" found in a URL as insertion
 * strings while the rendered text still reads the same; each cut to 31,839 characters and all together to
 * WIN_EVENTLOG_TOTAL_MAX (the longest cut first), a cut one ending in U+2026 and never splitting a
 * surrogate pair. Returns 0 when count is over WIN_EVENTLOG_STRINGS_MAX.
 */
int win_eventlog_strings_prepare(const char *const *strings, WORD count, WORD raw_from, wchar_t **out);

/* The engine's alert sink writing to this log: detection (1000/1001), gap (200), error (300), state (104). */
void win_eventlog_sink(win_eventlog *log, engine_alert_sink *sink);

/* The config_report_fn for invalid configuration values (event 103); ctx is the win_eventlog. */
void win_eventlog_config_invalid(void *ctx, const char *name, const char *value, const char *why);

/* Number of insertion strings of a detection event (1000/1001), in the order documented in docs/alerts.md. */
#define WIN_DETECTION_STRINGS 20

/* The numbers of a detection as text, which its insertion strings point to. */
typedef struct win_detection_text {
    char pid[24], record[24], event_id[16];
} win_detection_text;

/* The WIN_DETECTION_STRINGS insertion strings of d (UTF-8, pointing into d and t) into s. */
void win_eventlog_detection_strings(const detection *d, win_detection_text *t, const char **s);
/* Number of insertion strings of a finding event (1002 to 1005), in the order of docs/alerts.md. */
#define WIN_FINDING_STRINGS 22

#endif
