/* The computers table: per channel and computer, the events read, detections and event times seen (collector mode). */
#include <ctype.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "bg_text.h"
#include "store_internal.h"

/* Past this many computers in one tally (a scan of a collector's whole log) further computers are
 * refused (BG_ERR_TOO_LARGE, counted by the caller): memory stays bounded whatever the input. */
#define STORE_TALLY_MAX 65536u

typedef struct tally_entry {
    char *computer; /* NULL: free slot. */
    uint64_t events;
    char first[BG_TIME_TEXT_SIZE]; /* "" until an event with a time was counted. */
    char last[BG_TIME_TEXT_SIZE];
} tally_entry;

/* An open-addressing hash table of computers: a scan of a collector's log meets thousands of them and
 * one lookup per event must stay cheap. */
struct store_tally {
    tally_entry *slots;
    size_t cap; /* A power of two, or 0. */
    size_t count;
};

store_tally *store_tally_new(void)
{
    return calloc(1, sizeof(store_tally));
}

void store_tally_clear(store_tally *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->cap; i++) {
        free(t->slots[i].computer);
        t->slots[i].computer = NULL;
    }
    t->count = 0;
}

void store_tally_free(store_tally *t)
{
    if (!t)
        return;
    store_tally_clear(t);
    free(t->slots);
    free(t);
}

size_t store_tally_count(const store_tally *t)
{
    return t ? t->count : 0;
}

/* The length of name as stored: cut to STORE_COMPUTER_NAME_MAX bytes at a UTF-8 character boundary. */
static size_t computer_len(const char *name)
{
    size_t n = strlen(name);
    if (n <= STORE_COMPUTER_NAME_MAX)
        return n;
    n = STORE_COMPUTER_NAME_MAX;
    while (n > 0 && ((unsigned char)name[n] & 0xC0) == 0x80)
        n--;
    return n;
}

/* FNV-1a over the bytes: names are short and the table only needs an even spread. */
static size_t tally_hash(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603u;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211u;
    }
    return (size_t)h;
}

static tally_entry *tally_slot(tally_entry *slots, size_t cap, const char *name, size_t n)
{
    size_t i = tally_hash(name, n) & (cap - 1);
    while (slots[i].computer && (strlen(slots[i].computer) != n || memcmp(slots[i].computer, name, n) != 0))
        i = (i + 1) & (cap - 1);
    return &slots[i];
}

static int tally_grow(store_tally *t)
{
    size_t cap = t->cap ? t->cap * 2 : 64;
    tally_entry *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return -1;
    for (size_t i = 0; i < t->cap; i++) {
        tally_entry *e = &t->slots[i];
        if (e->computer)
            *tally_slot(slots, cap, e->computer, strlen(e->computer)) = *e;
    }
    free(t->slots);
    t->slots = slots;
    t->cap = cap;
    return 0;
}

bg_error store_tally_add(store_tally *t, const char *computer, const char *time_created)
{
    if (!t)
        return BG_ERR_INVALID_ARG;
    if (!computer)
        computer = "";
    size_t n = computer_len(computer);
    if ((t->count + 1) * 4 > t->cap * 3 && tally_grow(t) != 0)
        return BG_ERR_NOMEM;
    tally_entry *e = tally_slot(t->slots, t->cap, computer, n);
    if (!e->computer) {
        if (t->count >= STORE_TALLY_MAX)
            return BG_ERR_TOO_LARGE;
        e->computer = malloc(n + 1);
        if (!e->computer)
            return BG_ERR_NOMEM;
        memcpy(e->computer, computer, n);
        e->computer[n] = '\0';
        e->events = 0;
        e->first[0] = e->last[0] = '\0';
        t->count++;
    }
    e->events++;
    /* Normalized times ("YYYY-MM-DDThh:mm:ss.fffffffZ") compare as text. */
    if (time_created && time_created[0] && strlen(time_created) < sizeof e->first) {
        if (!e->first[0] || strcmp(time_created, e->first) < 0)
            snprintf(e->first, sizeof e->first, "%s", time_created);
        if (!e->last[0] || strcmp(time_created, e->last) > 0)
            snprintf(e->last, sizeof e->last, "%s", time_created);
    }
    return BG_ERR_OK;
}

