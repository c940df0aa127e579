/* What the store checks and sets before it trusts a database: plain paths, file kinds, SQLite's defensive settings. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bg_os.h"
#include "store_internal.h"

/*
 * A database given to bitsguard may come from anyone: a copy from a compromised endpoint opened by an
 * admin's query, a file planted where scan --db will write. So the path is taken as a plain file path
 * (never a URI, never ":memory:"), a link or anything other than a regular file is refused, and every
 * connection runs with SQLite's defensive settings and limits, so that whatever its schema says, SQL
 * planted in the file cannot run unbounded or reach beyond the file.
 */

/* Longest value SQLite may build or read: a detection holds a few values of at most EVENT_MAX_BYTES
 * each (URL, title, owner, paths, notify command line), far below this. */
#define STORE_LIMIT_LENGTH (16 * 1024 * 1024)
/* Progress handler period, in virtual machine instructions. */
#define STORE_PROGRESS_OPS 1000
/* Work allowed between two rows or calls: this many periods per page of the file, plus a floor. A
 * full scan of our own tables costs a few thousand instructions per page. */
#define STORE_WORK_PER_PAGE 100
#define STORE_WORK_FLOOR    100000

/* Names a path kind for messages. */
static const char *path_kind_text(int kind)
{
    switch (kind) {
    case BG_OS_PATH_LINK:
        return "a symbolic link (give the path of the file itself)";
    case BG_OS_PATH_OTHER:
        return "not a regular file (a folder, FIFO or device)";
    default:
        return "not accessible";
    }
}

bg_error store_path_check(const char *path, int must_exist, char *errbuf, size_t errlen)
{
    if (path == NULL || path[0] == '\0') {
        if (errbuf != NULL && errlen > 0)
            snprintf(errbuf, errlen, "the database path is empty");
        return BG_ERR_INVALID_ARG;
    }
    int kind = bg_os_path_kind(path);
    if (kind == BG_OS_PATH_ABSENT && must_exist) {
        if (errbuf != NULL && errlen > 0)
            snprintf(errbuf, errlen, "%s: no database at this path (give --db PATH, or run the service first)", path);
        return BG_ERR_DB_OPEN;
    }
    if (kind != BG_OS_PATH_ABSENT && kind != BG_OS_PATH_REGULAR) {
        if (errbuf != NULL && errlen > 0)
            snprintf(errbuf, errlen, "%s: refused: %s", path, path_kind_text(kind));
        return BG_ERR_DB_OPEN;
    }
    /* SQLite opens the side files by name too: a planted link there would redirect its writes. */
    static const char *const sides[] = {"-wal", "-shm", "-journal"};
    for (size_t i = 0; i < sizeof sides / sizeof sides[0]; i++) {
        size_t n = strlen(path) + strlen(sides[i]) + 1;
        char *side = malloc(n);
        if (side == NULL)
            return BG_ERR_NOMEM;
        snprintf(side, n, "%s%s", path, sides[i]);
        int sk = bg_os_path_kind(side);
        if (sk != BG_OS_PATH_ABSENT && sk != BG_OS_PATH_REGULAR) {
            if (errbuf != NULL && errlen > 0)
                snprintf(errbuf, errlen, "%s: refused: %s", side, path_kind_text(sk));
            free(side);
            return BG_ERR_DB_OPEN;
        }
        free(side);
    }
    return BG_ERR_OK;
}

char *store_path_literal(const char *path)
{
    /* SQLite reads a name starting with "file:" as a URI when built with SQLITE_USE_URI (Debian's is)
     * and ":memory:" as no file at all; "./" in front makes either the relative file it looks like. */
    int prefix = strncmp(path, "file:", 5) == 0 || strcmp(path, ":memory:") == 0;
    size_t n = strlen(path) + (prefix ? 2 : 0) + 1;
    char *out = malloc(n);
    if (out != NULL)
        snprintf(out, n, "%s%s", prefix ? "./" : "", path);
    return out;
}

void store_connection_harden(sqlite3 *db)
{
    /* DEFENSIVE: no writable_schema, no journal or page tricks through SQL. trusted_schema off: a view
     * or trigger in the file cannot call functions with side effects. No extension loading at all. */
    sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)NULL);
    sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, (int *)NULL);
    sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, (int *)NULL);
    sqlite3_limit(db, SQLITE_LIMIT_LENGTH, STORE_LIMIT_LENGTH);
    sqlite3_limit(db, SQLITE_LIMIT_SQL_LENGTH, 100000);
    sqlite3_limit(db, SQLITE_LIMIT_COLUMN, 100);
    sqlite3_limit(db, SQLITE_LIMIT_EXPR_DEPTH, 200);
    sqlite3_limit(db, SQLITE_LIMIT_COMPOUND_SELECT, 8);
    sqlite3_limit(db, SQLITE_LIMIT_FUNCTION_ARG, 16);
    sqlite3_limit(db, SQLITE_LIMIT_ATTACHED, 0);
    sqlite3_limit(db, SQLITE_LIMIT_LIKE_PATTERN_LENGTH, 1000);
    sqlite3_limit(db, SQLITE_LIMIT_VARIABLE_NUMBER, 100);
    sqlite3_limit(db, SQLITE_LIMIT_TRIGGER_DEPTH, 1);
    sqlite3_limit(db, SQLITE_LIMIT_WORKER_THREADS, 0);
}

/* Ends the running statement (SQLITE_INTERRUPT) once the budget is spent. */
static int work_progress(void *arg)
{
    store *s = arg;
    return ++s->work_done > s->work_max;
}

void store_work_bound(store *s)
{
    sqlite3_int64 pages = 0;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, "PRAGMA page_count", -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        pages = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (pages < 0)
        pages = 0;
    s->work_max = STORE_WORK_FLOOR + (int64_t)pages * STORE_WORK_PER_PAGE;
    s->work_done = 0;
    sqlite3_progress_handler(s->db, STORE_PROGRESS_OPS, work_progress, s);
}

void store_work_reset(store *s)
{
    s->work_done = 0;
}
