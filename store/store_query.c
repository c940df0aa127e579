/* Reading the store for the admins' commands: filtered detection and finding queries, status counts and lists. */
#include <stdio.h>
#include <string.h>

#include "store_internal.h"

/* The columns read back into a detection, in this order (see row_read). */
#define QUERY_COLUMNS                                                                                      \
    "event_id, record_id, time, computer, job_id, job_title, job_owner, url, ip, verdict, kind, range,"    \
    " local_name, allowed, process_id, process_path, notify_program, notify_parameters, events_seen,"      \
    " first_seen, last_seen, last_record_id, transfer_hr, bytes_total, bytes_transferred, state, reading," \
    " embedded_ipv4, source, recovered"

void store_filter_init(store_filter *f)
{
    memset(f, 0, sizeof *f);
}

static const char *col_text(sqlite3_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(st, i);
}

static int64_t col_int_or(sqlite3_stmt *st, int i, int64_t none)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? none : sqlite3_column_int64(st, i);
}

static void text_copy(char *dst, size_t n, const char *src)
{
    size_t len = src ? strlen(src) : 0;
    if (len >= n)
        len = n - 1;
    if (len)
        memcpy(dst, src, len);
    dst[len] = '\0';
}

/* The enum value whose name is text (0, invalid/unknown, when none is). */
static int name_index(const char *text, const char *(*name)(int), int count)
{
    for (int i = 0; text && i < count; i++)
        if (strcmp(text, name(i)) == 0)
            return i;
    return 0;
}

static const char *verdict_name(int v)
{
    return classify_verdict_name((classify_verdict)v);
}

static const char *kind_name(int k)
{
    return classify_kind_name((classify_kind)k);
}

static const char *reading_name(int r)
{
    const char *name = classify_reading_name((classify_reading)r);
    return name ? name : "";
}

/* Fills d with pointers into the statement's current row (valid until the next step). */
static void row_read(sqlite3_stmt *st, detection *d)
{
    detection_init(d);
    d->event_id = (unsigned)sqlite3_column_int64(st, 0);
    d->record_id = (uint64_t)sqlite3_column_int64(st, 1);
    text_copy(d->time, sizeof d->time, col_text(st, 2));
    /* The strings are borrowed from SQLite: the detection must not be cleared by the callee. */
    d->computer = (char *)col_text(st, 3);
    text_copy(d->job_id, sizeof d->job_id, col_text(st, 4));
    d->job_title = (char *)col_text(st, 5);
    d->job_owner = (char *)col_text(st, 6);
    d->url = (char *)col_text(st, 7);
    text_copy(d->cls.ip, sizeof d->cls.ip, col_text(st, 8));
    d->cls.verdict = (classify_verdict)name_index(col_text(st, 9), verdict_name, VERDICT_LOCAL + 1);
    d->cls.kind = (classify_kind)name_index(col_text(st, 10), kind_name, KIND_LOCAL + 1);
    d->cls.range = col_text(st, 11);
    d->local_name = (char *)col_text(st, 12);
    d->allowed = sqlite3_column_int(st, 13);
    d->process_id = col_int_or(st, 14, -1);
    d->process_path = (char *)col_text(st, 15);
    d->notify_program = (char *)col_text(st, 16);
    d->notify_parameters = (char *)col_text(st, 17);
    d->events_seen = (uint32_t)sqlite3_column_int64(st, 18);
    text_copy(d->first_seen, sizeof d->first_seen, col_text(st, 19));
    text_copy(d->last_seen, sizeof d->last_seen, col_text(st, 20));
    d->last_record_id = (uint64_t)col_int_or(st, 21, 0);
    d->transfer_hr = col_int_or(st, 22, INT64_MIN);
    d->bytes_total = col_int_or(st, 23, -1);
    d->bytes_transferred = col_int_or(st, 24, -1);
    int state = sqlite3_column_int(st, 25);
    d->state = state == 1 ? JOB_STATE_COMPLETED : state == 2 ? JOB_STATE_CANCELLED : JOB_STATE_ACTIVE;
    d->cls.reading = (classify_reading)name_index(col_text(st, 26), reading_name, READING_WILDCARD_DNS + 1);
    text_copy(d->cls.embedded_ipv4, sizeof d->cls.embedded_ipv4, col_text(st, 27));
    if (detection_source_parse(col_text(st, 28), &d->source) != 0)
        d->source = DETECTION_SOURCE_EVENTS;
    d->recovered = sqlite3_column_int(st, 29);
    if (d->cls.ip[0])
        d->cls.is_ipv6 = strchr(d->cls.ip, ':') != NULL;
}

