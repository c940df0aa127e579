/* Windows test of the wevtapi event source with the wevtapi.dll test double under Wine, and the engine on top. */
#ifndef _WIN32

#include <stdio.h>

int main(void)
{
    fprintf(stderr, "skipped: the wevtapi event source exists only on Windows\n");
    return 77; /* CHECK_SKIP_CODE; check.h is not included here, its counters would be unused. */
}

#else

#include "check.h"

#include <windows.h>

#include <wchar.h>

#include "engine.h"
#include "win_evt_source.h"

#define CHANNEL ENGINE_CHANNEL_BITS

/* The private folder this test runs in: the double reads the feed folder beside its DLL. */
static wchar_t g_dir[MAX_PATH];

static void path_join(wchar_t *out, const wchar_t *dir, const wchar_t *name)
{
    _snwprintf(out, MAX_PATH, L"%ls\\%ls", dir, name);
    out[MAX_PATH - 1] = L'\0';
}

static void feed_path(wchar_t *out, const wchar_t *name)
{
    wchar_t rel[MAX_PATH];
    _snwprintf(rel, MAX_PATH, L"feed\\%ls", name);
    rel[MAX_PATH - 1] = L'\0';
    path_join(out, g_dir, rel);
}

static int file_write(const wchar_t *path, const char *text, size_t len)
{
    HANDLE h = CreateFileW(path, GENERIC_WRITE, 0, NULL, CREATE_ALWAYS, FILE_ATTRIBUTE_NORMAL, NULL);
    if (h == INVALID_HANDLE_VALUE)
        return 0;
    DWORD done = 0;
    BOOL ok = len == 0 || (WriteFile(h, text, (DWORD)len, &done, NULL) && done == (DWORD)len);
    CloseHandle(h);
    return ok;
}

/* Writes a feed file completely under a temporary name, then renames it into place (the double's rule). */
static int feed_write(const wchar_t *name, const char *text, size_t len)
{
    wchar_t tmpname[MAX_PATH], tmp[MAX_PATH], dst[MAX_PATH];
    _snwprintf(tmpname, MAX_PATH, L"%ls.tmp", name);
    feed_path(tmp, tmpname);
    feed_path(dst, name);
    return file_write(tmp, text, len) && MoveFileExW(tmp, dst, MOVEFILE_REPLACE_EXISTING);
}

/* A control file of the double (fault-next.txt, reject-bookmark, channel-disabled). */
static int control_write(const wchar_t *name, const char *text)
{
    wchar_t path[MAX_PATH];
    feed_path(path, name);
    return file_write(path, text, strlen(text));
}

static void control_delete(const wchar_t *name)
{
    wchar_t path[MAX_PATH];
    feed_path(path, name);
    DeleteFileW(path);
}

/* ---- events ------------------------------------------------------------------------------------- */

/* Appends one Bits-Client event with record id rid and the given EventData to a growing text. */
typedef struct text {
    char *p;
    size_t len, cap;
} text;

static void text_add(text *t, const char *s, size_t n)
{
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 4096;
        while (cap < t->len + n + 1)
            cap *= 2;
        char *g = realloc(t->p, cap);
        if (!g) {
            fprintf(stderr, "out of memory\n");
            exit(2);
        }
        t->p = g;
        t->cap = cap;
    }
    memcpy(t->p + t->len, s, n);
    t->len += n;
    t->p[t->len] = '\0';
}

