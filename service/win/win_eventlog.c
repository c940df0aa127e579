/* Event Log alerts: the bitsguard source in the Application log, as an engine_alert_sink and for the service's own
 * events. */
#include "win_eventlog.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "messages.h"
#include "output.h"
#include "win_service.h"
#include "win_util.h"

/* ReportEvent limits each insertion string to 31839 characters; longer text is cut. */
#define WIN_EVENTLOG_STRING_MAX 31839

struct win_eventlog {
    SRWLOCK lock; /* Serialises reports and the handle reopen (engine thread vs service thread). */
    HANDLE source;
    int echo;
};

win_eventlog *win_eventlog_open(int echo)
{
    win_eventlog *log = calloc(1, sizeof *log);
    if (!log)
        return NULL;
    InitializeSRWLock(&log->lock);
    log->echo = echo;
    /* NULL is tolerated: the report path registers again, so a log service that is down at start
     * (or restarts later) does not lose the alerts raised after it is back. */
    log->source = RegisterEventSourceW(NULL, WIN_SERVICE_NAME);
    return log;
}

void win_eventlog_close(win_eventlog *log)
{
    if (!log)
        return;
    if (log->source)
        DeregisterEventSource(log->source);
    free(log);
}

static wchar_t *eventlog_string(const char *s)
{
    wchar_t *w = bg_utf16_from_utf8(s && s[0] ? s : "-");
    if (w && wcslen(w) > WIN_EVENTLOG_STRING_MAX)
        w[WIN_EVENTLOG_STRING_MAX] = L'\0';
    return w;
}

int win_eventlog_report(win_eventlog *log, WORD type, DWORD id, const char *const *strings, WORD count)
{
    enum { MAX_STRINGS = 24 };
    if (!log || count > MAX_STRINGS)
        return 0;
    const wchar_t *wide[MAX_STRINGS];
    wchar_t *owned[MAX_STRINGS] = {0};
    int ok = 0;
    for (WORD i = 0; i < count; i++) {
        owned[i] = eventlog_string(strings[i]);
        /* A string that cannot be converted still keeps its slot, so the order stays fixed. */
        wide[i] = owned[i] ? owned[i] : L"?";
    }
    AcquireSRWLockExclusive(&log->lock);
    for (int attempt = 0; attempt < 2 && !ok; attempt++) {
        if (!log->source)
            log->source = RegisterEventSourceW(NULL, WIN_SERVICE_NAME);
        if (!log->source)
            break;
        ok = ReportEventW(log->source, type, 0, id, NULL, count, 0, count ? wide : NULL, NULL) != 0;
        if (!ok) {
            /* The Event Log service may have restarted: its old handle is dead. Reopen once. */
            DeregisterEventSource(log->source);
            log->source = NULL;
        }
    }
    ReleaseSRWLockExclusive(&log->lock);
    for (WORD i = 0; i < count; i++)
        free(owned[i]);
    return ok;
}