/* Binds a filter's values to the parameters ?1..?7 that the detection and finding queries both number the
 * same way (since, until, IP range low/high, job, computer, limit); absent filters leave theirs unbound. */
static void filter_bind(sqlite3_stmt *st, const store_filter *f)
{
    if (f->since[0])
        sqlite3_bind_text(st, 1, f->since, -1, SQLITE_STATIC);
    if (f->until[0])
        sqlite3_bind_text(st, 2, f->until, -1, SQLITE_STATIC);
    if (f->has_ip) {
        sqlite3_bind_blob(st, 3, f->ip_lo, 16, SQLITE_STATIC);
        sqlite3_bind_blob(st, 4, f->ip_hi, 16, SQLITE_STATIC);
    }
    if (f->job_id)
        sqlite3_bind_text(st, 5, f->job_id, -1, SQLITE_STATIC);
    if (f->computer)
        sqlite3_bind_text(st, 6, f->computer, -1, SQLITE_STATIC);
    if (f->limit > 0)
        sqlite3_bind_int64(st, 7, f->limit);
}

bg_error store_query_run(store *s, const store_filter *f, store_row_fn fn, void *ctx)
{
    if (!s || !f || !fn)
        return BG_ERR_INVALID_ARG;
    /* Every value is a bound parameter; only fixed fragments are concatenated. */
    char sql[1024];
    int len =
        snprintf(sql, sizeof sql,
                 "SELECT " QUERY_COLUMNS " FROM detections WHERE 1"
                 "%s%s%s%s%s%s%s ORDER BY last_seen DESC, id DESC%s",
                 f->since[0] ? " AND last_seen >= ?1" : "", f->until[0] ? " AND last_seen <= ?2" : "",
                 f->has_ip ? " AND (ip_bytes BETWEEN ?3 AND ?4 OR embedded_ip_bytes BETWEEN ?3 AND ?4)" : "",
                 f->job_id ? " AND job_id = ?5" : "", f->computer ? " AND " STORE_COMPUTER_MATCH("computer", "?6") : "",
                 f->include_allowed ? "" : " AND allowed = 0", f->active_only ? " AND state = 0" : "",
                 f->limit > 0 ? " LIMIT ?7" : "");
    if (len < 0 || (size_t)len >= sizeof sql)
        return BG_ERR_TOO_LARGE;
    sqlite3_stmt *st = NULL;
    s->busy_slept_ms = 0;
    store_work_reset(s);
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        goto cleanup;
    filter_bind(st, f);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        detection d;
        row_read(st, &d);
        store_work_reset(s); /* The work bound is between rows: a long answer is not cut short. */
        if (fn(ctx, &d) != 0) {
            rc = SQLITE_DONE;
            break;
        }
    }
    if (rc == SQLITE_DONE)
        rc = SQLITE_OK;
cleanup:
    sqlite3_finalize(st);
    return store_sqlite_error(rc);
}

/* The columns read back into a finding, in this order (see finding_row_read). */
#define FINDING_QUERY_COLUMNS                                                                            \
    "kind, event_id, record_id, time, computer, job_id, job_title, job_owner, process_id, process_path," \
    " notify_program, notify_parameters, notify_failures, notify_error, server, url, auth_scheme, user," \
    " credentials, ip, verdict, range, reading, embedded_ipv4, channel, state, first_seen, last_seen,"   \
    " last_record_id, recovered"

