/* The wevtapi event source: signalled pull subscription, batched EvtNext, two-call EvtRender, one error map. */
#include "win_evt_source.h"

#include <windows.h>
#include <winevt.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bg_utf.h"
#include "event.h"
#include "win_access.h"
#include "win_util.h"

/* EvtNext never needs to wait long: it is called after the signal event fired, and a drained
 * subscription answers ERROR_NO_MORE_ITEMS. The bound only keeps a misbehaving service from holding
 * the reader (and so a stop) for longer than this. */
#define WIN_EVT_NEXT_TIMEOUT_MS 1000
/* A rendered event's UTF-16 may take up to this many bytes; a larger one is skipped (handed out as an
 * empty string, which the engine counts as malformed) because the parser would reject it anyway. */
#define WIN_EVT_RENDER_MAX_BYTES     ((DWORD)EVENT_MAX_BYTES * 2u)
#define WIN_EVT_RENDER_INITIAL_BYTES (64u * 1024u)
/* The safety-net wait: nothing signals a pull subscription whose Event Log service restarted (CloudWatch
 * agent PR 1259, Wazuh issues 5495 and 3836), so an idle wait wakes this often, compares the EventLog
 * service's process id and probes the subscription with one EvtNext. 60 wakeups per idle hour. */
#define WIN_EVT_SAFETY_NET_MS 60000u
/* The log's identity kept with the bookmark: its creation time (EvtLogCreationTime), after the bookmark
 * XML as a comment. A log cleared and refilled can hold the bookmarked record id again, with other events,
 * and a strict subscribe would then succeed; a new creation time tells. */
#define WIN_EVT_IDENTITY_TAG "<!--bitsguard log-created="

typedef struct win_evt_source {
    event_source base;
    HANDLE stop_event;   /* Manual reset; set by stop() from any thread, never reset. */
    HANDLE signal_event; /* Manual reset; set by the Event Log when results are available. */
    EVT_HANDLE results;  /* The subscription or query result set, NULL when closed. */
    EVT_HANDLE bookmark; /* Follows the last event handed out. */
    int handed;          /* An event was handed out since subscribe. */
    DWORD batch_max;     /* EvtNext's batch size: halved on RPC_S_INVALID_BOUND, reset at subscribe. */
    /* The EventLog service, for its process id: a new one means the service restarted (NULL when it
     * cannot be opened, as under Wine; the EvtNext probe still runs). */
    SC_HANDLE scm;
    SC_HANDLE eventlog;
    DWORD eventlog_pid;    /* As last seen at a safety-net wake; 0 when unknown. */
    wchar_t *channel;      /* The channel subscribed to (for its creation time at a safety-net wake). */
    wchar_t *filter;       /* A structured query (<QueryList>) subscribed to instead of every event; NULL. */
    ULONGLONG log_created; /* The channel's creation time (FILETIME) at subscribe; 0 when unknown. */
    /* Query mode (win_evt_query_new). */
    int is_query;
    int query_is_file;
    int query_done;
    wchar_t *query_path;
    /* Reused buffers: the UTF-16 render buffer and the UTF-8 text of the current batch. */
    WCHAR *wbuf;
    DWORD wcap; /* Bytes. */
    char *ubuf;
    size_t ucap;
    DWORD last_error;
    unsigned long safety_wakeups; /* Safety-net wakes (the wait timed out), for the idle-cost figure. */
} win_evt_source;

/* Which call failed: the same Windows code means different things at different places. */
typedef enum win_evt_call {
    WIN_EVT_CALL_SUBSCRIBE,          /* EvtSubscribe or EvtQuery without a bookmark. */
    WIN_EVT_CALL_SUBSCRIBE_BOOKMARK, /* EvtSubscribe after a bookmark, with EvtSubscribeStrict. */
    WIN_EVT_CALL_BOOKMARK_CREATE,    /* EvtCreateBookmark from the stored XML. */
    WIN_EVT_CALL_READ,               /* EvtNext, EvtRender, EvtUpdateBookmark. */
} win_evt_call;