static void event_add(text *t, unsigned rid, const char *title, const char *url)
{
    char buf[4096];
    int n = snprintf(buf, sizeof buf,
                     "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>"
                     "<Provider Name='Microsoft-Windows-Bits-Client' Guid='{EF1CC15B-46C1-414E-BB95-E76B077BD51E}'/>"
                     "<EventID>16403</EventID><Version>0</Version><Level>4</Level>"
                     "<TimeCreated SystemTime='2026-11-30T01:00:%02u.1234567Z'/><EventRecordID>%u</EventRecordID>"
                     "<Channel>Microsoft-Windows-Bits-Client/Operational</Channel><Computer>WS01</Computer>"
                     "<Security UserID='S-1-5-18'/></System><EventData><Data Name='User'>CORP\\alice</Data>"
                     "<Data Name='jobTitle'>%s</Data><Data Name='jobId'>{%08X-24E6-4C66-AC78-5ED0E6007F1A}</Data>"
                     "<Data Name='jobOwner'>CORP\\alice</Data><Data Name='fileCount'>1</Data>"
                     "<Data Name='RemoteName'>%s</Data><Data Name='LocalName'>C:\\x.exe</Data>"
                     "<Data Name='processId'>42</Data></EventData></Event>\r\n",
                     rid % 60, rid, title, 0x9A250000u + rid, url);
    text_add(t, buf, (size_t)n);
}

/* A valid event 3 whose jobTitle is `chars` copies of 'A' (to exercise the render buffer and its cap). */
static void event_big_add(text *t, unsigned rid, size_t chars)
{
    char *title = malloc(chars + 1);
    if (!title)
        exit(2);
    memset(title, 'A', chars);
    title[chars] = '\0';
    char head[256];
    snprintf(head, sizeof head,
             "<Event><System><Provider Name='Microsoft-Windows-Bits-Client'/><EventID>3</EventID>"
             "<Version>1</Version><EventRecordID>%u</EventRecordID></System>",
             rid);
    text_add(t, head, strlen(head));
    text_add(t, "<EventData><Data Name='jobTitle'>", 33);
    text_add(t, title, chars);
    text_add(t, "</Data></EventData></Event>\r\n", 29);
    free(title);
}

static int has_record(const char *xml, unsigned rid)
{
    char want[64];
    snprintf(want, sizeof want, "<EventRecordID>%u</EventRecordID>", rid);
    return strstr(xml, want) != NULL;
}

static char *bookmark_at(unsigned rid)
{
    char buf[256];
    snprintf(buf, sizeof buf, "<BookmarkList><Bookmark Channel='%s' RecordId='%u' IsCurrent='true'/></BookmarkList>",
             CHANNEL, rid);
    size_t n = strlen(buf) + 1;
    char *p = malloc(n);
    if (p)
        memcpy(p, buf, n);
    return p;
}

/* Drains a subscription (wait already returned): the record ids handed out, in order. */
static size_t drain(event_source *src, unsigned *ids, size_t cap, bg_error *rc_out)
{
    const char *xml[ENGINE_BATCH_MAX];
    size_t len[ENGINE_BATCH_MAX];
    size_t total = 0;
    bg_error rc = BG_ERR_OK;
    for (;;) {
        size_t count = 0;
        rc = src->ops->next(src, 4, xml, len, &count);
        if (rc != BG_ERR_OK || count == 0)
            break;
        for (size_t i = 0; i < count; i++) {
            const char *p = strstr(xml[i], "<EventRecordID>");
            if (total < cap)
                ids[total] = p ? (unsigned)strtoul(p + 15, NULL, 10) : 0;
            total++;
            CHECK_INT_EQ(strlen(xml[i]), len[i]);
        }
    }
    if (rc_out)
        *rc_out = rc;
    return total;
}

/* ---- tests -------------------------------------------------------------------------------------- */

