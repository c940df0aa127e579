/* Unit tests of job correlation: detections from 16403 and 59/60/61, enrichment, bounds, restore. */
#include "check.h"
#include "correlate.h"
#include "export.h"
#include "fixture.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>

#define PUBLIC_URL "http://45.33.32.156/payload.exe"
#define JOB_A      "{9A25D168-24E6-4C66-AC78-5ED0E6007F1A}"
#define JOB_A_NORM "9a25d168-24e6-4c66-ac78-5ed0e6007f1a"

/* Records every emitted change with a deep copy of the detection. */
typedef struct emitted {
    correlate_change change;
    detection d;
} emitted;

typedef struct recorder {
    emitted items[4096];
    size_t count;
    size_t finals;
    size_t news;
} recorder;

static void recorder_emit(void *ctx, const detection *d, correlate_change change)
{
    recorder *r = ctx;
    if (change == CORRELATE_FINAL)
        r->finals++;
    if (change == CORRELATE_NEW)
        r->news++;
    if (r->count < sizeof r->items / sizeof r->items[0]) {
        r->items[r->count].change = change;
        if (detection_copy(&r->items[r->count].d, d) == BG_ERR_OK)
            r->count++;
    }
}

static void recorder_clear(recorder *r)
{
    for (size_t i = 0; i < r->count; i++)
        detection_clear(&r->items[i].d);
    memset(r, 0, sizeof *r);
}

/* The last FINAL emitted for url, or NULL. */
static const detection *recorder_final(const recorder *r, const char *url)
{
    for (size_t i = r->count; i-- > 0;) {
        if (r->items[i].change == CORRELATE_FINAL && strcmp(r->items[i].d.url, url) == 0)
            return &r->items[i].d;
    }
    return NULL;
}

/* Builds an event by hand: name/value pairs follow the fixed fields, ended by NULL. */
static void event_make(event *ev, const char *provider, unsigned id, uint64_t record, const char *time, ...)
{
    memset(ev, 0, sizeof *ev);
    ev->provider = provider;
    ev->event_id = id;
    ev->record_id = record;
    snprintf(ev->time_created, sizeof ev->time_created, "%s", time);
    ev->computer = "WIN11";
    ev->channel = "Microsoft-Windows-Bits-Client/Operational";
    ev->user_sid = "S-1-5-18";
    va_list ap;
    va_start(ap, time);
    for (const char *name; (name = va_arg(ap, const char *)) != NULL && ev->field_count < EVENT_MAX_FIELDS;) {
        ev->fields[ev->field_count].name = name;
        ev->fields[ev->field_count].value = va_arg(ap, const char *);
        ev->field_count++;
    }
    va_end(ap);
}

static void feed(correlator *c, const event *ev)
{
    CHECK_INT_EQ(correlate_event_feed(c, ev), BG_ERR_OK);
}

/* Windows 11: 3 -> 16403 -> 59 -> 60 -> 4 gives one detection with the whole job's context. */
static void test_windows11_chain(void)
{
    static recorder r;
    correlator *c = correlate_new(NULL, recorder_emit, &r);
    event ev;
    event_make(&ev, EVENT_PROVIDER_BITS, 3, 432, "2023-11-06T01:45:20.0000000Z", "jobTitle", "update", "jobId", JOB_A,
               "jobOwner", "WIN11\\User", "processPath", "C:\\Windows\\System32\\bitsadmin.exe", "processId", "2208",
               NULL);
    feed(c, &ev);
    CHECK_INT_EQ(r.count, 0);
    event_make(&ev, EVENT_PROVIDER_BITS, 16403, 433, "2023-11-06T01:45:21.0240780Z", "User", "WIN11\\User", "jobTitle",
               "update", "jobId", "9a25d168-24e6-4c66-ac78-5ed0e6007f1a", "jobOwner", "WIN11\\User", "fileCount", "1",
               "RemoteName", PUBLIC_URL, "LocalName", "C:\\Users\\User\\p.exe", "processId", "2208", NULL);
    feed(c, &ev);
    CHECK_INT_EQ(r.news, 1);
    event_make(&ev, EVENT_PROVIDER_BITS, 59, 434, "2023-11-06T01:45:22.0000000Z", "name", "update", "Id", JOB_A, "url",
               PUBLIC_URL, NULL);
    feed(c, &ev);
    event_make(&ev, EVENT_PROVIDER_BITS, 60, 435, "2023-11-06T01:45:23.0000000Z", "name", "update", "Id", JOB_A, "url",
               PUBLIC_URL, "hr", "0", "bytesTotal", "302592", "bytesTransferred", "302592", NULL);
    feed(c, &ev);
    CHECK_INT_EQ(r.finals, 0);
    event_make(&ev, EVENT_PROVIDER_BITS, 4, 436, "2023-11-06T01:45:24.0000000Z", "User", "WIN11\\User", "jobTitle",
               "update", "jobId", JOB_A, "jobOwner", "WIN11\\User", "fileCount", "1", NULL);
    feed(c, &ev);

    CHECK_INT_EQ(r.news, 1);
    CHECK_INT_EQ(r.finals, 1);
    const detection *d = recorder_final(&r, PUBLIC_URL);
    CHECK(d != NULL);
    if (d) {
        CHECK_INT_EQ(d->event_id, 16403);
        CHECK_INT_EQ(d->record_id, 433);
        CHECK_STR_EQ(d->job_id, JOB_A_NORM);
        CHECK_STR_EQ(d->cls.ip, "45.33.32.156");
        CHECK_INT_EQ(d->cls.verdict, VERDICT_PUBLIC_IP);
        CHECK_STR_EQ(d->process_path, "C:\\Windows\\System32\\bitsadmin.exe");
        CHECK_INT_EQ(d->process_id, 2208);
        CHECK_STR_EQ(d->local_name, "C:\\Users\\User\\p.exe");
        CHECK_STR_EQ(d->job_owner, "WIN11\\User");
        CHECK_INT_EQ(d->transfer_hr, 0);
        CHECK_INT_EQ(d->bytes_transferred, 302592);
        CHECK_INT_EQ(d->state, JOB_STATE_COMPLETED);
        CHECK_INT_EQ(d->events_seen, SEEN_3 | SEEN_16403 | SEEN_59 | SEEN_60 | SEEN_4);
        CHECK_STR_EQ(d->first_seen, "2023-11-06T01:45:20.0000000Z");
        CHECK_STR_EQ(d->last_seen, "2023-11-06T01:45:24.0000000Z");
        CHECK_INT_EQ(d->last_record_id, 436);
        CHECK_INT_EQ(d->allowed, 0);
    }
    correlate_stats st;
    correlate_stats_get(c, &st);
    CHECK_INT_EQ(st.events, 5);
    CHECK_INT_EQ(st.bits_events, 5);
    CHECK_INT_EQ(st.detections, 1);
    correlate_free(c);
    recorder_clear(&r);
}

