/* Tests of the store against crafted databases and special paths: refused before anything runs or changes. */
#ifndef _WIN32
#define _POSIX_C_SOURCE 200809L
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#ifndef _WIN32
#include <unistd.h>
#endif

#include "check.h"
#include "store.h"
#include "store_internal.h"
#include "test_db.h"

static char db_path[512];

/* A fresh bitsguard database (current schema, one detection, rollback journal so that the file alone
 * holds everything), then sql run on it with the sqlite3 library as an attacker would. */
static void db_crafted(const char *name, const char *sql)
{
    test_db_path_make(db_path, sizeof db_path, "hostile", name);
    store *s = NULL;
    char err[512];
    CHECK_INT_EQ(store_open(&s, db_path, NULL, err, sizeof err), BG_ERR_OK);
    detection d;
    detection_init(&d);
    d.event_id = 16403;
    d.record_id = 1;
    memcpy(d.time, "2024-01-01T00:00:00Z", 21);
    memcpy(d.job_id, "0b2ee6b3-1d6e-4e3c-8b4b-2f7a4c1d9e10", 37);
    d.computer = "PC1";
    d.url = "http://45.33.32.156/a.exe";
    d.cls.verdict = VERDICT_PUBLIC_IP;
    memcpy(d.cls.ip, "45.33.32.156", 13);
    const detection *p = &d;
    CHECK_INT_EQ(store_batch_commit(s, &p, 1, NULL, NULL, NULL), BG_ERR_OK);
    store_close(s);
    sqlite3 *raw = NULL;
    CHECK_INT_EQ(sqlite3_open(db_path, &raw), SQLITE_OK);
    CHECK_INT_EQ(sqlite3_exec(raw, "PRAGMA journal_mode = DELETE", NULL, NULL, NULL), SQLITE_OK);
    if (sql != NULL && sqlite3_exec(raw, sql, NULL, NULL, NULL) != SQLITE_OK)
        CHECK_FAIL_AT("[%s] crafting failed: %s", name, sqlite3_errmsg(raw));
    sqlite3_close(raw);
}

/* A version-1 file as the first bitsguard wrote it (its tables, one row), then sql. */
static void db_v1(const char *name, const char *sql)
{
    test_db_path_make(db_path, sizeof db_path, "hostile", name);
    sqlite3 *raw = NULL;
    CHECK_INT_EQ(sqlite3_open(db_path, &raw), SQLITE_OK);
    static const char v1[] =
        "CREATE TABLE detections(id INTEGER PRIMARY KEY, event_id INTEGER NOT NULL, record_id INTEGER NOT NULL,"
        " time TEXT NOT NULL, computer TEXT NOT NULL, job_id TEXT NOT NULL, job_title TEXT, job_owner TEXT,"
        " url TEXT NOT NULL, ip TEXT, verdict TEXT, kind TEXT, range TEXT, local_name TEXT,"
        " allowed INTEGER NOT NULL DEFAULT 0, process_id INTEGER, process_path TEXT, notify_program TEXT,"
        " notify_parameters TEXT, events_seen INTEGER NOT NULL DEFAULT 0, first_seen TEXT, last_seen TEXT,"
        " last_record_id INTEGER, transfer_hr INTEGER, bytes_total INTEGER, bytes_transferred INTEGER,"
        " state INTEGER NOT NULL DEFAULT 0, UNIQUE(computer, job_id, url));"
        "CREATE TABLE bookmarks(channel TEXT PRIMARY KEY, bookmark TEXT NOT NULL, updated_at TEXT NOT NULL);"
        "CREATE TABLE gaps(id INTEGER PRIMARY KEY, time TEXT NOT NULL, channel TEXT, reason TEXT);"
        "CREATE TABLE errors(id INTEGER PRIMARY KEY, time TEXT NOT NULL, where_ TEXT, code INTEGER,"
        " code_name TEXT, detail TEXT);"
        "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);"
        "INSERT INTO detections(event_id, record_id, time, computer, job_id, url, ip) VALUES(59, 7, 't', 'PC1',"
        " 'j', 'http://198.51.100.23/x.exe', '198.51.100.23');"
        "PRAGMA user_version = 1;";
    CHECK_INT_EQ(sqlite3_exec(raw, v1, NULL, NULL, NULL), SQLITE_OK);
    if (sql != NULL && sqlite3_exec(raw, sql, NULL, NULL, NULL) != SQLITE_OK)
        CHECK_FAIL_AT("[%s] crafting failed: %s", name, sqlite3_errmsg(raw));
    sqlite3_close(raw);
}