/*
 * The one translation of Windows error codes into the engine's vocabulary. Codes that mean the
 * subscription is gone (the Event Log service restarted, its RPC endpoint vanished, the result set
 * went stale) ask the engine to resubscribe after its stored bookmark.
 */
static bg_error win_evt_error_map(DWORD err, win_evt_call call)
{
    /* A strict subscribe whose bookmarked record is gone: ERROR_NOT_FOUND is documented, and Windows also
     * answers STALE or INVALID_POSITION (Winlogbeat wineventlog.go handles all three; beats issue 37238,
     * vector issue 26115). Retrying the same bookmark would stall the reader for ever. */
    if (call == WIN_EVT_CALL_SUBSCRIBE_BOOKMARK && (err == ERROR_NOT_FOUND || err == ERROR_EVT_QUERY_RESULT_STALE ||
                                                    err == ERROR_EVT_QUERY_RESULT_INVALID_POSITION))
        return BG_ERR_SOURCE_BOOKMARK;
    switch (err) {
    case ERROR_EVT_QUERY_RESULT_STALE:
    case ERROR_EVT_QUERY_RESULT_INVALID_POSITION:
    case ERROR_INVALID_OPERATION:
    case ERROR_INVALID_HANDLE:
    case RPC_S_SERVER_UNAVAILABLE:
    case RPC_S_UNKNOWN_IF:
    case RPC_S_CALL_FAILED:
        return BG_ERR_SOURCE_RETRY;
    case ERROR_EVT_CHANNEL_NOT_FOUND:
    case ERROR_EVT_INVALID_CHANNEL_PATH:
    case ERROR_EVT_CHANNEL_CANNOT_ACTIVATE:
        return BG_ERR_SOURCE_CHANNEL;
    case ERROR_NOT_FOUND:
        /* Documented for EvtSubscribeStrict: the bookmarked event no longer exists (log cleared or
         * wrapped). Elsewhere it has no special meaning. */
        return call == WIN_EVT_CALL_SUBSCRIBE_BOOKMARK ? BG_ERR_SOURCE_BOOKMARK : BG_ERR_SOURCE;
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND:
        return BG_ERR_IO;
    case ERROR_NOT_ENOUGH_MEMORY:
    case ERROR_OUTOFMEMORY:
        /* Transient for a long-running service: retried with backoff rather than fatal. */
        return BG_ERR_SOURCE;
    default:
        /* A stored bookmark the Event Log cannot even parse is as unusable as one whose event is gone. */
        if (call == WIN_EVT_CALL_BOOKMARK_CREATE)
            return BG_ERR_SOURCE_BOOKMARK;
        /* Includes 0: a failure without a code is undocumented; the engine retries it with backoff. */
        return BG_ERR_SOURCE;
    }
}

static bg_error win_evt_fail(win_evt_source *w, DWORD err, win_evt_call call)
{
    w->last_error = err;
    return win_evt_error_map(err, call);
}

static int win_evt_stopped(const win_evt_source *w)
{
    return WaitForSingleObject(w->stop_event, 0) == WAIT_OBJECT_0;
}

/*
 * Renders an event or bookmark into w->wbuf with the two-call pattern: the reused buffer first, and on
 * ERROR_INSUFFICIENT_BUFFER a larger one (up to WIN_EVT_RENDER_MAX_BYTES) and a second call whose
 * result is checked too. *chars receives the text length without the terminating NUL.
 * Returns ERROR_SUCCESS, ERROR_BUFFER_OVERFLOW when the text is over the cap, or the failing code.
 */