/* Windows 10 logs no 16403: the url of 59 creates the detection; 61 gives the failure status. */
static void test_windows10_chain(void)
{
    static recorder r;
    correlator *c = correlate_new(NULL, recorder_emit, &r);
    event ev;
    const char *url = "http://0x2d.0x21.0x20.0x9c/a.exe";
    event_make(&ev, EVENT_PROVIDER_BITS, 3, 10, "2021-03-15T10:00:00.0000000Z", "jobTitle", "x", "jobId", JOB_A,
               "jobOwner", "DESKTOP\\bob", "processPath", "C:\\evil.exe", "processId", "77", NULL);
    feed(c, &ev);
    event_make(&ev, EVENT_PROVIDER_BITS, 59, 11, "2021-03-15T10:00:01.0000000Z", "name", "x", "Id", JOB_A, "url", url,
               NULL);
    feed(c, &ev);
    event_make(&ev, EVENT_PROVIDER_BITS, 61, 12, "2021-03-15T10:00:02.0000000Z", "name", "x", "Id", JOB_A, "url", url,
               "hr", "2147954407", "bytesTotal", "18446744073709551615", "bytesTransferred", "0", NULL);
    feed(c, &ev);
    event_make(&ev, EVENT_PROVIDER_BITS, 5, 13, "2021-03-15T10:00:03.0000000Z", "jobId", JOB_A, NULL);
    feed(c, &ev);
    const detection *d = recorder_final(&r, url);
    CHECK(d != NULL);
    if (d) {
        CHECK_INT_EQ(d->event_id, 59);
        CHECK_STR_EQ(d->cls.ip, "45.33.32.156");
        CHECK_STR_EQ(d->process_path, "C:\\evil.exe");
        CHECK_INT_EQ(d->transfer_hr, 2147954407);
        CHECK_INT_EQ(d->bytes_total, -1); /* UINT64_MAX means unknown. */
        CHECK_INT_EQ(d->bytes_transferred, 0);
        CHECK_INT_EQ(d->state, JOB_STATE_CANCELLED);
        CHECK(d->local_name == NULL);
    }
    CHECK_INT_EQ(r.news, 1);
    CHECK_INT_EQ(r.finals, 1);
    correlate_free(c);
    recorder_clear(&r);
}

/* Recovered .evtx records: a detection created from one is marked recovered until an event of the same
 * url in a record still in use (in either order) shows it. */
static void test_recovered_mark(void)
{
    static recorder r;
    const char *url = "http://45.33.32.156/a.exe";
    for (int in_use_first = 0; in_use_first < 2; in_use_first++) {
        for (int with_in_use = 0; with_in_use < 2; with_in_use++) {
            correlator *c = correlate_new(NULL, recorder_emit, &r);
            event ev;
            event_make(&ev, EVENT_PROVIDER_BITS, 59, 11, "2021-03-15T10:00:01.0000000Z", "name", "x", "Id", JOB_A,
                       "url", url, NULL);
            ev.recovered = !(in_use_first && with_in_use);
            feed(c, &ev);
            event_make(&ev, EVENT_PROVIDER_BITS, 60, 12, "2021-03-15T10:00:02.0000000Z", "name", "x", "Id", JOB_A,
                       "url", url, NULL);
            ev.recovered = !(!in_use_first && with_in_use);
            feed(c, &ev);
            correlate_flush(c);
            const detection *d = recorder_final(&r, url);
            CHECK(d != NULL);
            if (d)
                CHECK_INT_EQ(d->recovered, !with_in_use);
            correlate_free(c);
            recorder_clear(&r);
        }
    }
}

/* Domains, private ranges and other providers make no detection; options change that. */
static void test_what_is_not_a_detection(void)
{
    static recorder r;
    correlator *c = correlate_new(NULL, recorder_emit, &r);
    event ev;
    event_make(&ev, EVENT_PROVIDER_BITS, 16403, 1, "2023-01-01T00:00:00Z", "jobId", JOB_A, "RemoteName",
               "http://1drv.ms/x", NULL);
    feed(c, &ev);
    event_make(&ev, EVENT_PROVIDER_BITS, 16403, 2, "2023-01-01T00:00:00Z", "jobId", JOB_A, "RemoteName",
               "http://192.168.1.10/x", NULL);
    feed(c, &ev);
    event_make(&ev, "Some-Other-Provider", 16403, 3, "2023-01-01T00:00:00Z", "jobId", JOB_A, "RemoteName", PUBLIC_URL,
               NULL);
    feed(c, &ev);
    event_make(&ev, EVENT_PROVIDER_BITS, 59, 4, "2023-01-01T00:00:00Z", "Id", JOB_A, "url",
               "http://r5.gvt1.com/x?mip=213.127.64.248", NULL);
    feed(c, &ev);
    correlate_flush(c);
    CHECK_INT_EQ(r.count, 0);
    correlate_stats st;
    correlate_stats_get(c, &st);
    CHECK_INT_EQ(st.events, 4);
    CHECK_INT_EQ(st.bits_events, 3);
    CHECK_INT_EQ(st.detections, 0);
    correlate_free(c);

    correlate_config cfg = {.report_private = 1};
    c = correlate_new(&cfg, recorder_emit, &r);
    event_make(&ev, EVENT_PROVIDER_BITS, 16403, 2, "2023-01-01T00:00:00Z", "jobId", JOB_A, "RemoteName",
               "http://192.168.1.10/x", NULL);
    feed(c, &ev);
    correlate_flush(c);
    const detection *d = recorder_final(&r, "http://192.168.1.10/x");
    CHECK(d != NULL);
    if (d)
        CHECK_INT_EQ(d->cls.verdict, VERDICT_PRIVATE_IP);
    correlate_free(c);
    recorder_clear(&r);
}

/* An allow-listed network still yields the detection, marked allowed. */
static void test_allowlist_marks(void)
{
    static recorder r;
    char why[128];
    allowlist *al = allowlist_new();
    CHECK(al != NULL);
    CHECK_INT_EQ(allowlist_entry_add(al, "45.33.32.0/24", why, sizeof why), BG_ERR_OK);
    correlate_config cfg = {.allow = al};
    correlator *c = correlate_new(&cfg, recorder_emit, &r);
    event ev;
    event_make(&ev, EVENT_PROVIDER_BITS, 16403, 1, "2023-01-01T00:00:00Z", "jobId", JOB_A, "RemoteName", PUBLIC_URL,
               NULL);
    feed(c, &ev);
    correlate_flush(c);
    const detection *d = recorder_final(&r, PUBLIC_URL);
    CHECK(d != NULL);
    if (d)
        CHECK_INT_EQ(d->allowed, 1);
    correlate_stats st;
    correlate_stats_get(c, &st);
    CHECK_INT_EQ(st.allowed, 1);
    correlate_free(c);
    allowlist_free(al);
    recorder_clear(&r);
}