/* 10 events in 001.xml, ids 1..10. */
static void test_oldest_and_bookmark(void)
{
    char err[128] = "";
    event_source *src = win_evt_source_new(err, sizeof err);
    CHECK(src != NULL);
    if (!src)
        return;
    CHECK_INT_EQ(src->ops->subscribe(src, CHANNEL, NULL, 1), BG_ERR_OK);
    char *bm = NULL;
    CHECK_INT_EQ(src->ops->bookmark_render(src, &bm), BG_ERR_OK);
    CHECK(bm == NULL); /* Nothing handed out yet. */
    CHECK_INT_EQ(src->ops->wait(src), BG_ERR_OK);
    unsigned ids[32];
    bg_error rc;
    size_t n = drain(src, ids, 32, &rc);
    CHECK_INT_EQ(rc, BG_ERR_OK);
    CHECK_INT_EQ(n, 10);
    for (unsigned i = 0; i < 10 && i < n; i++)
        CHECK_INT_EQ(ids[i], i + 1);
    CHECK_INT_EQ(src->ops->bookmark_render(src, &bm), BG_ERR_OK);
    CHECK(bm && strstr(bm, "RecordId='10'") && strstr(bm, "<BookmarkList>"));
    free(bm);

    /* Resume after record 4: 5..10 follow. */
    bm = bookmark_at(4);
    CHECK_INT_EQ(src->ops->subscribe(src, CHANNEL, bm, 0), BG_ERR_OK);
    free(bm);
    CHECK_INT_EQ(src->ops->wait(src), BG_ERR_OK);
    n = drain(src, ids, 32, &rc);
    CHECK_INT_EQ(n, 6);
    CHECK_INT_EQ(ids[0], 5);
    CHECK_INT_EQ(ids[n ? n - 1 : 0], 10);
    src->ops->unsubscribe(src);
    src->ops->destroy(src);
}

typedef struct live_ctx {
    event_source *src;
    HANDLE done;
} live_ctx;

static DWORD WINAPI live_writer(LPVOID arg)
{
    live_ctx *c = arg;
    Sleep(300);
    text t = {0};
    event_add(&t, 11, "live", "http://45.33.32.156/live1.exe");
    event_add(&t, 12, "live", "http://45.33.32.156/live2.exe");
    feed_write(L"002.xml", t.p, t.len);
    free(t.p);
    /* Watchdog: a wait that never wakes ends the test instead of hanging it. */
    if (WaitForSingleObject(c->done, 15000) == WAIT_TIMEOUT)
        c->src->ops->stop(c->src);
    return 0;
}

/* Future events only: the wait blocks (no timer) until a live file appears, then ids 11 and 12. */
static void test_future_live(void)
{
    event_source *src = win_evt_source_new(NULL, 0);
    CHECK(src != NULL);
    if (!src)
        return;
    CHECK_INT_EQ(src->ops->subscribe(src, CHANNEL, NULL, 0), BG_ERR_OK);
    unsigned ids[8];
    bg_error rc;
    CHECK_INT_EQ(src->ops->wait(src), BG_ERR_OK); /* The first drain after subscribe finds nothing. */
    CHECK_INT_EQ(drain(src, ids, 8, &rc), 0);
    live_ctx c = {src, CreateEventW(NULL, TRUE, FALSE, NULL)};
    HANDLE th = CreateThread(NULL, 0, live_writer, &c, 0, NULL);
    CHECK(th != NULL);
    size_t n = 0;
    ULONGLONG t0 = GetTickCount64();
    while (n < 2 && GetTickCount64() - t0 < 20000) {
        rc = src->ops->wait(src);
        if (rc != BG_ERR_OK)
            break;
        n += drain(src, ids + n, 8 - n, NULL);
    }
    CHECK_INT_EQ(rc, BG_ERR_OK);
    CHECK_INT_EQ(n, 2);
    CHECK_INT_EQ(ids[0], 11);
    SetEvent(c.done);
    if (th) {
        WaitForSingleObject(th, INFINITE);
        CloseHandle(th);
    }
    CloseHandle(c.done);
    src->ops->destroy(src);
}

