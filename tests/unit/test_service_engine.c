/* Engine tests against a scripted fake event source: exactly-once resume, resubscribe, gaps, locks, stop, backoff. */
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "classify.h"
#include "engine.h"
#include "engine_group.h"
#include "store.h"

#define TEST_CHANNEL ENGINE_CHANNEL_BITS
#define MAX_EVENTS   256
#define MAX_SLEEPS   64
#define MAX_SUBS     32

/* ---- the scripted event log ------------------------------------------------------------------- */

/* Events of one channel; event i has EventRecordID i + 1, as in a real log. */
typedef struct script {
    char *xml[MAX_EVENTS];
    size_t n;
} script;

static void script_add(script *s, const char *text)
{
    size_t len = strlen(text) + 1;
    char *copy = malloc(len);
    if (!copy || s->n >= MAX_EVENTS) {
        fprintf(stderr, "script_add: out of room\n");
        exit(2);
    }
    memcpy(copy, text, len);
    s->xml[s->n++] = copy;
}

static void script_free(script *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->xml[i]);
    s->n = 0;
}

/* The computer the next events come from, and whether they are shaped as on ForwardedEvents (with the
 * RenderingInfo section a WEF subscription's RenderedText format adds after EventData). */
static const char *script_computer = "WS01.corp.example";
static int script_forwarded = 0;

/* Appends one Bits-Client event shaped like EvtRender output; its record id is its position + 1. */
static void script_event_add(script *s, unsigned id, unsigned version, const char *data)
{
    unsigned rid = (unsigned)s->n + 1;
    char buf[4096];
    snprintf(buf, sizeof buf,
             "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>"
             "<Provider Name='Microsoft-Windows-Bits-Client' Guid='{EF1CC15B-46C1-414E-BB95-E76B077BD51E}'/>"
             "<EventID>%u</EventID><Version>%u</Version><Level>4</Level><Task>0</Task><Opcode>0</Opcode>"
             "<Keywords>0x4000000000000000</Keywords>"
             "<TimeCreated SystemTime='2026-11-30T%02u:%02u:%02u.1234567Z'/>"
             "<EventRecordID>%u</EventRecordID><Correlation ActivityID='{E4DB489E-1037-0002-3588-E4E43710DA01}'/>"
             "<Execution ProcessID='1064' ThreadID='4200'/>"
             "<Channel>Microsoft-Windows-Bits-Client/Operational</Channel><Computer>%s</Computer>"
             "<Security UserID='S-1-5-18'/></System><EventData>%s</EventData>%s</Event>",
             id, version, 1 + rid / 3600 % 20, rid / 60 % 60, rid % 60, rid, script_computer, data,
             script_forwarded ? "<RenderingInfo Culture='en-US'><Message>BITS event</Message><Level>Information</Level>"
                                "<Task></Task><Opcode>Info</Opcode><Channel>Microsoft-Windows-Bits-Client/Operational"
                                "</Channel><Provider>Microsoft-Windows-Bits-Client</Provider><Keywords></Keywords>"
                                "</RenderingInfo>"
                              : "");
    script_add(s, buf);
}

/* The GUID of test job j. */
static void job_guid(unsigned j, char out[40])
{
    snprintf(out, 40, "{%08X-24E6-4C66-AC78-5ED0E6007F1A}", 0x9A250000u + j);
}

/* The remote name of job j: a direct public IP (45.33.32.156 is scanme.nmap.org) unless j says otherwise. */
static void job_url(unsigned j, char *out, size_t n)
{
    snprintf(out, n, "http://45.33.%u.156/x%u.exe", 32 + j, j);
}

/* A whole job: created (3 v2), file added (16403), completed (4 v1). */
static void script_job_add(script *s, unsigned j)
{
    char guid[40], url[128], data[2048];
    job_guid(j, guid);
    job_url(j, url, sizeof url);
    snprintf(data, sizeof data,
             "<Data Name='jobTitle'>upd%u</Data><Data Name='jobId'>%s</Data>"
             "<Data Name='jobOwner'>CORP\\alice</Data>"
             "<Data Name='processPath'>C:\\Windows\\System32\\bitsadmin.exe</Data><Data Name='processId'>%u</Data>",
             j, guid, 4000 + j);
    script_event_add(s, 3, 2, data);
    snprintf(data, sizeof data,
             "<Data Name='User'>CORP\\alice</Data><Data Name='jobTitle'>upd%u</Data><Data Name='jobId'>%s</Data>"
             "<Data Name='jobOwner'>CORP\\alice</Data><Data Name='fileCount'>1</Data>"
             "<Data Name='RemoteName'>%s</Data><Data Name='LocalName'>C:\\Users\\alice\\AppData\\x%u.exe</Data>"
             "<Data Name='processId'>%u</Data><Data Name='ClientProcessStartKey'>3659174697241209</Data>",
             j, guid, url, j, 4000 + j);
    script_event_add(s, 16403, 0, data);
    snprintf(data, sizeof data,
             "<Data Name='User'>CORP\\alice</Data><Data Name='jobTitle'>upd%u</Data><Data Name='jobId'>%s</Data>"
             "<Data Name='jobOwner'>CORP\\alice</Data><Data Name='fileCount'>1</Data>"
             "<Data Name='bytesTransferred'>73802</Data><Data Name='bytesTransferredFromPeer'>0</Data>",
             j, guid);
    script_event_add(s, 4, 1, data);
}

/* jobs whole jobs, 3 events each. */
static void script_jobs_build(script *s, unsigned jobs)
{
    for (unsigned j = 0; j < jobs; j++)
        script_job_add(s, j);
}

/* ---- the fake event source -------------------------------------------------------------------- */

typedef struct fake_source fake_source;
typedef void (*fake_hook)(fake_source *f, void *ctx);

typedef struct fake_sub {
    uint64_t after; /* RecordId of the bookmark, 0 when none. */
    int had_bookmark;
    int from_oldest;
} fake_sub;

struct fake_source {
    event_source base;
    const script *log;
    size_t available; /* Events written to the log so far (the rest appear later). */
    size_t batch_max; /* Serve at most this many per next (0: what the engine asks). */
    int subscribed;
    size_t pos;               /* Index of the next event to hand out. */
    size_t last_handed;       /* Record id of the last event handed out since subscribe, 0 when none. */
    size_t handed_total;      /* Events handed out over the whole run (replays included). */
    int broken;               /* The subscription failed: everything but unsubscribe fails until resubscribe. */
    _Atomic int stopped;      /* Atomic: the group tests stop a source from another engine's thread. */
    const char *channel;      /* The channel this log is (NULL: TEST_CHANNEL); others are missing. */
    int live;                 /* Drained: wait blocks until stopped (as a real source does) instead of ending. */
    int live_timed_out;       /* ... and gave up after 10 s without a stop (the test then fails). */
    _Atomic int live_waiting; /* Set once wait blocks on a drained live log. */
    /* Faults. */
    size_t fail_after;    /* When handed_total reaches this, the next call of next fails once... */
    bg_error fail_code;   /* ...with this code (BG_ERR_OK: no fault). */
    int fail_render_once; /* bookmark_render fails once with SOURCE_RETRY at this call (1-based). */
    int reject_bookmark;  /* Subscribes with a bookmark to reject. */
    bg_error reject_code; /* How they are rejected: BG_ERR_SOURCE_BOOKMARK unless set. */
    int channel_missing;  /* Subscribes to fail with SOURCE_CHANNEL first. */
    int channel_disabled; /* Subscribes to fail with SOURCE_DISABLED first (then this many more). */
    size_t disable_at;    /* Once this many events were handed out in total, the next wait finds the
                           * channel disabled (as the Windows source's periodic check does)... */
    int disable_subs;     /* ...and this many subscribes after it fail with SOURCE_DISABLED. */
    const char *why;      /* What describe() says about the last failure (NULL: nothing). */
    size_t stop_after;    /* Stop once this many events were handed out in total (0: never). */
    /* Hooks the tests use to lock the database or stop at chosen points. */
    fake_hook on_next;
    fake_hook on_sleep;
    void *hook_ctx;
    /* Records. */
    int next_calls;
    int render_calls;
    fake_sub subs[MAX_SUBS];
    int sub_count;
    int unsub_count;
    uint32_t sleeps[MAX_SLEEPS];
    size_t sleep_count;
};

static bg_error fake_subscribe(event_source *src, const char *channel, const char *bookmark, int from_oldest)
{
    fake_source *f = (fake_source *)src;
    if (f->sub_count < MAX_SUBS) {
        fake_sub *s = &f->subs[f->sub_count];
        s->had_bookmark = bookmark != NULL;
        s->from_oldest = from_oldest;
        s->after = 0;
        const char *p = bookmark ? strstr(bookmark, "RecordId='") : NULL;
        if (p)
            s->after = strtoull(p + 10, NULL, 10);
    }
    f->sub_count++;
    if (strcmp(channel, f->channel ? f->channel : TEST_CHANNEL) != 0)
        return BG_ERR_SOURCE_CHANNEL;
    if (f->channel_missing > 0) {
        f->channel_missing--;
        return BG_ERR_SOURCE_CHANNEL;
    }
    if (f->channel_disabled > 0) {
        f->channel_disabled--;
        return BG_ERR_SOURCE_DISABLED;
    }
    if (bookmark) {
        if (f->reject_bookmark > 0) {
            f->reject_bookmark--;
            return f->reject_code ? f->reject_code : BG_ERR_SOURCE_BOOKMARK;
        }
        const char *p = strstr(bookmark, "RecordId='");
        if (!p || strstr(bookmark, "<BookmarkList>") != bookmark)
            return BG_ERR_SOURCE_BOOKMARK;
        uint64_t rid = strtoull(p + 10, NULL, 10);
        f->pos = rid < f->log->n ? (size_t)rid : f->log->n;
    } else {
        f->pos = from_oldest ? 0 : f->available;
    }
    f->subscribed = 1;
    f->broken = 0;
    f->last_handed = 0;
    return BG_ERR_OK;
}

static bg_error fake_wait(event_source *src)
{
    fake_source *f = (fake_source *)src;
    if (f->stopped)
        return BG_ERR_STOPPED;
    if (!f->subscribed)
        return BG_ERR_INVALID_ARG;
    if (f->broken)
        return BG_ERR_SOURCE_RETRY;
    if (f->disable_at && f->handed_total >= f->disable_at) {
        f->disable_at = 0;
        f->channel_disabled = f->disable_subs;
        f->available = f->log->n; /* The rest of the script is what is written once it is enabled. */
        return BG_ERR_SOURCE_DISABLED;
    }
    if (f->live && f->pos >= f->available) {
        /* Blocks like a real source until another thread stops it; bounded so a missing stop fails the
         * test instead of hanging it. */
        time_t deadline = time(NULL) + 10;
        f->live_waiting = 1;
        while (!f->stopped && time(NULL) < deadline)
            ;
        if (!f->stopped)
            f->live_timed_out = 1;
        return BG_ERR_STOPPED;
    }
    /* A real source would block until the next event; the script ends the run instead. */
    return f->pos < f->available ? BG_ERR_OK : BG_ERR_STOPPED;
}

static bg_error fake_next(event_source *src, size_t max, const char **xml, size_t *len, size_t *count)
{
    fake_source *f = (fake_source *)src;
    *count = 0;
    f->next_calls++;
    if (f->on_next)
        f->on_next(f, f->hook_ctx);
    if (f->stopped)
        return BG_ERR_STOPPED;
    if (!f->subscribed)
        return BG_ERR_INVALID_ARG;
    if (f->broken)
        return BG_ERR_SOURCE_RETRY;
    if (f->fail_code != BG_ERR_OK && f->handed_total >= f->fail_after) {
        bg_error rc = f->fail_code;
        f->fail_code = BG_ERR_OK;
        f->broken = 1;
        return rc;
    }
    size_t n = f->available > f->pos ? f->available - f->pos : 0;
    if (n > max)
        n = max;
    if (f->batch_max && n > f->batch_max)
        n = f->batch_max;
    /* Stop exactly at the scripted points. */
    if (f->fail_code != BG_ERR_OK && n > f->fail_after - f->handed_total)
        n = f->fail_after - f->handed_total;
    if (f->stop_after && n > f->stop_after - f->handed_total)
        n = f->stop_after - f->handed_total;
    for (size_t i = 0; i < n; i++) {
        xml[i] = f->log->xml[f->pos + i];
        len[i] = strlen(xml[i]);
    }
    f->pos += n;
    f->handed_total += n;
    if (n)
        f->last_handed = f->pos;
    *count = n;
    if (f->stop_after && f->handed_total >= f->stop_after)
        f->stopped = 1; /* Another thread asked to stop while this batch was being read. */
    return BG_ERR_OK;
}

static bg_error fake_bookmark_render(event_source *src, char **out)
{
    fake_source *f = (fake_source *)src;
    *out = NULL;
    f->render_calls++;
    if (f->fail_render_once && f->render_calls == f->fail_render_once) {
        f->broken = 1;
        return BG_ERR_SOURCE_RETRY;
    }
    if (!f->last_handed)
        return BG_ERR_OK;
    char buf[256];
    snprintf(buf, sizeof buf, "<BookmarkList><Bookmark Channel='%s' RecordId='%u' IsCurrent='true'/></BookmarkList>",
             f->channel ? f->channel : TEST_CHANNEL, (unsigned)f->last_handed);
    size_t n = strlen(buf) + 1;
    *out = malloc(n);
    if (!*out)
        return BG_ERR_NOMEM;
    memcpy(*out, buf, n);
    return BG_ERR_OK;
}