/* Event 6 (notify command line: persistence) and a second file of the same job. */
static void test_notify_and_two_files(void)
{
    static recorder r;
    correlator *c = correlate_new(NULL, recorder_emit, &r);
    event ev;
    event_make(&ev, EVENT_PROVIDER_BITS, 16403, 1, "2023-01-01T00:00:00Z", "jobId", JOB_A, "RemoteName", PUBLIC_URL,
               NULL);
    feed(c, &ev);
    event_make(&ev, EVENT_PROVIDER_BITS, 16403, 2, "2023-01-01T00:00:01Z", "jobId", JOB_A, "RemoteName",
               "https://[2600:1f18::1]/b.dll", NULL);
    feed(c, &ev);
    event_make(&ev, EVENT_PROVIDER_BITS, 6, 3, "2023-01-01T00:00:02Z", "jobId", JOB_A, "jobOwner", "U", "program",
               "C:\\Windows\\System32\\cmd.exe", "parameters", "/c start p.exe", NULL);
    feed(c, &ev);
    correlate_flush(c);
    CHECK_INT_EQ(r.news, 2);
    CHECK_INT_EQ(r.finals, 2);
    const detection *d = recorder_final(&r, "https://[2600:1f18::1]/b.dll");
    CHECK(d != NULL);
    if (d) {
        CHECK_STR_EQ(d->notify_program, "C:\\Windows\\System32\\cmd.exe");
        CHECK_STR_EQ(d->notify_parameters, "/c start p.exe");
        CHECK_STR_EQ(d->cls.ip, "2600:1f18::1");
        CHECK(d->events_seen & SEEN_6);
    }
    correlate_free(c);
    recorder_clear(&r);
}

/* Memory stays bounded: with room for 8 jobs, 1,000 open jobs evict 992, each emitted as FINAL once. */
static void test_bounded_jobs(void)
{
    static recorder r;
    correlate_config cfg = {.max_jobs = 8};
    correlator *c = correlate_new(&cfg, recorder_emit, &r);
    event ev;
    char job[64];
    for (int i = 0; i < 1000; i++) {
        snprintf(job, sizeof job, "{00000000-0000-0000-0000-%012d}", i);
        event_make(&ev, EVENT_PROVIDER_BITS, 16403, (uint64_t)i, "2023-01-01T00:00:00Z", "jobId", job, "RemoteName",
                   PUBLIC_URL, NULL);
        feed(c, &ev);
    }
    correlate_stats st;
    correlate_stats_get(c, &st);
    CHECK_INT_EQ(st.evicted_jobs, 992);
    CHECK_INT_EQ(r.finals, 992);
    correlate_flush(c);
    CHECK_INT_EQ(r.finals, 1000);
    CHECK_INT_EQ(r.news, 1000);
    correlate_free(c);
    recorder_clear(&r);
}

/* A job idle longer than the age bound (by event time) is evicted when newer events arrive. */
static void test_age_eviction(void)
{
    static recorder r;
    correlate_config cfg = {.max_age_s = 3600};
    correlator *c = correlate_new(&cfg, recorder_emit, &r);
    event ev;
    event_make(&ev, EVENT_PROVIDER_BITS, 16403, 1, "2023-01-01T00:00:00Z", "jobId", JOB_A, "RemoteName", PUBLIC_URL,
               NULL);
    feed(c, &ev);
    event_make(&ev, EVENT_PROVIDER_BITS, 3, 2, "2023-01-01T00:59:00Z", "jobId",
               "{11111111-1111-1111-1111-111111111111}", NULL);
    feed(c, &ev);
    CHECK_INT_EQ(r.finals, 0);
    event_make(&ev, EVENT_PROVIDER_BITS, 3, 3, "2023-01-01T01:00:01Z", "jobId",
               "{22222222-2222-2222-2222-222222222222}", NULL);
    feed(c, &ev);
    CHECK_INT_EQ(r.finals, 1);
    correlate_free(c);
    recorder_clear(&r);
}

/* After a restart, a restored detection is enriched by its job's completion instead of being forgotten. */
static void test_restore(void)
{
    static recorder r;
    correlator *c = correlate_new(NULL, recorder_emit, &r);
    detection d;
    detection_init(&d);
    d.computer = "WIN11";
    d.url = PUBLIC_URL;
    memcpy(d.job_id, JOB_A_NORM, sizeof JOB_A_NORM);
    d.event_id = 16403;
    d.events_seen = SEEN_3 | SEEN_16403; /* Its creation was read before the restart. */
    CHECK_INT_EQ(correlate_detection_restore(c, &d), BG_ERR_OK);
    CHECK_INT_EQ(r.count, 0);
    event ev;
    event_make(&ev, EVENT_PROVIDER_BITS, 4, 9, "2023-01-01T00:00:00Z", "jobId", JOB_A, NULL);
    feed(c, &ev);
    const detection *out = recorder_final(&r, PUBLIC_URL);
    CHECK(out != NULL);
    if (out) {
        CHECK_INT_EQ(out->state, JOB_STATE_COMPLETED);
        CHECK_INT_EQ(out->events_seen, SEEN_3 | SEEN_16403 | SEEN_4);
    }
    CHECK_INT_EQ(r.news, 0);
    correlate_free(c);
    recorder_clear(&r);
}

/* Counts new detections by kind, and whether the payload URL was among them (no copies: a job with
 * a hundred files emits thousands of updates). */
typedef struct cap_counter {
    size_t news, news_allowed, payload_seen;
} cap_counter;

static void cap_emit(void *ctx, const detection *d, correlate_change change)
{
    cap_counter *k = ctx;
    if (change != CORRELATE_NEW)
        return;
    if (d->allowed)
        k->news_allowed++;
    else
        k->news++;
    if (strcmp(d->url, PUBLIC_URL) == 0)
        k->payload_seen = 1;
}

/* The per-job cap: allow-listed files (64 or 100 of them) never use up the room of the payload URL
 * that follows; past 64 detections of a kind in one job, the rest are dropped and counted, by the
 * event feed and by the restore alike. */