static DWORD win_evt_render(win_evt_source *w, EVT_HANDLE h, DWORD flags, size_t *chars)
{
    DWORD used = 0, props = 0;
    *chars = 0;
    if (!w->wbuf) {
        w->wbuf = malloc(WIN_EVT_RENDER_INITIAL_BYTES);
        if (!w->wbuf)
            return ERROR_OUTOFMEMORY;
        w->wcap = WIN_EVT_RENDER_INITIAL_BYTES;
    }
    if (!EvtRender(NULL, h, flags, w->wcap, w->wbuf, &used, &props)) {
        DWORD err = GetLastError();
        if (err != ERROR_INSUFFICIENT_BUFFER)
            return err;
        if (used > WIN_EVT_RENDER_MAX_BYTES)
            return ERROR_BUFFER_OVERFLOW;
        if (used <= w->wcap)
            return ERROR_INVALID_DATA; /* Asked for more room while it had enough: do not loop. */
        DWORD cap = used + sizeof(WCHAR);
        WCHAR *grown = malloc(cap);
        if (!grown)
            return ERROR_OUTOFMEMORY;
        free(w->wbuf);
        w->wbuf = grown;
        w->wcap = cap;
        if (!EvtRender(NULL, h, flags, w->wcap, w->wbuf, &used, &props))
            return GetLastError();
    }
    if (used > w->wcap)
        return ERROR_INVALID_DATA;
    size_t n = used / sizeof(WCHAR);
    /* BufferUsed counts the terminating NUL; do not rely on it being there. */
    size_t len = 0;
    while (len < n && w->wbuf[len] != L'\0')
        len++;
    *chars = len;
    return ERROR_SUCCESS;
}

/* Appends the UTF-8 form of wbuf[0..chars) plus a NUL to the batch text at *used; *len gets its length.
 * Text longer than EVENT_MAX_BYTES is replaced by an empty string (the engine counts it as malformed). */
static DWORD win_evt_append_utf8(win_evt_source *w, size_t chars, size_t *used, size_t *len)
{
    *len = 0;
    int need = 0;
    if (chars > 0) {
        need = WideCharToMultiByte(CP_UTF8, 0, w->wbuf, (int)chars, NULL, 0, NULL, NULL);
        if (need <= 0)
            return GetLastError() ? GetLastError() : ERROR_INVALID_DATA;
        if ((size_t)need > EVENT_MAX_BYTES)
            need = 0;
    }
    size_t want = *used + (size_t)need + 1;
    if (want > w->ucap) {
        size_t cap = w->ucap ? w->ucap : WIN_EVT_RENDER_INITIAL_BYTES;
        while (cap < want)
            cap *= 2;
        char *grown = realloc(w->ubuf, cap);
        if (!grown)
            return ERROR_OUTOFMEMORY;
        w->ubuf = grown;
        w->ucap = cap;
    }
    if (need > 0 && WideCharToMultiByte(CP_UTF8, 0, w->wbuf, (int)chars, w->ubuf + *used, need, NULL, NULL) != need)
        return ERROR_INVALID_DATA;
    w->ubuf[*used + (size_t)need] = '\0';
    *len = (size_t)need;
    *used += (size_t)need + 1;
    return ERROR_SUCCESS;
}

/* The EventLog service's process id, 0 when unknown (no access, not running, or no such service as under
 * Wine). One QueryServiceStatusEx on handles opened once: the safety net's cheap check. */
static DWORD win_evt_eventlog_pid(win_evt_source *w)
{
    if (!w->scm) {
        w->scm = OpenSCManagerW(NULL, NULL, win_open_access(WIN_OPEN_SCM));
        if (w->scm && win_access_check(win_open_access(WIN_OPEN_SCM), WIN_CALL_SCM_OPEN_SERVICE))
            w->eventlog = OpenServiceW(w->scm, L"EventLog", win_open_access(WIN_OPEN_SVC_EVENTLOG));
    }
    if (!w->eventlog || !win_access_check(win_open_access(WIN_OPEN_SVC_EVENTLOG), WIN_CALL_SVC_QUERY_STATUS))
        return 0;
    SERVICE_STATUS_PROCESS ssp;
    DWORD need = 0;
    memset(&ssp, 0, sizeof ssp);
    if (!QueryServiceStatusEx(w->eventlog, SC_STATUS_PROCESS_INFO, (LPBYTE)&ssp, sizeof ssp, &need) ||
        ssp.dwCurrentState != SERVICE_RUNNING)
        return 0;
    return ssp.dwProcessId;
}

