/* The store's tables for the BITS job inventory: cancellations (job_actions) and self-tests (selftests). */
#include <stdio.h>
#include <string.h>

#include "store_internal.h"

/* Runs one prepared write with text parameters (NULL binds NULL), one statement being its own short
 * transaction. */
static bg_error write_run(store *s, const char *sql, const char *const *params, int n, int *changes)
{
    if (!s || s->readonly)
        return s ? BG_ERR_DB_READONLY : BG_ERR_INVALID_ARG;
    s->busy_slept_ms = 0; /* A locked database is retried by the store's busy handler within its budget. */
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    for (int i = 0; rc == SQLITE_OK && i < n; i++)
        rc = params[i] ? sqlite3_bind_text(st, i + 1, params[i], -1, SQLITE_TRANSIENT) : sqlite3_bind_null(st, i + 1);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
    }
    if (rc == SQLITE_OK && changes)
        *changes = sqlite3_changes(s->db);
    sqlite3_finalize(st);
    return rc == SQLITE_OK ? BG_ERR_OK : store_sqlite_error(rc);
}

bg_error store_job_action_record(store *s, int64_t now_unix, const char *action, const char *job_id, const char *who,
                                 const char *computer, const char *what)
{
    if (!action || !job_id)
        return BG_ERR_INVALID_ARG;
    char now[32];
    store_time_format(now_unix, now, sizeof now);
    const char *p[] = {now, action, job_id, who, computer, what};
    return write_run(
        s, "INSERT INTO job_actions(time, action, job_id, who, computer, what) VALUES(?1, ?2, ?3, ?4, ?5, ?6)", p, 6,
        NULL);
}

bg_error store_selftest_begin(store *s, const char *nonce, int64_t now_unix)
{
    if (!nonce)
        return BG_ERR_INVALID_ARG;
    char now[32];
    store_time_format(now_unix, now, sizeof now);
    const char *p[] = {nonce, now};
    return write_run(s, "INSERT INTO selftests(nonce, created_at) VALUES(?1, ?2)", p, 2, NULL);
}

bg_error store_selftest_job_set(store *s, const char *nonce, const char *job_id)
{
    const char *p[] = {nonce, job_id};
    return write_run(s, "UPDATE selftests SET job_id = ?2 WHERE nonce = ?1", p, 2, NULL);
}

bg_error store_selftest_claim(store *s, const char *nonce, const char *job_id, int64_t now_unix, int *pending)
{
    *pending = 0;
    char now[32];
    store_time_format(now_unix, now, sizeof now);
    const char *p[] = {nonce, job_id, now};
    int changes = 0;
    bg_error rc = write_run(s,
                            "UPDATE selftests SET stored_at = COALESCE(stored_at, ?3), detection_job_id = ?2"
                            " WHERE nonce = ?1 AND alerted_at IS NULL",
                            p, 3, &changes);
    if (rc == BG_ERR_OK)
        *pending = changes > 0;
    return rc;
}

bg_error store_selftest_alerted(store *s, const char *nonce, int64_t now_unix)
{
    char now[32];
    store_time_format(now_unix, now, sizeof now);
    const char *p[] = {nonce, now};
    return write_run(s, "UPDATE selftests SET alerted_at = ?2 WHERE nonce = ?1", p, 2, NULL);
}

static void text_copy(char *dst, size_t n, const unsigned char *src)
{
    snprintf(dst, n, "%s", src ? (const char *)src : "");
}

bg_error store_selftest_get(store *s, const char *nonce, store_selftest *out)
{
    memset(out, 0, sizeof *out);
    if (!s || !nonce)
        return BG_ERR_INVALID_ARG;
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(
        s->db, "SELECT job_id, created_at, stored_at, alerted_at FROM selftests WHERE nonce = ?1", -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_bind_text(st, 1, nonce, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            out->found = 1;
            text_copy(out->job_id, sizeof out->job_id, sqlite3_column_text(st, 0));
            text_copy(out->created_at, sizeof out->created_at, sqlite3_column_text(st, 1));
            text_copy(out->stored_at, sizeof out->stored_at, sqlite3_column_text(st, 2));
            text_copy(out->alerted_at, sizeof out->alerted_at, sqlite3_column_text(st, 3));
        }
        rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_OK ? BG_ERR_OK : store_sqlite_error(rc);
}