static void test_per_job_cap(void)
{
    char why[128], url[64];
    allowlist *al = allowlist_new();
    CHECK(al != NULL);
    CHECK_INT_EQ(allowlist_entry_add(al, "13.107.4.0/24", why, sizeof why), BG_ERR_OK);
    correlate_config cfg = {.allow = al};
    event ev;
    correlate_stats st;
    for (int allowed_first = 64; allowed_first <= 100; allowed_first += 36) {
        cap_counter k = {0};
        correlator *c = correlate_new(&cfg, cap_emit, &k);
        for (int i = 0; i < allowed_first; i++) {
            snprintf(url, sizeof url, "http://13.107.4.50/f.cab?%d", i);
            event_make(&ev, EVENT_PROVIDER_BITS, 16403, (uint64_t)i + 1, "2023-01-01T00:00:00Z", "jobId", JOB_A,
                       "RemoteName", url, NULL);
            feed(c, &ev);
        }
        event_make(&ev, EVENT_PROVIDER_BITS, 16403, 1000, "2023-01-01T00:00:01Z", "jobId", JOB_A, "RemoteName",
                   PUBLIC_URL, NULL);
        feed(c, &ev);
        CHECK_INT_EQ(k.payload_seen, 1);
        CHECK_INT_EQ(k.news, 1);
        CHECK_INT_EQ(k.news_allowed, 64);
        correlate_stats_get(c, &st);
        CHECK_INT_EQ(st.over_cap, 0);
        CHECK_INT_EQ(st.over_cap_allowed, (uint64_t)allowed_first - 64);
        correlate_free(c);
    }

    /* 70 files that are not allow-listed: 64 detections, 6 counted as dropped. */
    cap_counter k = {0};
    correlator *c = correlate_new(&cfg, cap_emit, &k);
    for (int i = 0; i < 70; i++) {
        snprintf(url, sizeof url, "http://45.33.32.156/p%d.exe", i);
        event_make(&ev, EVENT_PROVIDER_BITS, 16403, (uint64_t)i + 1, "2023-01-01T00:00:00Z", "jobId", JOB_A,
                   "RemoteName", url, NULL);
        feed(c, &ev);
    }
    CHECK_INT_EQ(k.news, 64);
    correlate_stats_get(c, &st);
    CHECK_INT_EQ(st.over_cap, 6);
    CHECK_INT_EQ(st.detections, 64);
    correlate_free(c);

    /* The restore: 64 allow-listed rows leave room for the payload's; 65 rows of one kind drop one. */
    c = correlate_new(&cfg, cap_emit, &k);
    detection d;
    detection_init(&d);
    d.computer = "WIN11";
    memcpy(d.job_id, JOB_A_NORM, sizeof JOB_A_NORM);
    d.event_id = 16403;
    d.events_seen = SEEN_16403;
    d.url = url;
    for (int i = 0; i < 65; i++) {
        snprintf(url, sizeof url, "http://13.107.4.50/f.cab?%d", i);
        d.allowed = 1;
        CHECK_INT_EQ(correlate_detection_restore(c, &d), BG_ERR_OK);
        snprintf(url, sizeof url, "http://45.33.32.156/p%d.exe", i);
        d.allowed = 0;
        CHECK_INT_EQ(correlate_detection_restore(c, &d), BG_ERR_OK);
    }
    correlate_stats_get(c, &st);
    CHECK_INT_EQ(st.over_cap, 1);
    CHECK_INT_EQ(st.over_cap_allowed, 1);
    correlate_free(c);
    allowlist_free(al);
}

/* ---- the same detections whatever the order ------------------------------------------------------ */

/* An event kept beyond the reader's callback: its strings copied into one block of its own. */
typedef struct kept_event {
    event ev;
    char *block;
} kept_event;

typedef struct kept_log {
    kept_event *items;
    size_t count, cap;
} kept_log;

static const char *kept_string(char **at, const char *s)
{
    size_t n = strlen(s ? s : "") + 1;
    memcpy(*at, s ? s : "", n);
    const char *r = *at;
    *at += n;
    return r;
}

static bg_error kept_log_add(void *ctx, const event *ev, const export_skip *skip)
{
    kept_log *log = ctx;
    if (skip)
        return BG_ERR_OK;
    if (log->count == log->cap) {
        size_t cap = log->cap ? log->cap * 2 : 64;
        kept_event *grown = realloc(log->items, cap * sizeof *grown);
        if (!grown)
            return BG_ERR_NOMEM;
        log->items = grown;
        log->cap = cap;
    }
    size_t need = strlen(ev->provider) + strlen(ev->computer) + strlen(ev->channel) + strlen(ev->user_sid) + 4;
    for (size_t i = 0; i < ev->field_count; i++)
        need += strlen(ev->fields[i].name) + strlen(ev->fields[i].value) + 2;
    kept_event *k = &log->items[log->count];
    k->block = malloc(need);
    if (!k->block)
        return BG_ERR_NOMEM;
    char *at = k->block;
    k->ev = *ev;
    k->ev.arena = NULL;
    k->ev.parser = NULL;
    k->ev.provider = kept_string(&at, ev->provider);
    k->ev.computer = kept_string(&at, ev->computer);
    k->ev.channel = kept_string(&at, ev->channel);
    k->ev.user_sid = kept_string(&at, ev->user_sid);
    for (size_t i = 0; i < ev->field_count; i++) {
        k->ev.fields[i].name = kept_string(&at, ev->fields[i].name);
        k->ev.fields[i].value = kept_string(&at, ev->fields[i].value);
    }
    log->count++;
    return BG_ERR_OK;
}

static void kept_log_free(kept_log *log)
{
    for (size_t i = 0; i < log->count; i++)
        free(log->items[i].block);
    free(log->items);
    memset(log, 0, sizeof *log);
}

/* The FINAL detections as sorted JSON lines, for comparing two runs whatever the order of emission. */
typedef struct json_lines {
    char *lines[512];
    size_t count;
} json_lines;

static void json_lines_emit(void *ctx, const detection *d, correlate_change change)
{
    json_lines *jl = ctx;
    if (change != CORRELATE_FINAL || jl->count == sizeof jl->lines / sizeof jl->lines[0])
        return;
    /* Every field a detection reports (not through a temporary file: Wine's tmpfile wants a writable
     * drive root). */
    char buf[8192];
    snprintf(buf, sizeof buf,
             "%u|%" PRIu64 "|%s|%s|%s|%s|%s|%s|%s|%s|%d|%s|%d|%s|%s|%" PRId64 "|%s|%s|%s|%" PRIu32 "|%s|%s|%" PRIu64
             "|%" PRId64 "|%" PRId64 "|%" PRId64 "|%d|%d",
             d->event_id, d->record_id, d->time, d->computer ? d->computer : "-", d->job_id,
             d->job_title ? d->job_title : "-", d->job_owner ? d->job_owner : "-", d->url ? d->url : "-", d->cls.ip,
             classify_verdict_name(d->cls.verdict), (int)d->cls.kind, d->cls.range, (int)d->cls.reading,
             d->cls.embedded_ipv4, d->local_name ? d->local_name : "-", d->process_id,
             d->process_path ? d->process_path : "-", d->notify_program ? d->notify_program : "-",
             d->notify_parameters ? d->notify_parameters : "-", d->events_seen, d->first_seen, d->last_seen,
             d->last_record_id, d->transfer_hr, d->bytes_total, d->bytes_transferred, (int)d->state, d->allowed);
    size_t n = strlen(buf) + 1;
    char *line = malloc(n);
    if (!line)
        return;
    memcpy(line, buf, n);
    jl->lines[jl->count++] = line;
}

static void json_lines_finding(void *ctx, const finding *f, correlate_change change)
{
    json_lines *jl = ctx;
    if (change != CORRELATE_FINAL || jl->count == sizeof jl->lines / sizeof jl->lines[0])
        return;
    char buf[8192];
    snprintf(buf, sizeof buf,
             "finding %d|%u|%" PRIu64 "|%s|%s|%s|%s|%s|%" PRId64 "|%s|%s|%s|%" PRIu32 "|%" PRId64
             "|%s|%s|%s|%s|%s|%d|%s|%d",
             (int)f->kind, f->event_id, f->record_id, f->time, f->computer ? f->computer : "-", f->job_id,
             f->job_title ? f->job_title : "-", f->job_owner ? f->job_owner : "-", f->process_id,
             f->process_path ? f->process_path : "-", f->program ? f->program : "-",
             f->parameters ? f->parameters : "-", f->notify_failures, f->notify_error, f->server ? f->server : "-",
             f->url ? f->url : "-", f->cls.ip, f->user ? f->user : "-", f->channel ? f->channel : "-", f->accepted,
             f->scheme ? f->scheme : "-", (int)f->state);
    size_t n = strlen(buf) + 1;
    char *line = malloc(n);
    if (!line)
        return;
    memcpy(line, buf, n);
    jl->lines[jl->count++] = line;
}