/* Fills f with pointers into the statement's current row (valid until the next step). */
static void finding_row_read(sqlite3_stmt *st, finding *f)
{
    finding_init(f);
    f->kind = finding_kind_parse(col_text(st, 0));
    f->event_id = (unsigned)sqlite3_column_int64(st, 1);
    f->record_id = (uint64_t)sqlite3_column_int64(st, 2);
    text_copy(f->time, sizeof f->time, col_text(st, 3));
    /* Borrowed from SQLite, as in row_read: the callee must not clear the finding. */
    f->computer = (char *)col_text(st, 4);
    text_copy(f->job_id, sizeof f->job_id, col_text(st, 5));
    f->job_title = (char *)col_text(st, 6);
    f->job_owner = (char *)col_text(st, 7);
    f->process_id = col_int_or(st, 8, -1);
    f->process_path = (char *)col_text(st, 9);
    f->program = (char *)col_text(st, 10);
    f->parameters = (char *)col_text(st, 11);
    int64_t failures = sqlite3_column_int64(st, 12);
    f->notify_failures = failures < 0 ? 0 : failures > UINT32_MAX ? UINT32_MAX : (uint32_t)failures;
    f->notify_error = col_int_or(st, 13, INT64_MIN);
    f->server = (char *)col_text(st, 14);
    f->url = (char *)col_text(st, 15);
    f->scheme = (char *)col_text(st, 16);
    f->user = (char *)col_text(st, 17);
    const char *creds = col_text(st, 18);
    f->accepted = creds && strcmp(creds, "accepted") == 0;
    text_copy(f->cls.ip, sizeof f->cls.ip, col_text(st, 19));
    f->cls.verdict = (classify_verdict)name_index(col_text(st, 20), verdict_name, VERDICT_LOCAL + 1);
    f->cls.range = col_text(st, 21);
    f->cls.reading = (classify_reading)name_index(col_text(st, 22), reading_name, READING_WILDCARD_DNS + 1);
    text_copy(f->cls.embedded_ipv4, sizeof f->cls.embedded_ipv4, col_text(st, 23));
    if (f->cls.ip[0])
        f->cls.is_ipv6 = strchr(f->cls.ip, ':') != NULL;
    f->channel = (char *)col_text(st, 24);
    int state = sqlite3_column_int(st, 25);
    f->state = state == 1 ? JOB_STATE_COMPLETED : state == 2 ? JOB_STATE_CANCELLED : JOB_STATE_ACTIVE;
    text_copy(f->first_seen, sizeof f->first_seen, col_text(st, 26));
    text_copy(f->last_seen, sizeof f->last_seen, col_text(st, 27));
    f->last_record_id = (uint64_t)col_int_or(st, 28, 0);
    f->recovered = sqlite3_column_int(st, 29);
}

bg_error store_finding_query_run(store *s, const store_filter *f, store_finding_fn fn, void *ctx)
{
    if (!s || !f || !fn)
        return BG_ERR_INVALID_ARG;
    /* Every value is a bound parameter; only fixed fragments are concatenated. */
    char sql[1024];
    int len =
        snprintf(sql, sizeof sql,
                 "SELECT " FINDING_QUERY_COLUMNS " FROM findings WHERE 1"
                 "%s%s%s%s%s%s ORDER BY last_seen DESC, id DESC%s",
                 f->since[0] ? " AND last_seen >= ?1" : "", f->until[0] ? " AND last_seen <= ?2" : "",
                 f->has_ip ? " AND ip_bytes BETWEEN ?3 AND ?4" : "", f->job_id ? " AND job_id = ?5" : "",
                 f->computer ? " AND " STORE_COMPUTER_MATCH("computer", "?6") : "",
                 f->active_only ? " AND kind = 'notify-command' AND state = 0" : "", f->limit > 0 ? " LIMIT ?7" : "");
    if (len < 0 || (size_t)len >= sizeof sql)
        return BG_ERR_TOO_LARGE;
    sqlite3_stmt *st = NULL;
    s->busy_slept_ms = 0;
    store_work_reset(s);
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        goto cleanup;
    filter_bind(st, f);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        finding row;
        finding_row_read(st, &row);
        store_work_reset(s);
        if (row.kind == 0)
            continue; /* A kind this version does not know (written by a newer one): not shown as another. */
        if (fn(ctx, &row) != 0) {
            rc = SQLITE_DONE;
            break;
        }
    }
    if (rc == SQLITE_DONE)
        rc = SQLITE_OK;
cleanup:
    sqlite3_finalize(st);
    return store_sqlite_error(rc);
}

bg_error store_outbox_run(store *s, const char *channel, store_outbox_fn fn, void *ctx)
{
    if (!s || !channel || !fn)
        return BG_ERR_INVALID_ARG;
    static const char *const sql[] = {
        "SELECT " QUERY_COLUMNS ", id FROM detections WHERE id IN"
        " (SELECT row_id FROM alert_outbox WHERE kind = 'detection' AND channel = ?1) ORDER BY id",
        "SELECT " FINDING_QUERY_COLUMNS ", id FROM findings WHERE id IN"
        " (SELECT row_id FROM alert_outbox WHERE kind = 'finding' AND channel = ?1) ORDER BY id",
    };
    int rc = SQLITE_OK;
    int stop = 0;
    s->busy_slept_ms = 0;
    for (size_t q = 0; q < sizeof sql / sizeof sql[0] && rc == SQLITE_OK && !stop; q++) {
        sqlite3_stmt *st = NULL;
        store_work_reset(s);
        rc = sqlite3_prepare_v2(s->db, sql[q], -1, &st, NULL);
        if (rc == SQLITE_OK)
            rc = sqlite3_bind_text(st, 1, channel, -1, SQLITE_STATIC);
        while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
            store_work_reset(s);
            rc = SQLITE_OK;
            if (q == 0) {
                detection d;
                row_read(st, &d);
                stop = fn(ctx, sqlite3_column_int64(st, 30), &d, NULL) != 0;
            } else {
                finding f;
                finding_row_read(st, &f);
                if (f.kind != 0) /* A kind this version cannot alert (a newer one wrote it). */
                    stop = fn(ctx, sqlite3_column_int64(st, 30), NULL, &f) != 0;
            }
            if (stop)
                break;
        }
        if (rc == SQLITE_DONE)
            rc = SQLITE_OK;
        sqlite3_finalize(st);
    }
    return store_sqlite_error(rc);
}

