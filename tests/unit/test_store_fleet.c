/* Tests of what fleet readers rely on: the detections_v1 contract (columns pinned), acknowledgements, status counts. */
#ifndef _WIN32
#define _POSIX_C_SOURCE 200809L
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifndef _WIN32
#include <unistd.h>
#else
#include <process.h>
#endif

#include "check.h"
#include "test_db.h"
#include "store.h"
#include "store_internal.h"

static char db_path[512];

/* A detection of job n fetching from 203.0.113.n; allowed when asked. */
static void det_make(detection *d, int n, int allowed)
{
    detection_init(d);
    d->event_id = 16403;
    d->record_id = (uint64_t)(100 + n);
    snprintf(d->time, sizeof d->time, "2026-12-01T10:%02d:05.1234567Z", n % 60);
    memcpy(d->first_seen, d->time, sizeof d->time);
    memcpy(d->last_seen, d->time, sizeof d->time);
    d->last_record_id = d->record_id;
    d->computer = test_text_dup("WS01.corp.example");
    snprintf(d->job_id, sizeof d->job_id, "%08x-24e6-4c66-ac78-5ed0e6007f1a", (unsigned)n);
    d->job_title = test_text_dup("upd");
    char url[64];
    snprintf(url, sizeof url, "http://203.0.113.%d/x.exe", n);
    d->url = test_text_dup(url);
    d->cls.verdict = VERDICT_PUBLIC_IP;
    d->cls.kind = KIND_HTTP;
    d->cls.reading = READING_WHATWG;
    snprintf(d->cls.ip, sizeof d->cls.ip, "203.0.113.%d", n);
    d->events_seen = SEEN_3 | SEEN_16403;
    d->process_id = 4000 + n;
    d->bytes_total = 73802;
    d->allowed = allowed;
}