static int json_line_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void json_lines_free(json_lines *jl)
{
    for (size_t i = 0; i < jl->count; i++)
        free(jl->lines[i]);
    jl->count = 0;
}

/* Correlates the kept events forwards (reverse = 0) or newest first, as Get-WinEvent reads them. */
static void kept_log_correlate(const kept_log *log, int reverse, json_lines *out)
{
    correlate_config cfg = {.report_private = 1, .finding = json_lines_finding, .finding_ctx = out};
    correlator *c = correlate_new(&cfg, json_lines_emit, out);
    CHECK(c != NULL);
    if (!c)
        return;
    for (size_t i = 0; i < log->count; i++)
        feed(c, &log->items[reverse ? log->count - 1 - i : i].ev);
    correlate_flush(c);
    correlate_free(c);
    qsort(out->lines, out->count, sizeof out->lines[0], json_line_cmp);
}

/* Reads one export and checks that forwards and newest first give the same detections; returns how
 * many there were (-1 when the file is missing). */
static long order_check_file(FILE *fp, const char *name)
{
    static json_lines fwd, rev;
    kept_log log = {0};
    event ev;
    event_init(&ev);
    bg_error rc = export_events_read(fp, name, &ev, NULL, kept_log_add, &log, NULL);
    event_free(&ev);
    fclose(fp);
    CHECK_INT_EQ(rc, BG_ERR_OK);
    kept_log_correlate(&log, 0, &fwd);
    kept_log_correlate(&log, 1, &rev);
    CHECK_INT_EQ(fwd.count, rev.count);
    for (size_t i = 0; i < fwd.count && i < rev.count; i++)
        CHECK_STR_EQ_CTX(name, rev.lines[i], fwd.lines[i]);
    long n = (long)fwd.count;
    json_lines_free(&fwd);
    json_lines_free(&rev);
    kept_log_free(&log);
    return n;
}

/* Every export fixture (and the real logs beside the project, when present) read forwards and newest
 * first gives the same detections: outcome, process, notify command, transfer status, first event. */
static void test_order_fixtures(void)
{
    static const char *const exports[] = {
        "exports/mixed-detections.xml",  "exports/ordered-jobs.xml",   "exports/abuse.xml",
        "exports/wevtutil.xml",          "exports/events-wrapped.xml", "exports/pretty-crlf-bom.xml",
        "exports/xml11-python-evtx.xml", "exports/comments-cdata.xml", "exports/banner-evtxexport.xml",
        "exports/utf16le-bom.xml",
    };
    long detections = 0;
    for (size_t i = 0; i < sizeof exports / sizeof exports[0]; i++) {
        FILE *fp = fixture_open(exports[i]);
        CHECK(fp != NULL);
        if (fp)
            detections += order_check_file(fp, exports[i]);
    }
    CHECK(detections >= 8); /* The comparison is about something. */
    static const char *const real[] = {
        "bits_openvpn.evtxexport.xml",
        "persist_bitsadmin_Microsoft-Windows-Bits-Client-Operational.python-evtx.xml",
        "windows_bits_4_59_60_lolbas_desktopimgdownldr.evtxexport.xml",
    };
    for (size_t i = 0; i < sizeof real / sizeof real[0]; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", BG_SHARED_SAMPLES, real[i]);
        FILE *fp = fopen(path, "rb");
        if (fp)
            (void)order_check_file(fp, real[i]);
    }
}

/* Newest first by hand: 4 arrives before anything else of its job and still makes it completed, the
 * process comes from the 3 read last, the transfer status from the newest 60/61, the detection names
 * the oldest event of its url, the notify command is the one set last. */
static void test_order_newest_first(void)
{
    static recorder r;
    correlator *c = correlate_new(NULL, recorder_emit, &r);
    event ev;
    event_make(&ev, EVENT_PROVIDER_BITS, 4, 108, "2023-11-06T01:45:28.0000000Z", "jobTitle", "renamed", "jobId", JOB_A,
               "jobOwner", "WIN11\\User", NULL);
    feed(c, &ev);
    event_make(&ev, EVENT_PROVIDER_BITS, 60, 107, "2023-11-06T01:45:27.0000000Z", "name", "renamed", "Id", JOB_A, "url",
               PUBLIC_URL, "hr", "0", "bytesTotal", "10", "bytesTransferred", "10", NULL);
    feed(c, &ev);
    event_make(&ev, EVENT_PROVIDER_BITS, 61, 106, "2023-11-06T01:45:26.0000000Z", "name", "update", "Id", JOB_A, "url",
               PUBLIC_URL, "hr", "2147954429", "bytesTotal", "10", "bytesTransferred", "3", NULL);
    feed(c, &ev);
    event_make(&ev, EVENT_PROVIDER_BITS, 6, 105, "2023-11-06T01:45:25.0000000Z", "jobId", JOB_A, "jobOwner",
               "WIN11\\User", "program", "C:\\Users\\Public\\second.exe", "parameters", "-b", NULL);
    feed(c, &ev);
    event_make(&ev, EVENT_PROVIDER_BITS, 6, 104, "2023-11-06T01:45:24.0000000Z", "jobId", JOB_A, "jobOwner",
               "WIN11\\User", "program", "C:\\Users\\Public\\first.exe", "parameters", "-a", NULL);
    feed(c, &ev);
    event_make(&ev, EVENT_PROVIDER_BITS, 59, 103, "2023-11-06T01:45:23.0000000Z", "name", "update", "Id", JOB_A, "url",
               PUBLIC_URL, NULL);
    feed(c, &ev);
    event_make(&ev, EVENT_PROVIDER_BITS, 16403, 102, "2023-11-06T01:45:22.0000000Z", "jobTitle", "update", "jobId",
               JOB_A, "RemoteName", PUBLIC_URL, "LocalName", "C:\\p.exe", "processId", "2208", NULL);
    feed(c, &ev);
    CHECK_INT_EQ(r.finals, 0); /* The job's creation is not in yet: more of it may follow. */
    event_make(&ev, EVENT_PROVIDER_BITS, 3, 101, "2023-11-06T01:45:21.0000000Z", "jobTitle", "update", "jobId", JOB_A,
               "jobOwner", "WIN11\\User", "processPath", "C:\\Windows\\System32\\bitsadmin.exe", "processId", "2208",
               NULL);
    feed(c, &ev);
    CHECK_INT_EQ(r.finals, 1); /* Creation and completion both in: final without a flush. */
    CHECK_INT_EQ(r.news, 1);
    const detection *d = recorder_final(&r, PUBLIC_URL);
    CHECK(d != NULL);
    if (d) {
        CHECK_INT_EQ(d->state, JOB_STATE_COMPLETED);
        CHECK_INT_EQ(d->event_id, 16403);
        CHECK_INT_EQ(d->record_id, 102);
        CHECK_STR_EQ(d->time, "2023-11-06T01:45:22.0000000Z");
        CHECK_STR_EQ(d->process_path, "C:\\Windows\\System32\\bitsadmin.exe");
        CHECK_INT_EQ(d->process_id, 2208);
        CHECK_STR_EQ(d->notify_program, "C:\\Users\\Public\\second.exe");
        CHECK_STR_EQ(d->notify_parameters, "-b");
        CHECK_INT_EQ(d->transfer_hr, 0);
        CHECK_INT_EQ(d->bytes_transferred, 10);
        CHECK_STR_EQ(d->job_title, "renamed");
        CHECK_STR_EQ(d->local_name, "C:\\p.exe");
        CHECK_STR_EQ(d->first_seen, "2023-11-06T01:45:21.0000000Z");
        CHECK_STR_EQ(d->last_seen, "2023-11-06T01:45:28.0000000Z");
        CHECK_INT_EQ(d->last_record_id, 108);
    }
    correlate_free(c);
    recorder_clear(&r);
}