/* The channel's creation time (EvtLogCreationTime, a FILETIME), 0 when it cannot be read. */
static ULONGLONG win_evt_log_created(const wchar_t *channel)
{
    ULONGLONG created = 0;
    EVT_HANDLE log = channel ? EvtOpenLog(NULL, channel, EvtOpenChannelPath) : NULL;
    if (!log)
        return 0;
    EVT_VARIANT v;
    DWORD used = 0;
    memset(&v, 0, sizeof v);
    if (EvtGetLogInfo(log, EvtLogCreationTime, (DWORD)sizeof v, &v, &used) && v.Type == EvtVarTypeFileTime)
        created = v.FileTimeVal;
    EvtClose(log);
    return created;
}

/* Splits a stored bookmark into its XML (cut in place) and the log identity after it (0 when none). */
static ULONGLONG win_evt_identity_split(wchar_t *bookmark)
{
    wchar_t tag[64];
    MultiByteToWideChar(CP_UTF8, 0, WIN_EVT_IDENTITY_TAG, -1, tag, (int)(sizeof tag / sizeof tag[0]));
    wchar_t *p = wcsstr(bookmark, tag);
    if (!p)
        return 0;
    ULONGLONG created = wcstoull(p + wcslen(tag), NULL, 10);
    *p = L'\0';
    return created;
}

static void win_evt_unsubscribe(event_source *src)
{
    win_evt_source *w = (win_evt_source *)src;
    if (w->results) {
        EvtClose(w->results);
        w->results = NULL;
    }
    if (w->bookmark) {
        EvtClose(w->bookmark);
        w->bookmark = NULL;
    }
    w->handed = 0;
    w->query_done = 0;
}

/* Reports a channel that exists but is disabled: BG_ERR_SOURCE_DISABLED (Windows logs nothing to it, and
 * a subscription to it stays alive and silent, so only its configuration tells). Asked at subscribe and
 * at every safety-net wake. Optional: when the configuration cannot be read, the subscription stands. */
static bg_error win_evt_channel_check(win_evt_source *w, const wchar_t *channel)
{
    EVT_HANDLE cfg = EvtOpenChannelConfig(NULL, channel, 0);
    if (!cfg) {
        DWORD err = GetLastError();
        return err == ERROR_EVT_CHANNEL_NOT_FOUND ? win_evt_fail(w, err, WIN_EVT_CALL_SUBSCRIBE) : BG_ERR_OK;
    }
    bg_error rc = BG_ERR_OK;
    EVT_VARIANT v;
    DWORD used = 0;
    memset(&v, 0, sizeof v);
    if (EvtGetChannelConfigProperty(cfg, EvtChannelConfigEnabled, 0, (DWORD)sizeof v, &v, &used) &&
        v.Type == EvtVarTypeBoolean && !v.BooleanVal) {
        w->last_error = 0; /* Not a Windows failure: the channel's Enabled property is false. */
        rc = BG_ERR_SOURCE_DISABLED;
    }
    EvtClose(cfg);
    return rc;
}