/* The error map: rejected bookmark, unusable bookmark text, missing or disabled channel, broken reads. */
static void test_errors_mapped(void)
{
    event_source *src = win_evt_source_new(NULL, 0);
    CHECK(src != NULL);
    if (!src)
        return;
    char *bm = bookmark_at(3);
    CHECK(control_write(L"reject-bookmark", "1"));
    CHECK_INT_EQ(src->ops->subscribe(src, CHANNEL, bm, 0), BG_ERR_SOURCE_BOOKMARK);
    CHECK_INT_EQ(win_evt_source_last_error(src), ERROR_NOT_FOUND);
    control_delete(L"reject-bookmark");
    /* Windows also answers a strict subscribe whose record is gone with STALE or INVALID_POSITION: the
     * same "bookmark unusable" (a retry with the same bookmark would stall for ever). */
    static const char *const stale[] = {"15011", "15012", "1168"};
    for (size_t i = 0; i < sizeof stale / sizeof stale[0]; i++) {
        CHECK(control_write(L"bookmark-error.txt", stale[i]));
        CHECK_STR_EQ_CTX(stale[i], bg_error_name(src->ops->subscribe(src, CHANNEL, bm, 0)),
                         bg_error_name(BG_ERR_SOURCE_BOOKMARK));
        CHECK_INT_EQ(win_evt_source_last_error(src), strtoul(stale[i], NULL, 10));
    }
    CHECK_INT_EQ(src->ops->subscribe(src, CHANNEL, "<not a bookmark", 0), BG_ERR_SOURCE_BOOKMARK);
    CHECK_INT_EQ(src->ops->subscribe(src, "Microsoft-Windows-Nope/Operational", NULL, 1), BG_ERR_SOURCE_CHANNEL);
    /* Disabled: tampering, told apart from a missing channel (the engine alerts it, event 1005). */
    CHECK(control_write(L"channel-disabled", "1"));
    CHECK_INT_EQ(src->ops->subscribe(src, CHANNEL, NULL, 1), BG_ERR_SOURCE_DISABLED);
    control_delete(L"channel-disabled");

    static const struct {
        const char *code;
        bg_error want;
    } faults[] = {
        {"1722", BG_ERR_SOURCE_RETRY},  /* RPC_S_SERVER_UNAVAILABLE */
        {"15011", BG_ERR_SOURCE_RETRY}, /* ERROR_EVT_QUERY_RESULT_STALE */
        {"1717", BG_ERR_SOURCE_RETRY},  /* RPC_S_UNKNOWN_IF */
        {"6", BG_ERR_SOURCE_RETRY},     /* ERROR_INVALID_HANDLE */
        {"5", BG_ERR_SOURCE},           /* ERROR_ACCESS_DENIED: not a resubscribe case */
    };
    for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++) {
        CHECK_INT_EQ(src->ops->subscribe(src, CHANNEL, bm, 0), BG_ERR_OK);
        CHECK(control_write(L"fault-next.txt", faults[i].code));
        CHECK_INT_EQ(src->ops->wait(src), BG_ERR_OK);
        const char *xml[ENGINE_BATCH_MAX];
        size_t len[ENGINE_BATCH_MAX], count = 99;
        bg_error rc = src->ops->next(src, ENGINE_BATCH_MAX, xml, len, &count);
        CHECK_STR_EQ_CTX(faults[i].code, bg_error_name(rc), bg_error_name(faults[i].want));
        CHECK_INT_EQ(count, 0);
        CHECK_INT_EQ(win_evt_source_last_error(src), strtoul(faults[i].code, NULL, 10));
        /* What an operator sees: the Win32 code with its text; for access denied, what to do. */
        char why[400], code[16];
        src->ops->describe(src, why, sizeof why);
        snprintf(code, sizeof code, "(%s)", faults[i].code);
        CHECK(strncmp(why, "Windows error ", 14) == 0 && strstr(why, code) != NULL);
        CHECK((strstr(why, "bitsguard setup") != NULL) == (strcmp(faults[i].code, "5") == 0));
        control_delete(L"fault-next.txt");
        src->ops->unsubscribe(src);
    }
    free(bm);
    src->ops->destroy(src);
}

/* RPC_S_INVALID_BOUND (1734) when a batch is too large: the source halves its batch until it fits and hands
 * every event out once, in order, with no error (feed: ids 1.., about 1,700 bytes each). */
