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
/* Marks a string that was cut: U+2026 HORIZONTAL ELLIPSIS as its last character. */
#define WIN_EVENTLOG_CUT_MARK 0x2026
/* After a '%' that a digit or another '%' follows: U+2060 WORD JOINER, invisible, so Event Viewer does not
 * take "%2F" of a percent-encoded URL for insertion string 2 (ReportEventW remarks: "%n" found in an
 * insertion string is expanded again), and the rendered text still reads "%2F". */
#define WIN_EVENTLOG_PERCENT_GUARD 0x2060

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

static int eventlog_percent_guarded(const wchar_t *w, size_t i)
{
    return w[i] == L'%' && ((w[i + 1] >= L'0' && w[i + 1] <= L'9') || w[i + 1] == L'%');
}

/* UTF-16 of s ("-" when empty); guarded: a WORD JOINER after each '%' that a digit or '%' follows. */
static wchar_t *eventlog_string(const char *s, int guarded)
{
    wchar_t *w = bg_utf16_from_utf8(s && s[0] ? s : "-");
    if (!w || !guarded)
        return w;
    size_t n = wcslen(w), extra = 0;
    for (size_t i = 0; i + 1 < n; i++)
        extra += eventlog_percent_guarded(w, i);
    if (!extra)
        return w;
    wchar_t *g = malloc((n + extra + 1) * sizeof *g);
    if (g) {
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            g[k++] = w[i];
            if (i + 1 < n && eventlog_percent_guarded(w, i))
                g[k++] = WIN_EVENTLOG_PERCENT_GUARD;
        }
        g[k] = L'\0';
    }
    free(w);
    return g;
}

/* Cuts w to at most max characters, never between the two halves of a surrogate pair, the last one
 * replaced by the cut mark. */
static void eventlog_string_cut(wchar_t *w, size_t max)
{
    size_t n = wcslen(w);
    if (n <= max || max == 0)
        return;
    size_t at = max - 1; /* Room for the mark. */
    if (at > 0 && w[at - 1] >= 0xD800 && w[at - 1] <= 0xDBFF)
        at--; /* Do not keep a high surrogate whose low half is cut off. */
    w[at] = WIN_EVENTLOG_CUT_MARK;
    w[at + 1] = L'\0';
}

int win_eventlog_strings_prepare(const char *const *strings, WORD count, WORD raw_from, wchar_t **out)
{
    size_t len[WIN_EVENTLOG_STRINGS_MAX], total = 0;
    if (count > WIN_EVENTLOG_STRINGS_MAX)
        return 0;
    for (WORD i = 0; i < count; i++) {
        out[i] = eventlog_string(strings[i], i < raw_from);
        if (out[i])
            eventlog_string_cut(out[i], WIN_EVENTLOG_STRING_MAX);
        len[i] = out[i] ? wcslen(out[i]) : 0;
        total += len[i];
    }
    if (total > WIN_EVENTLOG_TOTAL_MAX) {
        /* The largest limit every string can be cut to so that the event fits: long strings share what the
         * short ones leave (a 40,000-character URL is cut, the IP beside it is not). */
        size_t lo = 0, hi = WIN_EVENTLOG_STRING_MAX;
        while (lo < hi) {
            size_t mid = (lo + hi + 1) / 2, sum = 0;
            for (WORD i = 0; i < count; i++)
                sum += len[i] < mid ? len[i] : mid;
            if (sum <= WIN_EVENTLOG_TOTAL_MAX)
                lo = mid;
            else
                hi = mid - 1;
        }
        for (WORD i = 0; i < count; i++) {
            if (out[i])
                eventlog_string_cut(out[i], lo);
        }
    }
    return 1;
}