static bg_error win_evt_subscribe(event_source *src, const char *channel, const char *bookmark, int from_oldest)
{
    win_evt_source *w = (win_evt_source *)src;
    wchar_t *wchannel = NULL, *wbookmark = NULL;
    bg_error rc = BG_ERR_OK;

    win_evt_unsubscribe(src);
    w->last_error = 0;
    w->batch_max = ENGINE_BATCH_MAX;
    w->log_created = 0;
    if (win_evt_stopped(w))
        return BG_ERR_STOPPED;
    if (w->is_query) {
        DWORD flags = (w->query_is_file ? EvtQueryFilePath : EvtQueryChannelPath) | EvtQueryForwardDirection;
        w->results = EvtQuery(NULL, w->query_path, L"*", flags);
        if (!w->results) {
            rc = win_evt_fail(w, GetLastError(), WIN_EVT_CALL_SUBSCRIBE);
            goto cleanup;
        }
        w->bookmark = EvtCreateBookmark(NULL);
        if (!w->bookmark) {
            rc = win_evt_fail(w, GetLastError(), WIN_EVT_CALL_READ);
            goto cleanup;
        }
        goto cleanup;
    }
    if (!channel) {
        rc = BG_ERR_INVALID_ARG;
        goto cleanup;
    }
    wchannel = bg_utf16_from_utf8_strict(channel);
    if (!wchannel) {
        rc = BG_ERR_INVALID_ARG;
        goto cleanup;
    }
    DWORD flags;
    if (bookmark) {
        wbookmark = bg_utf16_from_utf8_strict(bookmark);
        if (!wbookmark) {
            rc = BG_ERR_SOURCE_BOOKMARK; /* Not even valid UTF-8: unusable. */
            goto cleanup;
        }
        /* A bookmark taken in a log that has since been cleared or recreated: its record id means
         * nothing here, even if a record with that id exists again. */
        ULONGLONG stored = win_evt_identity_split(wbookmark);
        ULONGLONG now = win_evt_log_created(wchannel);
        if (stored && now && stored != now) {
            w->last_error = 0;
            rc = BG_ERR_SOURCE_LOG_CLEARED;
            goto cleanup;
        }
        w->bookmark = EvtCreateBookmark(wbookmark);
        if (!w->bookmark) {
            rc = win_evt_fail(w, GetLastError(), WIN_EVT_CALL_BOOKMARK_CREATE);
            goto cleanup;
        }
        /* Strict: a bookmarked event that is gone fails with ERROR_NOT_FOUND instead of silently
         * starting "near" it, so the engine can record the possible gap. */
        flags = EvtSubscribeStartAfterBookmark | EvtSubscribeStrict;
    } else {
        w->bookmark = EvtCreateBookmark(NULL);
        if (!w->bookmark) {
            rc = win_evt_fail(w, GetLastError(), WIN_EVT_CALL_READ);
            goto cleanup;
        }
        flags = from_oldest ? EvtSubscribeStartAtOldestRecord : EvtSubscribeToFutureEvents;
    }
    ResetEvent(w->signal_event);
    /* With a structured query the Event Log ignores ChannelPath (the query names its channels). */
    w->results = EvtSubscribe(NULL, w->signal_event, w->filter ? NULL : wchannel, w->filter ? w->filter : L"*",
                              bookmark ? w->bookmark : NULL, NULL, NULL, flags);
    if (!w->results) {
        rc = win_evt_fail(w, GetLastError(), bookmark ? WIN_EVT_CALL_SUBSCRIBE_BOOKMARK : WIN_EVT_CALL_SUBSCRIBE);
        goto cleanup;
    }
    rc = win_evt_channel_check(w, wchannel);
    if (rc == BG_ERR_OK) {
        w->log_created = win_evt_log_created(wchannel);
        free(w->channel);
        w->channel = wchannel;
        wchannel = NULL;
    }

cleanup:
    if (rc != BG_ERR_OK) {
        win_evt_unsubscribe(src);
    } else {
        /* Drain once right away: events already in the log are read without waiting for a signal. */
        SetEvent(w->signal_event);
    }
    free(wchannel);
    free(wbookmark);
    return rc;
}

static bg_error win_evt_wait(event_source *src)
{
    win_evt_source *w = (win_evt_source *)src;
    if (win_evt_stopped(w))
        return BG_ERR_STOPPED;
    if (!w->results)
        return BG_ERR_SOURCE_RETRY;
    if (w->is_query)
        return w->query_done ? BG_ERR_STOPPED : BG_ERR_OK; /* A query is finite: its end ends the read. */
    HANDLE handles[2] = {w->stop_event, w->signal_event};
    DWORD r = WaitForMultipleObjects(2, handles, FALSE, WIN_EVT_SAFETY_NET_MS);
    if (r == WAIT_OBJECT_0)
        return BG_ERR_STOPPED;
    if (r == WAIT_OBJECT_0 + 1) {
        /* Reset before draining, not after: an event that arrives during the drain sets it again, so
         * no signal is lost between the last EvtNext and the next wait. */
        ResetEvent(w->signal_event);
        return BG_ERR_OK;
    }
    if (r == WAIT_TIMEOUT) {
        /* The safety net: a new EventLog process means our subscription died with the old one. Else the
         * engine's next EvtNext is the probe: 4317 or no more items is fine, an RPC or handle error
         * means the subscription is gone (both lead to a resubscribe after the bookmark). */
        w->safety_wakeups++;
        ULONGLONG created = w->log_created ? win_evt_log_created(w->channel) : 0;
        if (created && created != w->log_created) {
            w->last_error = 0;
            return BG_ERR_SOURCE_LOG_CLEARED; /* Cleared while we were subscribed. */
        }
        /* Disabled while we were subscribed: Windows keeps the subscription alive and silent. */
        bg_error enabled = w->channel ? win_evt_channel_check(w, w->channel) : BG_ERR_OK;
        if (enabled != BG_ERR_OK)
            return enabled;
        /* Asked only here, never at subscribe, so the service makes no SCM call while it starts or reloads
         * (suspected, not proven, in intermittent service_install failures under Wine). The first wake sets
         * the baseline; a restart before it leaves a dead subscription, which the probe finds. */
        DWORD pid = win_evt_eventlog_pid(w);
        if (pid && w->eventlog_pid && pid != w->eventlog_pid) {
            w->eventlog_pid = pid;
            w->last_error = ERROR_SERVICE_NOT_ACTIVE; /* The one it had is gone. */
            return BG_ERR_SOURCE_RETRY;
        }
        if (pid)
            w->eventlog_pid = pid;
        return BG_ERR_OK;
    }
    w->last_error = GetLastError();
    return BG_ERR_PLATFORM;
}