/* Read newest first, a job idle for longer than the age bound is evicted too (time runs backwards). */
static void test_order_age_backwards(void)
{
    static recorder r;
    correlate_config cfg = {.max_age_s = 3600};
    correlator *c = correlate_new(&cfg, recorder_emit, &r);
    event ev;
    event_make(&ev, EVENT_PROVIDER_BITS, 16403, 50, "2023-01-02T00:00:00Z", "jobId", JOB_A, "RemoteName", PUBLIC_URL,
               NULL);
    feed(c, &ev);
    event_make(&ev, EVENT_PROVIDER_BITS, 16403, 10, "2023-01-01T00:00:00Z", "jobId",
               "{00000000-0000-0000-0000-000000000001}", "RemoteName", "http://example.com/", NULL);
    feed(c, &ev);
    CHECK_INT_EQ(r.finals, 1);
    correlate_free(c);
    recorder_clear(&r);
}

/* ---- findings: BITS abuse beyond the URL --------------------------------------------------------- */

typedef struct finding_log {
    finding items[64];
    correlate_change change[64];
    size_t count;
} finding_log;

static void finding_log_emit(void *ctx, const finding *f, correlate_change change)
{
    finding_log *l = ctx;
    if (l->count < sizeof l->items / sizeof l->items[0] && finding_copy(&l->items[l->count], f) == BG_ERR_OK)
        l->change[l->count++] = change;
}

/* The last FINAL finding of a kind, or NULL. */
static const finding *finding_log_final(const finding_log *l, finding_kind kind)
{
    for (size_t i = l->count; i-- > 0;)
        if (l->change[i] == CORRELATE_FINAL && l->items[i].kind == kind)
            return &l->items[i];
    return NULL;
}

static size_t finding_log_count(const finding_log *l, correlate_change change)
{
    size_t n = 0;
    for (size_t i = 0; i < l->count; i++)
        n += l->change[i] == change;
    return n;
}

static void finding_log_clear(finding_log *l)
{
    for (size_t i = 0; i < l->count; i++)
        finding_clear(&l->items[i]);
    l->count = 0;
}

/* Event 6 raises a notify-command finding of its own although the job fetches from a domain (no
 * detection), with the job's owner and creating process; 63 and 64 naming the job by title attach. */
static void test_finding_notify(void)
{
    static recorder r;
    static finding_log fl;
    correlate_config cfg = {.finding = finding_log_emit, .finding_ctx = &fl};
    correlator *c = correlate_new(&cfg, recorder_emit, &r);
    event ev;
    event_make(&ev, EVENT_PROVIDER_BITS, 3, 1, "2023-01-01T00:00:00.0000000Z", "jobTitle", "upd", "jobId", JOB_A,
               "jobOwner", "PC\\eve", "processPath", "C:\\x\\tool.exe", "processId", "77", NULL);
    feed(c, &ev);
    event_make(&ev, EVENT_PROVIDER_BITS, 16403, 2, "2023-01-01T00:00:01.0000000Z", "jobTitle", "upd", "jobId", JOB_A,
               "RemoteName", "https://updates.example.com/u.exe", NULL);
    feed(c, &ev);
    CHECK_INT_EQ(fl.count, 0);
    event_make(&ev, EVENT_PROVIDER_BITS, 6, 3, "2023-01-01T00:00:02.0000000Z", "jobId", JOB_A, "jobOwner", "PC\\eve",
               "program", "C:\\ProgramData\\u.exe", "parameters", "/i", NULL);
    feed(c, &ev);
    CHECK_INT_EQ(finding_log_count(&fl, CORRELATE_NEW), 1);
    event_make(&ev, EVENT_PROVIDER_BITS, 64, 4, "2023-01-01T00:00:03.0000000Z", "Job", "upd", "Url",
               "https://updates.example.com/u.exe", "Pgm", "C:\\ProgramData\\u.exe", "hr", "0x80070002", NULL);
    feed(c, &ev);
    event_make(&ev, EVENT_PROVIDER_BITS, 63, 5, "2023-01-01T00:00:04.0000000Z", "Job", "other job", "Url", "x", "Pgm",
               "y", "hr", "1", NULL);
    feed(c, &ev); /* Another job's title: not attached. */
    event_make(&ev, EVENT_PROVIDER_BITS, 4, 6, "2023-01-01T00:00:05.0000000Z", "jobTitle", "upd", "jobId", JOB_A, NULL);
    feed(c, &ev);
    CHECK_INT_EQ(r.count, 0); /* A domain: no detection. */
    const finding *f = finding_log_final(&fl, FINDING_NOTIFY_COMMAND);
    CHECK(f != NULL);
    if (f) {
        CHECK_INT_EQ(f->event_id, 6);
        CHECK_INT_EQ(f->record_id, 3);
        CHECK_STR_EQ(f->job_id, JOB_A_NORM);
        CHECK_STR_EQ(f->job_title, "upd");
        CHECK_STR_EQ(f->job_owner, "PC\\eve");
        CHECK_STR_EQ(f->process_path, "C:\\x\\tool.exe");
        CHECK_INT_EQ(f->process_id, 77);
        CHECK_STR_EQ(f->program, "C:\\ProgramData\\u.exe");
        CHECK_STR_EQ(f->parameters, "/i");
        CHECK_INT_EQ(f->notify_failures, 1);
        CHECK_INT_EQ(f->notify_error, 0x80070002);
        CHECK_INT_EQ(f->state, JOB_STATE_COMPLETED);
    }
    CHECK_INT_EQ(finding_log_count(&fl, CORRELATE_FINAL), 1);
    correlate_stats st;
    correlate_stats_get(c, &st);
    CHECK_INT_EQ(st.findings, 1);
    correlate_free(c);
    finding_log_clear(&fl);
    recorder_clear(&r);
}