/* The whole file (up to 1 MiB) into buf; its length, or -1. */
static long file_slurp(const char *path, unsigned char *buf, size_t cap)
{
    FILE *fp = fopen(path, "rb");
    if (fp == NULL)
        return -1;
    size_t n = fread(buf, 1, cap, fp);
    fclose(fp);
    return (long)n;
}

static unsigned char before[1 << 20], after[1 << 20];

/*
 * Opens the crafted file both ways: the read commands' store_open_existing and scan's store_open must
 * refuse it with want (naming why: text), quickly, and leave every byte of it as it was (no migration,
 * no switch to WAL, no trigger run).
 */
static void refused_unchanged(const char *what, bg_error want, const char *text)
{
    long n = file_slurp(db_path, before, sizeof before);
    CHECK(n > 0);
    char err[1024];
    for (int way = 0; way < 2; way++) {
        store *s = NULL;
        time_t t0 = time(NULL);
        bg_error e = way == 0 ? store_open_existing(&s, db_path, err, sizeof err)
                              : store_open(&s, db_path, NULL, err, sizeof err);
        if (e != want || s != NULL || strstr(err, text) == NULL)
            CHECK_FAIL_AT("[%s, %s] got %s \"%s\", expected %s with \"%s\"", what, way == 0 ? "read" : "scan",
                          bg_error_name(e), err, bg_error_name(want), text);
        check_count++;
        CHECK(time(NULL) - t0 < 5);
        store_close(s);
        long m = file_slurp(db_path, after, sizeof after);
        if (m != n || memcmp(before, after, (size_t)n) != 0)
            CHECK_FAIL_AT("[%s, %s] the file changed", what, way == 0 ? "read" : "scan");
        check_count++;
    }
    test_db_remove(db_path);
}