/* Runs a one-row, one-column integer query. */
static int scalar_int(sqlite3 *db, const char *sql, const char *arg, int64_t *out)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK && arg)
        sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            *out = sqlite3_column_int64(st, 0);
            rc = SQLITE_OK;
        } else if (rc == SQLITE_DONE) {
            *out = 0;
            rc = SQLITE_OK;
        }
    }
    sqlite3_finalize(st);
    return rc;
}

/* The health sample's meta rows (store_health_record); fields stay -1 / "" when absent. */
static int health_get(sqlite3 *db, store_health *h)
{
    h->pid = h->rss_bytes = h->peak_rss_bytes = h->handles = -1;
    h->updated_at[0] = '\0';
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(db,
                                "SELECT key, value FROM meta WHERE key IN ('service_pid', 'service_rss_bytes',"
                                " 'service_peak_rss_bytes', 'service_handles', 'service_updated_at')",
                                -1, &q, NULL);
    while (rc == SQLITE_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        const char *key = col_text(q, 0);
        int64_t v = sqlite3_column_int64(q, 1);
        if (v < 0)
            v = -1; /* Not a sample any process takes (a crafted row): unknown. */
        rc = SQLITE_OK;
        if (!key)
            continue;
        if (strcmp(key, "service_pid") == 0)
            h->pid = v;
        else if (strcmp(key, "service_rss_bytes") == 0)
            h->rss_bytes = v;
        else if (strcmp(key, "service_peak_rss_bytes") == 0)
            h->peak_rss_bytes = v;
        else if (strcmp(key, "service_handles") == 0)
            h->handles = v;
        else if (strcmp(key, "service_updated_at") == 0)
            text_copy(h->updated_at, sizeof h->updated_at, col_text(q, 1));
    }
    if (rc == SQLITE_DONE)
        rc = SQLITE_OK;
    sqlite3_finalize(q);
    return rc;
}

bg_error store_status_get(store *s, int64_t now_unix, store_status *st)
{
    if (!s || !st)
        return BG_ERR_INVALID_ARG;
    memset(st, 0, sizeof *st);
    char day_ago[BG_TIME_TEXT_SIZE];
    store_time_format(now_unix - 86400, day_ago, sizeof day_ago);
    day_ago[strlen(day_ago) - 1] = '\0'; /* bare second: sorts before any fraction in it */
    int64_t version = 0, pages = 0, page_size = 0;
    s->busy_slept_ms = 0;
    store_work_reset(s);
    int rc = scalar_int(s->db, "PRAGMA user_version", NULL, &version);
    if (rc == SQLITE_OK)
        rc = scalar_int(s->db, "PRAGMA page_count", NULL, &pages);
    if (rc == SQLITE_OK)
        rc = scalar_int(s->db, "PRAGMA page_size", NULL, &page_size);
    if (rc == SQLITE_OK)
        rc = scalar_int(s->db, "SELECT count(*) FROM detections", NULL, &st->detections_total);
    if (rc == SQLITE_OK)
        rc = scalar_int(s->db, "SELECT count(*) FROM detections WHERE last_seen >= ?1", day_ago, &st->detections_24h);
    if (rc == SQLITE_OK)
        rc = scalar_int(s->db, "SELECT count(*) FROM detections WHERE allowed != 0", NULL, &st->detections_allowed);
    if (rc == SQLITE_OK)
        rc = scalar_int(s->db, "SELECT count(*) FROM detections WHERE allowed = 0 AND ack_id IS NULL", NULL,
                        &st->detections_unacknowledged);
    if (rc == SQLITE_OK)
        rc = scalar_int(s->db, "SELECT count(*) FROM gaps", NULL, &st->gaps_total);
    if (rc == SQLITE_OK)
        rc = scalar_int(s->db, "SELECT count(*) FROM errors", NULL, &st->errors_total);
    for (int k = 1; rc == SQLITE_OK && k <= FINDING_KIND_LAST; k++) {
        rc = scalar_int(s->db, "SELECT count(*) FROM findings WHERE kind = ?1", finding_kind_name((finding_kind)k),
                        &st->findings_by_kind[k]);
        st->findings_total += st->findings_by_kind[k];
    }
    if (rc == SQLITE_OK) {
        sqlite3_stmt *q = NULL;
        rc = sqlite3_prepare_v2(s->db, "SELECT max(last_seen) FROM detections", -1, &q, NULL);
        if (rc == SQLITE_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
            text_copy(st->newest_event, sizeof st->newest_event, col_text(q, 0));
            rc = SQLITE_OK;
        }
        sqlite3_finalize(q);
    }
    if (rc == SQLITE_OK)
        rc = health_get(s->db, &st->health);
    st->schema_version = (int)version;
    st->size_bytes = pages * page_size;
    return store_sqlite_error(rc);
}

