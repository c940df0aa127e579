/* Tests of store batches: insert/merge semantics, exactly-once replays, bookmarks, queries, retention, status. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef _WIN32
#include <process.h>
#else
#include <unistd.h>
#endif

#include "check.h"
#include "test_db.h"
#include "store.h"
#include "store_internal.h"

static char db_path[512];

static void db_path_make(const char *name)
{
    test_db_path_make(db_path, sizeof db_path, "batch", name);
}

static void db_remove(void)
{
    test_db_remove(db_path);
}

/* A detection of job n on computer PC1 fetching from 203.0.113.(n % 250), seen at minute n of a day. */
static void det_make(detection *d, int n)
{
    detection_init(d);
    d->event_id = 59;
    d->record_id = (uint64_t)(1000 + n);
    snprintf(d->time, sizeof d->time, "2023-11-06T%02d:%02d:21.0240780Z", (n / 60) % 24, n % 60);
    memcpy(d->first_seen, d->time, sizeof d->time);
    memcpy(d->last_seen, d->time, sizeof d->time);
    d->last_record_id = d->record_id;
    d->computer = test_text_dup("PC1.corp.example");
    snprintf(d->job_id, sizeof d->job_id, "%08x-1d6e-4e3c-8b4b-2f7a4c1d9e10", (unsigned)n);
    d->job_title = test_text_dup("job title");
    char url[64];
    snprintf(url, sizeof url, "http://203.0.113.%d/payload.exe", n % 250);
    d->url = test_text_dup(url);
    d->cls.verdict = VERDICT_PUBLIC_IP;
    d->cls.kind = KIND_HTTP;
    snprintf(d->cls.ip, sizeof d->cls.ip, "203.0.113.%d", n % 250);
    d->events_seen = SEEN_59;
}

static store *db_open(const store_options *opt)
{
    store *s = NULL;
    char err[512];
    bg_error e = store_open(&s, db_path, opt, err, sizeof err);
    CHECK_INT_EQ(e, BG_ERR_OK);
    if (e != BG_ERR_OK)
        fprintf(stderr, "open: %s\n", err);
    return s;
}