int win_eventlog_report_raw(win_eventlog *log, WORD type, DWORD id, const char *const *strings, WORD count,
                            WORD raw_from)
{
    if (!log || count > WIN_EVENTLOG_STRINGS_MAX)
        return 0;
    const wchar_t *wide[WIN_EVENTLOG_STRINGS_MAX];
    wchar_t *owned[WIN_EVENTLOG_STRINGS_MAX] = {0};
    int ok = 0;
    win_eventlog_strings_prepare(strings, count, raw_from, owned);
    for (WORD i = 0; i < count; i++) {
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

int win_eventlog_report(win_eventlog *log, WORD type, DWORD id, const char *const *strings, WORD count)
{
    return win_eventlog_report_raw(log, type, id, strings, count, count);
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

void win_eventlog_detection_strings(const detection *d, win_detection_text *t, const char **s)
{
    t->pid[0] = '\0';
    if (d->process_id >= 0)
        snprintf(t->pid, sizeof t->pid, "%" PRId64, d->process_id);
    snprintf(t->record, sizeof t->record, "%" PRIu64, d->record_id);
    snprintf(t->event_id, sizeof t->event_id, "%u", d->event_id);
    const char *pid = t->pid, *record = t->record, *event_id = t->event_id;
    /* The fixed order documented in docs/alerts.md and messages.mc: append only, never reorder. */
    const char *strings[WIN_DETECTION_STRINGS] = {
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
        d->url,                                /* %20: exact, for machines (not in the message text) */
    };
    memcpy(s, strings, sizeof strings);
}

/* A detection alert with id: MSG_DETECTION, MSG_DETECTION_PRIVATE, or MSG_SELFTEST with the same strings.
 * Returns whether the Event Log took it. */
static int detection_report(win_eventlog *log, const detection *d, DWORD id)
{
    win_detection_text t;
    const char *s[WIN_DETECTION_STRINGS];
    win_eventlog_detection_strings(d, &t, s);
    const char *record = t.record, *pid = t.pid;
    /* %1..%19 guarded for the rendered text; %20, the URL exactly as BITS logged it, is not. A self-test is
     * Information: it proves the chain and opens no incident. */
    int ok = win_eventlog_report_raw(log, id == MSG_SELFTEST ? EVENTLOG_INFORMATION_TYPE : EVENTLOG_WARNING_TYPE, id, s,
                                     WIN_DETECTION_STRINGS, WIN_DETECTION_STRINGS - 1);
    eventlog_echo(log, "%s: url=%s ip=%s verdict=%s job=%s title=%s owner=%s pid=%s process=%s time=%s record=%s",
                  id == MSG_SELFTEST ? "selftest" : "detection", nz(d->url), nz(d->cls.ip),
                  classify_verdict_name(d->cls.verdict), nz(d->job_id), nz(d->job_title), nz(d->job_owner), nz(pid),
                  nz(d->process_path), nz(d->time), record);
    return ok;
}

static int sink_detection(void *ctx, const detection *d)
{
    return detection_report(ctx, d, d->cls.verdict == VERDICT_PRIVATE_IP ? MSG_DETECTION_PRIVATE : MSG_DETECTION);
}

static void sink_selftest(void *ctx, const detection *d, const char *nonce)
{
    (void)nonce; /* The nonce is the end of the job's title (%7). */
    detection_report(ctx, d, MSG_SELFTEST);
}

/* A finding (notify command 1002, credentials to a direct IP 1003, channel cleared 1004, channel disabled
 * 1005): one string list for all, fixed order (docs/alerts.md), append only. */
static int sink_finding(void *ctx, const finding *f)
{
    win_eventlog *log = ctx;
    char pid[24] = "", record[24], event_id[16], failures[16], error[24] = "";
    if (f->process_id >= 0)
        snprintf(pid, sizeof pid, "%" PRId64, f->process_id);
    /* A disabled channel is found by the reader, not raised by an event: no record or event id ("-"). */
    if (f->event_id) {
        snprintf(record, sizeof record, "%" PRIu64, f->record_id);
        snprintf(event_id, sizeof event_id, "%u", f->event_id);
    } else {
        record[0] = event_id[0] = '\0';
    }
    snprintf(failures, sizeof failures, "%" PRIu32, f->notify_failures);
    if (f->notify_error != INT64_MIN)
        snprintf(error, sizeof error, "%" PRId64, f->notify_error);
    int creds = f->kind == FINDING_CREDENTIALS_DIRECT_IP;
    const char *s[WIN_FINDING_STRINGS] = {
        finding_kind_name(f->kind),                             /* %1 */
        f->job_id,                                              /* %2 */
        f->job_title,                                           /* %3 */
        f->job_owner,                                           /* %4 */
        pid,                                                    /* %5 */
        f->process_path,                                        /* %6 */
        f->computer,                                            /* %7 */
        f->time,                                                /* %8 */
        record,                                                 /* %9 */
        event_id,                                               /* %10 */
        f->program,                                             /* %11 */
        f->parameters,                                          /* %12 */
        failures,                                               /* %13 */
        error,                                                  /* %14 */
        f->server,                                              /* %15 */
        f->url,                                                 /* %16 */
        f->cls.ip,                                              /* %17 */
        creds ? classify_reading_name(f->cls.reading) : NULL,   /* %18 */
        f->scheme,                                              /* %19 */
        f->user,                                                /* %20 */
        creds ? (f->accepted ? "accepted" : "rejected") : NULL, /* %21 */
        f->channel,                                             /* %22 */
    };
    DWORD id = f->kind == FINDING_CREDENTIALS_DIRECT_IP ? MSG_DETECTION_CREDENTIALS
               : f->kind == FINDING_CHANNEL_CLEARED     ? MSG_DETECTION_CHANNEL_CLEARED
               : f->kind == FINDING_CHANNEL_DISABLED    ? MSG_DETECTION_CHANNEL_DISABLED
                                                        : MSG_DETECTION_NOTIFY_COMMAND;
    /* Credentials handed to a direct IP, and a reader blinded by a disabled channel, are the high-severity
     * ones: Error. */
    WORD type = creds || f->kind == FINDING_CHANNEL_DISABLED ? EVENTLOG_ERROR_TYPE : EVENTLOG_WARNING_TYPE;
    int ok = win_eventlog_report(log, type, id, s, WIN_FINDING_STRINGS);
    eventlog_echo(
        log, "finding: alert=%s job=%s title=%s owner=%s process=%s program=%s parameters=%s ip=%s user=%s channel=%s",
        finding_kind_name(f->kind), nz(f->job_id), nz(f->job_title), nz(f->job_owner), nz(f->process_path),
        nz(f->program), nz(f->parameters), nz(f->cls.ip), nz(f->user), nz(f->channel));
    return ok;
}

static int sink_gap(void *ctx, const char *channel, const char *reason)
{
    win_eventlog *log = ctx;
    const char *s[2] = {channel, reason};
    int ok = win_eventlog_report(log, EVENTLOG_WARNING_TYPE, MSG_POSSIBLE_GAP, s, 2);
    eventlog_echo(log, "possible gap: channel=%s reason=%s", nz(channel), nz(reason));
    return ok;
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
    sink->finding = sink_finding;
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