static void test_batch_too_large(void)
{
    event_source *src = win_evt_source_new(NULL, 0);
    CHECK(src != NULL);
    if (!src)
        return;
    CHECK(control_write(L"max-batch-bytes.txt", "4000")); /* Two events fit. */
    CHECK_INT_EQ(src->ops->subscribe(src, CHANNEL, NULL, 1), BG_ERR_OK);
    CHECK_INT_EQ(src->ops->wait(src), BG_ERR_OK);
    const char *xml[ENGINE_BATCH_MAX];
    size_t len[ENGINE_BATCH_MAX], total = 0, largest = 0;
    unsigned last = 0;
    for (int calls = 0; calls < 40; calls++) {
        size_t count = 0;
        bg_error rc = src->ops->next(src, ENGINE_BATCH_MAX, xml, len, &count);
        CHECK_STR_EQ(bg_error_name(rc), bg_error_name(BG_ERR_OK));
        if (rc != BG_ERR_OK || count == 0)
            break;
        largest = count > largest ? count : largest;
        for (size_t i = 0; i < count; i++) {
            const char *p = strstr(xml[i], "<EventRecordID>");
            unsigned id = p ? (unsigned)strtoul(p + 15, NULL, 10) : 0;
            CHECK_INT_EQ(id, last + 1);
            last = id;
        }
        total += count;
    }
    CHECK(total >= 10); /* 001.xml and the live events of the earlier tests. */
    CHECK_INT_EQ(last, total);
    CHECK(largest >= 1 && largest <= 2);
    control_delete(L"max-batch-bytes.txt");
    src->ops->destroy(src);
}

/* Rendering: a large event grows the reused buffer (second EvtRender call), one over the cap is handed
 * out empty so the bookmark moves past it, and UTF-16 becomes UTF-8. Feed 003.xml: ids 13, 14, 15. */
static void test_render_sizes_and_utf8(void)
{
    text t = {0};
    event_big_add(&t, 13, 200000);
    event_big_add(&t, 14, 1200000); /* 2.4 MB of UTF-16: over the 2 MiB cap. */
    event_add(&t, 15,
              "\xC3\x9C"
              "ber-\xE6\x9B\xB4\xE6\x96\xB0",
              "http://45.33.32.156/u.exe");
    CHECK(feed_write(L"003.xml", t.p, t.len));
    free(t.p);

    event_source *src = win_evt_source_new(NULL, 0);
    CHECK(src != NULL);
    if (!src)
        return;
    char *bm = bookmark_at(12);
    CHECK_INT_EQ(src->ops->subscribe(src, CHANNEL, bm, 0), BG_ERR_OK);
    free(bm);
    CHECK_INT_EQ(src->ops->wait(src), BG_ERR_OK);
    const char *xml[ENGINE_BATCH_MAX];
    size_t len[ENGINE_BATCH_MAX], count = 0;
    CHECK_INT_EQ(src->ops->next(src, ENGINE_BATCH_MAX, xml, len, &count), BG_ERR_OK);
    CHECK_INT_EQ(count, 3);
    if (count == 3) {
        CHECK(len[0] > 200000 && has_record(xml[0], 13));
        CHECK(len[0] >= 8 && strcmp(xml[0] + len[0] - 8, "</Event>") == 0);
        CHECK_INT_EQ(len[1], 0);
        CHECK_STR_EQ(xml[1], "");
        CHECK(has_record(xml[2], 15));
        CHECK(strstr(xml[2], ">\xC3\x9C"
                             "ber-\xE6\x9B\xB4\xE6\x96\xB0<") != NULL);
    }
    bm = NULL;
    CHECK_INT_EQ(src->ops->bookmark_render(src, &bm), BG_ERR_OK);
    CHECK(bm && strstr(bm, "RecordId='15'"));
    free(bm);
    src->ops->destroy(src);
}