static void fake_unsubscribe(event_source *src)
{
    fake_source *f = (fake_source *)src;
    f->unsub_count++;
    f->subscribed = 0;
}

static void fake_stop(event_source *src)
{
    ((fake_source *)src)->stopped = 1;
}

/* Records the requested delay instead of sleeping, so backoff is observable and the tests are fast. */
static bg_error fake_sleep_ms(event_source *src, uint32_t ms)
{
    fake_source *f = (fake_source *)src;
    if (f->sleep_count < MAX_SLEEPS)
        f->sleeps[f->sleep_count] = ms;
    f->sleep_count++;
    if (f->on_sleep)
        f->on_sleep(f, f->hook_ctx);
    if (f->sleep_count > 1000)
        f->stopped = 1; /* A runaway retry loop ends the test instead of hanging it. */
    return f->stopped ? BG_ERR_STOPPED : BG_ERR_OK;
}

static void fake_destroy(event_source *src)
{
    (void)src;
}

static void fake_describe(event_source *src, char *buf, size_t len)
{
    fake_source *f = (fake_source *)src;
    snprintf(buf, len, "%s", f->why ? f->why : "");
}

static const event_source_ops fake_ops = {
    fake_subscribe, fake_wait,     fake_next,    fake_bookmark_render, fake_unsubscribe,
    fake_stop,      fake_sleep_ms, fake_destroy, fake_describe,
};

static void fake_init(fake_source *f, const script *log)
{
    memset(f, 0, sizeof *f);
    f->base.ops = &fake_ops;
    f->log = log;
    f->available = log->n;
    f->fail_code = BG_ERR_OK;
}

/* ---- the recording alert sink ----------------------------------------------------------------- */

typedef struct recorder {
    int detections;
    char urls[MAX_EVENTS][128];
    int gaps;
    char gap_reason[256];
    int errors;
    bg_error error_codes[MAX_EVENTS];
    int states;
    char state_log[512];
    int refuse; /* detection and gap report failure */
    int findings;
    char finding_program[256];
    int disabled_alerts; /* channel-disabled findings alerted */
    char disabled_channel[128];
} recorder;

static int rec_detection(void *ctx, const detection *d)
{
    recorder *r = ctx;
    if (r->detections < MAX_EVENTS)
        snprintf(r->urls[r->detections], sizeof r->urls[0], "%s", d->url ? d->url : "");
    r->detections++;
    return !r->refuse; /* A sink that refuses: like an Event Log that does not accept the alert. */
}

static int rec_gap(void *ctx, const char *channel, const char *reason)
{
    recorder *r = ctx;
    (void)channel;
    snprintf(r->gap_reason, sizeof r->gap_reason, "%s", reason ? reason : "");
    r->gaps++;
    return !r->refuse;
}

static void rec_error(void *ctx, bg_error code, const char *detail)
{
    recorder *r = ctx;
    (void)detail;
    if (r->errors < MAX_EVENTS)
        r->error_codes[r->errors] = code;
    r->errors++;
}

static void rec_state(void *ctx, const char *what)
{
    recorder *r = ctx;
    size_t used = strlen(r->state_log);
    snprintf(r->state_log + used, sizeof r->state_log - used, "%s%s", used ? "," : "", what);
    r->states++;
}

static int rec_finding(void *ctx, const finding *f)
{
    recorder *r = ctx;
    if (f->kind == FINDING_NOTIFY_COMMAND)
        snprintf(r->finding_program, sizeof r->finding_program, "%s|%s", f->program ? f->program : "-",
                 f->process_path ? f->process_path : "-");
    if (f->kind == FINDING_CHANNEL_DISABLED) {
        r->disabled_alerts++;
        snprintf(r->disabled_channel, sizeof r->disabled_channel, "%s", f->channel ? f->channel : "-");
    }
    r->findings++;
    return !r->refuse;
}

static engine_alert_sink rec_sink(recorder *r)
{
    memset(r, 0, sizeof *r);
    engine_alert_sink s = {r, rec_detection, rec_gap, rec_error, rec_state, NULL, rec_finding};
    return s;
}

static int rec_url_count(const recorder *r, const char *url)
{
    int n = 0;
    for (int i = 0; i < r->detections && i < MAX_EVENTS; i++)
        n += strcmp(r->urls[i], url) == 0;
    return n;
}

static int rec_error_count(const recorder *r, bg_error code)
{
    int n = 0;
    for (int i = 0; i < r->errors && i < MAX_EVENTS; i++)
        n += r->error_codes[i] == code;
    return n;
}

/* ---- temporary databases and reading them back --------------------------------------------------- */

static char db_path[1024];

/* A fresh database path in TMPDIR (or TEMP, TMP, the current folder), also under Wine. */
static void db_fresh(const char *name)
{
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir)
        dir = getenv("TEMP");
    if (!dir || !*dir)
        dir = getenv("TMP");
    if (!dir || !*dir)
        dir = ".";
#ifdef _WIN32
    const char sep = '\\';
#else
    const char sep = '/';
#endif
    snprintf(db_path, sizeof db_path, "%s%cbg_engine_%s_%lx.db", dir, sep, name, (unsigned long)time(NULL));
    const char *suffixes[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < 4; i++) {
        char p[1100];
        snprintf(p, sizeof p, "%s%s", db_path, suffixes[i]);
        remove(p);
    }
}

static void db_remove(void)
{
    const char *suffixes[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < 4; i++) {
        char p[1100];
        snprintf(p, sizeof p, "%s%s", db_path, suffixes[i]);
        remove(p);
    }
}

/* One integer from a query with an optional text parameter; -1 on any error. */
static int64_t db_int(const char *sql, const char *param)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int64_t v = -1;
    if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        goto cleanup;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "db_int: %s: %s\n", sql, sqlite3_errmsg(db));
        goto cleanup;
    }
    if (param)
        sqlite3_bind_text(st, 1, param, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
cleanup:
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

/* The RecordId in a connection's stored bookmark of channel, 0 when none, -1 on error. */
static int64_t db_bookmark_rid_of(sqlite3 *db, const char *channel)
{
    sqlite3_stmt *st = NULL;
    int64_t v = -1;
    if (sqlite3_prepare_v2(db, "SELECT bookmark FROM bookmarks WHERE channel = ?", -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, channel, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        v = 0;
    } else if (rc == SQLITE_ROW) {
        const char *text = (const char *)sqlite3_column_text(st, 0);
        const char *p = text ? strstr(text, "RecordId='") : NULL;
        v = p ? (int64_t)strtoull(p + 10, NULL, 10) : -1;
    }
    sqlite3_finalize(st);
    return v;
}

static int64_t db_bookmark_rid_on(sqlite3 *db)
{
    return db_bookmark_rid_of(db, TEST_CHANNEL);
}

/* The RecordId of channel's stored bookmark in the test database. */
static int64_t db_channel_rid(const char *channel)
{
    sqlite3 *db = NULL;
    int64_t v = -1;
    if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK)
        v = db_bookmark_rid_of(db, channel);
    sqlite3_close(db);
    return v;
}

static int64_t db_bookmark_rid(void)
{
    sqlite3 *db = NULL;
    int64_t v = -1;
    if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK)
        v = db_bookmark_rid_on(db);
    sqlite3_close(db);
    return v;
}

static int64_t db_detections(void)
{
    return db_int("SELECT count(*) FROM detections", NULL);
}

/* Every job's URL is stored exactly once. */
static void check_each_job_once(unsigned jobs)
{
    CHECK_INT_EQ(db_detections(), jobs);
    for (unsigned j = 0; j < jobs; j++) {
        char url[128];
        job_url(j, url, sizeof url);
        CHECK_INT_EQ(db_int("SELECT count(*) FROM detections WHERE url = ?", url), 1);
    }
}

/* Every job was alerted exactly once over all the recorders given. */
static void check_each_alert_once(unsigned jobs, const recorder *a, const recorder *b)
{
    for (unsigned j = 0; j < jobs; j++) {
        char url[128];
        job_url(j, url, sizeof url);
        int n = rec_url_count(a, url) + (b ? rec_url_count(b, url) : 0);
        CHECK_INT_EQ(n, 1);
    }
    CHECK_INT_EQ(a->detections + (b ? b->detections : 0), jobs);
}

static engine_config config_default(void)
{
    engine_config c;
    memset(&c, 0, sizeof c);
    c.db_path = db_path;
    c.channel = TEST_CHANNEL;
    c.backfill = 1;
    c.store_busy_ms = 20;
    return c;
}

/* ---- the tests ---------------------------------------------------------------------------------- */

/* What the main file alone holds while the engine runs: it is copied (without -wal and -shm, as
 * Velociraptor's sqlite() copies it) before the second fetch, after the first batch committed. */
typedef struct copy_probe {
    int copied;
    int64_t rows; /* Detections in the copy: -1 when it has no detections table or cannot be read. */
} copy_probe;