static void eventlog_echo(win_eventlog *log, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Writes one formatted line to fp through the terminal-safe writer: the values come from events, that
 * is from the attacker, and a console would act on their escape sequences. */
static void line_safe_vwrite(FILE *fp, const char *fmt, va_list ap)
{
    va_list copy;
    va_copy(copy, ap);
    int n = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    char *text = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (text != NULL) {
        vsnprintf(text, (size_t)n + 1, fmt, ap);
        output_terminal_text(fp, text, 0);
        free(text);
    }
    fputc('\n', fp);
}

/* Run mode: one line per alert on stdout, flushed so a redirected file sees it at once. */
static void eventlog_echo(win_eventlog *log, const char *fmt, ...)
{
    if (!log->echo)
        return;
    va_list ap;
    va_start(ap, fmt);
    AcquireSRWLockExclusive(&log->lock);
    line_safe_vwrite(stdout, fmt, ap);
    fflush(stdout);
    ReleaseSRWLockExclusive(&log->lock);
    va_end(ap);
}

static void stderr_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void stderr_line(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    line_safe_vwrite(stderr, fmt, ap);
    va_end(ap);
}

static const char *nz(const char *s)
{
    return s && s[0] ? s : "-";
}

/* A detection alert with id: MSG_DETECTION, MSG_DETECTION_PRIVATE, or MSG_SELFTEST with the same strings. */
static void detection_report(win_eventlog *log, const detection *d, DWORD id)
{
    char pid[24] = "", record[24], event_id[16];
    if (d->process_id >= 0)
        snprintf(pid, sizeof pid, "%" PRId64, d->process_id);
    snprintf(record, sizeof record, "%" PRIu64, d->record_id);
    snprintf(event_id, sizeof event_id, "%u", d->event_id);
    /* The fixed order documented in docs/alerts.md and messages.mc: append only, never reorder. */
    const char *s[WIN_DETECTION_STRINGS] = {
        d->url,                                /* %1 */
        d->cls.ip,                             /* %2 */
        classify_verdict_name(d->cls.verdict), /* %3 */
        classify_kind_name(d->cls.kind),       /* %4 */
        d->cls.range,                          /* %5 */
        d->job_id,                             /* %6 */
        d->job_title,                          /* %7 */
        d->job_owner,                          /* %8 */
        pid,                                   /* %9 */
        d->process_path,                       /* %10 */
        d->local_name,                         /* %11 */
        d->computer,                           /* %12 */
        d->time,                               /* %13 */
        record,                                /* %14 */
        event_id,                              /* %15 */
        d->notify_program,                     /* %16 */
        d->notify_parameters,                  /* %17 */
        classify_reading_name(d->cls.reading), /* %18 */
        d->cls.embedded_ipv4,                  /* %19 */
    };
    /* A self-test is Information: it proves the chain and opens no incident. */
    win_eventlog_report(log, id == MSG_SELFTEST ? EVENTLOG_INFORMATION_TYPE : EVENTLOG_WARNING_TYPE, id, s,
                        WIN_DETECTION_STRINGS);
    eventlog_echo(log, "%s: url=%s ip=%s verdict=%s job=%s title=%s owner=%s pid=%s process=%s time=%s record=%s",
                  id == MSG_SELFTEST ? "selftest" : "detection", nz(d->url), nz(d->cls.ip),
                  classify_verdict_name(d->cls.verdict), nz(d->job_id), nz(d->job_title), nz(d->job_owner), nz(pid),
                  nz(d->process_path), nz(d->time), record);
}

static void sink_detection(void *ctx, const detection *d)
{
    detection_report(ctx, d, d->cls.verdict == VERDICT_PRIVATE_IP ? MSG_DETECTION_PRIVATE : MSG_DETECTION);
}

static void sink_selftest(void *ctx, const detection *d, const char *nonce)
{
    (void)nonce; /* The nonce is the end of the job's title (%7). */
    detection_report(ctx, d, MSG_SELFTEST);
}

static void sink_gap(void *ctx, const char *channel, const char *reason)
{
    win_eventlog *log = ctx;
    const char *s[2] = {channel, reason};
    win_eventlog_report(log, EVENTLOG_WARNING_TYPE, MSG_POSSIBLE_GAP, s, 2);
    eventlog_echo(log, "possible gap: channel=%s reason=%s", nz(channel), nz(reason));
}

static void sink_error(void *ctx, bg_error code, const char *detail)
{
    win_eventlog *log = ctx;
    const char *s[2] = {bg_error_name(code), detail};
    win_eventlog_report(log, EVENTLOG_ERROR_TYPE, MSG_ERROR, s, 2);
    eventlog_echo(log, "error: %s: %s", bg_error_name(code), nz(detail));
}

static void sink_state(void *ctx, const char *what)
{
    win_eventlog *log = ctx;
    const char *s[1] = {what};
    win_eventlog_report(log, EVENTLOG_INFORMATION_TYPE, MSG_ENGINE_STATE, s, 1);
    eventlog_echo(log, "state: %s", nz(what));
}

void win_eventlog_sink(win_eventlog *log, engine_alert_sink *sink)
{
    memset(sink, 0, sizeof *sink);
    sink->ctx = log;
    sink->detection = sink_detection;
    sink->gap = sink_gap;
    sink->error = sink_error;
    sink->state = sink_state;
    sink->selftest = sink_selftest;
}

void win_eventlog_config_invalid(void *ctx, const char *name, const char *value, const char *why)
{
    win_eventlog *log = ctx;
    if (!log)
        return;
    const char *s[3] = {name, value, why};
    win_eventlog_report(log, EVENTLOG_WARNING_TYPE, MSG_CONFIG_INVALID, s, 3);
    /* Also on stderr: an admin running `bitsguard run` sees it at once. */
    stderr_line("bitsguard: ignored invalid configuration value %s = \"%s\": %s", nz(name), nz(value), nz(why));
}