/* stop() ends a wait and a backoff sleep at once, and the source stays stopped. */
static void test_stop(void)
{
    event_source *src = win_evt_source_new(NULL, 0);
    CHECK(src != NULL);
    if (!src)
        return;
    CHECK_INT_EQ(src->ops->sleep_ms(src, 10), BG_ERR_OK);
    CHECK_INT_EQ(src->ops->subscribe(src, CHANNEL, NULL, 0), BG_ERR_OK);
    src->ops->stop(src);
    ULONGLONG t0 = GetTickCount64();
    CHECK_INT_EQ(src->ops->wait(src), BG_ERR_STOPPED);
    CHECK_INT_EQ(src->ops->sleep_ms(src, 60000), BG_ERR_STOPPED);
    const char *xml[4];
    size_t len[4], count = 9;
    CHECK_INT_EQ(src->ops->next(src, 4, xml, len, &count), BG_ERR_STOPPED);
    CHECK_INT_EQ(count, 0);
    CHECK(GetTickCount64() - t0 < 2000);
    src->ops->destroy(src);
}

static DWORD WINAPI stop_later(LPVOID arg)
{
    Sleep(400);
    event_source *src = arg;
    src->ops->stop(src);
    return 0;
}

/* A stop while a batch renders slowly (200 ms per event in the double) ends the batch between events:
 * nothing handed out, the bookmark not moved. */
static void test_stop_during_slow_render(void)
{
    event_source *src = win_evt_source_new(NULL, 0);
    CHECK(src != NULL);
    if (!src)
        return;
    CHECK(control_write(L"slow-render.txt", "200"));
    CHECK_INT_EQ(src->ops->subscribe(src, CHANNEL, NULL, 1), BG_ERR_OK);
    CHECK_INT_EQ(src->ops->wait(src), BG_ERR_OK);
    HANDLE th = CreateThread(NULL, 0, stop_later, src, 0, NULL);
    CHECK(th != NULL);
    const char *xml[ENGINE_BATCH_MAX];
    size_t len[ENGINE_BATCH_MAX], count = 9;
    ULONGLONG t0 = GetTickCount64();
    CHECK_INT_EQ(src->ops->next(src, ENGINE_BATCH_MAX, xml, len, &count), BG_ERR_STOPPED);
    ULONGLONG took = GetTickCount64() - t0;
    CHECK_INT_EQ(count, 0);
    CHECK(took < 1500); /* 15 events at 200 ms would take 3 s. */
    char *bm = NULL;
    CHECK_INT_EQ(src->ops->bookmark_render(src, &bm), BG_ERR_OK);
    CHECK(bm == NULL);
    free(bm);
    control_delete(L"slow-render.txt");
    if (th) {
        WaitForSingleObject(th, INFINITE);
        CloseHandle(th);
    }
    src->ops->destroy(src);
}

/* A query over a file reads it oldest first and ends; a missing file is an input error. */
static void test_query_file(void)
{
    wchar_t path[MAX_PATH];
    feed_path(path, L"001.xml");
    event_source *src = win_evt_query_new(path, 1);
    CHECK(src != NULL);
    if (!src)
        return;
    CHECK_INT_EQ(src->ops->subscribe(src, NULL, NULL, 1), BG_ERR_OK);
    unsigned ids[32];
    size_t n = 0;
    bg_error rc;
    int rounds = 0;
    while ((rc = src->ops->wait(src)) == BG_ERR_OK && rounds++ < 100)
        n += drain(src, ids + n, 32 - n, NULL);
    CHECK_INT_EQ(rc, BG_ERR_STOPPED);
    CHECK_INT_EQ(n, 10);
    CHECK_INT_EQ(ids[0], 1);
    src->ops->destroy(src);

    feed_path(path, L"missing.xml");
    src = win_evt_query_new(path, 1);
    CHECK(src != NULL);
    if (src) {
        CHECK_INT_EQ(src->ops->subscribe(src, NULL, NULL, 1), BG_ERR_IO);
        src->ops->destroy(src);
    }
}

/* engine_run on its own thread with the real source, stopped from another thread as the service does. */
typedef struct e2e_ctx {
    engine_config cfg;
    event_source *src;
    engine_alert_sink sink;
    engine_stats stats;
    volatile LONG detections;
    volatile LONG states;
    bg_error rc;
} e2e_ctx;