/* Stores detections 1..n (every third allow-listed when allowed_every3); returns the open store. */
static store *db_fill(const char *name, int n, int allowed_every3)
{
    test_db_path_make(db_path, sizeof db_path, "fleet", name);
    store *s = NULL;
    char err[512];
    CHECK_INT_EQ(store_open(&s, db_path, NULL, err, sizeof err), BG_ERR_OK);
    for (int i = 1; s && i <= n; i++) {
        detection d;
        det_make(&d, i, allowed_every3 && i % 3 == 0);
        const detection *p = &d;
        CHECK_INT_EQ(store_batch_commit(s, &p, 1, NULL, NULL, NULL), BG_ERR_OK);
        detection_clear(&d);
    }
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

/*
 * The contract of docs/fleet.md, typed here independently of store.c: name, the type PRAGMA table_xinfo
 * reports (the table column's declared type; "" for a computed column) and the storage class a row's
 * value has when it is not NULL. detections_v1 never changes: if this test fails, put the change in a
 * new view (detections_v2) and leave detections_v1 as it is.
 */
static const struct {
    const char *name, *decl, *type;
} v1_columns[] = {
    {"id", "INTEGER", "integer"},
    {"first_seen", "TEXT", "text"},
    {"last_seen", "TEXT", "text"},
    {"event_time", "TEXT", "text"},
    {"computer", "TEXT", "text"},
    {"job_id", "TEXT", "text"},
    {"job_title", "TEXT", "text"},
    {"job_owner", "TEXT", "text"},
    {"url", "TEXT", "text"},
    {"ip", "TEXT", "text"},
    {"embedded_ipv4", "TEXT", "text"},
    {"verdict", "TEXT", "text"},
    {"kind", "TEXT", "text"},
    {"range", "TEXT", "text"},
    {"reading", "TEXT", "text"},
    {"allowed", "INTEGER", "integer"},
    {"state", "", "text"},
    {"events", "", "text"},
    {"event_id", "INTEGER", "integer"},
    {"record_id", "INTEGER", "integer"},
    {"process_id", "INTEGER", "integer"},
    {"process_path", "TEXT", "text"},
    {"notify_program", "TEXT", "text"},
    {"notify_parameters", "TEXT", "text"},
    {"transfer_hr", "INTEGER", "integer"},
    {"bytes_total", "INTEGER", "integer"},
    {"bytes_transferred", "INTEGER", "integer"},
    {"local_name", "TEXT", "text"},
    {"source", "TEXT", "text"},
    {"recovered", "INTEGER", "integer"},
    {"acknowledged", "", "integer"},
    {"acknowledged_at", "TEXT", "text"},
    {"acknowledged_by", "TEXT", "text"},
};
#define V1_COLUMNS (sizeof v1_columns / sizeof v1_columns[0])

static void test_view_v1_pinned(void)
{
    store *s = db_fill("pin", 1, 0);
    if (!s)
        return;
    sqlite3 *db = store_db_handle(s);
    sqlite3_stmt *st = NULL;
    size_t i = 0;
    CHECK_INT_EQ(sqlite3_prepare_v2(db, "PRAGMA table_xinfo(detections_v1)", -1, &st, NULL), SQLITE_OK);
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 1);
        const char *decl = (const char *)sqlite3_column_text(st, 2);
        CHECK_INT_EQ(sqlite3_column_int(st, 0), (int64_t)i);
        if (i < V1_COLUMNS) {
            CHECK_STR_EQ(name, v1_columns[i].name);
            CHECK_STR_EQ(decl ? decl : "", v1_columns[i].decl);
        }
        i++;
    }
    sqlite3_finalize(st);
    CHECK_INT_EQ((int64_t)i, (int64_t)V1_COLUMNS);
    /* Every column's storage class on a row that has them all (acknowledged first, for its two texts). */
    store_ack_result r;
    const int64_t one = 1;
    CHECK_INT_EQ(store_ack_ids(s, &one, 1, "CORP\\admin", "seen", 1764000000, &r), BG_ERR_OK);
    CHECK_INT_EQ(sqlite3_exec(db,
                              "UPDATE detections SET job_owner = 'CORP\\alice', range = 'x', embedded_ipv4 = '1.2.3.4',"
                              " process_path = 'C:\\p.exe', notify_program = 'C:\\n.exe', notify_parameters = '/q',"
                              " transfer_hr = 0, bytes_transferred = 1, local_name = 'C:\\x.exe', state = 1",
                              NULL, NULL, NULL),
                 SQLITE_OK);
    CHECK_INT_EQ(sqlite3_prepare_v2(db, "SELECT * FROM detections_v1", -1, &st, NULL), SQLITE_OK);
    CHECK_INT_EQ(sqlite3_step(st), SQLITE_ROW);
    static const char *const class_names[] = {"", "integer", "real", "text", "blob", "null"};
    for (int c = 0; c < sqlite3_column_count(st) && c < (int)V1_COLUMNS; c++) {
        int t = sqlite3_column_type(st, c);
        CHECK_STR_EQ(class_names[t >= 1 && t <= 5 ? t : 0], v1_columns[c].type);
    }
    CHECK_STR_EQ((const char *)sqlite3_column_text(st, 16), "completed");
    CHECK_STR_EQ((const char *)sqlite3_column_text(st, 17), "3,16403");
    CHECK_INT_EQ(sqlite3_column_int(st, 30), 1);
    CHECK_STR_EQ((const char *)sqlite3_column_text(st, 31), "2025-11-24T16:00:00Z");
    CHECK_STR_EQ((const char *)sqlite3_column_text(st, 32), "CORP\\admin");
    sqlite3_finalize(st);
    store_close(s);
    test_db_remove(db_path);
}