static bg_error win_evt_next(event_source *src, size_t max, const char **xml, size_t *len, size_t *count)
{
    win_evt_source *w = (win_evt_source *)src;
    EVT_HANDLE events[ENGINE_BATCH_MAX];
    size_t offsets[ENGINE_BATCH_MAX];
    DWORD got = 0;
    bg_error rc = BG_ERR_OK;

    *count = 0;
    if (win_evt_stopped(w))
        return BG_ERR_STOPPED;
    if (!w->results)
        return BG_ERR_SOURCE_RETRY;
    if (max > ENGINE_BATCH_MAX)
        max = ENGINE_BATCH_MAX;
    if (w->batch_max && max > w->batch_max)
        max = w->batch_max;
    if (max == 0)
        return BG_ERR_OK;
    BOOL ok;
    /* RPC_S_INVALID_BOUND: the events of this batch are more than the subscription's buffer holds. Ask for
     * half as many, down to one, and keep that size for this subscription (beats PR 3112, OpenTelemetry PR
     * 38149); the failed call handed nothing out, so the same events come next. */
    while (!(ok = EvtNext(w->results, (DWORD)max, events, WIN_EVT_NEXT_TIMEOUT_MS, 0, &got)) &&
           GetLastError() == RPC_S_INVALID_BOUND && got == 0 && max > 1) {
        max /= 2;
        w->batch_max = (DWORD)max;
    }
    if (!ok) {
        DWORD err = GetLastError();
        got = 0; /* A failed call hands nothing out. */
        if (err == ERROR_NO_MORE_ITEMS) {
            if (w->is_query)
                w->query_done = 1;
            return BG_ERR_OK;
        }
        if (err == ERROR_INVALID_OPERATION && !w->is_query) {
            /* Not documented, but what Windows answers on a pull subscription with nothing pending (Datadog
             * agent, beats, OpenTelemetry, pywin32 PR 1648, vector issue 26117): "nothing now". No SetEvent
             * here, or the wait would spin; the Event Log sets the signal when events arrive. */
            return BG_ERR_OK;
        }
        if (err == ERROR_TIMEOUT) {
            /* Results may still be pending although the signal was already reset: wake the next wait
             * at once so they are not left until another event arrives. */
            SetEvent(w->signal_event);
            return BG_ERR_OK;
        }
        return win_evt_fail(w, err, WIN_EVT_CALL_READ);
    }
    if (got == 0) {
        /* Success with nothing returned is not documented; treat it like a drained result set. */
        if (w->is_query)
            w->query_done = 1;
        return BG_ERR_OK;
    }
    if (got > max) {
        /* The array holds max handles; more would mean memory was overwritten. Refuse to go on. */
        return win_evt_fail(w, ERROR_INVALID_DATA, WIN_EVT_CALL_READ);
    }

    size_t used = 0;
    for (DWORD i = 0; i < got; i++) {
        /* Rendering can be slow (a loaded Event Log): honour a stop between events. Nothing of the batch
         * is handed out and the bookmark stays, so these events are read again after the restart. */
        if (win_evt_stopped(w)) {
            rc = BG_ERR_STOPPED;
            goto cleanup;
        }
        size_t chars = 0;
        DWORD err = win_evt_render(w, events[i], EvtRenderEventXml, &chars);
        if (err != ERROR_SUCCESS) {
            /* A subscription that is gone, or no memory: fail the batch, the engine reads it again.
             * Anything else is about this one event (over the cap, unrenderable): hand out "" so the
             * engine counts it as malformed and the bookmark still moves past it, instead of failing
             * on the same event after every resubscribe. */
            bg_error mapped = win_evt_fail(w, err, WIN_EVT_CALL_READ);
            if (mapped == BG_ERR_SOURCE_RETRY || err == ERROR_OUTOFMEMORY || err == ERROR_NOT_ENOUGH_MEMORY) {
                rc = mapped;
                goto cleanup;
            }
            chars = 0;
        }
        err = win_evt_append_utf8(w, chars, &used, &len[i]);
        if (err != ERROR_SUCCESS) {
            rc = win_evt_fail(w, err, WIN_EVT_CALL_READ);
            goto cleanup;
        }
        offsets[i] = used - len[i] - 1;
    }
    /* Only now that the whole batch rendered: the bookmark follows the last event handed out. */
    if (!EvtUpdateBookmark(w->bookmark, events[got - 1])) {
        rc = win_evt_fail(w, GetLastError(), WIN_EVT_CALL_READ);
        goto cleanup;
    }
    /* The text lives in ubuf (which no longer moves) until the next call. */
    for (DWORD i = 0; i < got; i++)
        xml[i] = w->ubuf + offsets[i];
    w->handed = 1;
    *count = got;

cleanup:
    for (DWORD i = 0; i < got; i++)
        EvtClose(events[i]);
    return rc;
}