static int e2e_detection(void *ctx, const detection *d)
{
    (void)d;
    InterlockedIncrement(&((e2e_ctx *)ctx)->detections);
    return 1;
}

static void e2e_state(void *ctx, const char *what)
{
    (void)what;
    InterlockedIncrement(&((e2e_ctx *)ctx)->states);
}

static DWORD WINAPI e2e_main(LPVOID arg)
{
    e2e_ctx *c = arg;
    c->rc = engine_run(&c->cfg, c->src, &c->sink, &c->stats);
    return 0;
}

/* All 15 events of the feed: 13 detections (ids 1..12 and 15), one event over the cap counted as
 * malformed, the bookmark at 15; stop returns well within the service's 5 s. */
static void test_engine_end_to_end(void)
{
    char db[MAX_PATH * 3];
    wchar_t wdb[MAX_PATH];
    path_join(wdb, g_dir, L"e2e.db");
    WideCharToMultiByte(CP_UTF8, 0, wdb, -1, db, (int)sizeof db, NULL, NULL);
    e2e_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return;
    c->cfg.db_path = db;
    c->cfg.channel = CHANNEL;
    c->cfg.backfill = 1;
    c->src = win_evt_source_new(NULL, 0);
    c->sink.ctx = c;
    c->sink.detection = e2e_detection;
    c->sink.state = e2e_state;
    CHECK(c->src != NULL);
    if (!c->src) {
        free(c);
        return;
    }
    HANDLE th = CreateThread(NULL, 0, e2e_main, c, 0, NULL);
    CHECK(th != NULL);
    ULONGLONG t0 = GetTickCount64();
    while (c->detections < 13 && GetTickCount64() - t0 < 20000)
        Sleep(50);
    CHECK_INT_EQ(c->detections, 13);
    Sleep(200); /* Nothing more arrives: the engine waits idle on its handles. */
    ULONGLONG t1 = GetTickCount64();
    c->src->ops->stop(c->src);
    if (th) {
        CHECK_INT_EQ(WaitForSingleObject(th, 10000), WAIT_OBJECT_0);
        CloseHandle(th);
    }
    CHECK(GetTickCount64() - t1 < 5000);
    CHECK_INT_EQ(c->rc, BG_ERR_OK);
    CHECK_INT_EQ(c->stats.events, 15);
    CHECK_INT_EQ(c->stats.malformed, 1);
    CHECK_INT_EQ(c->stats.detections, 13);
    CHECK_INT_EQ(c->states, 3); /* started, subscribed, stopped */
    c->src->ops->destroy(c->src);
    free(c);
}

/* ---- the private folder and the double beside the exe ------------------------------------------- */

static int child_main(void)
{
    GetModuleFileNameW(NULL, g_dir, MAX_PATH);
    wchar_t *slash = wcsrchr(g_dir, L'\\');
    if (slash)
        *slash = L'\0';
    /* The double must be the wevtapi.dll in use: Wine's builtin one aborts in EvtRender. */
    wchar_t loaded[MAX_PATH] = L"", expect[MAX_PATH];
    HMODULE m = GetModuleHandleW(L"wevtapi.dll");
    if (m)
        GetModuleFileNameW(m, loaded, MAX_PATH);
    path_join(expect, g_dir, L"wevtapi.dll");
    if (_wcsicmp(loaded, expect) != 0) {
        fprintf(stderr, "skipped: wevtapi.dll loaded from %ls, not the test double %ls\n", loaded, expect);
        return CHECK_SKIP_CODE;
    }
    text t = {0};
    for (unsigned rid = 1; rid <= 10; rid++)
        event_add(&t, rid, "upd", "http://45.33.32.156/x.exe");
    if (!feed_write(L"001.xml", t.p, t.len)) {
        fprintf(stderr, "cannot write the feed\n");
        return 2;
    }
    free(t.p);
    CHECK_RUN(test_oldest_and_bookmark);
    CHECK_RUN(test_future_live);
    CHECK_RUN(test_errors_mapped);
    CHECK_RUN(test_batch_too_large);
    CHECK_RUN(test_render_sizes_and_utf8);
    CHECK_RUN(test_stop);
    CHECK_RUN(test_stop_during_slow_render);
    CHECK_RUN(test_query_file);
    CHECK_RUN(test_engine_end_to_end);
    return CHECK_DONE();
}