static void test_ack_ids(void)
{
    store *s = db_fill("ids", 6, 1); /* 3 and 6 allow-listed */
    if (!s)
        return;
    store_status st;
    CHECK_INT_EQ(store_status_get(s, 1764000000, &st), BG_ERR_OK);
    CHECK_INT_EQ(st.detections_unacknowledged, 4);
    store_ack_result r;
    const int64_t ids[] = {2, 4, 2};
    CHECK_INT_EQ(store_ack_ids(s, ids, 3, "CORP\\admin", "triaged", 1764000000, &r), BG_ERR_OK);
    CHECK_INT_EQ(r.acknowledged, 2); /* 2 given twice is acknowledged once. */
    CHECK_INT_EQ(r.already, 0);
    CHECK(r.ack_id > 0);
    CHECK_INT_EQ(scalar(s, "SELECT count(*) FROM acknowledgements WHERE who = 'CORP\\admin' AND how = 'id'"
                           " AND first_id = 2 AND last_id = 4 AND count = 2 AND note = 'triaged'"
                           " AND time = '2025-11-24T16:00:00Z'"),
                 1);
    CHECK_INT_EQ(store_status_get(s, 1764000000, &st), BG_ERR_OK);
    CHECK_INT_EQ(st.detections_unacknowledged, 2);
    /* Again, with one new: the old ones keep their first acknowledgement. */
    const int64_t again[] = {4, 5};
    CHECK_INT_EQ(store_ack_ids(s, again, 2, "CORP\\bob", NULL, 1764000100, &r), BG_ERR_OK);
    CHECK_INT_EQ(r.acknowledged, 1);
    CHECK_INT_EQ(r.already, 1);
    CHECK_INT_EQ(scalar(s, "SELECT count(*) FROM detections_v1 WHERE id = 4 AND acknowledged_by = 'CORP\\admin'"), 1);
    /* An unknown id: nothing at all is acknowledged, the known one given with it neither. */
    const int64_t unknown[] = {1, 99};
    CHECK_INT_EQ(store_ack_ids(s, unknown, 2, "CORP\\admin", NULL, 1764000200, &r), BG_ERR_INVALID_ARG);
    CHECK_INT_EQ(r.missing, 99);
    CHECK_INT_EQ(scalar(s, "SELECT acknowledged FROM detections_v1 WHERE id = 1"), 0);
    CHECK_INT_EQ(scalar(s, "SELECT count(*) FROM acknowledgements"), 2);
    /* Only ids already acknowledged: no audit row of nothing. */
    const int64_t done[] = {2};
    CHECK_INT_EQ(store_ack_ids(s, done, 1, "CORP\\admin", NULL, 1764000300, &r), BG_ERR_OK);
    CHECK_INT_EQ(r.acknowledged, 0);
    CHECK_INT_EQ(r.already, 1);
    CHECK_INT_EQ(scalar(s, "SELECT count(*) FROM acknowledgements"), 2);
    store_close(s);
    test_db_remove(db_path);
}

static void test_ack_up_to(void)
{
    store *s = db_fill("upto", 7, 1); /* 3 and 6 allow-listed */
    if (!s)
        return;
    store_ack_result r;
    CHECK_INT_EQ(store_ack_up_to(s, 0, "CORP\\admin", NULL, 1764000000, &r), BG_ERR_INVALID_ARG);
    CHECK_INT_EQ(store_ack_up_to(s, 5, "CORP\\admin", "weekly review", 1764000000, &r), BG_ERR_OK);
    CHECK_INT_EQ(r.acknowledged, 4); /* 1, 2, 4, 5: not the allow-listed 3, not 7 (after the bound). */
    sqlite3_stmt *st = NULL;
    CHECK_INT_EQ(sqlite3_prepare_v2(store_db_handle(s),
                                    "SELECT group_concat(id) FROM (SELECT id FROM detections_v1 WHERE acknowledged = 0"
                                    " ORDER BY id)",
                                    -1, &st, NULL),
                 SQLITE_OK);
    CHECK_INT_EQ(sqlite3_step(st), SQLITE_ROW);
    CHECK_STR_EQ((const char *)sqlite3_column_text(st, 0), "3,6,7");
    sqlite3_finalize(st);
    CHECK_INT_EQ(scalar(s, "SELECT count(*) FROM acknowledgements WHERE how = 'all' AND first_id = 1 AND last_id = 5"
                           " AND count = 4 AND note = 'weekly review'"),
                 1);
    /* Nothing left up to 5: no audit row of nothing. */
    CHECK_INT_EQ(store_ack_up_to(s, 5, "CORP\\admin", NULL, 1764000100, &r), BG_ERR_OK);
    CHECK_INT_EQ(r.acknowledged, 0);
    CHECK_INT_EQ(r.ack_id, 0);
    CHECK_INT_EQ(scalar(s, "SELECT count(*) FROM acknowledgements"), 1);
    store_close(s);
    test_db_remove(db_path);
}