static void copy_on_next(fake_source *f, void *ctx)
{
    copy_probe *p = ctx;
    if (f->next_calls != 2 || p->copied)
        return;
    p->copied = 1;
    p->rows = -1;
    char copy[1100];
    snprintf(copy, sizeof copy, "%s.copy", db_path);
    FILE *in = fopen(db_path, "rb"), *out = fopen(copy, "wb");
    char buf[8192];
    size_t n;
    while (in && out && (n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, out) != n)
            break;
    if (in)
        fclose(in);
    if (out)
        fclose(out);
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    if (sqlite3_open(copy, &db) == SQLITE_OK &&
        sqlite3_prepare_v2(db, "SELECT count(*) FROM detections", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        p->rows = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    const char *suffixes[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < 4; i++) {
        char q[1200];
        snprintf(q, sizeof q, "%s%s", copy, suffixes[i]);
        remove(q);
    }
}

/* Each committed batch is checkpointed into the main file while the engine keeps its connection (and
 * so the WAL) open: a copy of the main file alone has the batch's rows. Without the checkpoint the copy
 * holds no table at all (the schema too is still in the WAL). */
static void test_checkpoint_each_batch(void)
{
    script s = {0};
    script_jobs_build(&s, 2);
    db_fresh("checkpoint");
    fake_source f;
    fake_init(&f, &s);
    f.batch_max = 3; /* One job per fetch. */
    copy_probe probe = {0, -1};
    f.on_next = copy_on_next;
    f.hook_ctx = &probe;
    recorder r;
    engine_alert_sink sink = rec_sink(&r);
    engine_config cfg = config_default();
    CHECK_INT_EQ(engine_run(&cfg, &f.base, &sink, NULL), BG_ERR_OK);
    CHECK_INT_EQ(probe.copied, 1);
    CHECK_INT_EQ(probe.rows, 1);
    check_each_job_once(2);
    script_free(&s);
    db_remove();
}

/* The summaries the engine published, in order. */
typedef struct summary_log {
    int n;
    engine_summary s[16];
} summary_log;

static void summary_record(void *ctx, const engine_summary *s)
{
    summary_log *l = ctx;
    if (l->n < 16)
        l->s[l->n] = *s;
    l->n++;
}

/* The summary for fleet tools: published at start (from what is stored), after the committed batch (the
 * counts, the newest detection, the newest committed event time) and at stop; an acknowledgement made
 * by an admin meanwhile shows in the next one. */
static void test_summary_published(void)
{
    script s = {0};
    script_jobs_build(&s, 2);
    db_fresh("summary");
    fake_source f;
    fake_init(&f, &s);
    recorder r;
    engine_alert_sink sink = rec_sink(&r);
    engine_config cfg = config_default();
    summary_log log = {0};
    cfg.summary_publish = summary_record;
    cfg.summary_ctx = &log;
    CHECK_INT_EQ(engine_run(&cfg, &f.base, &sink, NULL), BG_ERR_OK);
    /* Start, the source drained after the batch (published then, however soon after the start), stop;
     * on a slow machine (valgrind) also the batch when its commit came a second or more after the start,
     * and the wake when it came five seconds or more after it. The one before stop already tells what the
     * run stored. */
    CHECK(log.n >= 3 && log.n <= 5);
    int last = log.n >= 3 && log.n <= 16 ? log.n - 2 : 0;
    CHECK_INT_EQ(log.s[0].detections, 0);
    CHECK_INT_EQ(log.s[0].unacknowledged, 0);
    CHECK_STR_EQ(log.s[0].last_event_time, "");
    CHECK_STR_EQ(log.s[0].last_detection, "");
    CHECK_INT_EQ(log.s[last].detections, 2);
    CHECK_INT_EQ(log.s[last].unacknowledged, 2);
    CHECK_INT_EQ(log.s[last].errors, 0);
    /* Event 6 (the last of job 1) has record id 6: 01:00:06. */
    CHECK_STR_EQ(log.s[last].last_event_time, "2026-11-30T01:00:06.1234567Z");
    CHECK(strstr(log.s[last].last_detection, " 45.33.33.156 http://45.33.33.156/x1.exe") != NULL);
    /* An admin acknowledges one; the next run's first summary (from the database) counts it. */
    store *st = NULL;
    char err[256];
    CHECK_INT_EQ(store_open(&st, db_path, NULL, err, sizeof err), BG_ERR_OK);
    store_ack_result ack;
    const int64_t one = 1;
    if (st)
        CHECK_INT_EQ(store_ack_ids(st, &one, 1, "CORP\\admin", NULL, 0, &ack), BG_ERR_OK);
    store_close(st);
    fake_init(&f, &s);
    log.n = 0;
    CHECK_INT_EQ(engine_run(&cfg, &f.base, &sink, NULL), BG_ERR_OK);
    CHECK(log.n >= 1);
    CHECK_INT_EQ(log.s[0].detections, 2);
    CHECK_INT_EQ(log.s[0].unacknowledged, 1);
    script_free(&s);
    db_remove();
}

/* All events in one fetch: one detection per job (3, 16403 and 4 of a job deduplicated in the batch). */
static void test_normal_single_batch(void)
{
    script s = {0};
    script_jobs_build(&s, 5);
    db_fresh("single");
    fake_source f;
    fake_init(&f, &s);
    recorder r;
    engine_alert_sink sink = rec_sink(&r);
    engine_config cfg = config_default();
    engine_stats st = {0};
    CHECK_INT_EQ(engine_run(&cfg, &f.base, &sink, &st), BG_ERR_OK);
    CHECK_INT_EQ(st.events, 15);
    CHECK_INT_EQ(st.batches, 1);
    CHECK_INT_EQ(st.detections, 5);
    CHECK_INT_EQ(st.malformed, 0);
    check_each_job_once(5);
    check_each_alert_once(5, &r, NULL);
    CHECK_INT_EQ(db_bookmark_rid(), 15);
    CHECK_INT_EQ(f.subs[0].had_bookmark, 0);
    CHECK_INT_EQ(f.subs[0].from_oldest, 1);
    CHECK_STR_EQ(r.state_log, "started,subscribed,stopped");
    /* The batch's latest state was stored: the job completed (event 4 came after the 16403). */
    CHECK_INT_EQ(db_int("SELECT count(*) FROM detections WHERE state = 1", NULL), 5);
    script_free(&s);
    db_remove();
}

/* The engine's correlator reads a log newest first as well as oldest first: each job's stored row says
 * completed, with the process of its event 3 and its 16403 as the creating event, in batches of 2. */
static void test_newest_first(void)
{
    script s = {0};
    script_jobs_build(&s, 6);
    for (size_t i = 0; i < s.n / 2; i++) {
        char *t = s.xml[i];
        s.xml[i] = s.xml[s.n - 1 - i];
        s.xml[s.n - 1 - i] = t;
    }
    db_fresh("newest-first");
    fake_source f;
    fake_init(&f, &s);
    f.batch_max = 2;
    recorder r;
    engine_alert_sink sink = rec_sink(&r);
    engine_config cfg = config_default();
    engine_stats st = {0};
    CHECK_INT_EQ(engine_run(&cfg, &f.base, &sink, &st), BG_ERR_OK);
    check_each_job_once(6);
    check_each_alert_once(6, &r, NULL);
    CHECK_INT_EQ(db_int("SELECT count(*) FROM detections WHERE state = 1 AND event_id = 16403 AND process_path = "
                        "'C:\\Windows\\System32\\bitsadmin.exe' AND events_seen = 1 + 2 + 128",
                        NULL),
                 6);
    script_free(&s);
    db_remove();
}

/* A notify command line (event 6) on a job is alerted once, after its batch committed, with the job's
 * creating process; a restart after the bookmark reads nothing again and alerts nothing again. */
static void test_finding_alert(void)
{
    script s = {0};
    script_jobs_build(&s, 2);
    char guid[40], data[512];
    job_guid(1, guid);
    snprintf(data, sizeof data,
             "<Data Name='jobId'>%s</Data><Data Name='jobOwner'>CORP\\alice</Data>"
             "<Data Name='program'>C:\\ProgramData\\u.exe</Data><Data Name='parameters'>/q</Data>",
             guid);
    /* Job 1 is events 4-6: the notify command goes after its 16403, before its 4. */
    char *last = s.xml[--s.n];
    script_event_add(&s, 6, 0, data);
    script_add(&s, last);
    free(last);
    db_fresh("finding");
    fake_source f;
    fake_init(&f, &s);
    f.batch_max = 2;
    recorder r;
    engine_alert_sink sink = rec_sink(&r);
    engine_config cfg = config_default();
    engine_stats st = {0};
    CHECK_INT_EQ(engine_run(&cfg, &f.base, &sink, &st), BG_ERR_OK);
    CHECK_INT_EQ(r.findings, 1);
    CHECK_STR_EQ(r.finding_program, "C:\\ProgramData\\u.exe|C:\\Windows\\System32\\bitsadmin.exe");
    CHECK_INT_EQ(r.detections, 2);
    fake_source again;
    fake_init(&again, &s);
    recorder r2;
    engine_alert_sink sink2 = rec_sink(&r2);
    CHECK_INT_EQ(engine_run(&cfg, &again.base, &sink2, &st), BG_ERR_OK);
    CHECK_INT_EQ(r2.findings, 0);
    script_free(&s);
    db_remove();
}

/* Job 1 of script_jobs_build(2) with a notify command (event 6, record 6) and a failure to run it (63 naming
 * the job by its title, record 7) before its completion (4, record 8). */
static void script_notify_build(script *s)
{
    script_jobs_build(s, 2);
    char guid[40], data[512];
    job_guid(1, guid);
    char *last = s->xml[--s->n];
    snprintf(data, sizeof data,
             "<Data Name='jobId'>%s</Data><Data Name='jobOwner'>CORP\\alice</Data>"
             "<Data Name='program'>C:\\ProgramData\\u.exe</Data><Data Name='parameters'>/q</Data>",
             guid);
    script_event_add(s, 6, 0, data);
    script_event_add(s, 63, 0,
                     "<Data Name='Job'>upd1</Data><Data Name='Url'>http://45.33.33.156/x1.exe</Data>"
                     "<Data Name='Pgm'>C:\\ProgramData\\u.exe</Data><Data Name='hr'>0x80070002</Data>");
    free(last); /* The completion (4) goes after the two inserted events, with its new record id. */
    snprintf(data, sizeof data,
             "<Data Name='User'>CORP\\alice</Data><Data Name='jobTitle'>upd1</Data><Data Name='jobId'>%s</Data>"
             "<Data Name='jobOwner'>CORP\\alice</Data><Data Name='fileCount'>1</Data>"
             "<Data Name='bytesTransferred'>73802</Data><Data Name='bytesTransferredFromPeer'>0</Data>",
             guid);
    script_event_add(s, 4, 1, data);
}

static int64_t db_findings(void)
{
    return db_int("SELECT count(*) FROM findings", NULL);
}

/* A finding is stored in the batch's transaction and alerted when its row is new; the failure to run the
 * command (63, a later batch) and the job's completion update the row; reading everything again from
 * the oldest record (a rejected bookmark) adds no row and no alert. */
static void test_finding_stored_once(void)
{
    script s = {0};
    script_notify_build(&s);
    db_fresh("finding_stored");
    fake_source f;
    fake_init(&f, &s);
    f.batch_max = 2; /* 6 is committed in the batch before 63 and 4. */
    recorder r;
    engine_alert_sink sink = rec_sink(&r);
    engine_config cfg = config_default();
    engine_stats st = {0};
    CHECK_INT_EQ(engine_run(&cfg, &f.base, &sink, &st), BG_ERR_OK);
    CHECK_INT_EQ(r.findings, 1);
    CHECK_INT_EQ(db_findings(), 1);
    CHECK_INT_EQ(db_int("SELECT notify_failures FROM findings WHERE kind = 'notify-command'", NULL), 1);
    CHECK_INT_EQ(db_int("SELECT notify_error FROM findings", NULL), 0x80070002);
    CHECK_INT_EQ(db_int("SELECT state FROM findings", NULL), 1); /* completed */
    CHECK_INT_EQ(db_int("SELECT record_id FROM findings", NULL), 6);
    CHECK_INT_EQ(db_int("SELECT last_record_id FROM findings", NULL), 8);
    CHECK_INT_EQ(db_int("SELECT count(*) FROM findings WHERE job_title = 'upd1' AND notify_program = ?",
                        "C:\\ProgramData\\u.exe"),
                 1);

    fake_source again;
    fake_init(&again, &s);
    again.reject_bookmark = 1;
    recorder r2;
    engine_alert_sink sink2 = rec_sink(&r2);
    CHECK_INT_EQ(engine_run(&cfg, &again.base, &sink2, &st), BG_ERR_OK);
    CHECK_INT_EQ(r2.gaps, 1);
    CHECK_INT_EQ(r2.findings, 0);
    CHECK_INT_EQ(r2.detections, 0);
    CHECK_INT_EQ(db_findings(), 1);
    CHECK_INT_EQ(db_int("SELECT notify_failures FROM findings", NULL), 1);
    script_free(&s);
    db_remove();
}

/* Stopped after the notify command was committed: the restarted engine restores the open job's finding,
 * so the failure read after the restart (63 names the job by its title only) updates the stored row,
 * and nothing is alerted again. */
static void test_finding_updated_after_restart(void)
{
    script s = {0};
    script_notify_build(&s);
    db_fresh("finding_restart");
    fake_source f;
    fake_init(&f, &s);
    f.stop_after = 6;
    recorder r;
    engine_alert_sink sink = rec_sink(&r);
    engine_config cfg = config_default();
    engine_stats st = {0};
    CHECK_INT_EQ(engine_run(&cfg, &f.base, &sink, &st), BG_ERR_OK);
    CHECK_INT_EQ(r.findings, 1);
    CHECK_INT_EQ(db_int("SELECT notify_failures FROM findings", NULL), 0);
    CHECK_INT_EQ(db_int("SELECT state FROM findings", NULL), 0);

    fake_source again;
    fake_init(&again, &s);
    recorder r2;
    engine_alert_sink sink2 = rec_sink(&r2);
    CHECK_INT_EQ(engine_run(&cfg, &again.base, &sink2, &st), BG_ERR_OK);
    CHECK_INT_EQ(again.subs[0].after, 6);
    CHECK_INT_EQ(r2.findings, 0);
    CHECK_INT_EQ(db_findings(), 1);
    CHECK_INT_EQ(db_int("SELECT notify_failures FROM findings", NULL), 1);
    CHECK_INT_EQ(db_int("SELECT state FROM findings", NULL), 1);
    script_free(&s);
    db_remove();
}

/* Restored after a stop, then every event read again from the oldest record (a rejected bookmark): the
 * failure the row already counts is not counted twice, and nothing is alerted again. */
static void test_finding_restored_replay(void)
{
    script s = {0};
    script_notify_build(&s);
    /* Without the completion, so the job stays active and its finding is restored. */
    free(s.xml[--s.n]);
    db_fresh("finding_replay");
    fake_source f;
    fake_init(&f, &s);
    recorder r;
    engine_alert_sink sink = rec_sink(&r);
    engine_config cfg = config_default();
    engine_stats st = {0};
    CHECK_INT_EQ(engine_run(&cfg, &f.base, &sink, &st), BG_ERR_OK);
    CHECK_INT_EQ(db_int("SELECT notify_failures FROM findings", NULL), 1);
    fake_source again;
    fake_init(&again, &s);
    again.reject_bookmark = 1;
    recorder r2;
    engine_alert_sink sink2 = rec_sink(&r2);
    CHECK_INT_EQ(engine_run(&cfg, &again.base, &sink2, &st), BG_ERR_OK);
    CHECK_INT_EQ(r2.gaps, 1);
    CHECK_INT_EQ(r2.findings, 0);
    CHECK_INT_EQ(db_findings(), 1);
    CHECK_INT_EQ(db_int("SELECT notify_failures FROM findings", NULL), 1);
    script_free(&s);
    db_remove();
}

/* The process ended between a batch's commit and its alerts (a kill, a power cut): the rows are stored and
 * the events are never read again, so only the outbox remembers the alerts. Modelled by putting every
 * stored row back in the outbox after a clean run, as the commit leaves them. The next start writes each
 * owed alert once, and the one after writes none. A clean run owes nothing. */
static void script_jobs_from(script *s, unsigned first, unsigned jobs);

static void test_alerts_owed_after_crash(void)
{
    script s = {0};
    script_notify_build(&s);
    script_jobs_from(&s, 20, 3);
    db_fresh("outbox");
    fake_source f;
    fake_init(&f, &s);
    recorder r;
    engine_alert_sink sink = rec_sink(&r);
    engine_config cfg = config_default();
    engine_stats st = {0};
    CHECK_INT_EQ(engine_run(&cfg, &f.base, &sink, &st), BG_ERR_OK);
    CHECK_INT_EQ(r.detections, 5);
    CHECK_INT_EQ(r.findings, 1);
    CHECK_INT_EQ(db_int("SELECT count(*) FROM alert_outbox", NULL), 0);
    CHECK_INT_EQ(st.alerts_replayed, 0);

    sqlite3 *db = NULL;
    CHECK_INT_EQ(sqlite3_open(db_path, &db), SQLITE_OK);
    char sql[600];
    snprintf(sql, sizeof sql,
             "INSERT INTO alert_outbox SELECT 'detection', id, '%s' FROM detections WHERE allowed = 0;"
             "INSERT INTO alert_outbox SELECT 'finding', id, '%s' FROM findings;"
             "INSERT INTO alert_outbox VALUES('detection', 999, 'Other-Channel/Operational');",
             TEST_CHANNEL, TEST_CHANNEL);
    CHECK_INT_EQ(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);

    fake_source again;
    fake_init(&again, &s);
    recorder r2;
    engine_alert_sink sink2 = rec_sink(&r2);
    engine_stats st2 = {0};
    CHECK_INT_EQ(engine_run(&cfg, &again.base, &sink2, &st2), BG_ERR_OK);
    CHECK_INT_EQ(r2.detections, 5);
    CHECK_INT_EQ(r2.findings, 1);
    CHECK_INT_EQ(st2.alerts_replayed, 6);
    CHECK_INT_EQ(rec_url_count(&r2, r.urls[0]), 1);
    /* Another channel's owed alert is its own reader's to write. */
    CHECK_INT_EQ(db_int("SELECT count(*) FROM alert_outbox", NULL), 1);

    fake_source third;
    fake_init(&third, &s);
    recorder r3;
    engine_alert_sink sink3 = rec_sink(&r3);
    CHECK_INT_EQ(engine_run(&cfg, &third.base, &sink3, &st), BG_ERR_OK);
    CHECK_INT_EQ(r3.detections, 0);
    CHECK_INT_EQ(r3.findings, 0);
    script_free(&s);
    db_remove();
}

/* A finding alert the sink refuses is recorded in the errors table; the finding is stored either way. */
static void test_finding_alert_lost(void)
{
    script s = {0};
    script_notify_build(&s);
    db_fresh("finding_lost");
    fake_source f;
    fake_init(&f, &s);
    recorder r;
    engine_alert_sink sink = rec_sink(&r);
    r.refuse = 1;
    engine_config cfg = config_default();
    engine_stats st = {0};
    CHECK_INT_EQ(engine_run(&cfg, &f.base, &sink, &st), BG_ERR_OK);
    CHECK_INT_EQ(db_findings(), 1);
    CHECK_INT_EQ(db_int("SELECT count(*) FROM errors WHERE where_ = 'engine.alert' AND detail LIKE ?",
                        "the notify-command alert could not be written%"),
                 1);
    script_free(&s);
    db_remove();
}

/* The channel disabled at subscribe: one tamper alert for the whole streak (not the error event), a
 * stored channel-disabled finding, and once it is enabled a gap for the disabled time, then every event
 * read and alerted once. */
static void test_channel_disabled_at_start(void)
{
    script s = {0};
    script_jobs_build(&s, 3);
    db_fresh("disabled_start");
    fake_source f;
    fake_init(&f, &s);
    f.channel_disabled = 3;
    recorder r;
    engine_alert_sink sink = rec_sink(&r);
    engine_config cfg = config_default();
    engine_stats st = {0};
    CHECK_INT_EQ(engine_run(&cfg, &f.base, &sink, &st), BG_ERR_OK);
    CHECK_INT_EQ(r.disabled_alerts, 1);
    CHECK_STR_EQ(r.disabled_channel, TEST_CHANNEL);
    CHECK_INT_EQ(rec_error_count(&r, BG_ERR_SOURCE_DISABLED), 0);
    CHECK_INT_EQ(f.sleep_count, 3); /* Retried with backoff. */
    CHECK_INT_EQ(db_int("SELECT count(*) FROM findings WHERE kind = 'channel-disabled' AND channel = ?", TEST_CHANNEL),
                 1);
    CHECK_INT_EQ(db_int("SELECT last_seen >= first_seen FROM findings WHERE kind = 'channel-disabled'", NULL), 1);
    CHECK_INT_EQ(db_int("SELECT length(computer) > 0 FROM findings WHERE kind = 'channel-disabled'", NULL), 1);
    CHECK_INT_EQ(r.gaps, 1);
    CHECK(strncmp(r.gap_reason, "channel disabled: from ", 23) == 0);
    CHECK_INT_EQ(db_int("SELECT count(*) FROM gaps WHERE reason LIKE 'channel disabled: from %'", NULL), 1);
    CHECK_INT_EQ(r.detections, 3);
    check_each_job_once(3);
    script_free(&s);
    db_remove();
}

/* Disabled while subscribed (found at the source's periodic check): one alert, the subscription closed,
 * retried until enabled, then resumed after the stored bookmark with a gap recorded; nothing read twice.
 * A second streak later is a second finding and a second alert. */
static void test_channel_disabled_while_running(void)
{
    script s = {0};
    script_jobs_build(&s, 4);
    db_fresh("disabled_running");
    fake_source f;
    fake_init(&f, &s);
    f.batch_max = 3;
    f.available = 6;
    f.disable_at = 6;
    f.disable_subs = 2;
    recorder r;
    engine_alert_sink sink = rec_sink(&r);
    engine_config cfg = config_default();
    engine_stats st = {0};
    CHECK_INT_EQ(engine_run(&cfg, &f.base, &sink, &st), BG_ERR_OK);
    CHECK_INT_EQ(r.disabled_alerts, 1);
    CHECK_INT_EQ(f.sub_count, 4); /* The first, two refused while disabled, the one that resumed. */
    CHECK_INT_EQ(f.subs[3].after, 6);
    CHECK_INT_EQ(f.handed_total, 12); /* Nothing read twice. */
    CHECK_INT_EQ(r.gaps, 1);
    CHECK_INT_EQ(r.detections, 4);
    check_each_job_once(4);

    /* A restart during which it is disabled again: a new streak, a new finding, a new alert. */
    fake_source again;
    fake_init(&again, &s);
    again.channel_disabled = 1;
    recorder r2;
    engine_alert_sink sink2 = rec_sink(&r2);
    CHECK_INT_EQ(engine_run(&cfg, &again.base, &sink2, &st), BG_ERR_OK);
    CHECK_INT_EQ(r2.disabled_alerts, 1);
    CHECK_INT_EQ(r2.detections, 0);
    CHECK_INT_EQ(db_int("SELECT count(*) FROM findings WHERE kind = 'channel-disabled'", NULL), 2);
    script_free(&s);
    db_remove();
}

/* Small fetches: several batches, each with its bookmark; enrichment in later batches does not re-alert. */
static void test_normal_many_batches(void)
{
    script s = {0};
    script_jobs_build(&s, 10);
    db_fresh("many");
    fake_source f;
    fake_init(&f, &s);
    f.batch_max = 2;
    recorder r;
    engine_alert_sink sink = rec_sink(&r);
    engine_config cfg = config_default();
    engine_stats st = {0};
    CHECK_INT_EQ(engine_run(&cfg, &f.base, &sink, &st), BG_ERR_OK);
    CHECK_INT_EQ(st.events, 30);
    CHECK_INT_EQ(st.batches, 15);
    CHECK_INT_EQ(st.detections, 10);
    check_each_job_once(10);
    check_each_alert_once(10, &r, NULL);
    CHECK_INT_EQ(db_bookmark_rid(), 30);
    CHECK_INT_EQ(db_int("SELECT count(*) FROM detections WHERE state = 1", NULL), 10);
    script_free(&s);
    db_remove();
}

/* An allow-listed detection is stored but not alerted; no backfill means future events only. */
static void test_allowlist_and_future_only(void)
{
    script s = {0};
    script_jobs_build(&s, 4);
    db_fresh("allow");
    allowlist *al = allowlist_new();
    CHECK(al != NULL);
    char why[128];
    CHECK_INT_EQ(allowlist_entry_add(al, "45.33.34.0/24", why, sizeof why), BG_ERR_OK);
    fake_source f;
    fake_init(&f, &s);
    recorder r;
    engine_alert_sink sink = rec_sink(&r);
    engine_config cfg = config_default();
    cfg.allow = al;
    cfg.backfill = 0;
    engine_stats st = {0};
    /* First run without backfill: the log's existing 12 events are not read. */
    CHECK_INT_EQ(engine_run(&cfg, &f.base, &sink, &st), BG_ERR_OK);
    CHECK_INT_EQ(f.subs[0].from_oldest, 0);
    CHECK_INT_EQ(st.events, 0);
    CHECK_INT_EQ(db_detections(), 0);
    /* With backfill: job 2 (45.33.34.156) is stored as allowed and not alerted. */
    cfg.backfill = 1;
    fake_init(&f, &s);
    recorder r2;
    sink = rec_sink(&r2);
    CHECK_INT_EQ(engine_run(&cfg, &f.base, &sink, &st), BG_ERR_OK);
    CHECK_INT_EQ(db_detections(), 4);
    CHECK_INT_EQ(db_int("SELECT count(*) FROM detections WHERE allowed = 1", NULL), 1);
    CHECK_INT_EQ(r2.detections, 3);
    CHECK_INT_EQ(rec_url_count(&r2, "http://45.33.34.156/x2.exe"), 0);
    allowlist_free(al);
    script_free(&s);
    db_remove();
}

/* The per-job cap: 64 allow-listed files then a payload in one job alert the payload; 64 payloads and
 * 6 more drop the 6, which are recorded in the errors table and alerted once. A restart that finds
 * more open rows of one kind than the cap (made here by clearing the allowed flags) says so too. */
static void test_per_job_cap(void)
{
    script s = {0};
    char guid[40], url[128], data[1024];
    job_guid(7, guid);
    for (unsigned i = 0; i < 64 + 70; i++) {
        if (i < 64)
            snprintf(url, sizeof url, "http://13.107.4.50/f.cab?%u", i);
        else
            snprintf(url, sizeof url, "http://45.33.32.156/p%u.exe", i - 64);
        snprintf(data, sizeof data,
                 "<Data Name='jobTitle'>many</Data><Data Name='jobId'>%s</Data><Data Name='RemoteName'>%s</Data>", guid,
                 url);
        script_event_add(&s, 16403, 0, data);
    }
    db_fresh("cap");
    allowlist *al = allowlist_new();
    CHECK(al != NULL);
    char why[128];
    CHECK_INT_EQ(allowlist_entry_add(al, "13.107.4.0/24", why, sizeof why), BG_ERR_OK);
    fake_source f;
    fake_init(&f, &s);
    recorder r;
    engine_alert_sink sink = rec_sink(&r);
    engine_config cfg = config_default();
    cfg.allow = al;
    CHECK_INT_EQ(engine_run(&cfg, &f.base, &sink, NULL), BG_ERR_OK);
    CHECK_INT_EQ(db_int("SELECT count(*) FROM detections WHERE allowed = 1", NULL), 64);
    CHECK_INT_EQ(db_int("SELECT count(*) FROM detections WHERE allowed = 0", NULL), 64);
    CHECK_INT_EQ(rec_url_count(&r, "http://45.33.32.156/p0.exe"), 1);
    CHECK_INT_EQ(r.detections, 64);
    CHECK_INT_EQ(rec_error_count(&r, BG_ERR_TOO_LARGE), 1);
    CHECK_INT_EQ(db_int("SELECT count(*) FROM errors WHERE where_ = 'engine.correlate' AND code_name = 'TOO_LARGE' "
                        "AND detail LIKE 'dropped 6 detections past the cap of 64 per job%p64.exe'",
                        NULL),
                 1);

    /* Restart over 128 open rows that are all not allow-listed: 64 restored, 64 reported. */
    sqlite3 *db = NULL;
    CHECK_INT_EQ(sqlite3_open(db_path, &db), SQLITE_OK);
    CHECK_INT_EQ(sqlite3_exec(db, "UPDATE detections SET allowed = 0", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    script empty = {0};
    fake_init(&f, &empty);
    recorder r2;
    sink = rec_sink(&r2);
    CHECK_INT_EQ(engine_run(&cfg, &f.base, &sink, NULL), BG_ERR_OK);
    CHECK_INT_EQ(rec_error_count(&r2, BG_ERR_TOO_LARGE), 1);
    CHECK_INT_EQ(
        db_int("SELECT count(*) FROM errors WHERE where_ = 'engine.restore' AND detail LIKE '64 open detections%'",
               NULL),
        1);
    allowlist_free(al);
    script_free(&s);
    db_remove();
}

/* A restart resumes after the stored bookmark: nothing read twice, nothing lost. */
static void test_restart_resumes(void)
{
    script s = {0};
    script_jobs_build(&s, 8);
    db_fresh("restart");
    fake_source f;
    fake_init(&f, &s);
    f.batch_max = 4;
    f.available = 14; /* The log so far ends in the middle of job 4. */
    recorder r1, r2;
    engine_alert_sink sink = rec_sink(&r1);
    engine_config cfg = config_default();
    engine_stats st1 = {0}, st2 = {0};
    CHECK_INT_EQ(engine_run(&cfg, &f.base, &sink, &st1), BG_ERR_OK);
    CHECK_INT_EQ(st1.events, 14);
    CHECK_INT_EQ(db_bookmark_rid(), 14);
    CHECK_INT_EQ(db_detections(), 5);

    fake_init(&f, &s); /* The service restarts; the log has grown. */
    f.batch_max = 4;
    sink = rec_sink(&r2);
    CHECK_INT_EQ(engine_run(&cfg, &f.base, &sink, &st2), BG_ERR_OK);
    CHECK_INT_EQ(f.subs[0].had_bookmark, 1);
    CHECK_INT_EQ(f.subs[0].after, 14);
    CHECK_INT_EQ(st2.events, 24 - 14);
    CHECK_INT_EQ(db_bookmark_rid(), 24);
    check_each_job_once(8);
    check_each_alert_once(8, &r1, &r2);
    /* Job 4 was cut by the restart (created and file added before, completed after): its open state was
     * restored from the database, so the completion merged into the stored row. */
    char url[128];
    job_url(4, url, sizeof url);
    CHECK_INT_EQ(db_int("SELECT state FROM detections WHERE url = ?", url), 1);
    CHECK_INT_EQ(db_int("SELECT count(*) FROM detections WHERE state = 1", NULL), 8);
    script_free(&s);
    db_remove();
}

/* The event log fails mid-stream: resubscribe after the committed bookmark, exactly once. */
static void test_source_retry_midstream(void)
{
    script s = {0};
    script_jobs_build(&s, 8);
    db_fresh("retry");
    fake_source f;
    fake_init(&f, &s);
    f.batch_max = 4;
    f.fail_after = 10;
    f.fail_code = BG_ERR_SOURCE_RETRY;
    recorder r;
    engine_alert_sink sink = rec_sink(&r);
    engine_config cfg = config_default();
    engine_stats st = {0};
    CHECK_INT_EQ(engine_run(&cfg, &f.base, &sink, &st), BG_ERR_OK);
    CHECK_INT_EQ(f.sub_count, 2);
    CHECK_INT_EQ(f.unsub_count >= 1, 1);
    CHECK_INT_EQ(f.subs[1].had_bookmark, 1);
    CHECK_INT_EQ(f.subs[1].after, 10);
    CHECK_INT_EQ(st.resubscribes, 1);
    CHECK_INT_EQ(st.events, 24); /* Committed events are not delivered again. */
    CHECK_INT_EQ(f.sleep_count, 1);
    CHECK_INT_EQ(rec_error_count(&r, BG_ERR_SOURCE_RETRY), 1);
    check_each_job_once(8);
    check_each_alert_once(8, &r, NULL);
    CHECK_INT_EQ(db_bookmark_rid(), 24);
    script_free(&s);
    db_remove();
}

/* The failure comes after events were fetched but before their bookmark: they are read again and their
 * detections (kept in hand) still reach the database exactly once. */
static void test_source_retry_uncommitted(void)
{
    script s = {0};
    script_jobs_build(&s, 6);
    db_fresh("uncommitted");
    fake_source f;
    fake_init(&f, &s);
    f.batch_max = 4;
    f.fail_render_once = 2; /* Events 5..8 fetched, bookmark lost. */
    recorder r;
    engine_alert_sink sink = rec_sink(&r);
    engine_config cfg = config_default();
    engine_stats st = {0};
    CHECK_INT_EQ(engine_run(&cfg, &f.base, &sink, &st), BG_ERR_OK);
    CHECK_INT_EQ(f.sub_count, 2);
    CHECK_INT_EQ(f.subs[1].after, 4);
    CHECK_INT_EQ(st.resubscribes, 1);
    CHECK_INT_EQ(f.handed_total, 18 + 4); /* Events 5..8 were delivered twice by the source... */
    check_each_job_once(6);               /* ...but stored once... */
    check_each_alert_once(6, &r, NULL);   /* ...and alerted once. */
    CHECK_INT_EQ(db_bookmark_rid(), 18);
    script_free(&s);
    db_remove();
}

/* Alerts the sink cannot deliver (the Event Log refused them) are recorded in the errors table, one row
 * each, and the detections are stored all the same. */
static void test_alert_refused_recorded(void)
{
    script s = {0};
    script_jobs_build(&s, 3);
    db_fresh("refused");
    fake_source f;
    fake_init(&f, &s);
    recorder r;
    engine_alert_sink sink = rec_sink(&r);
    r.refuse = 1;
    engine_config cfg = config_default();
    engine_stats st = {0};
    CHECK_INT_EQ(engine_run(&cfg, &f.base, &sink, &st), BG_ERR_OK);
    CHECK_INT_EQ(r.detections, 3);
    CHECK_INT_EQ(db_detections(), 3);
    CHECK_INT_EQ(db_int("SELECT count(*) FROM errors WHERE where_ = 'engine.alert' AND detail LIKE ?",
                        "the detection alert could not be written (record %"),
                 3);
    script_free(&s);
    db_remove();
}

/* A rejected bookmark: gap recorded and alerted, full replay from the oldest record, no duplicates. */
static void test_bookmark_rejected(void)
{
    script s = {0};
    script_jobs_build(&s, 6);
    db_fresh("rejected");
    fake_source f;
    fake_init(&f, &s);
    f.available = 9;
    recorder r1, r2;
    engine_alert_sink sink = rec_sink(&r1);
    engine_config cfg = config_default();
    engine_stats st1 = {0}, st2 = {0};
    CHECK_INT_EQ(engine_run(&cfg, &f.base, &sink, &st1), BG_ERR_OK);
    CHECK_INT_EQ(db_detections(), 3);
    CHECK_INT_EQ(r1.detections, 3);

    fake_init(&f, &s);
    f.batch_max = 5;
    f.reject_bookmark = 1;
    sink = rec_sink(&r2);
    CHECK_INT_EQ(engine_run(&cfg, &f.base, &sink, &st2), BG_ERR_OK);
    CHECK_INT_EQ(f.sub_count, 2);
    CHECK_INT_EQ(f.subs[0].had_bookmark, 1);
    CHECK_INT_EQ(f.subs[1].had_bookmark, 0);
    CHECK_INT_EQ(f.subs[1].from_oldest, 1); /* Not future-only: nothing after the gap is skipped. */
    CHECK_INT_EQ(r2.gaps, 1);
    CHECK_INT_EQ(st2.gaps, 1);
    CHECK_INT_EQ(db_int("SELECT count(*) FROM gaps", NULL), 1);
    CHECK_INT_EQ(st2.events, 18); /* Full replay. */
    CHECK_INT_EQ(st2.detections, 3);
    check_each_job_once(6);
    check_each_alert_once(6, &r1, &r2);
    CHECK_INT_EQ(db_bookmark_rid(), 18);
    script_free(&s);
    db_remove();
}

/* The log was cleared and refilled since the bookmark (the source tells by the log's identity): a gap with
 * reason "log cleared", full replay from the oldest record, nothing alerted twice. */
static void test_log_cleared(void)
{
    script s = {0};
    script_jobs_build(&s, 4);
    db_fresh("cleared");
    fake_source f;
    fake_init(&f, &s);
    f.available = 6;
    recorder r1, r2;
    engine_alert_sink sink = rec_sink(&r1);
    engine_config cfg = config_default();
    engine_stats st1 = {0}, st2 = {0};
    CHECK_INT_EQ(engine_run(&cfg, &f.base, &sink, &st1), BG_ERR_OK);
    fake_init(&f, &s);
    f.reject_bookmark = 1;
    f.reject_code = BG_ERR_SOURCE_LOG_CLEARED;
    sink = rec_sink(&r2);
    CHECK_INT_EQ(engine_run(&cfg, &f.base, &sink, &st2), BG_ERR_OK);
    CHECK_INT_EQ(f.sub_count, 2);
    CHECK_INT_EQ(f.subs[1].had_bookmark, 0);
    CHECK_INT_EQ(f.subs[1].from_oldest, 1);
    CHECK_INT_EQ(r2.gaps, 1);
    CHECK(strncmp(r2.gap_reason, "log cleared", 11) == 0);
    CHECK_INT_EQ(db_int("SELECT count(*) FROM gaps WHERE reason LIKE 'log cleared%'", NULL), 1);
    CHECK_INT_EQ(st2.events, 12); /* Full replay. */
    check_each_job_once(4);
    check_each_alert_once(4, &r1, &r2);
    script_free(&s);
    db_remove();
}

/* The bookmark is rejected and the replay breaks before anything is committed: the same stored bookmark
 * is not offered again within the run and the gap is recorded only once. */
static void test_bookmark_rejected_then_retry(void)
{
    script s = {0};
    script_jobs_build(&s, 4);
    db_fresh("rejected2");
    fake_source f;
    fake_init(&f, &s);
    f.available = 6;
    recorder r1, r2;
    engine_alert_sink sink = rec_sink(&r1);
    engine_config cfg = config_default();
    engine_stats st = {0};
    CHECK_INT_EQ(engine_run(&cfg, &f.base, &sink, &st), BG_ERR_OK);
    fake_init(&f, &s);
    f.reject_bookmark = 5;
    f.fail_after = 0;
    f.fail_code = BG_ERR_SOURCE_RETRY;
    sink = rec_sink(&r2);
    CHECK_INT_EQ(engine_run(&cfg, &f.base, &sink, &st), BG_ERR_OK);
    CHECK_INT_EQ(f.sub_count, 3);
    CHECK_INT_EQ(f.subs[2].had_bookmark, 0);
    CHECK_INT_EQ(f.subs[2].from_oldest, 1);
    CHECK_INT_EQ(r2.gaps, 1);
    CHECK_INT_EQ(db_int("SELECT count(*) FROM gaps", NULL), 1);
    check_each_job_once(4);
    check_each_alert_once(4, &r1, &r2);
    script_free(&s);
    db_remove();
}

/* The channel is missing for the first three subscribes: reported once, retried with backoff, then read. */
static void test_channel_missing(void)
{
    script s = {0};
    script_jobs_build(&s, 3);
    db_fresh("channel");
    fake_source f;
    fake_init(&f, &s);
    f.channel_missing = 3;
    f.why = "Windows error Access is denied (5); the service account may not read the channel";
    recorder r;
    engine_alert_sink sink = rec_sink(&r);
    engine_config cfg = config_default();
    engine_stats st = {0};
    CHECK_INT_EQ(engine_run(&cfg, &f.base, &sink, &st), BG_ERR_OK);
    CHECK_INT_EQ(f.sub_count, 4);
    CHECK_INT_EQ(f.sleep_count, 3);
    CHECK_INT_EQ(rec_error_count(&r, BG_ERR_SOURCE_CHANNEL), 1);
    CHECK_INT_EQ(db_int("SELECT count(*) FROM errors WHERE code = ?", "19"), 1);
    /* The source's description (the Win32 code and text, a hint) is in the report and the errors row. */
    CHECK_INT_EQ(db_int("SELECT count(*) FROM errors WHERE code = 19 AND detail LIKE ?",
                        "%(SOURCE_CHANNEL: Windows error Access is denied (5); the service account may not read%"),
                 1);
    CHECK_INT_EQ(st.resubscribes, 1);
    check_each_job_once(3);
    check_each_alert_once(3, &r, NULL);
    script_free(&s);
    db_remove();
}

static void channel_vanish_on_first_sleep(fake_source *f, void *ctx)
{
    (void)ctx;
    if (f->sleep_count == 1)
        f->channel_missing = 2;
}

/* A streak of failures that changes cause reports each cause once: the subscription breaks (reported),
 * then the channel is missing on two resubscribes (reported once, not twice). */
static void test_errors_reported_once_per_cause(void)
{
    script s = {0};
    script_jobs_build(&s, 3);
    db_fresh("causes");
    fake_source f;
    fake_init(&f, &s);
    f.fail_after = 3;
    f.fail_code = BG_ERR_SOURCE_RETRY;
    f.on_sleep = channel_vanish_on_first_sleep;
    recorder r;
    engine_alert_sink sink = rec_sink(&r);
    engine_config cfg = config_default();
    engine_stats st = {0};
    CHECK_INT_EQ(engine_run(&cfg, &f.base, &sink, &st), BG_ERR_OK);
    CHECK_INT_EQ(f.sub_count, 4);
    CHECK_INT_EQ(f.sleep_count, 3);
    CHECK_INT_EQ(rec_error_count(&r, BG_ERR_SOURCE_RETRY), 1);
    CHECK_INT_EQ(rec_error_count(&r, BG_ERR_SOURCE_CHANNEL), 1);
    CHECK_INT_EQ(r.errors, 2);
    check_each_job_once(3);
    check_each_alert_once(3, &r, NULL);
    script_free(&s);
    db_remove();
}

/* Another connection holds the write lock: the same batch is retried, no further events are fetched and
 * the bookmark does not move until the lock is released; nothing is lost. */
typedef struct lock_ctx {
    sqlite3 *holder;
    int lock_at_next;      /* Take the lock at this call of next (1-based). */
    int release_at_sleep;  /* Release it at this sleep (1-based); 0: never. */
    int stop_at_sleep;     /* Request stop at this sleep (1-based); 0: never. */
    int next_calls_locked; /* Calls of next seen while the lock was held (must stay 0 after the lock). */
    int next_at_lock;
    int64_t bookmark_while_locked[MAX_SLEEPS];
    int checks;
} lock_ctx;

static void lock_release(lock_ctx *c)
{
    if (c->holder) {
        sqlite3_exec(c->holder, "COMMIT", NULL, NULL, NULL);
        sqlite3_close(c->holder);
        c->holder = NULL;
    }
}

static void lock_on_next(fake_source *f, void *ctx)
{
    lock_ctx *c = ctx;
    if (c->holder)
        c->next_calls_locked++;
    if (f->next_calls == c->lock_at_next) {
        if (sqlite3_open(db_path, &c->holder) != SQLITE_OK ||
            sqlite3_exec(c->holder, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
            fprintf(stderr, "lock_on_next: cannot lock %s\n", db_path);
            sqlite3_close(c->holder);
            c->holder = NULL;
        }
        c->next_at_lock = f->next_calls;
    }
}

static void lock_on_sleep(fake_source *f, void *ctx)
{
    lock_ctx *c = ctx;
    if (c->holder && f->sleep_count <= MAX_SLEEPS)
        c->bookmark_while_locked[f->sleep_count - 1] = db_bookmark_rid_on(c->holder);
    if (c->release_at_sleep && (int)f->sleep_count == c->release_at_sleep)
        lock_release(c);
    if (c->stop_at_sleep && (int)f->sleep_count == c->stop_at_sleep)
        f->stopped = 1;
}

static void open_lock_release(fake_source *f, void *ctx)
{
    (void)f;
    lock_release(ctx);
}

/* The database is locked when the engine opens it (another channel's reader migrating a new file, an
 * admin's shell): the open is retried with backoff rather than ending the reader, and reading goes on. */
static void test_db_locked_at_open(void)
{
    script s = {0};
    script_jobs_build(&s, 3);
    db_fresh("locked_open");
    lock_ctx lc;
    memset(&lc, 0, sizeof lc);
    CHECK(sqlite3_open(db_path, &lc.holder) == SQLITE_OK);
    CHECK(sqlite3_exec(lc.holder, "BEGIN EXCLUSIVE", NULL, NULL, NULL) == SQLITE_OK);
    fake_source f;
    fake_init(&f, &s);
    f.on_sleep = open_lock_release;
    f.hook_ctx = &lc;
    recorder r;
    engine_alert_sink sink = rec_sink(&r);
    engine_config cfg = config_default();
    engine_stats st = {0};
    CHECK_INT_EQ(engine_run(&cfg, &f.base, &sink, &st), BG_ERR_OK);
    CHECK_INT_EQ(f.sleep_count, 1);
    CHECK_INT_EQ(rec_error_count(&r, BG_ERR_DB_BUSY), 1);
    CHECK_INT_EQ(st.events, 9);
    check_each_job_once(3);
    lock_release(&lc);
    script_free(&s);
    db_remove();
}

static void test_db_locked(void)
{
    script s = {0};
    script_jobs_build(&s, 6);
    db_fresh("locked");
    fake_source f;
    fake_init(&f, &s);
    f.batch_max = 4;
    lock_ctx lc;
    memset(&lc, 0, sizeof lc);
    lc.lock_at_next = 2; /* After the first batch (events 1..4) committed. */
    lc.release_at_sleep = 3;
    f.on_next = lock_on_next;
    f.on_sleep = lock_on_sleep;
    f.hook_ctx = &lc;
    recorder r;
    engine_alert_sink sink = rec_sink(&r);
    engine_config cfg = config_default();
    engine_stats st = {0};
    CHECK_INT_EQ(engine_run(&cfg, &f.base, &sink, &st), BG_ERR_OK);
    CHECK_INT_EQ(lc.next_at_lock, 2);
    CHECK_INT_EQ(f.sleep_count, 3);
    /* While locked the bookmark stayed after the first batch, and no further event was fetched. */
    CHECK_INT_EQ(lc.bookmark_while_locked[0], 4);
    CHECK_INT_EQ(lc.bookmark_while_locked[2], 4);
    CHECK_INT_EQ(lc.next_calls_locked, 0);
    /* The retries back off: growing delays. */
    CHECK(f.sleeps[1] > f.sleeps[0] / 2 && f.sleeps[2] >= f.sleeps[0]);
    CHECK_INT_EQ(rec_error_count(&r, BG_ERR_DB_BUSY), 1);
    CHECK_INT_EQ(st.events, 18);
    check_each_job_once(6);
    check_each_alert_once(6, &r, NULL);
    CHECK_INT_EQ(db_bookmark_rid(), 18);
    lock_release(&lc);
    script_free(&s);
    db_remove();
}

/* Malformed, foreign and unrenderable events in the middle of a batch are counted, recorded, skipped. */
static void test_malformed_midbatch(void)
{
    script s = {0};
    script_job_add(&s, 0);
    script_add(&s, "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System><EventID>16403");
    script_add(&s, "<NotAnEvent/>");
    script_add(&s, "");
    script_job_add(&s, 1);
    script_add(&s, "<Event><System><EventID>16403</EventID><EventRecordID>9</Event>");
    script_job_add(&s, 2);
    db_fresh("malformed");
    fake_source f;
    fake_init(&f, &s);
    recorder r;
    engine_alert_sink sink = rec_sink(&r);
    engine_config cfg = config_default();
    engine_stats st = {0};
    CHECK_INT_EQ(engine_run(&cfg, &f.base, &sink, &st), BG_ERR_OK);
    CHECK_INT_EQ(st.events, 13);
    CHECK_INT_EQ(st.malformed, 4);
    /* One error row for the batch, with the count and the first reason. */
    CHECK_INT_EQ(db_int("SELECT count(*) FROM errors WHERE where_ = 'engine.event'", NULL), 1);
    CHECK_INT_EQ(
        db_int(
            "SELECT count(*) FROM errors WHERE where_ = 'engine.event' AND detail LIKE 'skipped 4 malformed events%'",
            NULL),
        1);
    check_each_job_once(3);
    check_each_alert_once(3, &r, NULL);
    CHECK_INT_EQ(db_bookmark_rid(), 13);
    script_free(&s);
    db_remove();
}

/* Stop arrives while a fetched batch waits for a locked database: the lock goes away, the batch in hand
 * is committed by the final attempt, and nothing further is read. */
static void test_stop_commits_batch_in_hand(void)
{
    script s = {0};
    script_jobs_build(&s, 4);
    db_fresh("stop");
    fake_source f;
    fake_init(&f, &s);
    f.batch_max = 6;
    lock_ctx lc;
    memset(&lc, 0, sizeof lc);
    lc.lock_at_next = 1;
    lc.release_at_sleep = 2;
    lc.stop_at_sleep = 2;
    f.on_next = lock_on_next;
    f.on_sleep = lock_on_sleep;
    f.hook_ctx = &lc;
    recorder r;
    engine_alert_sink sink = rec_sink(&r);
    engine_config cfg = config_default();
    engine_stats st = {0};
    CHECK_INT_EQ(engine_run(&cfg, &f.base, &sink, &st), BG_ERR_OK);
    CHECK_INT_EQ(f.sleep_count, 2);
    CHECK_INT_EQ(lc.bookmark_while_locked[0], 0);
    CHECK_INT_EQ(st.events, 6);
    CHECK_INT_EQ(st.batches, 1);
    CHECK_INT_EQ(db_bookmark_rid(), 6);
    CHECK_INT_EQ(db_detections(), 2);
    CHECK_INT_EQ(r.detections, 2);
    CHECK_STR_EQ(r.state_log, "started,subscribed,stopped");
    lock_release(&lc);
    script_free(&s);
    db_remove();
}

/* Stop while the database stays locked: nothing committed, bookmark unchanged; the next run reads the
 * same events again, so they are still stored and alerted exactly once. */
static void test_stop_uncommitted_then_restart(void)
{
    script s = {0};
    script_jobs_build(&s, 4);
    db_fresh("stop2");
    fake_source f;
    fake_init(&f, &s);
    f.batch_max = 6;
    lock_ctx lc;
    memset(&lc, 0, sizeof lc);
    lc.lock_at_next = 1;
    lc.stop_at_sleep = 2;
    f.on_next = lock_on_next;
    f.on_sleep = lock_on_sleep;
    f.hook_ctx = &lc;
    recorder r1, r2;
    engine_alert_sink sink = rec_sink(&r1);
    engine_config cfg = config_default();
    engine_stats st = {0};
    CHECK_INT_EQ(engine_run(&cfg, &f.base, &sink, &st), BG_ERR_OK);
    CHECK_INT_EQ(st.batches, 0);
    CHECK_INT_EQ(r1.detections, 0);
    lock_release(&lc);
    CHECK_INT_EQ(db_bookmark_rid(), 0);
    CHECK_INT_EQ(db_detections(), 0);

    fake_init(&f, &s);
    sink = rec_sink(&r2);
    CHECK_INT_EQ(engine_run(&cfg, &f.base, &sink, &st), BG_ERR_OK);
    CHECK_INT_EQ(f.subs[0].had_bookmark, 0);
    check_each_job_once(4);
    check_each_alert_once(4, &r1, &r2);
    CHECK_INT_EQ(db_bookmark_rid(), 12);
    script_free(&s);
    db_remove();
}

/* Stop requested while a batch is being read: that batch is committed before the engine returns. */
static void test_stop_after_events(void)
{
    script s = {0};
    script_jobs_build(&s, 5);
    db_fresh("stop3");
    fake_source f;
    fake_init(&f, &s);
    f.batch_max = 4;
    f.stop_after = 8; /* Jobs 0 and 1 whole, then job 2's creation and its file. */
    recorder r;
    engine_alert_sink sink = rec_sink(&r);
    engine_config cfg = config_default();
    engine_stats st = {0};
    CHECK_INT_EQ(engine_run(&cfg, &f.base, &sink, &st), BG_ERR_OK);
    CHECK_INT_EQ(st.events, 8);
    CHECK_INT_EQ(st.batches, 2);
    CHECK_INT_EQ(db_bookmark_rid(), 8);
    CHECK_INT_EQ(db_detections(), 3);
    CHECK_INT_EQ(r.detections, 3);
    script_free(&s);
    db_remove();
}

/* Backoff doubles from the minimum, stays within a quarter below each step, caps, and resets after a
 * successful batch. */
static void test_backoff_grows_caps_resets(void)
{
    script s = {0};
    script_jobs_build(&s, 2);
    db_fresh("backoff");
    fake_source f;
    fake_init(&f, &s);
    f.channel_missing = 10;
    f.fail_after = 3;
    f.fail_code = BG_ERR_SOURCE_RETRY;
    recorder r;
    engine_alert_sink sink = rec_sink(&r);
    engine_config cfg = config_default();
    cfg.backoff_min_ms = 500;
    cfg.backoff_max_ms = 8000;
    engine_stats st = {0};
    CHECK_INT_EQ(engine_run(&cfg, &f.base, &sink, &st), BG_ERR_OK);
    CHECK_INT_EQ(f.sleep_count, 11);
    uint32_t base = 500;
    int varied = 0;
    for (size_t i = 0; i < 10; i++) {
        char ctx[64];
        snprintf(ctx, sizeof ctx, "sleep %u = %u, base %u", (unsigned)i, (unsigned)f.sleeps[i], (unsigned)base);
        CHECK_STR_EQ_CTX(ctx, (f.sleeps[i] <= base && f.sleeps[i] >= base - base / 4) ? "in range" : "out", "in range");
        varied |= f.sleeps[i] != base;
        base = base * 2 > 8000 ? 8000 : base * 2;
    }
    CHECK(varied); /* Jitter is applied. */
    /* After the successful batch the next failure starts again at the minimum. */
    CHECK(f.sleeps[10] <= 500 && f.sleeps[10] >= 375);
    check_each_job_once(2);

    /* Defaults: 500 ms doubling to a 60 s cap. */
    db_remove();
    db_fresh("backoff2");
    fake_init(&f, &s);
    f.channel_missing = 9;
    cfg = config_default();
    sink = rec_sink(&r);
    CHECK_INT_EQ(engine_run(&cfg, &f.base, &sink, &st), BG_ERR_OK);
    CHECK_INT_EQ(f.sleep_count, 9);
    CHECK(f.sleeps[0] >= 375 && f.sleeps[0] <= 500);
    CHECK(f.sleeps[8] >= 45000 && f.sleeps[8] <= 60000);
    script_free(&s);
    db_remove();
}

/* Bad arguments are refused before anything is opened. */
/* ---- health samples and configuration warnings -------------------------------------------------- */

/* A fake process: each sample grows, so the stored one shows which sample was written last. */
typedef struct health_fake {
    int calls;
    int fail;
} health_fake;

static int health_fake_sample(void *ctx, engine_health *out)
{
    health_fake *h = ctx;
    h->calls++;
    if (h->fail)
        return -1;
    out->pid = 4242;
    out->rss_bytes = 1000000u * (uint64_t)h->calls;
    out->peak_rss_bytes = 2000000u * (uint64_t)h->calls;
    out->handles = 100u + (uint64_t)h->calls;
    return 0;
}

static int64_t db_meta(const char *key)
{
    return db_int("SELECT CAST(value AS INTEGER) FROM meta WHERE key = ?", key);
}

/* Holds the fifth fetch until the clock has moved 3 s on, so one sample falls due mid-stream. */
typedef struct clock_hold {
    time_t start;
} clock_hold;

static void clock_hold_on_next(fake_source *f, void *ctx)
{
    clock_hold *c = ctx;
    if (f->next_calls == 5)
        while (time(NULL) < c->start + 3) {
        }
}

static void test_health_samples(void)
{
    script s = {0};
    script_jobs_build(&s, 10);
    db_fresh("health");
    fake_source f;
    fake_init(&f, &s);
    f.batch_max = 2;
    recorder r;
    engine_alert_sink sink = rec_sink(&r);
    engine_config cfg = config_default();
    health_fake h = {0};
    cfg.health_sample = health_fake_sample;
    cfg.health_ctx = &h;
    cfg.health_interval_s = 3600;
    engine_stats st = {0};
    /* 15 batches within the interval: only the start and the stop sample. */
    CHECK_INT_EQ(engine_run(&cfg, &f.base, &sink, &st), BG_ERR_OK);
    CHECK_INT_EQ(st.batches, 15);
    CHECK_INT_EQ(h.calls, 2);
    CHECK_INT_EQ(db_meta("service_pid"), 4242);
    CHECK_INT_EQ(db_meta("service_rss_bytes"), 2000000);
    CHECK_INT_EQ(db_meta("service_peak_rss_bytes"), 4000000);
    CHECK_INT_EQ(db_meta("service_handles"), 102);
    CHECK_INT_EQ(
        db_int("SELECT count(*) FROM meta WHERE key = 'service_updated_at' AND value LIKE '____-__-__T__:__:__Z'",
               NULL),
        1);

    /* A sample that fails records nothing: the previous one stays. */
    fake_init(&f, &s);
    health_fake bad = {0, 1};
    cfg.health_ctx = &bad;
    CHECK_INT_EQ(engine_run(&cfg, &f.base, &sink, NULL), BG_ERR_OK);
    CHECK_INT_EQ(bad.calls, 2);
    CHECK_INT_EQ(db_meta("service_rss_bytes"), 2000000);

    /* Interval 2 s and a 3 s pause mid-stream: one more sample piggybacks on the next commit, the
     * rest of the batches fall within the interval (slow machines: at most one more). */
    script s2 = {0};
    script_jobs_build(&s2, 20);
    fake_init(&f, &s2);
    f.batch_max = 2;
    clock_hold hold = {time(NULL)};
    f.on_next = clock_hold_on_next;
    f.hook_ctx = &hold;
    health_fake h2 = {0};
    cfg.health_ctx = &h2;
    cfg.health_interval_s = 2;
    CHECK_INT_EQ(engine_run(&cfg, &f.base, &sink, NULL), BG_ERR_OK);
    CHECK(h2.calls >= 3 && h2.calls <= 4);
    CHECK_INT_EQ(db_meta("service_rss_bytes"), 1000000 * (int64_t)h2.calls);
    script_free(&s2);
    script_free(&s);
    db_remove();
}

/* Invalid configuration values become error rows (where "config"), once per engine start. */
static void test_config_warnings_recorded(void)
{
    script s = {0};
    script_jobs_build(&s, 2);
    db_fresh("cfgwarn");
    fake_source f;
    fake_init(&f, &s);
    recorder r;
    engine_alert_sink sink = rec_sink(&r);
    engine_config cfg = config_default();
    const char *warnings[] = {"Allowlist: not a CIDR, IP or host name (\"bad_host!\")",
                              "Backfill: must be 0 or 1 (\"7\")"};
    cfg.config_warnings = warnings;
    cfg.config_warning_count = 2;
    CHECK_INT_EQ(engine_run(&cfg, &f.base, &sink, NULL), BG_ERR_OK);
    CHECK_INT_EQ(db_int("SELECT count(*) FROM errors WHERE where_ = 'config'", NULL), 2);
    CHECK_INT_EQ(db_int("SELECT count(*) FROM errors WHERE where_ = 'config' AND code_name = 'CONFIG' AND detail = ?",
                        warnings[1]),
                 1);
    check_each_job_once(2);
    /* A restart (or PARAMCHANGE) with the same invalid values records them again, once. */
    fake_init(&f, &s);
    CHECK_INT_EQ(engine_run(&cfg, &f.base, &sink, NULL), BG_ERR_OK);
    CHECK_INT_EQ(db_int("SELECT count(*) FROM errors WHERE where_ = 'config'", NULL), 4);
    /* None configured: nothing recorded. */
    fake_init(&f, &s);
    cfg.config_warning_count = 0;
    CHECK_INT_EQ(engine_run(&cfg, &f.base, &sink, NULL), BG_ERR_OK);
    CHECK_INT_EQ(db_int("SELECT count(*) FROM errors WHERE where_ = 'config'", NULL), 4);
    script_free(&s);
    db_remove();
}

static void test_invalid_args(void)
{
    script s = {0};
    fake_source f;
    fake_init(&f, &s);
    engine_config cfg = config_default();
    CHECK_INT_EQ(engine_run(NULL, &f.base, NULL, NULL), BG_ERR_INVALID_ARG);
    CHECK_INT_EQ(engine_run(&cfg, NULL, NULL, NULL), BG_ERR_INVALID_ARG);
    cfg.db_path = NULL;
    CHECK_INT_EQ(engine_run(&cfg, &f.base, NULL, NULL), BG_ERR_INVALID_ARG);
    CHECK_INT_EQ(f.sub_count, 0);
}

/* A self-test job: titled "bitsguard selftest NONCE". Only a nonce registered in the database (by
 * `bitsguard selftest`) turns its detection into a self-test alert, once; an unregistered one, as an
 * attacker could write, stays a detection alert. */
static int selftests_seen;
static char selftest_nonce_seen[40];
static void rec_selftest(void *ctx, const detection *d, const char *nonce)
{
    (void)ctx;
    (void)d;
    selftests_seen++;
    snprintf(selftest_nonce_seen, sizeof selftest_nonce_seen, "%s", nonce);
}

static void script_titled_job_add(script *s, unsigned j, const char *title)
{
    char guid[40], url[128], data[2048];
    job_guid(j, guid);
    job_url(j, url, sizeof url);
    snprintf(data, sizeof data,
             "<Data Name='User'>CORP\\admin</Data><Data Name='jobTitle'>%s</Data><Data Name='jobId'>%s</Data>"
             "<Data Name='jobOwner'>CORP\\admin</Data><Data Name='fileCount'>1</Data>"
             "<Data Name='RemoteName'>%s</Data><Data Name='LocalName'>C:\\Temp\\t.bin</Data>"
             "<Data Name='processId'>7</Data><Data Name='ClientProcessStartKey'>1</Data>",
             title, guid, url);
    script_event_add(s, 16403, 0, data);
}

static void test_selftest_recognized(void)
{
    script s = {0};
    const char *registered = "0123456789abcdef0123456789abcdef";
    script_titled_job_add(&s, 1, "bitsguard selftest 0123456789ABCDEF0123456789ABCDEF");
    script_titled_job_add(&s, 2, "bitsguard selftest ffffffffffffffffffffffffffffffff");
    db_fresh("selftest");
    store *st = NULL;
    char err[256];
    CHECK_INT_EQ(store_open(&st, db_path, NULL, err, sizeof err), BG_ERR_OK);
    CHECK_INT_EQ(store_selftest_begin(st, registered, 1796000000), BG_ERR_OK);
    store_close(st);
    fake_source f;
    fake_init(&f, &s);
    recorder r;
    engine_alert_sink sink = rec_sink(&r);
    sink.selftest = rec_selftest;
    selftests_seen = 0;
    engine_config cfg = config_default();
    CHECK_INT_EQ(engine_run(&cfg, &f.base, &sink, NULL), BG_ERR_OK);
    CHECK_INT_EQ(selftests_seen, 1);
    CHECK_STR_EQ(selftest_nonce_seen, registered);
    /* The unregistered nonce is an ordinary detection alert; the registered one is not alerted twice. */
    CHECK_INT_EQ(r.detections, 1);
    CHECK_INT_EQ(rec_url_count(&r, "http://45.33.34.156/x2.exe"), 1);
    CHECK_INT_EQ(db_int("SELECT count(*) FROM selftests WHERE alerted_at IS NOT NULL AND stored_at IS NOT NULL"
                        " AND detection_job_id = ?1",
                        "9a250001-24e6-4c66-ac78-5ed0e6007f1a"),
                 1);
    CHECK_INT_EQ(db_detections(), 2);
    script_free(&s);
    db_remove();
}

/* ---- several channels at once (engine_group) ---------------------------------------------------- */

#define GROUP_CHANNEL_B "ForwardedEvents"
/* Channel B's jobs are numbered from here, so its URLs and GUIDs differ from channel A's. */
#define GROUP_JOB_B 100u

/* An alert sink the members' threads share: counters only, atomically. */
typedef struct group_counts {
    _Atomic int detections;
    _Atomic int gaps;
    _Atomic int errors;
} group_counts;

static int group_detection(void *ctx, const detection *d)
{
    (void)d;
    ((group_counts *)ctx)->detections++;
    return 1;
}

static int group_gap(void *ctx, const char *channel, const char *reason)
{
    (void)channel;
    (void)reason;
    ((group_counts *)ctx)->gaps++;
    return 1;
}

static void group_error(void *ctx, bg_error code, const char *detail)
{
    (void)code;
    (void)detail;
    ((group_counts *)ctx)->errors++;
}

static engine_alert_sink group_sink(group_counts *c)
{
    memset(c, 0, sizeof *c);
    engine_alert_sink s = {c, group_detection, group_gap, group_error, NULL, NULL, NULL};
    return s;
}

static void script_jobs_from(script *s, unsigned first, unsigned jobs)
{
    for (unsigned j = first; j < first + jobs; j++)
        script_job_add(s, j);
}

static void group_members(engine_group_member m[2], fake_source *a, fake_source *b)
{
    memset(m, 0, 2 * sizeof *m);
    m[0].channel = TEST_CHANNEL;
    m[0].src = &a->base;
    m[1].channel = GROUP_CHANNEL_B;
    m[1].src = &b->base;
}

/* Two channels read at once into one database: each event of each channel handed out once, each
 * channel's bookmark its own, and after a restart each resumes after its own bookmark. */
static void test_group_exactly_once_per_channel(void)
{
    script sa = {0}, sb = {0};
    script_jobs_from(&sa, 0, 10);           /* 30 events */
    script_jobs_from(&sb, GROUP_JOB_B, 20); /* 60 events */
    db_fresh("group");
    fake_source a, b;
    fake_init(&a, &sa);
    fake_init(&b, &sb);
    b.channel = GROUP_CHANNEL_B;
    a.batch_max = 7;
    b.batch_max = 5;
    a.available = 18; /* Both logs grow after the first run. */
    b.available = 33;
    engine_group_member m[2];
    group_members(m, &a, &b);
    group_counts c;
    engine_alert_sink sink = group_sink(&c);
    engine_config cfg = config_default();
    cfg.store_busy_ms = 5000; /* Two readers commit side by side: as in the service, wait for the lock. */
    CHECK_INT_EQ(engine_group_run(&cfg, m, 2, &sink), BG_ERR_OK);
    CHECK_INT_EQ(m[0].rc, BG_ERR_OK);
    CHECK_INT_EQ(m[1].rc, BG_ERR_OK);
    CHECK_INT_EQ(m[0].stats.events, 18);
    CHECK_INT_EQ(m[1].stats.events, 33);
    CHECK_INT_EQ(db_channel_rid(TEST_CHANNEL), 18);
    CHECK_INT_EQ(db_channel_rid(GROUP_CHANNEL_B), 33);
    CHECK_INT_EQ(db_int("SELECT count(*) FROM bookmarks", NULL), 2);

    fake_init(&a, &sa); /* Restart: the logs are whole now. */
    fake_init(&b, &sb);
    b.channel = GROUP_CHANNEL_B;
    a.batch_max = 7;
    b.batch_max = 5;
    group_members(m, &a, &b);
    CHECK_INT_EQ(engine_group_run(&cfg, m, 2, &sink), BG_ERR_OK);
    CHECK_INT_EQ(a.subs[0].after, 18);
    CHECK_INT_EQ(b.subs[0].after, 33);
    CHECK_INT_EQ(a.handed_total, 30 - 18);
    CHECK_INT_EQ(b.handed_total, 60 - 33);
    CHECK_INT_EQ(db_channel_rid(TEST_CHANNEL), 30);
    CHECK_INT_EQ(db_channel_rid(GROUP_CHANNEL_B), 60);
    CHECK_INT_EQ(db_detections(), 30);
    for (unsigned j = 0; j < 30; j++) {
        char url[128];
        job_url(j < 10 ? j : GROUP_JOB_B + j - 10, url, sizeof url);
        CHECK_INT_EQ(db_int("SELECT count(*) FROM detections WHERE url = ?", url), 1);
    }
    CHECK_INT_EQ(c.detections, 30); /* Every detection alerted once over both runs. */
    CHECK_INT_EQ(c.gaps, 0);
    script_free(&sa);
    script_free(&sb);
    db_remove();
}

/* A missing channel (retried with backoff for as long as the run lasts) does not stop or delay the
 * other: it reads its whole log; and a rejected bookmark of one channel rewinds that channel only. */
static void test_group_channel_failures_independent(void)
{
    script sa = {0}, sb = {0};
    script_jobs_from(&sa, 0, 4);
    script_jobs_from(&sb, GROUP_JOB_B, 12);
    db_fresh("group_indep");
    fake_source a, b;
    fake_init(&a, &sa);
    fake_init(&b, &sb);
    b.channel = GROUP_CHANNEL_B;
    a.channel_missing = 1000000; /* Never there: ends by the fake's runaway guard (1,000 sleeps). */
    b.batch_max = 4;
    engine_group_member m[2];
    group_members(m, &a, &b);
    group_counts c;
    engine_alert_sink sink = group_sink(&c);
    engine_config cfg = config_default();
    cfg.store_busy_ms = 5000; /* Two readers commit side by side: as in the service, wait for the lock. */
    CHECK_INT_EQ(engine_group_run(&cfg, m, 2, &sink), BG_ERR_OK);
    CHECK(a.sub_count > 1);
    CHECK_INT_EQ(a.handed_total, 0);
    CHECK_INT_EQ(b.handed_total, 36);
    CHECK_INT_EQ(db_channel_rid(TEST_CHANNEL), 0);
    CHECK_INT_EQ(db_channel_rid(GROUP_CHANNEL_B), 36);
    CHECK_INT_EQ(db_detections(), 12);
    CHECK_INT_EQ(db_int("SELECT count(*) FROM errors WHERE detail LIKE ?", "reading " TEST_CHANNEL " failed%"), 1);

    /* Channel A appears and is read whole; then both restart and A's bookmark is rejected: A reads
     * again from its oldest record (a gap recorded for A only), B resumes after its own bookmark. */
    fake_init(&a, &sa);
    fake_init(&b, &sb);
    b.channel = GROUP_CHANNEL_B;
    group_members(m, &a, &b);
    CHECK_INT_EQ(engine_group_run(&cfg, m, 2, &sink), BG_ERR_OK);
    CHECK_INT_EQ(db_channel_rid(TEST_CHANNEL), 12);
    CHECK_INT_EQ(b.handed_total, 0);
    fake_init(&a, &sa);
    fake_init(&b, &sb);
    b.channel = GROUP_CHANNEL_B;
    a.reject_bookmark = 1;
    group_members(m, &a, &b);
    CHECK_INT_EQ(engine_group_run(&cfg, m, 2, &sink), BG_ERR_OK);
    CHECK_INT_EQ(a.handed_total, 12);
    CHECK_INT_EQ(b.sub_count, 1);
    CHECK_INT_EQ(b.subs[0].after, 36);
    CHECK_INT_EQ(b.handed_total, 0);
    CHECK_INT_EQ(db_int("SELECT count(*) FROM gaps", NULL), 1);
    CHECK_INT_EQ(db_int("SELECT count(*) FROM gaps WHERE channel = ?", TEST_CHANNEL), 1);
    CHECK_INT_EQ(db_detections(), 16);
    CHECK_INT_EQ(c.detections, 16); /* The replayed channel raised no second alert. */
    script_free(&sa);
    script_free(&sb);
    db_remove();
}

/* on_next hook: holds this source back until the other (ctx) waits on its drained live log. */
static void hook_wait_for_live(fake_source *f, void *ctx)
{
    (void)f;
    fake_source *other = ctx;
    time_t deadline = time(NULL) + 10;
    while (!other->live_waiting && time(NULL) < deadline)
        ;
}

/* One engine ending on an unrecoverable error stops the others (which would otherwise wait for events
 * for ever), and the group reports that error; the configuration warnings are recorded once. */
static void test_group_fatal_stops_all(void)
{
    script sa = {0}, sb = {0};
    script_jobs_from(&sa, 0, 4);
    script_jobs_from(&sb, GROUP_JOB_B, 4);
    db_fresh("group_fatal");
    fake_source a, b;
    fake_init(&a, &sa);
    fake_init(&b, &sb);
    b.channel = GROUP_CHANNEL_B;
    b.live = 1;
    a.fail_after = 6;
    a.fail_code = BG_ERR_INVALID_ARG; /* Not a source failure the engine retries: it ends. */
    a.on_next = hook_wait_for_live;   /* ... once B has read its log and waits for more. */
    a.hook_ctx = &b;
    engine_group_member m[2];
    group_members(m, &a, &b);
    group_counts c;
    engine_alert_sink sink = group_sink(&c);
    engine_config cfg = config_default();
    cfg.store_busy_ms = 5000; /* Two readers commit side by side: as in the service, wait for the lock. */
    const char *warnings[1] = {"Channels: channel given twice (\"forwardedevents\")"};
    cfg.config_warnings = warnings;
    cfg.config_warning_count = 1;
    CHECK_INT_EQ(engine_group_run(&cfg, m, 2, &sink), BG_ERR_INVALID_ARG);
    CHECK_INT_EQ(m[0].rc, BG_ERR_INVALID_ARG);
    CHECK_INT_EQ(m[1].rc, BG_ERR_OK);
    CHECK_INT_EQ(b.live_timed_out, 0);
    CHECK_INT_EQ(b.handed_total, 12);
    CHECK_INT_EQ(db_channel_rid(GROUP_CHANNEL_B), 12);
    CHECK_INT_EQ(db_int("SELECT count(*) FROM errors WHERE where_ = 'config'", NULL), 1);

    engine_group_member none[1] = {{NULL, &b.base, {0}, BG_ERR_OK}};
    CHECK_INT_EQ(engine_group_run(&cfg, none, 1, &sink), BG_ERR_INVALID_ARG);
    CHECK_INT_EQ(engine_group_run(&cfg, m, 0, &sink), BG_ERR_INVALID_ARG);
    script_free(&sa);
    script_free(&sb);
    db_remove();
}

/* ---- collector mode: ForwardedEvents from several computers ------------------------------------- */

static const char *const fwd_computers[3] = {"PC1.corp.example", "PC2.corp.example", "PC3.corp.example"};

/* One step (0: created, 1: file added, 2: completed) of job j: the events script_job_add writes. */
static void script_job_step_add(script *s, unsigned j, int step)
{
    script one = {0};
    script_job_add(&one, j);
    /* Rebuild the chosen event with this script's record id: re-add it through script_event_add. */
    const char *xml = one.xml[step];
    const char *d0 = strstr(xml, "<EventData>") + strlen("<EventData>");
    const char *d1 = strstr(xml, "</EventData>");
    char data[2048];
    snprintf(data, sizeof data, "%.*s", (int)(d1 - d0), d0);
    static const unsigned ids[3] = {3, 16403, 4}, versions[3] = {2, 0, 1};
    script_event_add(s, ids[step], versions[step], data);
    script_free(&one);
}

/* jobs jobs with the same GUIDs on each of the three computers, their events interleaved as a
 * collector receives them, then one event of another provider from a fourth computer. */
static void script_forwarded_build(script *s, unsigned jobs)
{
    script_forwarded = 1;
    for (unsigned j = 0; j < jobs; j++) {
        for (int step = 0; step < 3; step++) {
            for (int c = 0; c < 3; c++) {
                script_computer = fwd_computers[c];
                script_job_step_add(s, j, step);
            }
        }
    }
    script_computer = "PC4.corp.example";
    script_add(s,
               "<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>"
               "<Provider Name='Microsoft-Windows-Security-Auditing'/><EventID>4624</EventID>"
               "<TimeCreated SystemTime='2026-11-30T02:00:00.0000000Z'/><EventRecordID>9999</EventRecordID>"
               "<Channel>Security</Channel><Computer>PC4.corp.example</Computer></System>"
               "<EventData><Data Name='TargetUserName'>alice</Data></EventData>"
               "<RenderingInfo Culture='en-US'><Message>An account was logged on.</Message></RenderingInfo></Event>");
    script_computer = "WS01.corp.example";
    script_forwarded = 0;
}

static int64_t db_computer_int(const char *column, const char *computer)
{
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT %s FROM computers WHERE channel = '%s' AND computer = ?", column,
             GROUP_CHANNEL_B);
    return db_int(sql, computer);
}

static int db_computer_text_eq(const char *column, const char *computer, const char *expected)
{
    char sql[600];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM computers WHERE channel = '%s' AND computer = ? AND %s = '%s'",
             GROUP_CHANNEL_B, column, expected);
    return db_int(sql, computer) == 1;
}

/* ForwardedEvents: the same job GUIDs on three computers stay three detections each (correlation per
 * computer), RenderingInfo changes nothing, and each computer's row counts its events, new detections
 * and first and last event time exactly once, also across a broken subscription mid-stream (events
 * fetched and not committed are read again) and a restart. */
static void test_forwarded_per_computer(void)
{
    script s = {0};
    script_forwarded_build(&s, 5); /* 45 Bits-Client events and one other. */
    db_fresh("forwarded");
    fake_source f;
    fake_init(&f, &s);
    f.channel = GROUP_CHANNEL_B;
    f.batch_max = 4;
    f.fail_render_once = 3; /* The third batch is fetched, then the subscription breaks: read again. */
    f.available = 30;
    recorder r;
    engine_alert_sink sink = rec_sink(&r);
    engine_config cfg = config_default();
    cfg.channel = GROUP_CHANNEL_B;
    engine_stats st = {0};
    CHECK_INT_EQ(engine_run(&cfg, &f.base, &sink, &st), BG_ERR_OK);
    CHECK(f.handed_total > 30);                                          /* Something was read twice by the source... */
    CHECK_INT_EQ(db_int("SELECT sum(events) FROM computers", NULL), 30); /* ...and counted once. */

    fake_init(&f, &s); /* Restart with the whole feed. */
    f.channel = GROUP_CHANNEL_B;
    f.batch_max = 7;
    CHECK_INT_EQ(engine_run(&cfg, &f.base, &sink, &st), BG_ERR_OK);
    CHECK_INT_EQ(db_detections(), 15);
    CHECK_INT_EQ(r.detections, 15);
    for (int c = 0; c < 3; c++) {
        CHECK_INT_EQ(db_int("SELECT count(*) FROM detections WHERE computer = ?", fwd_computers[c]), 5);
        CHECK_INT_EQ(db_int("SELECT count(*) FROM detections WHERE computer = ? AND state = 1", fwd_computers[c]), 5);
        CHECK_INT_EQ(db_computer_int("events", fwd_computers[c]), 15);
        CHECK_INT_EQ(db_computer_int("detections", fwd_computers[c]), 5);
    }
    /* PC1's events are records 1, 4, 7, ... 43; the last event is record 46, PC4's own time. */
    CHECK(db_computer_text_eq("first_event", "PC1.corp.example", "2026-11-30T01:00:01.1234567Z"));
    CHECK(db_computer_text_eq("last_event", "PC1.corp.example", "2026-11-30T01:00:43.1234567Z"));
    CHECK(db_computer_text_eq("last_event", "PC3.corp.example", "2026-11-30T01:00:45.1234567Z"));
    CHECK_INT_EQ(db_computer_int("events", "PC4.corp.example"), 1);
    CHECK_INT_EQ(db_computer_int("detections", "PC4.corp.example"), 0);
    CHECK(db_computer_text_eq("last_event", "PC4.corp.example", "2026-11-30T02:00:00.0000000Z"));
    CHECK_INT_EQ(db_int("SELECT count(*) FROM computers", NULL), 4);
    CHECK_INT_EQ(st.malformed, 0);
    script_free(&s);
    db_remove();
}

int main(void)
{
    CHECK_RUN(test_invalid_args);
    CHECK_RUN(test_normal_single_batch);
    CHECK_RUN(test_checkpoint_each_batch);
    CHECK_RUN(test_summary_published);
    CHECK_RUN(test_normal_many_batches);
    CHECK_RUN(test_newest_first);
    CHECK_RUN(test_finding_alert);
    CHECK_RUN(test_finding_stored_once);
    CHECK_RUN(test_finding_updated_after_restart);
    CHECK_RUN(test_finding_restored_replay);
    CHECK_RUN(test_finding_alert_lost);
    CHECK_RUN(test_alerts_owed_after_crash);
    CHECK_RUN(test_channel_disabled_at_start);
    CHECK_RUN(test_channel_disabled_while_running);
    CHECK_RUN(test_allowlist_and_future_only);
    CHECK_RUN(test_restart_resumes);
    CHECK_RUN(test_source_retry_midstream);
    CHECK_RUN(test_source_retry_uncommitted);
    CHECK_RUN(test_bookmark_rejected);
    CHECK_RUN(test_log_cleared);
    CHECK_RUN(test_alert_refused_recorded);
    CHECK_RUN(test_bookmark_rejected_then_retry);
    CHECK_RUN(test_channel_missing);
    CHECK_RUN(test_per_job_cap);
    CHECK_RUN(test_errors_reported_once_per_cause);
    CHECK_RUN(test_db_locked);
    CHECK_RUN(test_db_locked_at_open);
    CHECK_RUN(test_malformed_midbatch);
    CHECK_RUN(test_stop_commits_batch_in_hand);
    CHECK_RUN(test_stop_uncommitted_then_restart);
    CHECK_RUN(test_stop_after_events);
    CHECK_RUN(test_backoff_grows_caps_resets);
    CHECK_RUN(test_health_samples);
    CHECK_RUN(test_config_warnings_recorded);
    CHECK_RUN(test_selftest_recognized);
    CHECK_RUN(test_group_exactly_once_per_channel);
    CHECK_RUN(test_group_channel_failures_independent);
    CHECK_RUN(test_group_fatal_stops_all);
    CHECK_RUN(test_forwarded_per_computer);
    return CHECK_DONE();
}