static bg_error win_evt_bookmark_render(event_source *src, char **out)
{
    win_evt_source *w = (win_evt_source *)src;
    *out = NULL;
    if (!w->handed || !w->bookmark)
        return BG_ERR_OK;
    size_t chars = 0;
    DWORD err = win_evt_render(w, w->bookmark, EvtRenderBookmark, &chars);
    if (err != ERROR_SUCCESS)
        return win_evt_fail(w, err, WIN_EVT_CALL_READ);
    if (chars == 0)
        return win_evt_fail(w, ERROR_INVALID_DATA, WIN_EVT_CALL_READ);
    int need = WideCharToMultiByte(CP_UTF8, 0, w->wbuf, (int)chars, NULL, 0, NULL, NULL);
    if (need <= 0)
        return win_evt_fail(w, ERROR_INVALID_DATA, WIN_EVT_CALL_READ);
    char identity[64] = "";
    if (w->log_created)
        snprintf(identity, sizeof identity, "%s%llu-->", WIN_EVT_IDENTITY_TAG, (unsigned long long)w->log_created);
    size_t extra = strlen(identity);
    char *text = malloc((size_t)need + extra + 1);
    if (!text)
        return BG_ERR_NOMEM;
    if (WideCharToMultiByte(CP_UTF8, 0, w->wbuf, (int)chars, text, need, NULL, NULL) != need) {
        free(text);
        return win_evt_fail(w, ERROR_INVALID_DATA, WIN_EVT_CALL_READ);
    }
    memcpy(text + need, identity, extra + 1); /* The log's identity travels with the bookmark. */
    *out = text;
    return BG_ERR_OK;
}

static void win_evt_stop(event_source *src)
{
    SetEvent(((win_evt_source *)src)->stop_event);
}

static bg_error win_evt_sleep_ms(event_source *src, uint32_t ms)
{
    win_evt_source *w = (win_evt_source *)src;
    DWORD r = WaitForSingleObject(w->stop_event, (DWORD)ms);
    if (r == WAIT_OBJECT_0)
        return BG_ERR_STOPPED;
    if (r == WAIT_TIMEOUT)
        return BG_ERR_OK;
    w->last_error = GetLastError();
    return BG_ERR_PLATFORM;
}