/* The red team's databases: each would hang, exhaust memory, write or run planted SQL before. */
static void test_crafted_schemas(void)
{
    db_crafted("loop", "ALTER TABLE detections RENAME TO d0; CREATE VIEW detections AS WITH RECURSIVE c(x) AS"
                       " (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT d0.* FROM c JOIN d0 WHERE c.x < 0;");
    refused_unchanged("endless recursive view", BG_ERR_DB_SCHEMA, "not a bitsguard database");

    db_crafted("bigview", "ALTER TABLE detections RENAME TO d0; CREATE VIEW detections AS SELECT id, event_id,"
                          " record_id, time, printf('%.*c', 900000000, 'C') AS computer FROM d0;");
    refused_unchanged("900 MB strings view", BG_ERR_DB_SCHEMA, "not a bitsguard database");

    db_crafted("uvmin", "PRAGMA user_version = -2147483648;");
    refused_unchanged("negative user_version", BG_ERR_DB_SCHEMA, "schema version -2147483648");

    db_crafted("trigger", "CREATE TRIGGER t AFTER INSERT ON detections BEGIN DELETE FROM detections; END;");
    refused_unchanged("planted AFTER INSERT trigger", BG_ERR_DB_SCHEMA, "unexpected trigger 't'");

    db_v1("v1trig", "CREATE TRIGGER t AFTER UPDATE ON detections BEGIN UPDATE detections SET job_title = 'x'; END;");
    refused_unchanged("version 1 with a trigger the migration would fire", BG_ERR_DB_SCHEMA, "unexpected trigger 't'");

    db_crafted("index", "CREATE INDEX extra ON detections(url);");
    refused_unchanged("one index more", BG_ERR_DB_SCHEMA, "unexpected index 'extra'");

    db_crafted("noindex", "DROP INDEX detections_ip;");
    refused_unchanged("one index less", BG_ERR_DB_SCHEMA, "missing or altered index 'detections_ip'");

    char newer[64];
    snprintf(newer, sizeof newer, "PRAGMA user_version = %d;", STORE_SCHEMA_VERSION + 1);
    db_crafted("newer", newer);
    refused_unchanged("newer schema", BG_ERR_DB_SCHEMA, "newer than this program");

    /* Another program's database: its tables are never joined by ours, and it stays in journal mode. */
    test_db_path_make(db_path, sizeof db_path, "hostile", "app");
    sqlite3 *raw = NULL;
    CHECK_INT_EQ(sqlite3_open(db_path, &raw), SQLITE_OK);
    CHECK_INT_EQ(sqlite3_exec(raw, "CREATE TABLE app(x); INSERT INTO app VALUES(1);", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(raw);
    refused_unchanged("another program's database", BG_ERR_DB_SCHEMA, "unexpected table 'app'");
}

/* A version-1 file is migrated by scan (store_open) only; the read commands refuse it, unchanged. */
static void test_read_never_migrates(void)
{
    db_v1("v1", NULL);
    long n = file_slurp(db_path, before, sizeof before);
    store *s = NULL;
    char err[1024];
    CHECK_INT_EQ(store_open_existing(&s, db_path, err, sizeof err), BG_ERR_DB_SCHEMA);
    CHECK(strstr(err, "older than this program") != NULL);
    CHECK_INT_EQ(file_slurp(db_path, after, sizeof after), n);
    CHECK(memcmp(before, after, (size_t)n) == 0);
    CHECK_INT_EQ(store_open(&s, db_path, NULL, err, sizeof err), BG_ERR_OK);
    store_close(s);
    CHECK_INT_EQ(store_open_existing(&s, db_path, err, sizeof err), BG_ERR_OK);
    store_close(s);
    test_db_remove(db_path);
}

static int row_count(void *ctx, const detection *d)
{
    (void)d;
    (*(int *)ctx)++;
    return 0;
}

/* A migration that fails says why: SQLite's own message, read before the ROLLBACK that would replace
 * it with "not an error". Here the v2 step reads an address longer than the 16 MiB value limit. */
static void test_migration_error_message(void)
{
    db_v1("migfail", "UPDATE detections SET ip = printf('%.*c', 17000000, '1');");
    store *s = NULL;
    char err[1024];
    CHECK(store_open(&s, db_path, NULL, err, sizeof err) != BG_ERR_OK);
    CHECK(s == NULL);
    CHECK(strstr(err, "cannot migrate the schema: string or blob too big") != NULL);
    CHECK(strstr(err, "not an error") == NULL);
    test_db_remove(db_path);
}

/* Both connections run with SQLite's defensive settings and limits; reads end after bounded work. */
static void test_hardened_connection(void)
{
    /* 2,000 allow-listed rows: a query for the others walks them all and returns none. */
    db_crafted("settings",
               "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000)"
               " INSERT INTO detections(event_id, record_id, time, computer, job_id, url, allowed, last_seen)"
               " SELECT 59, x, 't', 'PC', 'j', 'u' || x, 1, 't' || x FROM c;");
    char err[512];
    for (int way = 0; way < 2; way++) {
        store *s = NULL;
        CHECK_INT_EQ(way == 0 ? store_open_existing(&s, db_path, err, sizeof err)
                              : store_open(&s, db_path, NULL, err, sizeof err),
                     BG_ERR_OK);
        if (s == NULL)
            continue;
        sqlite3 *db = store_db_handle(s);
        int v = -1;
        CHECK_INT_EQ(sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, -1, &v), SQLITE_OK);
        CHECK_INT_EQ(v, 1);
        CHECK_INT_EQ(sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, -1, &v), SQLITE_OK);
        CHECK_INT_EQ(v, 0);
        CHECK_INT_EQ(sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, -1, &v), SQLITE_OK);
        CHECK_INT_EQ(v, 0);
        CHECK_INT_EQ(sqlite3_limit(db, SQLITE_LIMIT_LENGTH, -1), 16 * 1024 * 1024);
        CHECK_INT_EQ(sqlite3_limit(db, SQLITE_LIMIT_ATTACHED, -1), 0);
        /* DEFENSIVE: the schema cannot be written through SQL. */
        CHECK(sqlite3_exec(db, "PRAGMA writable_schema = ON; UPDATE sqlite_schema SET sql = 'x'", NULL, NULL, NULL) !=
              SQLITE_OK);
        if (way == 0) {
            /* The work bound: the file's own allowance is ample; with none, the walk ends with TOO_LARGE. */
            store_filter f;
            store_filter_init(&f);
            int rows = 0;
            CHECK_INT_EQ(store_query_run(s, &f, row_count, &rows), BG_ERR_OK);
            CHECK_INT_EQ(rows, 1);
            s->work_max = 0;
            CHECK_INT_EQ(store_query_run(s, &f, row_count, &rows), BG_ERR_TOO_LARGE);
        }
        store_close(s);
    }
    test_db_remove(db_path);
}