bg_error store_summary_get(store *s, store_summary *out)
{
    if (!s || !out)
        return BG_ERR_INVALID_ARG;
    memset(out, 0, sizeof *out);
    s->busy_slept_ms = 0;
    store_work_reset(s);
    int rc = scalar_int(s->db, "SELECT count(*) FROM detections WHERE allowed = 0", NULL, &out->detections);
    if (rc == SQLITE_OK)
        rc = scalar_int(s->db, "SELECT count(*) FROM detections WHERE allowed = 0 AND ack_id IS NULL", NULL,
                        &out->unacknowledged);
    if (rc == SQLITE_OK)
        rc = scalar_int(s->db, "SELECT count(*) FROM errors", NULL, &out->errors);
    if (rc == SQLITE_OK) {
        sqlite3_stmt *q = NULL;
        rc = sqlite3_prepare_v2(
            s->db, "SELECT id, last_seen, ip, url FROM detections WHERE allowed = 0 ORDER BY id DESC LIMIT 1", -1, &q,
            NULL);
        if (rc == SQLITE_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
            out->last_id = sqlite3_column_int64(q, 0);
            text_copy(out->last_seen, sizeof out->last_seen, col_text(q, 1));
            text_copy(out->last_ip, sizeof out->last_ip, col_text(q, 2));
            text_copy(out->last_url, sizeof out->last_url, col_text(q, 3));
        }
        if (rc == SQLITE_ROW || rc == SQLITE_DONE)
            rc = SQLITE_OK;
        sqlite3_finalize(q);
    }
    return store_sqlite_error(rc);
}

bg_error store_list_run(store *s, store_list which, int limit, store_text_fn fn, void *ctx)
{
    static const char *const sql[] = {
        [STORE_LIST_BOOKMARKS] = "SELECT channel, bookmark, updated_at FROM bookmarks ORDER BY channel LIMIT ?1",
        [STORE_LIST_GAPS] = "SELECT time, channel, reason FROM gaps ORDER BY id DESC LIMIT ?1",
        [STORE_LIST_ERRORS] = "SELECT time, where_, code_name, detail FROM errors ORDER BY id DESC LIMIT ?1",
        /* One literal in parentheses: clang's -Wstring-concatenation reads adjacent ones in an array as a
         * missing comma. */
        [STORE_LIST_UNACKED] = ("SELECT id, last_seen, computer, ip, url FROM detections"
                                " WHERE allowed = 0 AND ack_id IS NULL ORDER BY id DESC LIMIT ?1"),
    };
    if (!s || !fn || (unsigned)which > STORE_LIST_UNACKED)
        return BG_ERR_INVALID_ARG;
    sqlite3_stmt *st = NULL;
    s->busy_slept_ms = 0;
    store_work_reset(s);
    int rc = sqlite3_prepare_v2(s->db, sql[which], -1, &st, NULL);
    if (rc != SQLITE_OK)
        goto cleanup;
    sqlite3_bind_int64(st, 1, limit > 0 ? limit : -1);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *cols[STORE_LIST_COLUMNS];
        int n = sqlite3_column_count(st);
        if (n > STORE_LIST_COLUMNS)
            n = STORE_LIST_COLUMNS;
        store_work_reset(s);
        for (int i = 0; i < n; i++)
            cols[i] = col_text(st, i);
        if (fn(ctx, cols, n) != 0) {
            rc = SQLITE_DONE;
            break;
        }
    }
    if (rc == SQLITE_DONE)
        rc = SQLITE_OK;
cleanup:
    sqlite3_finalize(st);
    return store_sqlite_error(rc);
}