/* The Win32 code behind the last failure with its FormatMessage text, and for access denied what to do. */
static void win_evt_describe(event_source *src, char *buf, size_t len)
{
    win_evt_source *w = (win_evt_source *)src;
    char text[200];
    if (!len)
        return;
    buf[0] = '\0';
    if (!w->last_error)
        return;
    snprintf(buf, len, "Windows error %s%s", win_error_text(w->last_error, text, sizeof text),
             w->last_error == ERROR_ACCESS_DENIED
                 ? "; the service account may not read the channel: run 'bitsguard setup' as an administrator, or "
                   "add (A;;0x1;;;<the service SID>) with 'wevtutil sl <channel> /ca:<SDDL>'"
                 : "");
}

static void win_evt_destroy(event_source *src)
{
    win_evt_source *w = (win_evt_source *)src;
    if (!w)
        return;
    win_evt_unsubscribe(src);
    if (w->stop_event)
        CloseHandle(w->stop_event);
    if (w->signal_event)
        CloseHandle(w->signal_event);
    if (w->eventlog)
        CloseServiceHandle(w->eventlog);
    if (w->scm)
        CloseServiceHandle(w->scm);
    free(w->query_path);
    free(w->filter);
    free(w->channel);
    free(w->wbuf);
    free(w->ubuf);
    free(w);
}

static const event_source_ops win_evt_ops = {
    win_evt_subscribe, win_evt_wait,     win_evt_next,    win_evt_bookmark_render, win_evt_unsubscribe,
    win_evt_stop,      win_evt_sleep_ms, win_evt_destroy, win_evt_describe,
};

static win_evt_source *win_evt_alloc(char *errbuf, size_t errlen)
{
    win_evt_source *w = calloc(1, sizeof *w);
    if (!w) {
        if (errbuf && errlen)
            snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    w->base.ops = &win_evt_ops;
    /* Both manual-reset: stop stays set once requested; the signal is reset by wait before draining. */
    w->stop_event = CreateEventW(NULL, TRUE, FALSE, NULL);
    w->signal_event = CreateEventW(NULL, TRUE, FALSE, NULL);
    if (!w->stop_event || !w->signal_event) {
        if (errbuf && errlen)
            snprintf(errbuf, errlen, "CreateEvent failed (error %lu)", (unsigned long)GetLastError());
        win_evt_destroy(&w->base);
        return NULL;
    }
    return w;
}

event_source *win_evt_source_new(char *errbuf, size_t errlen)
{
    win_evt_source *w = win_evt_alloc(errbuf, errlen);
    return w ? &w->base : NULL;
}

event_source *win_evt_query_new(const wchar_t *path_or_channel, int is_file)
{
    if (!path_or_channel)
        return NULL;
    win_evt_source *w = win_evt_alloc(NULL, 0);
    if (!w)
        return NULL;
    size_t n = wcslen(path_or_channel) + 1;
    w->query_path = malloc(n * sizeof(wchar_t));
    if (!w->query_path) {
        win_evt_destroy(&w->base);
        return NULL;
    }
    memcpy(w->query_path, path_or_channel, n * sizeof(wchar_t));
    w->is_query = 1;
    w->query_is_file = is_file != 0;
    return &w->base;
}

unsigned long win_evt_source_last_error(const event_source *src)
{
    return src ? (unsigned long)((const win_evt_source *)src)->last_error : 0;
}

unsigned long win_evt_source_safety_wakeups(const event_source *src)
{
    return src ? ((const win_evt_source *)src)->safety_wakeups : 0;
}

bg_error win_evt_source_filter_set(event_source *src, const char *query)
{
    win_evt_source *w = (win_evt_source *)src;
    if (!w || w->is_query || !query)
        return BG_ERR_INVALID_ARG;
    wchar_t *wq = bg_utf16_from_utf8_strict(query);
    if (!wq)
        return BG_ERR_NOMEM;
    free(w->filter);
    w->filter = wq;
    return BG_ERR_OK;
}