#ifndef _WIN32
/* Paths that are not plain regular files: refused at once, nothing created, nothing followed. */
static void test_special_paths(void)
{
    char target[500], link[600], side[700];
    store *s = NULL;
    char err[1024];
    db_crafted("linked", NULL);
    snprintf(link, sizeof link, "%s.link", db_path);
    CHECK_INT_EQ(symlink(db_path, link), 0);
    CHECK_INT_EQ(store_open_existing(&s, link, err, sizeof err), BG_ERR_DB_OPEN);
    CHECK(strstr(err, "symbolic link") != NULL);
    CHECK_INT_EQ(store_open(&s, link, NULL, err, sizeof err), BG_ERR_DB_OPEN);
    CHECK(strstr(err, "symbolic link") != NULL);
    remove(link);

    /* A link planted as the -wal would redirect SQLite's writes. */
    snprintf(side, sizeof side, "%s-wal", db_path);
    CHECK_INT_EQ(symlink("/tmp/bg-hostile-wal-target", side), 0);
    CHECK_INT_EQ(store_open(&s, db_path, NULL, err, sizeof err), BG_ERR_DB_OPEN);
    CHECK(strstr(err, "-wal: refused") != NULL);
    remove(side);
    test_db_remove(db_path);

    /* Dangling link: SQLite would create its target, world-readable. */
    snprintf(target, sizeof target, "%s/bg_test_store_hostile_target_%d.db", test_tmp_dir(), rand());
    snprintf(link, sizeof link, "%s.dangling", target);
    CHECK_INT_EQ(symlink(target, link), 0);
    CHECK_INT_EQ(store_open(&s, link, NULL, err, sizeof err), BG_ERR_DB_OPEN);
    struct stat sb;
    CHECK(stat(target, &sb) != 0);
    remove(link);

    /* FIFO: query and status used to block in fopen for ever. */
    snprintf(link, sizeof link, "%s.fifo", target);
    CHECK_INT_EQ(mkfifo(link, 0600), 0);
    CHECK_INT_EQ(store_open_existing(&s, link, err, sizeof err), BG_ERR_DB_OPEN);
    CHECK(strstr(err, "not a regular file") != NULL);
    CHECK_INT_EQ(store_open(&s, link, NULL, err, sizeof err), BG_ERR_DB_OPEN);
    remove(link);

    /* Empty path. */
    CHECK_INT_EQ(store_open(&s, "", NULL, err, sizeof err), BG_ERR_INVALID_ARG);
    CHECK(strstr(err, "empty") != NULL);
    CHECK_INT_EQ(store_open_existing(&s, "", err, sizeof err), BG_ERR_INVALID_ARG);
}
#endif

int main(void)
{
    srand((unsigned)time(NULL) ^ (unsigned)(uintptr_t)&db_path);
    CHECK_RUN(test_crafted_schemas);
    CHECK_RUN(test_read_never_migrates);
    CHECK_RUN(test_migration_error_message);
    CHECK_RUN(test_hardened_connection);
#ifndef _WIN32
    CHECK_RUN(test_special_paths);
#endif
    return CHECK_DONE();
}