static void folder_remove(const wchar_t *dir)
{
    wchar_t pattern[MAX_PATH], path[MAX_PATH];
    path_join(pattern, dir, L"*");
    WIN32_FIND_DATAW fd;
    HANDLE h = FindFirstFileW(pattern, &fd);
    if (h != INVALID_HANDLE_VALUE) {
        do {
            if (wcscmp(fd.cFileName, L".") == 0 || wcscmp(fd.cFileName, L"..") == 0)
                continue;
            path_join(path, dir, fd.cFileName);
            if (fd.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY)
                folder_remove(path);
            else
                DeleteFileW(path);
        } while (FindNextFileW(h, &fd));
        FindClose(h);
    }
    RemoveDirectoryW(dir);
}

/* Copies this exe and the double (built in tests\wevtapi\ beside it) into a fresh folder and runs the
 * copy there, so the double is the wevtapi.dll loaded and parallel runs never share a feed folder. */
static int parent_main(void)
{
    wchar_t self[MAX_PATH], dir[MAX_PATH], dll[MAX_PATH], tmp[MAX_PATH], work[MAX_PATH], dst[MAX_PATH];
    GetModuleFileNameW(NULL, self, MAX_PATH);
    _snwprintf(dir, MAX_PATH, L"%ls", self);
    dir[MAX_PATH - 1] = L'\0';
    wchar_t *slash = wcsrchr(dir, L'\\');
    if (slash)
        *slash = L'\0';
    path_join(dll, dir, L"wevtapi\\wevtapi.dll");
    if (GetFileAttributesW(dll) == INVALID_FILE_ATTRIBUTES) {
        fprintf(stderr, "skipped: the wevtapi.dll test double is not built (%ls)\n", dll);
        return CHECK_SKIP_CODE;
    }
    if (!GetTempPathW(MAX_PATH, tmp))
        return 2;
    _snwprintf(work, MAX_PATH, L"%lsbg_winevt_%lu_%llu", tmp, (unsigned long)GetCurrentProcessId(),
               (unsigned long long)GetTickCount64());
    work[MAX_PATH - 1] = L'\0';
    wchar_t feed[MAX_PATH];
    path_join(feed, work, L"feed");
    if (!CreateDirectoryW(work, NULL) || !CreateDirectoryW(feed, NULL))
        return 2;
    path_join(dst, work, L"test_service_winevt.exe");
    int status = 2;
    if (CopyFileW(self, dst, FALSE)) {
        path_join(tmp, work, L"wevtapi.dll");
        if (CopyFileW(dll, tmp, FALSE)) {
            wchar_t cmd[2 * MAX_PATH];
            _snwprintf(cmd, 2 * MAX_PATH, L"\"%ls\" --child", dst);
            cmd[2 * MAX_PATH - 1] = L'\0';
            /* Wine: prefer the DLL beside the exe over the builtin stub (no effect on Windows). */
            SetEnvironmentVariableW(L"WINEDLLOVERRIDES", L"mscoree,mshtml=;wevtapi=n,b");
            STARTUPINFOW si;
            PROCESS_INFORMATION pi;
            memset(&si, 0, sizeof si);
            si.cb = sizeof si;
            if (CreateProcessW(NULL, cmd, NULL, NULL, TRUE, 0, NULL, work, &si, &pi)) {
                DWORD code = 2;
                WaitForSingleObject(pi.hProcess, INFINITE);
                GetExitCodeProcess(pi.hProcess, &code);
                CloseHandle(pi.hThread);
                CloseHandle(pi.hProcess);
                status = (int)code;
            }
        }
    }
    folder_remove(work);
    return status;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--child") == 0)
        return child_main();
    return parent_main();
}

#endif