static int step_done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static void bind_text_or_null(sqlite3_stmt *st, int i, const char *v)
{
    if (v && v[0])
        sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

int store_tally_write(store *s, const char *channel, const store_tally *t, const detection *const *dets,
                      const int *is_new, size_t n, const char *now)
{
    static const char events_sql[] =
        "INSERT INTO computers(channel, computer, events, detections, first_event, last_event, updated_at)"
        " VALUES(?1, ?2, ?3, 0, ?4, ?5, ?6) ON CONFLICT(channel, computer) DO UPDATE SET"
        " events = events + excluded.events,"
        " first_event = CASE WHEN excluded.first_event IS NULL THEN first_event WHEN first_event IS NULL"
        " THEN excluded.first_event ELSE MIN(first_event, excluded.first_event) END,"
        " last_event = CASE WHEN excluded.last_event IS NULL THEN last_event WHEN last_event IS NULL"
        " THEN excluded.last_event ELSE MAX(last_event, excluded.last_event) END,"
        " updated_at = excluded.updated_at";
    static const char detection_sql[] =
        "INSERT INTO computers(channel, computer, events, detections, updated_at) VALUES(?1, ?2, 0, 1, ?3)"
        " ON CONFLICT(channel, computer) DO UPDATE SET detections = detections + 1, updated_at = excluded.updated_at";
    sqlite3_stmt *ev = NULL, *det = NULL;
    int rc = sqlite3_prepare_v2(s->db, events_sql, -1, &ev, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(s->db, detection_sql, -1, &det, NULL);
    for (size_t i = 0; rc == SQLITE_OK && t && i < t->cap; i++) {
        const tally_entry *e = &t->slots[i];
        if (!e->computer)
            continue;
        sqlite3_bind_text(ev, 1, channel, -1, SQLITE_STATIC);
        sqlite3_bind_text(ev, 2, e->computer, -1, SQLITE_STATIC);
        sqlite3_bind_int64(ev, 3, (sqlite3_int64)e->events);
        bind_text_or_null(ev, 4, e->first);
        bind_text_or_null(ev, 5, e->last);
        sqlite3_bind_text(ev, 6, now, -1, SQLITE_STATIC);
        rc = step_done(ev);
    }
    for (size_t i = 0; rc == SQLITE_OK && is_new && i < n; i++) {
        if (!is_new[i])
            continue;
        const char *computer = dets[i]->computer ? dets[i]->computer : "";
        sqlite3_bind_text(det, 1, channel, -1, SQLITE_STATIC);
        sqlite3_bind_text(det, 2, computer, (int)computer_len(computer), SQLITE_STATIC);
        sqlite3_bind_text(det, 3, now, -1, SQLITE_STATIC);
        rc = step_done(det);
    }
    sqlite3_finalize(ev);
    sqlite3_finalize(det);
    return rc;
}

bg_error store_tally_commit(store *s, const char *channel, const store_tally *t)
{
    store_batch b = {.tally_channel = channel, .tally = t};
    return store_batch_write(s, &b);
}

static const char *col_text(sqlite3_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(st, i);
}

bg_error store_computers_run(store *s, const char *computer, int64_t limit, store_computer_fn fn, void *ctx)
{
    static const char sql_all[] =
        "SELECT channel, computer, events, detections, first_event, last_event, updated_at FROM computers"
        " ORDER BY last_event IS NOT NULL, last_event, computer, channel LIMIT ?1";
    static const char sql_one[] =
        "SELECT channel, computer, events, detections, first_event, last_event, updated_at FROM computers"
        " WHERE " STORE_COMPUTER_MATCH("computer", "?2") " ORDER BY computer, channel LIMIT ?1";
    if (!s || !fn)
        return BG_ERR_INVALID_ARG;
    sqlite3_stmt *st = NULL;
    s->busy_slept_ms = 0;
    store_work_reset(s);
    int rc = sqlite3_prepare_v2(s->db, computer ? sql_one : sql_all, -1, &st, NULL);
    if (rc != SQLITE_OK)
        goto cleanup;
    sqlite3_bind_int64(st, 1, limit > 0 ? limit : -1);
    if (computer)
        sqlite3_bind_text(st, 2, computer, -1, SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        store_work_reset(s);
        store_computer row = {
            .channel = col_text(st, 0),
            .computer = col_text(st, 1),
            .events = sqlite3_column_int64(st, 2),
            .detections = sqlite3_column_int64(st, 3),
            .first_event = col_text(st, 4),
            .last_event = col_text(st, 5),
            .updated_at = col_text(st, 6),
        };
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

bg_error store_computers_count(store *s, const char *silent_before, int64_t *total, int64_t *silent)
{
    if (!s || !total || !silent)
        return BG_ERR_INVALID_ARG;
    *total = *silent = 0;
    sqlite3_stmt *st = NULL;
    s->busy_slept_ms = 0;
    store_work_reset(s);
    /* A computer is counted once however many channels it was read on. Silence is judged on forwarded
     * rows only: a computer's own logs (the Bits-Client channel, the System reader) are read locally, and
     * a quiet BITS service there is no forwarding that stopped. Silent: no forwarded event with a time at
     * or after the bound. */
    int rc = sqlite3_prepare_v2(
        s->db,
        "SELECT count(*), coalesce(sum(forwarded AND (newest IS NULL OR newest < ?1)), 0) FROM"
        " (SELECT max(" STORE_COMPUTER_FORWARDED("channel") ") AS forwarded,"
                                                            " max(CASE WHEN " STORE_COMPUTER_FORWARDED(
                                                                "channel") " THEN last_event END) AS newest"
                                                                           " FROM computers GROUP BY computer)",
        -1, &st, NULL);
    if (rc != SQLITE_OK)
        goto cleanup;
    sqlite3_bind_text(st, 1, silent_before ? silent_before : "", -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *total = sqlite3_column_int64(st, 0);
        *silent = sqlite3_column_int64(st, 1);
        rc = SQLITE_OK;
    }
cleanup:
    sqlite3_finalize(st);
    return store_sqlite_error(rc);
}

int store_computer_forwarded(const char *channel)
{
    static const char *const local[] = {"Microsoft-Windows-Bits-Client/Operational", "System"};
    for (size_t i = 0; channel && i < sizeof local / sizeof local[0]; i++) {
        const char *a = channel, *b = local[i];
        while (*a && *b && tolower((unsigned char)*a) == tolower((unsigned char)*b)) {
            a++;
            b++;
        }
        if (!*a && !*b)
            return 0;
    }
    return channel != NULL;
}