/* Read newest first, 63/64 naming a title come before anything that gives the job its title: they wait
 * (bounded) and join the job once it has that title. */
static void test_finding_notify_newest_first(void)
{
    static recorder r;
    static finding_log fl;
    correlate_config cfg = {.finding = finding_log_emit, .finding_ctx = &fl};
    correlator *c = correlate_new(&cfg, recorder_emit, &r);
    event ev;
    event_make(&ev, EVENT_PROVIDER_BITS, 63, 9, "2023-01-01T00:00:09.0000000Z", "Job", "upd", "Pgm", "C:\\p.exe", "hr",
               "5", NULL);
    feed(c, &ev);
    event_make(&ev, EVENT_PROVIDER_BITS, 64, 8, "2023-01-01T00:00:08.0000000Z", "Job", "upd", "Pgm", "C:\\p.exe", "hr",
               "2", NULL);
    feed(c, &ev);
    event_make(&ev, EVENT_PROVIDER_BITS, 6, 3, "2023-01-01T00:00:03.0000000Z", "jobId", JOB_A, "program", "C:\\p.exe",
               "parameters", "", NULL);
    feed(c, &ev);
    event_make(&ev, EVENT_PROVIDER_BITS, 3, 1, "2023-01-01T00:00:01.0000000Z", "jobTitle", "upd", "jobId", JOB_A,
               "jobOwner", "PC\\eve", NULL);
    feed(c, &ev);
    correlate_flush(c);
    const finding *f = finding_log_final(&fl, FINDING_NOTIFY_COMMAND);
    CHECK(f != NULL);
    if (f) {
        CHECK_INT_EQ(f->notify_failures, 2);
        CHECK_INT_EQ(f->notify_error, 5); /* The newest failure's code. */
        CHECK_STR_EQ(f->job_title, "upd");
    }
    correlate_free(c);
    finding_log_clear(&fl);
    recorder_clear(&r);
}

/* 203/204: credentials to a direct IP (by the url, else the server, with every reading) are a finding;
 * to a domain or an allow-listed address they are not. */
static void test_finding_credentials(void)
{
    static recorder r;
    static finding_log fl;
    allowlist *allow = allowlist_new();
    char why[128];
    CHECK_INT_EQ(allowlist_entry_add(allow, "8.8.8.0/24", why, sizeof why), BG_ERR_OK);
    correlate_config cfg = {.allow = allow, .finding = finding_log_emit, .finding_ctx = &fl};
    correlator *c = correlate_new(&cfg, recorder_emit, &r);
    event ev;
    event_make(&ev, EVENT_PROVIDER_BITS, 204, 1, "2023-01-01T00:00:01.0000000Z", "string", "intranet.example",
               "string2", "job", "string3", "http://intranet.example/", NULL);
    feed(c, &ev);
    event_make(&ev, EVENT_PROVIDER_BITS, 203, 2, "2023-01-01T00:00:02.0000000Z", "scheme", "NTLM", "server",
               "files.example", "job", "job", "url", "http://files.example\\@45.33.32.156/x", "user", "PC\\eve", NULL);
    feed(c, &ev);
    event_make(&ev, EVENT_PROVIDER_BITS, 204, 3, "2023-01-01T00:00:03.0000000Z", "string", "0x2d.0x21.0x20.0x9c",
               "string2", "job", "string3", "", NULL);
    feed(c, &ev);
    event_make(&ev, EVENT_PROVIDER_BITS, 203, 4, "2023-01-01T00:00:04.0000000Z", "server", "8.8.8.8", "job", "job",
               "url", "http://8.8.8.8/", NULL);
    feed(c, &ev);
    CHECK_INT_EQ(finding_log_count(&fl, CORRELATE_FINAL), 2);
    const finding *a = fl.count >= 2 ? &fl.items[1] : NULL;
    CHECK(a != NULL);
    if (a) {
        CHECK_INT_EQ(a->kind, FINDING_CREDENTIALS_DIRECT_IP);
        CHECK_INT_EQ(a->accepted, 1);
        CHECK_STR_EQ(a->cls.ip, "45.33.32.156");
        CHECK_STR_EQ(classify_reading_name(a->cls.reading), "rfc3986");
        CHECK_STR_EQ(a->scheme, "NTLM");
        CHECK_STR_EQ(a->user, "PC\\eve");
        CHECK_STR_EQ(a->job_title, "job");
    }
    const finding *b = finding_log_final(&fl, FINDING_CREDENTIALS_DIRECT_IP);
    CHECK(b != NULL);
    if (b) {
        CHECK_INT_EQ(b->accepted, 0);
        CHECK_INT_EQ(b->event_id, 204);
        CHECK_STR_EQ(b->cls.ip, "45.33.32.156"); /* The server, read as a host. */
    }
    correlate_free(c);
    allowlist_free(allow);
    finding_log_clear(&fl);
    recorder_clear(&r);
}

/* The Eventlog provider's 104 naming the Bits-Client channel (any case) is a finding; another log's is not,
 * and so is a 104 from another provider. */
static void test_finding_channel_cleared(void)
{
    static recorder r;
    static finding_log fl;
    correlate_config cfg = {.finding = finding_log_emit, .finding_ctx = &fl};
    correlator *c = correlate_new(&cfg, recorder_emit, &r);
    event ev;
    event_make(&ev, EVENT_PROVIDER_EVENTLOG, 104, 7, "2023-01-01T00:00:01.0000000Z", "SubjectUserName", "eve",
               "SubjectDomainName", "PC", "Channel", "microsoft-windows-bits-client/operational", "BackupPath", "",
               NULL);
    feed(c, &ev);
    event_make(&ev, EVENT_PROVIDER_EVENTLOG, 104, 8, "2023-01-01T00:00:02.0000000Z", "Channel", "Security", NULL);
    feed(c, &ev);
    event_make(&ev, "Contoso", 104, 9, "2023-01-01T00:00:03.0000000Z", "Channel", EVENT_CHANNEL_BITS, NULL);
    feed(c, &ev);
    CHECK_INT_EQ(finding_log_count(&fl, CORRELATE_FINAL), 1);
    const finding *f = finding_log_final(&fl, FINDING_CHANNEL_CLEARED);
    CHECK(f != NULL);
    if (f) {
        CHECK_STR_EQ(f->user, "PC\\eve");
        CHECK_INT_EQ(f->record_id, 7);
        CHECK_STR_EQ(f->computer, "WIN11");
    }
    correlate_free(c);
    finding_log_clear(&fl);
    recorder_clear(&r);
}

/* Findings raised by records recovered from an .evtx log's free space are marked recovered, as detections
 * are, until the raising event is seen in a record still in use; findings from records in use never are. */
