/* Acknowledging detections (`bitsguard ack`): the audit row in acknowledgements and each detection's ack_id. */
#include <string.h>

#include "store_internal.h"

/*
 * An acknowledgement is a column of the detection (ack_id) rather than a list of ids kept apart: row ids
 * are SQLite rowids, which a new row may reuse after the row with the greatest id is pruned, and a reused
 * id must not arrive acknowledged. The acknowledgements row keeps who, when, how and the id range, also
 * after retention has pruned the detections themselves.
 */

/* Runs sql with integer parameters (n of them); *changes (may be NULL) receives sqlite3_changes. */
static int exec_ints(sqlite3 *db, const char *sql, const int64_t *p, int n, int *changes)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    for (int i = 0; rc == SQLITE_OK && i < n; i++)
        rc = sqlite3_bind_int64(st, i + 1, p[i]);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        rc = rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
    }
    if (rc == SQLITE_OK && changes)
        *changes = sqlite3_changes(db);
    sqlite3_finalize(st);
    return rc;
}

/* The acknowledgement's audit row; *id receives its rowid. */
static int ack_row_insert(store *s, int64_t now_unix, const char *who, const char *how, int64_t first, int64_t last,
                          const char *note, int64_t *id)
{
    char now[BG_TIME_TEXT_SIZE];
    store_time_format(now_unix, now, sizeof now);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db,
                                "INSERT INTO acknowledgements(time, who, how, first_id, last_id, count, note)"
                                " VALUES(?1, ?2, ?3, ?4, ?5, 0, ?6)",
                                -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, now, -1, SQLITE_TRANSIENT);
        if (who && *who)
            sqlite3_bind_text(st, 2, who, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, how, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, first);
        sqlite3_bind_int64(st, 5, last);
        if (note && *note)
            sqlite3_bind_text(st, 6, note, -1, SQLITE_STATIC);
        rc = sqlite3_step(st);
        rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_OK)
        *id = sqlite3_last_insert_rowid(s->db);
    return rc;
}

/* Opens the write transaction; the connection's busy handler waits for a lock within the store's budget. */
static int ack_begin(store *s)
{
    s->busy_slept_ms = 0;
    return sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
}

/* Commits when rc is SQLITE_OK and something was acknowledged, else rolls back; returns the final code. */
static int ack_end(store *s, int rc, int keep)
{
    if (rc == SQLITE_OK && keep)
        rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
    if (!sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

bg_error store_ack_ids(store *s, const int64_t *ids, size_t n, const char *who, const char *note, int64_t now_unix,
                       store_ack_result *out)
{
    if (!s || !out || (n && !ids))
        return BG_ERR_INVALID_ARG;
    memset(out, 0, sizeof *out);
    if (s->readonly)
        return BG_ERR_DB_READONLY;
    bg_error e = BG_ERR_OK;
    int64_t first = INT64_MAX, last = 0;
    int rc = ack_begin(s);
    sqlite3_stmt *look = NULL;
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(s->db, "SELECT ack_id IS NOT NULL FROM detections WHERE id = ?1", -1, &look, NULL);
    /* Every id is looked at before anything is written: one unknown id and nothing is acknowledged. */
    for (size_t i = 0; rc == SQLITE_OK && i < n; i++) {
        sqlite3_bind_int64(look, 1, ids[i]);
        int step = sqlite3_step(look);
        if (step == SQLITE_ROW) {
            if (sqlite3_column_int(look, 0)) {
                out->already++;
            } else {
                first = ids[i] < first ? ids[i] : first;
                last = ids[i] > last ? ids[i] : last;
            }
        } else if (step == SQLITE_DONE) {
            out->missing = ids[i];
            e = BG_ERR_INVALID_ARG;
        } else {
            rc = step;
        }
        sqlite3_reset(look);
        if (e != BG_ERR_OK)
            break;
    }
    sqlite3_finalize(look);
    if (rc == SQLITE_OK && e == BG_ERR_OK && last > 0)
        rc = ack_row_insert(s, now_unix, who, "id", first, last, note, &out->ack_id);
    for (size_t i = 0; rc == SQLITE_OK && e == BG_ERR_OK && out->ack_id && i < n; i++) {
        const int64_t p[] = {out->ack_id, ids[i]};
        int changed = 0;
        rc = exec_ints(s->db, "UPDATE detections SET ack_id = ?1 WHERE id = ?2 AND ack_id IS NULL", p, 2, &changed);
        out->acknowledged += changed; /* An id given twice is acknowledged once. */
    }
    if (rc == SQLITE_OK && out->ack_id) {
        const int64_t p[] = {out->acknowledged, out->ack_id};
        rc = exec_ints(s->db, "UPDATE acknowledgements SET count = ?1 WHERE id = ?2", p, 2, NULL);
    }
    rc = ack_end(s, rc, e == BG_ERR_OK && out->ack_id != 0);
    if (rc != SQLITE_OK || e != BG_ERR_OK) {
        int64_t missing = out->missing, already = out->already;
        memset(out, 0, sizeof *out);
        out->missing = missing;
        out->already = e == BG_ERR_OK ? 0 : already;
        return rc != SQLITE_OK ? store_sqlite_error(rc) : e;
    }
    return BG_ERR_OK;
}

bg_error store_ack_up_to(store *s, int64_t up_to, const char *who, const char *note, int64_t now_unix,
                         store_ack_result *out)
{
    if (!s || !out || up_to <= 0)
        return BG_ERR_INVALID_ARG;
    memset(out, 0, sizeof *out);
    if (s->readonly)
        return BG_ERR_DB_READONLY;
    int64_t first = 0;
    int changed = 0;
    int rc = ack_begin(s);
    sqlite3_stmt *st = NULL;
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(
            s->db, "SELECT min(id) FROM detections WHERE id <= ?1 AND ack_id IS NULL AND allowed = 0", -1, &st, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, up_to);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            first = sqlite3_column_int64(st, 0); /* NULL (nothing to acknowledge) reads as 0. */
            rc = SQLITE_OK;
        }
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_OK && first > 0)
        rc = ack_row_insert(s, now_unix, who, "all", first, up_to, note, &out->ack_id);
    if (rc == SQLITE_OK && out->ack_id) {
        const int64_t p[] = {out->ack_id, up_to};
        rc = exec_ints(s->db, "UPDATE detections SET ack_id = ?1 WHERE id <= ?2 AND ack_id IS NULL AND allowed = 0", p,
                       2, &changed);
        out->acknowledged = changed;
    }
    if (rc == SQLITE_OK && out->ack_id) {
        const int64_t p[] = {out->acknowledged, out->ack_id};
        rc = exec_ints(s->db, "UPDATE acknowledgements SET count = ?1 WHERE id = ?2", p, 2, NULL);
    }
    rc = ack_end(s, rc, out->ack_id != 0);
    if (rc != SQLITE_OK) {
        memset(out, 0, sizeof *out);
        return store_sqlite_error(rc);
    }
    return BG_ERR_OK;
}