static int64_t scalar(store *s, const char *sql)
{
    sqlite3_stmt *st = NULL;
    int64_t v = -1;
    if (sqlite3_prepare_v2(store_db_handle(s), sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static void test_insert_replay_is_new(void)
{
    db_path_make("replay");
    store *s = db_open(NULL);
    if (!s)
        return;
    detection d[3];
    const detection *p[3];
    int is_new[3];
    for (int i = 0; i < 3; i++) {
        det_make(&d[i], i + 1);
        p[i] = &d[i];
    }
    CHECK_INT_EQ(store_batch_commit(s, p, 3, "Microsoft-Windows-Bits-Client/Operational", "bm-1", is_new), BG_ERR_OK);
    CHECK(is_new[0] == 1 && is_new[1] == 1 && is_new[2] == 1);
    CHECK_INT_EQ(scalar(s, "SELECT count(*) FROM detections"), 3);
    /* A replay of the same batch after a crash: no new row, no alert. */
    CHECK_INT_EQ(store_batch_commit(s, p, 3, "Microsoft-Windows-Bits-Client/Operational", "bm-1", is_new), BG_ERR_OK);
    CHECK(is_new[0] == 0 && is_new[1] == 0 && is_new[2] == 0);
    CHECK_INT_EQ(scalar(s, "SELECT count(*) FROM detections"), 3);
    /* The same key twice in one batch: one row, new only the first time. */
    detection twin;
    det_make(&twin, 9);
    const detection *q[2] = {&twin, &twin};
    int nn[2];
    CHECK_INT_EQ(store_batch_commit(s, q, 2, NULL, NULL, nn), BG_ERR_OK);
    CHECK_INT_EQ(nn[0], 1);
    CHECK_INT_EQ(nn[1], 0);
    CHECK_INT_EQ(scalar(s, "SELECT count(*) FROM detections"), 4);
    char *bm = NULL;
    CHECK_INT_EQ(store_bookmark_get(s, "Microsoft-Windows-Bits-Client/Operational", &bm), BG_ERR_OK);
    CHECK_STR_EQ(bm, "bm-1");
    free(bm);
    CHECK_INT_EQ(store_bookmark_get(s, "other", &bm), BG_ERR_OK);
    CHECK(bm == NULL);
    /* An empty batch still moves the bookmark (events that gave no detection). */
    CHECK_INT_EQ(store_batch_commit(s, NULL, 0, "Microsoft-Windows-Bits-Client/Operational", "bm-2", NULL), BG_ERR_OK);
    CHECK_INT_EQ(store_bookmark_get(s, "Microsoft-Windows-Bits-Client/Operational", &bm), BG_ERR_OK);
    CHECK_STR_EQ(bm, "bm-2");
    free(bm);
    for (int i = 0; i < 3; i++)
        detection_clear(&d[i]);
    detection_clear(&twin);
    store_close(s);
    db_remove();
}

static int recovered_read(void *arg, const detection *d)
{
    *(int *)arg = d->recovered;
    return 0;
}

/* A detection known only from recovered .evtx records is stored and read back so; once a record in
 * use shows it, in either order of arrival, it is not recovered any more. */
static void test_recovered_merge(void)
{
    db_path_make("recovered");
    store *s = db_open(NULL);
    if (!s)
        return;
    detection a, b;
    det_make(&a, 10);
    det_make(&b, 10);
    a.recovered = 1;
    const detection *pa = &a, *pb = &b;
    CHECK_INT_EQ(store_batch_commit(s, &pa, 1, NULL, NULL, NULL), BG_ERR_OK);
    CHECK_INT_EQ(store_batch_commit(s, &pa, 1, NULL, NULL, NULL), BG_ERR_OK);
    CHECK_INT_EQ(scalar(s, "SELECT recovered FROM detections"), 1);
    store_filter f;
    store_filter_init(&f);
    f.include_allowed = 1;
    int got = -1;
    CHECK_INT_EQ(store_query_run(s, &f, recovered_read, &got), BG_ERR_OK);
    CHECK_INT_EQ(got, 1);
    CHECK_INT_EQ(store_batch_commit(s, &pb, 1, NULL, NULL, NULL), BG_ERR_OK);
    CHECK_INT_EQ(scalar(s, "SELECT recovered FROM detections"), 0);
    CHECK_INT_EQ(scalar(s, "DELETE FROM detections"), -1);
    CHECK_INT_EQ(store_batch_commit(s, &pb, 1, NULL, NULL, NULL), BG_ERR_OK);
    CHECK_INT_EQ(store_batch_commit(s, &pa, 1, NULL, NULL, NULL), BG_ERR_OK);
    CHECK_INT_EQ(scalar(s, "SELECT recovered FROM detections"), 0);
    CHECK_INT_EQ(store_query_run(s, &f, recovered_read, &got), BG_ERR_OK);
    CHECK_INT_EQ(got, 0);
    detection_clear(&a);
    detection_clear(&b);
    store_close(s);
    db_remove();
}

static void test_merge_semantics(void)
{
    db_path_make("merge");
    store *s = db_open(NULL);
    if (!s)
        return;
    detection a, b;
    det_make(&a, 10);
    det_make(&b, 10);
    /* b: a later event of the same job and URL with more context. */
    b.event_id = 60;
    b.record_id = 2000;
    b.last_record_id = 2000;
    memcpy(b.last_seen, "2023-11-07T00:00:00.0000000Z", 29);
    memcpy(b.first_seen, "2023-11-05T00:00:00.0000000Z", 29);
    b.events_seen = SEEN_60 | SEEN_4;
    b.state = JOB_STATE_COMPLETED;
    b.transfer_hr = 0;
    b.bytes_total = 4096;
    b.bytes_transferred = 4096;
    b.process_id = 4242;
    free(b.job_title);
    b.job_title = NULL; /* unknown in the newer event: the old title stays */
    b.allowed = 1;
    const detection *pa = &a, *pb = &b;
    CHECK_INT_EQ(store_batch_commit(s, &pa, 1, NULL, NULL, NULL), BG_ERR_OK);
    CHECK_INT_EQ(store_batch_commit(s, &pb, 1, NULL, NULL, NULL), BG_ERR_OK);
    /* An older, replayed event must not undo anything. */
    CHECK_INT_EQ(store_batch_commit(s, &pa, 1, NULL, NULL, NULL), BG_ERR_OK);
    CHECK_INT_EQ(scalar(s, "SELECT count(*) FROM detections"), 1);
    CHECK_INT_EQ(scalar(s, "SELECT events_seen FROM detections"), SEEN_59 | SEEN_60 | SEEN_4);
    CHECK_INT_EQ(scalar(s, "SELECT state FROM detections"), JOB_STATE_COMPLETED);
    CHECK_INT_EQ(scalar(s, "SELECT bytes_total FROM detections"), 4096);
    CHECK_INT_EQ(scalar(s, "SELECT process_id FROM detections"), 4242);
    CHECK_INT_EQ(scalar(s, "SELECT transfer_hr FROM detections"), 0);
    CHECK_INT_EQ(scalar(s, "SELECT allowed FROM detections"), 1);
    CHECK_INT_EQ(scalar(s, "SELECT last_record_id FROM detections"), 2000);
    CHECK_INT_EQ(scalar(s, "SELECT record_id FROM detections"), 1010);
    CHECK_INT_EQ(scalar(s, "SELECT event_id FROM detections"), 59);
    CHECK_INT_EQ(scalar(s, "SELECT job_title = 'job title' FROM detections"), 1);
    CHECK_INT_EQ(scalar(s, "SELECT last_seen = '2023-11-07T00:00:00.0000000Z' FROM detections"), 1);
    CHECK_INT_EQ(scalar(s, "SELECT first_seen = '2023-11-05T00:00:00.0000000Z' FROM detections"), 1);
    /* The order of arrival does not matter: b then a gives the same row. */
    CHECK_INT_EQ(scalar(s, "DELETE FROM detections"), -1);
    CHECK_INT_EQ(store_batch_commit(s, &pb, 1, NULL, NULL, NULL), BG_ERR_OK);
    CHECK_INT_EQ(store_batch_commit(s, &pa, 1, NULL, NULL, NULL), BG_ERR_OK);
    CHECK_INT_EQ(scalar(s, "SELECT events_seen FROM detections"), SEEN_59 | SEEN_60 | SEEN_4);
    CHECK_INT_EQ(scalar(s, "SELECT record_id FROM detections"), 1010);
    CHECK_INT_EQ(scalar(s, "SELECT event_id FROM detections"), 59);
    CHECK_INT_EQ(scalar(s, "SELECT allowed FROM detections"), 1);
    CHECK_INT_EQ(scalar(s, "SELECT job_title = 'job title' FROM detections"), 1);
    CHECK_INT_EQ(scalar(s, "SELECT bytes_transferred FROM detections"), 4096);
    detection_clear(&a);
    detection_clear(&b);
    store_close(s);
    db_remove();
}

typedef struct collected {
    int n;
    char jobs[64][37];
    int allowed[64];
    char reading[64][20];
    char embedded[64][16];
} collected;

static int collect(void *arg, const detection *d)
{
    collected *c = arg;
    if (c->n < 64) {
        memcpy(c->jobs[c->n], d->job_id, 37);
        c->allowed[c->n] = d->allowed;
        const char *reading = classify_reading_name(d->cls.reading);
        snprintf(c->reading[c->n], sizeof c->reading[0], "%s", reading ? reading : "");
        snprintf(c->embedded[c->n], sizeof c->embedded[0], "%s", d->cls.embedded_ipv4);
    }
    c->n++;
    return 0;
}

static void test_query_filters(void)
{
    db_path_make("query");
    store *s = db_open(NULL);
    if (!s)
        return;
    detection d[40];
    const detection *p[40];
    for (int i = 0; i < 40; i++) {
        det_make(&d[i], i);
        p[i] = &d[i];
    }
    d[5].allowed = 1;
    d[20].state = JOB_STATE_COMPLETED;
    d[21].state = JOB_STATE_CANCELLED;
    free(d[7].computer);
    d[7].computer = test_text_dup("PC2");
    snprintf(d[8].cls.ip, sizeof d[8].cls.ip, "2001:db8::8");
    /* A NAT64 address carrying 198.51.100.9, and a name another reading than WHATWG's reached. */
    classify_name("http://[64:ff9b::198.51.100.9]/", 31, &d[9].cls);
    classify_name("http://u#@203.0.113.10/", 23, &d[10].cls);
    CHECK_INT_EQ(store_batch_commit(s, p, 40, "c", "b", NULL), BG_ERR_OK);
    store_filter f;
    collected c;

    store_filter_init(&f);
    memset(&c, 0, sizeof c);
    CHECK_INT_EQ(store_query_run(s, &f, collect, &c), BG_ERR_OK);
    CHECK_INT_EQ(c.n, 39);                 /* the allow-listed one hidden */
    CHECK_STR_EQ(c.jobs[0], d[39].job_id); /* newest first */

    f.include_allowed = 1;
    memset(&c, 0, sizeof c);
    CHECK_INT_EQ(store_query_run(s, &f, collect, &c), BG_ERR_OK);
    CHECK_INT_EQ(c.n, 40);

    store_filter_init(&f);
    f.limit = 3;
    memset(&c, 0, sizeof c);
    CHECK_INT_EQ(store_query_run(s, &f, collect, &c), BG_ERR_OK);
    CHECK_INT_EQ(c.n, 3);

    /* Times 00:10 .. 00:19 inclusive at minute precision. */
    store_filter_init(&f);
    CHECK_INT_EQ(store_time_bound_parse("2023-11-06T00:10", 0, 0, f.since, sizeof f.since), BG_ERR_OK);
    CHECK_INT_EQ(store_time_bound_parse("2023-11-06T00:19", 0, 1, f.until, sizeof f.until), BG_ERR_OK);
    memset(&c, 0, sizeof c);
    CHECK_INT_EQ(store_query_run(s, &f, collect, &c), BG_ERR_OK);
    CHECK_INT_EQ(c.n, 10);

    store_filter_init(&f);
    f.has_ip = 1;
    CHECK_INT_EQ(store_cidr_parse("203.0.113.0/29", f.ip_lo, f.ip_hi), BG_ERR_OK);
    memset(&c, 0, sizeof c);
    CHECK_INT_EQ(store_query_run(s, &f, collect, &c), BG_ERR_OK);
    CHECK_INT_EQ(c.n, 7); /* .0 to .7 without .5 (allow-listed) */
    store_filter_init(&f);
    f.has_ip = 1;
    CHECK_INT_EQ(store_cidr_parse("2001:db8::/32", f.ip_lo, f.ip_hi), BG_ERR_OK);
    memset(&c, 0, sizeof c);
    CHECK_INT_EQ(store_query_run(s, &f, collect, &c), BG_ERR_OK);
    CHECK_INT_EQ(c.n, 1);
    CHECK_STR_EQ(c.jobs[0], d[8].job_id);
    /* The IPv4 finds the NAT64 address that carries it; the reading and the IPv4 are read back. */
    store_filter_init(&f);
    f.has_ip = 1;
    CHECK_INT_EQ(store_cidr_parse("198.51.100.0/24", f.ip_lo, f.ip_hi), BG_ERR_OK);
    memset(&c, 0, sizeof c);
    CHECK_INT_EQ(store_query_run(s, &f, collect, &c), BG_ERR_OK);
    CHECK_INT_EQ(c.n, 1);
    CHECK_STR_EQ(c.jobs[0], d[9].job_id);
    CHECK_STR_EQ(c.embedded[0], "198.51.100.9");
    CHECK_STR_EQ(c.reading[0], "whatwg");
    store_filter_init(&f);
    f.job_id = d[10].job_id;
    memset(&c, 0, sizeof c);
    CHECK_INT_EQ(store_query_run(s, &f, collect, &c), BG_ERR_OK);
    CHECK_INT_EQ(c.n, 1);
    CHECK_STR_EQ(c.reading[0], "authority");
    CHECK_STR_EQ(c.embedded[0], "");

    /* Only open jobs (what the correlator restores after a restart). */
    store_filter_init(&f);
    f.include_allowed = 1;
    f.active_only = 1;
    memset(&c, 0, sizeof c);
    CHECK_INT_EQ(store_query_run(s, &f, collect, &c), BG_ERR_OK);
    CHECK_INT_EQ(c.n, 38);

    store_filter_init(&f);
    f.computer = "pc2";
    memset(&c, 0, sizeof c);
    CHECK_INT_EQ(store_query_run(s, &f, collect, &c), BG_ERR_OK);
    CHECK_INT_EQ(c.n, 1);
    CHECK_STR_EQ(c.jobs[0], d[7].job_id);

    store_filter_init(&f);
    f.job_id = d[12].job_id;
    memset(&c, 0, sizeof c);
    CHECK_INT_EQ(store_query_run(s, &f, collect, &c), BG_ERR_OK);
    CHECK_INT_EQ(c.n, 1);
    CHECK_STR_EQ(c.jobs[0], d[12].job_id);

    for (int i = 0; i < 40; i++)
        detection_clear(&d[i]);
    store_close(s);
    db_remove();
}

/* Deletions of detections per transaction, to see that retention works in small transactions. */
typedef struct txn_deletes {
    int current;
    int most;
    int total;
} txn_deletes;

static void delete_count(void *arg, int op, const char *db, const char *table, sqlite3_int64 rowid)
{
    txn_deletes *t = arg;
    (void)db;
    (void)rowid;
    if (op == SQLITE_DELETE && strcmp(table, "detections") == 0) {
        t->current++;
        t->total++;
    }
}

static int delete_commit(void *arg)
{
    txn_deletes *t = arg;
    t->most = t->current > t->most ? t->current : t->most;
    t->current = 0;
    return 0;
}

static void test_retention(void)
{
    db_path_make("retention");
    store_options opt = {0, 0, 0};
    store *s = db_open(&opt);
    if (!s)
        return;
    /* 1200 detections over 1200 minutes of 2023-11-06, in batches of 64 (chunks of 500 get exercised). */
    enum { N = 1200 };
    for (int base = 0; base < N; base += 64) {
        detection d[64];
        const detection *p[64];
        int k = 0;
        for (int i = base; i < N && i < base + 64; i++, k++) {
            det_make(&d[k], i);
            p[k] = &d[k];
        }
        CHECK_INT_EQ(store_batch_commit(s, p, (size_t)k, NULL, NULL, NULL), BG_ERR_OK);
        for (int i = 0; i < k; i++)
            detection_clear(&d[i]);
    }
    CHECK_INT_EQ(scalar(s, "SELECT count(*) FROM detections"), N);
    store_close(s);
    /* Row cap: keeps the newest 1150. */
    opt.retention_rows = 1150;
    s = db_open(&opt);
    if (!s)
        return;
    int64_t now;
    CHECK_INT_EQ(store_time_unix("2023-11-07T00:00:00Z", &now), 0);
    CHECK_INT_EQ(store_retention_apply(s, now), BG_ERR_OK);
    CHECK_INT_EQ(scalar(s, "SELECT count(*) FROM detections"), 1150);
    CHECK_INT_EQ(scalar(s, "SELECT min(record_id) FROM detections"), 1000 + N - 1150);
    store_close(s);
    /* Age: 1 day before 2023-11-07T10:00 is 2023-11-06T10:00 = minute 600 of the day. */
    opt.retention_rows = 0;
    opt.retention_days = 1;
    s = db_open(&opt);
    if (!s)
        return;
    CHECK_INT_EQ(store_error_record(s, "test", BG_ERR_IO, "old error"), BG_ERR_OK);
    CHECK_INT_EQ(store_time_unix("2023-11-07T10:00:00Z", &now), 0);
    txn_deletes t = {0, 0, 0};
    sqlite3_update_hook(store_db_handle(s), delete_count, &t);
    sqlite3_commit_hook(store_db_handle(s), delete_commit, &t);
    CHECK_INT_EQ(store_retention_apply(s, now), BG_ERR_OK);
    sqlite3_commit_hook(store_db_handle(s), NULL, NULL);
    sqlite3_update_hook(store_db_handle(s), NULL, NULL);
    CHECK_INT_EQ(scalar(s, "SELECT count(*) FROM detections"), N - 600);
    /* The 550 rows older than a day (minutes 50 to 599) went in transactions of at most 500. */
    CHECK_INT_EQ(t.total, 550);
    CHECK_INT_EQ(t.most, 500);
    CHECK_INT_EQ(scalar(s, "SELECT count(*) FROM detections WHERE last_seen < '2023-11-06T10:00'"), 0);
    /* The error was recorded now (2026), newer than the cutoff: kept. */
    CHECK_INT_EQ(scalar(s, "SELECT count(*) FROM errors"), 1);
    store_close(s);
    db_remove();
}

static int outbox_count(void *ctx, int64_t row_id, const detection *d, const finding *f)
{
    (void)row_id;
    (void)d;
    (void)f;
    ++*(int *)ctx;
    return 0;
}

/* Commits detections n0..n1-1 with their alerts owed under channel "c", allowed as told. */
static void outbox_batch(store *s, int n0, int n1, int allowed)
{
    detection d[8];
    const detection *p[8];
    int k = 0;
    for (int i = n0; i < n1 && k < 8; i++, k++) {
        det_make(&d[k], i);
        d[k].allowed = allowed;
        p[k] = &d[k];
    }
    store_batch b = {0};
    b.dets = p;
    b.n = (size_t)k;
    b.outbox_channel = "c";
    CHECK_INT_EQ(store_batch_write(s, &b), BG_ERR_OK);
    for (int i = 0; i < k; i++)
        detection_clear(&d[i]);
}

/* Retention takes the owed alerts of the rows it deletes with them: row ids are reused once the highest
 * goes, and an outbox row left behind would alert on the next row of its id, allow-listed or not. */
static void test_retention_clears_outbox(void)
{
    db_path_make("retention-outbox");
    store_options opt = {0, 0, 0};
    opt.retention_days = 1;
    store *s = db_open(&opt);
    if (!s)
        return;
    outbox_batch(s, 0, 3, 0);
    CHECK_INT_EQ(scalar(s, "SELECT count(*) FROM alert_outbox"), 3);
    int64_t now;
    CHECK_INT_EQ(store_time_unix("2023-11-08T00:00:00Z", &now), 0);
    CHECK_INT_EQ(store_retention_apply(s, now), BG_ERR_OK);
    CHECK_INT_EQ(scalar(s, "SELECT count(*) FROM detections"), 0);
    CHECK_INT_EQ(scalar(s, "SELECT count(*) FROM alert_outbox"), 0);
    /* The next row takes id 1 again; allow-listed, it owes no alert. */
    outbox_batch(s, 10, 11, 1);
    CHECK_INT_EQ(scalar(s, "SELECT min(id) FROM detections"), 1);
    int owed = 0;
    CHECK_INT_EQ(store_outbox_run(s, "c", outbox_count, &owed), BG_ERR_OK);
    CHECK_INT_EQ(owed, 0);
    store_close(s);
    /* The row cap: the allow-listed row (oldest) goes alone, then the oldest owed row with its alert. */
    opt.retention_days = 0;
    opt.retention_rows = 3;
    s = db_open(&opt);
    if (!s)
        return;
    outbox_batch(s, 20, 23, 0);
    CHECK_INT_EQ(scalar(s, "SELECT count(*) FROM alert_outbox"), 3);
    CHECK_INT_EQ(store_retention_apply(s, now), BG_ERR_OK);
    CHECK_INT_EQ(scalar(s, "SELECT count(*) FROM detections"), 3);
    CHECK_INT_EQ(scalar(s, "SELECT count(*) FROM alert_outbox"), 3);
    opt.retention_rows = 2;
    store_close(s);
    s = db_open(&opt);
    if (!s)
        return;
    CHECK_INT_EQ(store_retention_apply(s, now), BG_ERR_OK);
    CHECK_INT_EQ(scalar(s, "SELECT count(*) FROM detections"), 2);
    CHECK_INT_EQ(scalar(s, "SELECT count(*) FROM alert_outbox"), 2);
    CHECK_INT_EQ(scalar(s, "SELECT count(*) FROM alert_outbox WHERE row_id NOT IN (SELECT id FROM detections)"), 0);
    store_close(s);
    db_remove();
}

static int list_count(void *arg, const char *const *cols, int n)
{
    int *count = arg;
    (void)cols;
    (void)n;
    (*count)++;
    return 0;
}

static void test_status_and_lists(void)
{
    db_path_make("status");
    store *s = db_open(NULL);
    if (!s)
        return;
    detection d;
    det_make(&d, 3);
    const detection *p = &d;
    CHECK_INT_EQ(store_batch_commit(s, &p, 1, "chan", "bm", NULL), BG_ERR_OK);
    CHECK_INT_EQ(store_gap_record(s, "chan", "bookmark rejected"), BG_ERR_OK);
    CHECK_INT_EQ(store_error_record(s, "reader", BG_ERR_SOURCE, "EvtNext failed"), BG_ERR_OK);
    CHECK_INT_EQ(store_error_record(s, "reader", BG_ERR_SOURCE, "again"), BG_ERR_OK);
    store_status st;
    int64_t now;
    CHECK_INT_EQ(store_time_unix("2023-11-06T12:00:00Z", &now), 0);
    CHECK_INT_EQ(store_status_get(s, now, &st), BG_ERR_OK);
    CHECK_INT_EQ(st.schema_version, STORE_SCHEMA_VERSION);
    CHECK_INT_EQ(st.detections_total, 1);
    CHECK_INT_EQ(st.detections_24h, 1);
    CHECK_INT_EQ(st.gaps_total, 1);
    CHECK_INT_EQ(st.errors_total, 2);
    CHECK(st.size_bytes > 0);
    CHECK_STR_EQ(st.newest_event, d.last_seen);
    CHECK_INT_EQ(store_time_unix("2023-11-08T12:00:00Z", &now), 0);
    CHECK_INT_EQ(store_status_get(s, now, &st), BG_ERR_OK);
    CHECK_INT_EQ(st.detections_24h, 0);
    int n = 0;
    CHECK_INT_EQ(store_list_run(s, STORE_LIST_BOOKMARKS, 0, list_count, &n), BG_ERR_OK);
    CHECK_INT_EQ(n, 1);
    n = 0;
    CHECK_INT_EQ(store_list_run(s, STORE_LIST_ERRORS, 1, list_count, &n), BG_ERR_OK);
    CHECK_INT_EQ(n, 1);
    n = 0;
    CHECK_INT_EQ(store_list_run(s, STORE_LIST_GAPS, 5, list_count, &n), BG_ERR_OK);
    CHECK_INT_EQ(n, 1);
    CHECK_INT_EQ(scalar(s, "SELECT code_name = 'SOURCE' FROM errors LIMIT 1"), 1);
    detection_clear(&d);
    store_close(s);
    db_remove();
}

/* Seeds rand() per process: the temporary file names must differ between parallel runs. */
static void seed_init(void)
{
    unsigned local = 0;
#ifdef _WIN32
    unsigned pid = (unsigned)_getpid();
#else
    unsigned pid = (unsigned)getpid();
#endif
    srand((unsigned)time(NULL) ^ pid * 2654435761u ^ (unsigned)(uintptr_t)&local);
}

typedef struct computer_rows {
    int n;
    char names[8][300];
    int64_t events[8];
} computer_rows;

static int computer_collect(void *arg, const store_computer *c)
{
    computer_rows *r = arg;
    if (r->n < 8) {
        snprintf(r->names[r->n], sizeof r->names[0], "%s|%s", c->channel, c->computer);
        r->events[r->n] = c->events;
    }
    r->n++;
    return 0;
}

/* The computers table: a tally's counts and times written with the batch (and not when it fails), new
 * detections counted to their computer once, a replay adding no detection, names cut at 255 bytes on a
 * character boundary, a tally bounded in computers, and the name matching of --computer. */
static void test_computers_tally(void)
{
    db_path_make("computers");
    store *s = db_open(NULL);
    store_tally *t = store_tally_new();
    CHECK(s != NULL && t != NULL);
    if (!s || !t)
        return;
    detection d[2];
    det_make(&d[0], 1);
    det_make(&d[1], 2);
    free(d[1].computer);
    d[1].computer = test_text_dup("WS02.corp.example");
    const detection *ptrs[2] = {&d[0], &d[1]};
    store_batch sb = {.dets = ptrs,
                      .n = 2,
                      .channel = "ForwardedEvents",
                      .bookmark = "<b/>",
                      .tally_channel = "ForwardedEvents",
                      .tally = t};
    CHECK_INT_EQ(store_tally_add(t, "PC1.corp.example", "2023-11-06T00:01:21.0240780Z"), BG_ERR_OK);
    CHECK_INT_EQ(store_tally_add(t, "PC1.corp.example", "2023-11-06T00:00:21.0240780Z"), BG_ERR_OK);
    CHECK_INT_EQ(store_tally_add(t, "WS02.corp.example", ""), BG_ERR_OK);
    CHECK_INT_EQ(store_tally_add(t, NULL, NULL), BG_ERR_OK);
    CHECK_INT_EQ(store_tally_count(t), 3);
    CHECK_INT_EQ(store_batch_write(s, &sb), BG_ERR_OK);
    CHECK_INT_EQ(scalar(s, "SELECT events FROM computers WHERE computer = 'PC1.corp.example'"), 2);
    CHECK_INT_EQ(scalar(s, "SELECT detections FROM computers WHERE computer = 'PC1.corp.example'"), 1);
    CHECK_INT_EQ(scalar(s, "SELECT first_event = '2023-11-06T00:00:21.0240780Z' AND last_event ="
                           " '2023-11-06T00:01:21.0240780Z' FROM computers WHERE computer = 'PC1.corp.example'"),
                 1);
    CHECK_INT_EQ(scalar(s, "SELECT first_event IS NULL AND detections = 1 FROM computers WHERE computer ="
                           " 'WS02.corp.example'"),
                 1);
    CHECK_INT_EQ(scalar(s, "SELECT events FROM computers WHERE computer = ''"), 1);
    /* The same batch again (a replay): events counted again by the caller's choice, no new detection. */
    CHECK_INT_EQ(store_batch_write(s, &sb), BG_ERR_OK);
    CHECK_INT_EQ(scalar(s, "SELECT detections FROM computers WHERE computer = 'PC1.corp.example'"), 1);
    CHECK_INT_EQ(scalar(s, "SELECT events FROM computers WHERE computer = 'PC1.corp.example'"), 4);
    /* A commit that fails writes no count either. */
    sqlite3 *lock = NULL;
    CHECK(sqlite3_open(db_path, &lock) == SQLITE_OK);
    CHECK(sqlite3_exec(lock, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK);
    store_close(s);
    store_options quick = {0, 0, 50};
    s = db_open(&quick);
    CHECK_INT_EQ(store_batch_write(s, &sb), BG_ERR_DB_BUSY);
    sqlite3_exec(lock, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(lock);
    CHECK_INT_EQ(scalar(s, "SELECT events FROM computers WHERE computer = 'PC1.corp.example'"), 4);

    /* A 300-byte name of 2-byte characters is kept to 254 bytes (255 would split a character). */
    char longname[301];
    for (int i = 0; i < 300; i += 2)
        memcpy(longname + i, "\xc3\xa9", 2);
    longname[300] = '\0';
    store_tally_clear(t);
    CHECK_INT_EQ(store_tally_count(t), 0);
    CHECK_INT_EQ(store_tally_add(t, longname, NULL), BG_ERR_OK);
    CHECK_INT_EQ(store_tally_commit(s, STORE_CHANNEL_SCAN, t), BG_ERR_OK);
    CHECK_INT_EQ(scalar(s, "SELECT length(CAST(computer AS BLOB)) FROM computers WHERE channel = 'scan'"), 254);

    /* --computer matching: any case, or the host part alone; never a prefix that is not a label. */
    computer_rows r;
    memset(&r, 0, sizeof r);
    CHECK_INT_EQ(store_computers_run(s, "pc1", 0, computer_collect, &r), BG_ERR_OK);
    CHECK_INT_EQ(r.n, 1);
    CHECK_STR_EQ(r.names[0], "ForwardedEvents|PC1.corp.example");
    memset(&r, 0, sizeof r);
    CHECK_INT_EQ(store_computers_run(s, "PC", 0, computer_collect, &r), BG_ERR_OK);
    CHECK_INT_EQ(r.n, 0);
    memset(&r, 0, sizeof r);
    CHECK_INT_EQ(store_computers_run(s, "ws02.CORP.example", 0, computer_collect, &r), BG_ERR_OK);
    CHECK_INT_EQ(r.n, 1);
    /* All, silent longest first: the rows without a time first, then by their last event. */
    memset(&r, 0, sizeof r);
    CHECK_INT_EQ(store_computers_run(s, NULL, 0, computer_collect, &r), BG_ERR_OK);
    CHECK_INT_EQ(r.n, 4);
    CHECK_STR_EQ(r.names[3], "ForwardedEvents|PC1.corp.example");
    int64_t total = 0, silent = 0;
    CHECK_INT_EQ(store_computers_count(s, "2023-11-06T00:01:00Z", &total, &silent), BG_ERR_OK);
    CHECK_INT_EQ(total, 4);
    CHECK_INT_EQ(silent, 3);
    CHECK_INT_EQ(store_computers_count(s, "2023-11-06T00:02:00Z", &total, &silent), BG_ERR_OK);
    CHECK_INT_EQ(silent, 4);
    /* A computer known only from its own, local logs never counts as silent, however old its events. */
    store_tally_clear(t);
    CHECK_INT_EQ(store_tally_add(t, "LOCAL", "2001-01-01T00:00:00.0000000Z"), BG_ERR_OK);
    CHECK_INT_EQ(store_tally_commit(s, "Microsoft-Windows-Bits-Client/Operational", t), BG_ERR_OK);
    CHECK_INT_EQ(store_tally_commit(s, "system", t), BG_ERR_OK);
    CHECK_INT_EQ(store_computers_count(s, "2023-11-06T00:02:00Z", &total, &silent), BG_ERR_OK);
    CHECK_INT_EQ(total, 5);
    CHECK_INT_EQ(silent, 4);
    CHECK_INT_EQ(store_computer_forwarded("ForwardedEvents"), 1);
    CHECK_INT_EQ(store_computer_forwarded(STORE_CHANNEL_SCAN), 1);
    CHECK_INT_EQ(store_computer_forwarded("microsoft-windows-bits-client/operational"), 0);
    CHECK_INT_EQ(store_computer_forwarded("System"), 0);
    CHECK_INT_EQ(store_computer_forwarded("Systems"), 1);

    /* Bounded: the 65,537th computer of one tally is refused. */
    store_tally_clear(t);
    char name[32];
    bg_error last = BG_ERR_OK;
    for (unsigned i = 0; i <= 65536u && last == BG_ERR_OK; i++) {
        snprintf(name, sizeof name, "PC%u", i);
        last = store_tally_add(t, name, NULL);
    }
    CHECK_INT_EQ(last, BG_ERR_TOO_LARGE);
    CHECK_INT_EQ(store_tally_count(t), 65536);
    CHECK_INT_EQ(store_tally_add(t, "PC7", NULL), BG_ERR_OK); /* A known one still counts. */

    store_tally_free(t);
    detection_clear(&d[0]);
    detection_clear(&d[1]);
    store_close(s);
    db_remove();
}

int main(void)
{
    seed_init();
    CHECK_RUN(test_insert_replay_is_new);
    CHECK_RUN(test_merge_semantics);
    CHECK_RUN(test_recovered_merge);
    CHECK_RUN(test_query_filters);
    CHECK_RUN(test_retention);
    CHECK_RUN(test_retention_clears_outbox);
    CHECK_RUN(test_status_and_lists);
    CHECK_RUN(test_computers_tally);
    return CHECK_DONE();
}