static void test_finding_recovered_mark(void)
{
    static recorder r;
    static finding_log fl;
    for (int with_in_use = 0; with_in_use < 2; with_in_use++) {
        correlate_config cfg = {.finding = finding_log_emit, .finding_ctx = &fl};
        correlator *c = correlate_new(&cfg, recorder_emit, &r);
        event ev;
        event_make(&ev, EVENT_PROVIDER_BITS, 6, 3, "2023-01-01T00:00:02.0000000Z", "jobId", JOB_A, "program",
                   "C:\\p.exe", NULL);
        ev.recovered = 1;
        feed(c, &ev);
        if (with_in_use) {
            event_make(&ev, EVENT_PROVIDER_BITS, 6, 4, "2023-01-01T00:00:03.0000000Z", "jobId", JOB_A, "program",
                       "C:\\p.exe", NULL);
            feed(c, &ev);
        }
        event_make(&ev, EVENT_PROVIDER_BITS, 203, 5, "2023-01-01T00:00:04.0000000Z", "server", "45.33.32.156", "job",
                   "other", "url", "http://45.33.32.156/", NULL);
        ev.recovered = 1;
        feed(c, &ev);
        event_make(&ev, EVENT_PROVIDER_EVENTLOG, 104, 6, "2023-01-01T00:00:05.0000000Z", "Channel", EVENT_CHANNEL_BITS,
                   NULL);
        feed(c, &ev); /* A record in use. */
        correlate_flush(c);
        const finding *n = finding_log_final(&fl, FINDING_NOTIFY_COMMAND);
        const finding *cr = finding_log_final(&fl, FINDING_CREDENTIALS_DIRECT_IP);
        const finding *cl = finding_log_final(&fl, FINDING_CHANNEL_CLEARED);
        CHECK(n != NULL && cr != NULL && cl != NULL);
        if (n && cr && cl) {
            CHECK_INT_EQ(n->recovered, !with_in_use);
            CHECK_INT_EQ(cr->recovered, 1);
            CHECK_INT_EQ(cl->recovered, 0);
        }
        correlate_free(c);
        finding_log_clear(&fl);
        recorder_clear(&r);
    }
}

/* A finding's first and last seen span its job's events and the failures to run its command, in
 * whichever order they come, and its last record id is the greatest of them. */
static void test_finding_seen_range(void)
{
    static recorder r;
    static finding_log fl;
    for (int reversed = 0; reversed < 2; reversed++) {
        correlate_config cfg = {.finding = finding_log_emit, .finding_ctx = &fl};
        correlator *c = correlate_new(&cfg, recorder_emit, &r);
        event evs[3];
        event_make(&evs[0], EVENT_PROVIDER_BITS, 3, 1, "2023-01-01T00:00:01.0000000Z", "jobTitle", "upd", "jobId",
                   JOB_A, NULL);
        event_make(&evs[1], EVENT_PROVIDER_BITS, 6, 2, "2023-01-01T00:00:02.0000000Z", "jobId", JOB_A, "program",
                   "C:\\p.exe", NULL);
        event_make(&evs[2], EVENT_PROVIDER_BITS, 63, 9, "2023-01-01T00:09:00.0000000Z", "Job", "upd", "Pgm",
                   "C:\\p.exe", "hr", "1", NULL);
        for (int i = 0; i < 3; i++)
            feed(c, &evs[reversed ? 2 - i : i]);
        correlate_flush(c);
        const finding *f = finding_log_final(&fl, FINDING_NOTIFY_COMMAND);
        CHECK(f != NULL);
        if (f) {
            CHECK_STR_EQ(f->first_seen, "2023-01-01T00:00:01.0000000Z");
            CHECK_STR_EQ(f->last_seen, "2023-01-01T00:09:00.0000000Z");
            CHECK_INT_EQ(f->last_record_id, 9);
            CHECK_INT_EQ(f->notify_failures, 1);
        }
        correlate_free(c);
        finding_log_clear(&fl);
        recorder_clear(&r);
    }
}

/* A notify command restored from the database (service restart) takes the failures read afterwards,
 * which name the job by its title only, and the job's outcome; restoring emits nothing. */
static void test_finding_restore(void)
{
    static recorder r;
    static finding_log fl;
    correlate_config cfg = {.finding = finding_log_emit, .finding_ctx = &fl};
    correlator *c = correlate_new(&cfg, recorder_emit, &r);
    finding stored;
    finding_init(&stored);
    stored.kind = FINDING_NOTIFY_COMMAND;
    stored.event_id = 6;
    stored.record_id = 3;
    snprintf(stored.time, sizeof stored.time, "2023-01-01T00:00:02.0000000Z");
    memcpy(stored.first_seen, stored.time, sizeof stored.time);
    memcpy(stored.last_seen, stored.time, sizeof stored.time);
    snprintf(stored.job_id, sizeof stored.job_id, "%s", JOB_A_NORM);
    stored.computer = "WIN11";
    stored.job_title = "upd";
    stored.program = "C:\\p.exe";
    stored.notify_failures = 2;
    CHECK_INT_EQ(correlate_finding_restore(c, &stored), BG_ERR_OK);
    CHECK_INT_EQ(fl.count, 0);
    event ev;
    event_make(&ev, EVENT_PROVIDER_BITS, 64, 10, "2023-01-01T00:10:00.0000000Z", "Job", "upd", "Pgm", "C:\\p.exe", "hr",
               "7", NULL);
    feed(c, &ev);
    event_make(&ev, EVENT_PROVIDER_BITS, 5, 11, "2023-01-01T00:11:00.0000000Z", "jobTitle", "upd", "jobId", JOB_A,
               NULL);
    feed(c, &ev);
    correlate_flush(c);
    const finding *f = finding_log_final(&fl, FINDING_NOTIFY_COMMAND);
    CHECK(f != NULL);
    if (f) {
        CHECK_INT_EQ(f->notify_failures, 3);
        CHECK_INT_EQ(f->notify_error, 7);
        CHECK_INT_EQ(f->state, JOB_STATE_CANCELLED);
        CHECK_INT_EQ(f->record_id, 3);
        CHECK_STR_EQ(f->program, "C:\\p.exe");
    }
    CHECK_INT_EQ(finding_log_count(&fl, CORRELATE_NEW), 0);
    correlate_free(c);
    finding_log_clear(&fl);
    recorder_clear(&r);
}

int main(void)
{
    CHECK_RUN(test_windows11_chain);
    CHECK_RUN(test_windows10_chain);
    CHECK_RUN(test_recovered_mark);
    CHECK_RUN(test_finding_recovered_mark);
    CHECK_RUN(test_finding_seen_range);
    CHECK_RUN(test_finding_restore);
    CHECK_RUN(test_what_is_not_a_detection);
    CHECK_RUN(test_allowlist_marks);
    CHECK_RUN(test_notify_and_two_files);
    CHECK_RUN(test_bounded_jobs);
    CHECK_RUN(test_age_eviction);
    CHECK_RUN(test_restore);
    CHECK_RUN(test_per_job_cap);
    CHECK_RUN(test_order_fixtures);
    CHECK_RUN(test_order_newest_first);
    CHECK_RUN(test_order_age_backwards);
    CHECK_RUN(test_finding_notify);
    CHECK_RUN(test_finding_notify_newest_first);
    CHECK_RUN(test_finding_credentials);
    CHECK_RUN(test_finding_channel_cleared);
    return CHECK_DONE();
}