/* A detection stored after the row with the greatest id was pruned gets that id again (a rowid), and must
 * not arrive acknowledged: the acknowledgement goes with the row, not with the number. */
static void test_ack_reused_id(void)
{
    store *s = db_fill("reuse", 2, 0);
    if (!s)
        return;
    store_ack_result r;
    const int64_t two = 2;
    CHECK_INT_EQ(store_ack_ids(s, &two, 1, "CORP\\admin", NULL, 1764000000, &r), BG_ERR_OK);
    CHECK_INT_EQ(sqlite3_exec(store_db_handle(s), "DELETE FROM detections WHERE id = 2", NULL, NULL, NULL), SQLITE_OK);
    detection d;
    det_make(&d, 9, 0);
    const detection *p = &d;
    CHECK_INT_EQ(store_batch_commit(s, &p, 1, NULL, NULL, NULL), BG_ERR_OK);
    detection_clear(&d);
    CHECK_INT_EQ(scalar(s, "SELECT id FROM detections WHERE url = 'http://203.0.113.9/x.exe'"), 2);
    CHECK_INT_EQ(scalar(s, "SELECT acknowledged FROM detections_v1 WHERE id = 2"), 0);
    store_status st;
    CHECK_INT_EQ(store_status_get(s, 1764000000, &st), BG_ERR_OK);
    CHECK_INT_EQ(st.detections_unacknowledged, 2);
    store_close(s);
    test_db_remove(db_path);
}

/* A merge (a later event of an acknowledged job) keeps the acknowledgement. */
static void test_ack_survives_merge(void)
{
    store *s = db_fill("merge", 1, 0);
    if (!s)
        return;
    store_ack_result r;
    const int64_t one = 1;
    CHECK_INT_EQ(store_ack_ids(s, &one, 1, "CORP\\admin", NULL, 1764000000, &r), BG_ERR_OK);
    detection d;
    det_make(&d, 1, 0);
    d.events_seen = SEEN_4;
    d.state = JOB_STATE_COMPLETED;
    d.last_record_id = 500;
    const detection *p = &d;
    CHECK_INT_EQ(store_batch_commit(s, &p, 1, NULL, NULL, NULL), BG_ERR_OK);
    detection_clear(&d);
    CHECK_INT_EQ(scalar(s, "SELECT count(*) FROM detections_v1 WHERE id = 1 AND acknowledged = 1"
                           " AND state = 'completed' AND events = '3,4,16403'"),
                 1);
    store_close(s);
    test_db_remove(db_path);
}

/* A read-only handle (query, status) cannot acknowledge. */
static void test_ack_readonly(void)
{
    store *s = db_fill("ro", 1, 0);
    store_close(s);
    store *ro = NULL;
    char err[512];
    CHECK_INT_EQ(store_open_existing(&ro, db_path, err, sizeof err), BG_ERR_OK);
    store_ack_result r;
    const int64_t one = 1;
    if (ro)
        CHECK_INT_EQ(store_ack_ids(ro, &one, 1, "x", NULL, 0, &r), BG_ERR_DB_READONLY);
    store_close(ro);
    test_db_remove(db_path);
}

int main(void)
{
    /* Distinct file names for runs side by side (the valgrind copy runs at the same time). */
#ifdef _WIN32
    unsigned pid = (unsigned)_getpid();
#else
    unsigned pid = (unsigned)getpid();
#endif
    srand((unsigned)time(NULL) ^ pid * 2654435761u);
    CHECK_RUN(test_view_v1_pinned);
    CHECK_RUN(test_ack_ids);
    CHECK_RUN(test_ack_up_to);
    CHECK_RUN(test_ack_reused_id);
    CHECK_RUN(test_ack_survives_merge);
    CHECK_RUN(test_ack_readonly);
    return CHECK_DONE();
}
