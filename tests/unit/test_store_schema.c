/* Tests of the store schema: fresh creation, migrations from every older version, settings, time/IP helpers, paths. */
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
#else
#include <process.h>
#endif

#include "check.h"
#include "test_db.h"
#include "store.h"
#include "store_internal.h"

static char db_path[512];

static void db_path_make(const char *name)
{
    test_db_path_make(db_path, sizeof db_path, "schema", name);
}

static void db_remove(void)
{
    test_db_remove(db_path);
}

static int64_t scalar(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    int64_t v = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static void test_fresh_settings(void)
{
    db_path_make("fresh");
    store *s = NULL;
    char err[512];
    CHECK_INT_EQ(store_open(&s, db_path, NULL, err, sizeof err), BG_ERR_OK);
    if (!s)
        return;
    sqlite3 *db = store_db_handle(s);
    CHECK_INT_EQ(scalar(db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
    CHECK_INT_EQ(scalar(db, "PRAGMA foreign_keys"), 1);
    CHECK_INT_EQ(scalar(db, "PRAGMA synchronous"), 2); /* FULL */
    CHECK_INT_EQ(scalar(db, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN"
                            " ('detections', 'bookmarks', 'gaps', 'errors', 'meta')"),
                 5);
    CHECK_INT_EQ(scalar(db, "SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name LIKE 'detections_%'"), 6);
    CHECK_INT_EQ(scalar(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'detections_readable'"), 1);
    CHECK_INT_EQ(scalar(db, "SELECT count(*) FROM meta WHERE key = 'created_by' AND value LIKE 'bitsguard %'"), 1);
    CHECK_INT_EQ(scalar(db, "SELECT length(value) FROM meta WHERE key = 'created_at'"), 20);
    sqlite3_stmt *st = NULL;
    CHECK_INT_EQ(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    CHECK_INT_EQ(sqlite3_step(st), SQLITE_ROW);
    CHECK_STR_EQ((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    /* The CIDR filter uses the index (a range scan, not a full scan). */
    CHECK_INT_EQ(sqlite3_prepare_v2(db, "EXPLAIN QUERY PLAN SELECT * FROM detections WHERE ip_bytes BETWEEN ?1 AND ?2",
                                    -1, &st, NULL),
                 SQLITE_OK);
    CHECK_INT_EQ(sqlite3_step(st), SQLITE_ROW);
    CHECK(strstr((const char *)sqlite3_column_text(st, 3), "detections_ip") != NULL);
    sqlite3_finalize(st);
    store_close(s);
    /* Reopening is a no-op migration. */
    CHECK_INT_EQ(store_open(&s, db_path, NULL, err, sizeof err), BG_ERR_OK);
    store_close(s);
    db_remove();
}

/* Version 1 as the first program wrote it, typed independently of store.c so a change there is noticed. */
static const char v1_sql[] =
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
    "INSERT INTO detections(event_id, record_id, time, computer, job_id, url, ip, verdict, kind, events_seen,"
    " first_seen, last_seen, last_record_id) VALUES(59, 7, '2023-11-06T01:45:21.0240780Z', 'PC1',"
    " '0b2ee6b3-1d6e-4e3c-8b4b-2f7a4c1d9e10', 'http://198.51.100.23/x.exe', '198.51.100.23', 'public-ip',"
    " 'http', 16, '2023-11-06T01:45:21.0240780Z', '2023-11-06T01:45:21.0240780Z', 7);"
    "INSERT INTO detections(event_id, record_id, time, computer, job_id, url, ip, verdict, kind, events_seen,"
    " first_seen, last_seen, last_record_id) VALUES(59, 8, '2023-11-06T01:46:21.0240780Z', 'PC1',"
    " '1b2ee6b3-1d6e-4e3c-8b4b-2f7a4c1d9e10', 'http://[2001:db8::1]/x.exe', '2001:db8::1', 'public-ip',"
    " 'http', 16, '2023-11-06T01:46:21.0240780Z', '2023-11-06T01:46:21.0240780Z', 8);"
    "INSERT INTO detections(event_id, record_id, time, computer, job_id, url, ip, verdict, kind, events_seen,"
    " first_seen, last_seen, last_record_id) VALUES(59, 9, '2023-11-06T01:47:21.0240780Z', 'PC1',"
    " '2b2ee6b3-1d6e-4e3c-8b4b-2f7a4c1d9e10', 'http://[64:ff9b::45.33.32.156]/x.exe', '64:ff9b::2d21:209c',"
    " 'public-ip', 'http', 16, '2023-11-06T01:47:21.0240780Z', '2023-11-06T01:47:21.0240780Z', 9);"
    "INSERT INTO bookmarks VALUES('Microsoft-Windows-Bits-Client/Operational', '<BookmarkList/>',"
    " '2023-11-06T01:46:22Z');"
    "PRAGMA user_version = 1;";

static int count_rows(void *arg, const detection *d)
{
    (void)d;
    (*(int *)arg)++;
    return 0;
}

static void test_migrate_from_v1(void)
{
    db_path_make("v1");
    sqlite3 *raw = NULL;
    CHECK_INT_EQ(sqlite3_open(db_path, &raw), SQLITE_OK);
    CHECK_INT_EQ(sqlite3_exec(raw, v1_sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(raw);
    store *s = NULL;
    char err[512];
    CHECK_INT_EQ(store_open(&s, db_path, NULL, err, sizeof err), BG_ERR_OK);
    if (!s)
        return;
    sqlite3 *db = store_db_handle(s);
    CHECK_INT_EQ(scalar(db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
    CHECK_INT_EQ(scalar(db, "SELECT count(*) FROM detections WHERE length(ip_bytes) = 16"), 3);
    CHECK_INT_EQ(scalar(db, "SELECT count(*) FROM detections_readable WHERE events = '59'"), 3);
    /* Version 3 fills the IPv4 a NAT64 row carries; which reading found an old row stays unknown. */
    CHECK_INT_EQ(scalar(db, "SELECT count(*) FROM detections_readable WHERE embedded_ipv4 = '45.33.32.156'"), 1);
    CHECK_INT_EQ(scalar(db, "SELECT count(*) FROM detections WHERE length(embedded_ip_bytes) = 16"), 1);
    CHECK_INT_EQ(scalar(db, "SELECT count(*) FROM detections WHERE reading IS NULL"), 3);
    /* Version 4: every older row came from the events; the audit and self-test tables exist, empty. */
    CHECK_INT_EQ(scalar(db, "SELECT count(*) FROM detections WHERE source = 'events'"), 3);
    CHECK_INT_EQ(scalar(db, "SELECT count(*) FROM job_actions"), 0);
    CHECK_INT_EQ(scalar(db, "SELECT count(*) FROM selftests"), 0);
    /* Version 5: rows from before .evtx files were read came from records in use. */
    CHECK_INT_EQ(scalar(db, "SELECT count(*) FROM detections_readable WHERE recovered = 0"), 3);
    /* Version 6: the findings table, empty (older versions did not store findings). */
    CHECK_INT_EQ(scalar(db, "SELECT count(*) FROM findings"), 0);
    /* Version 8: nothing acknowledged yet; the fleet view reads the migrated rows. */
    CHECK_INT_EQ(scalar(db, "SELECT count(*) FROM acknowledgements"), 0);
    CHECK_INT_EQ(scalar(db, "SELECT count(*) FROM detections_v1 WHERE acknowledged = 0 AND events = '59'"), 3);
    char *bm = NULL;
    CHECK_INT_EQ(store_bookmark_get(s, "Microsoft-Windows-Bits-Client/Operational", &bm), BG_ERR_OK);
    CHECK_STR_EQ(bm, "<BookmarkList/>");
    free(bm);
    /* The migrated rows answer CIDR queries. */
    store_filter f;
    store_filter_init(&f);
    f.has_ip = 1;
    CHECK_INT_EQ(store_cidr_parse("198.51.100.0/24", f.ip_lo, f.ip_hi), BG_ERR_OK);
    int n = 0;
    CHECK_INT_EQ(store_query_run(s, &f, count_rows, &n), BG_ERR_OK);
    CHECK_INT_EQ(n, 1);
    CHECK_INT_EQ(store_cidr_parse("2001:db8::/32", f.ip_lo, f.ip_hi), BG_ERR_OK);
    n = 0;
    CHECK_INT_EQ(store_query_run(s, &f, count_rows, &n), BG_ERR_OK);
    CHECK_INT_EQ(n, 1);
    /* The IPv4 finds the NAT64 row that carries it. */
    CHECK_INT_EQ(store_cidr_parse("45.33.32.156", f.ip_lo, f.ip_hi), BG_ERR_OK);
    n = 0;
    CHECK_INT_EQ(store_query_run(s, &f, count_rows, &n), BG_ERR_OK);
    CHECK_INT_EQ(n, 1);
    store_close(s);
    db_remove();
}

static void test_migrate_from_v0_and_existing(void)
{
    /* Version 0: an empty file (e.g. created by "touch"). */
    db_path_make("v0");
    FILE *fp = fopen(db_path, "wb");
    CHECK(fp != NULL);
    if (fp)
        fclose(fp);
    store *s = NULL;
    char err[512];
    CHECK_INT_EQ(store_open(&s, db_path, NULL, err, sizeof err), BG_ERR_OK);
    if (s)
        CHECK_INT_EQ(scalar(store_db_handle(s), "PRAGMA user_version"), STORE_SCHEMA_VERSION);
    store_close(s);
    /* store_open_existing (query, status) never migrates: a v1 file is refused with what to do. */
    db_remove();
    sqlite3 *raw = NULL;
    CHECK_INT_EQ(sqlite3_open(db_path, &raw), SQLITE_OK);
    CHECK_INT_EQ(sqlite3_exec(raw, v1_sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(raw);
    CHECK_INT_EQ(store_open_existing(&s, db_path, err, sizeof err), BG_ERR_DB_SCHEMA);
    CHECK(strstr(err, "older than this program") != NULL);
    CHECK(strstr(err, "bitsguard scan --db") != NULL);
    CHECK_INT_EQ(sqlite3_open(db_path, &raw), SQLITE_OK);
    CHECK_INT_EQ(scalar(raw, "PRAGMA user_version"), 1);
    sqlite3_close(raw);
    db_remove();
}

static void test_newer_schema_refused(void)
{
    db_path_make("v99");
    sqlite3 *raw = NULL;
    CHECK_INT_EQ(sqlite3_open(db_path, &raw), SQLITE_OK);
    CHECK_INT_EQ(sqlite3_exec(raw, "CREATE TABLE t(x); PRAGMA user_version = 99;", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(raw);
    store *s = NULL;
    char err[512];
    CHECK_INT_EQ(store_open(&s, db_path, NULL, err, sizeof err), BG_ERR_DB_SCHEMA);
    CHECK(s == NULL);
    CHECK(strstr(err, db_path) != NULL);
    CHECK(strstr(err, "99") != NULL);
    /* Refused before anything changed: still in rollback-journal mode, not switched to WAL. */
    CHECK_INT_EQ(sqlite3_open(db_path, &raw), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    CHECK_INT_EQ(sqlite3_prepare_v2(raw, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    CHECK_INT_EQ(sqlite3_step(st), SQLITE_ROW);
    CHECK_STR_EQ((const char *)sqlite3_column_text(st, 0), "delete");
    sqlite3_finalize(st);
    sqlite3_close(raw);
    db_remove();
}

static void test_open_existing_missing(void)
{
    db_path_make("missing");
    store *s = NULL;
    char err[512];
    CHECK_INT_EQ(store_open_existing(&s, db_path, err, sizeof err), BG_ERR_DB_OPEN);
    CHECK(s == NULL);
    CHECK(strstr(err, db_path) != NULL);
    FILE *fp = fopen(db_path, "rb");
    CHECK(fp == NULL); /* not created */
    if (fp)
        fclose(fp);
}

static void test_time_helpers(void)
{
    char buf[40];
    store_time_format(0, buf, sizeof buf);
    CHECK_STR_EQ(buf, "1970-01-01T00:00:00Z");
    store_time_format(1699235121, buf, sizeof buf);
    CHECK_STR_EQ(buf, "2023-11-06T01:45:21Z");
    store_time_format(951782400, buf, sizeof buf); /* leap day of a century leap year */
    CHECK_STR_EQ(buf, "2000-02-29T00:00:00Z");
    int64_t t = 0;
    CHECK_INT_EQ(store_time_unix("2023-11-06T01:45:21.0240780Z", &t), 0);
    CHECK_INT_EQ(t, 1699235121);
    CHECK_INT_EQ(store_time_unix("2000-02-29", &t), 0);
    CHECK_INT_EQ(t, 951782400);
    static const char *const bad[] = {
        "",          "yesterday", "2023-02-29", "2023-13-01",          "2023-11-06T25:00", "2023-11-06T01:45:21+02:00",
        "2023-11-6", "24x",       "-5h",        "2023-11-06T01:45:21."};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_INT_EQ(store_time_bound_parse(bad[i], 0, 0, buf, sizeof buf), BG_ERR_INVALID_ARG);
    CHECK_INT_EQ(store_time_bound_parse("24h", 1699235121, 0, buf, sizeof buf), BG_ERR_OK);
    CHECK_STR_EQ(buf, "2023-11-05T01:45:21");
    CHECK_INT_EQ(store_time_bound_parse("7d", 1699235121, 0, buf, sizeof buf), BG_ERR_OK);
    CHECK_STR_EQ(buf, "2023-10-30T01:45:21");
    CHECK_INT_EQ(store_time_bound_parse("30m", 1699235121, 1, buf, sizeof buf), BG_ERR_OK);
    CHECK_STR_EQ(buf, "2023-11-06T01:15:21~");
    CHECK_INT_EQ(store_time_bound_parse("2023-11-06", 0, 1, buf, sizeof buf), BG_ERR_OK);
    CHECK_STR_EQ(buf, "2023-11-06~");
    CHECK(strcmp("2023-11-06T23:59:59.9999999Z", buf) < 0);
    CHECK_INT_EQ(store_time_bound_parse("2023-11-06T01:45:21.5Z", 0, 0, buf, sizeof buf), BG_ERR_OK);
    CHECK_STR_EQ(buf, "2023-11-06T01:45:21");
    CHECK(strcmp("2023-11-06T01:45:21.0240780Z", buf) > 0);
    /* Ages whose seconds overflow int64 (UBSan reported 922337203685477 * 604800), or that reach before
     * year 0, are refused; the oldest writable bound is accepted. */
    static const char *const overflow[] = {"922337203685477w", "9223372036854s", "106751991167d", "9999999d"};
    for (size_t i = 0; i < sizeof overflow / sizeof overflow[0]; i++)
        CHECK_INT_EQ(store_time_bound_parse(overflow[i], 1699235121, 0, buf, sizeof buf), BG_ERR_INVALID_ARG);
    CHECK_INT_EQ(store_time_bound_parse("738000d", 1699235121, 0, buf, sizeof buf), BG_ERR_OK);
    CHECK(strncmp(buf, "0003-", 5) == 0);
}

static void hex16(const uint8_t b[16], char out[33])
{
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
}

static void test_cidr_parse(void)
{
    uint8_t lo[16], hi[16];
    char a[33], b[33];
    CHECK_INT_EQ(store_cidr_parse("192.0.2.77/24", lo, hi), BG_ERR_OK);
    hex16(lo, a);
    hex16(hi, b);
    CHECK_STR_EQ(a, "00000000000000000000ffffc0000200");
    CHECK_STR_EQ(b, "00000000000000000000ffffc00002ff");
    CHECK_INT_EQ(store_cidr_parse("203.0.113.9", lo, hi), BG_ERR_OK);
    CHECK(memcmp(lo, hi, 16) == 0);
    CHECK_INT_EQ(store_cidr_parse("2001:db8::/32", lo, hi), BG_ERR_OK);
    hex16(lo, a);
    hex16(hi, b);
    CHECK_STR_EQ(a, "20010db8000000000000000000000000");
    CHECK_STR_EQ(b, "20010db8ffffffffffffffffffffffff");
    CHECK_INT_EQ(store_cidr_parse("::ffff:192.0.2.1", lo, hi), BG_ERR_OK);
    hex16(lo, a);
    CHECK_STR_EQ(a, "00000000000000000000ffffc0000201");
    CHECK_INT_EQ(store_cidr_parse("1:2:3:4:5:6:7:8/128", lo, hi), BG_ERR_OK);
    hex16(lo, a);
    CHECK_STR_EQ(a, "00010002000300040005000600070008");
    CHECK_INT_EQ(store_cidr_parse("0.0.0.0/0", lo, hi), BG_ERR_OK);
    hex16(hi, b);
    CHECK_STR_EQ(b, "00000000000000000000ffffffffffff");
    static const char *const bad[] = {"",          "1.2.3",          "1.2.3.4/33",   "01.2.3.4",
                                      "256.1.1.1", "1.2.3.4/",       "::1::2",       "1:2:3:4:5:6:7:8:9",
                                      ":1::",      "2001:db8::/129", "host.example", "1.2.3.4/2x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_INT_EQ(store_cidr_parse(bad[i], lo, hi), BG_ERR_INVALID_ARG);
}

static void test_path_default(void)
{
#ifndef _WIN32
    char base[600], buf[700], expect[700];
    snprintf(base, sizeof base, "%s/bg_test_xdg_%d", test_tmp_dir(), rand());
    setenv("XDG_DATA_HOME", base, 1);
    /* Finding the path creates nothing. */
    CHECK_INT_EQ(store_path_default_find(buf, sizeof buf), BG_ERR_OK);
    snprintf(expect, sizeof expect, "%s/bitsguard/bitsguard.db", base);
    CHECK_STR_EQ(buf, expect);
    struct stat none;
    CHECK(stat(base, &none) != 0);
    CHECK_INT_EQ(store_path_default(buf, sizeof buf), BG_ERR_OK);
    CHECK_STR_EQ(buf, expect);
    /* base itself did not exist: both folders were created, the last one private. */
    char folder[700];
    snprintf(folder, sizeof folder, "%s/bitsguard", base);
    struct stat sb;
    CHECK_INT_EQ(stat(folder, &sb), 0);
    CHECK_INT_EQ(sb.st_mode & 0777, 0700);
    CHECK_INT_EQ(store_path_default(buf, 10), BG_ERR_TOO_LARGE);
    rmdir(folder);
    rmdir(base);
    /* A relative XDG_DATA_HOME is ignored in favour of HOME. */
    setenv("XDG_DATA_HOME", "relative", 1);
    setenv("HOME", base, 1);
    CHECK_INT_EQ(store_path_default(buf, sizeof buf), BG_ERR_OK);
    snprintf(expect, sizeof expect, "%s/.local/share/bitsguard/bitsguard.db", base);
    CHECK_STR_EQ(buf, expect);
    snprintf(folder, sizeof folder, "%s/.local/share/bitsguard", base);
    CHECK_INT_EQ(stat(folder, &sb), 0);
    rmdir(folder);
    snprintf(folder, sizeof folder, "%s/.local/share", base);
    rmdir(folder);
    snprintf(folder, sizeof folder, "%s/.local", base);
    rmdir(folder);
    rmdir(base);
#else
    char buf[700];
    CHECK_INT_EQ(store_path_default(buf, sizeof buf), BG_ERR_OK);
    CHECK(strstr(buf, "\\bitsguard\\bitsguard.db") != NULL);
#endif
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

/* The SQL view detections_readable spells the events_seen bits out in CASE text of its own (the schema is
 * frozen SQL): every "events_seen & MASK THEN 'ID,'" in it must be an entry of DETECTION_EVENT_MAP, and
 * every entry of the map must be there. */
static void test_view_follows_event_map(void)
{
    db_path_make("view");
    store *s = NULL;
    char err[512];
    CHECK_INT_EQ(store_open(&s, db_path, NULL, err, sizeof err), BG_ERR_OK);
    if (!s)
        return;
    sqlite3_stmt *st = NULL;
    const char *sql = NULL;
    if (sqlite3_prepare_v2(store_db_handle(s), "SELECT sql FROM sqlite_schema WHERE name = 'detections_readable'", -1,
                           &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        sql = (const char *)sqlite3_column_text(st, 0);
    CHECK(sql != NULL);
    size_t in_view = 0, matched = 0;
    for (const char *p = sql ? strstr(sql, "events_seen & ") : NULL; p; p = strstr(p + 1, "events_seen & ")) {
        unsigned long mask = 0, id = 0;
        if (sscanf(p, "events_seen & %lu THEN '%lu,'", &mask, &id) != 2)
            continue;
        in_view++;
        char ctx[64];
        snprintf(ctx, sizeof ctx, "view: mask %lu is event %lu", mask, id);
        CHECK_STR_EQ_CTX(ctx, detection_seen_bit((unsigned)id) == mask ? "map" : "not in map", "map");
        matched += detection_seen_bit((unsigned)id) == mask;
    }
#define EVENT_COUNT(id, bit) +1
    CHECK_INT_EQ(in_view, 0 DETECTION_EVENT_MAP(EVENT_COUNT));
#undef EVENT_COUNT
    CHECK_INT_EQ(matched, in_view);
    sqlite3_finalize(st);
    store_close(s);
    db_remove();
}

/* The names the installer's data-folder code may re-secure and delete: the store's, and nothing else. */
static void test_file_is_ours(void)
{
    static const char *const ours[] = {
        STORE_DATABASE_NAME,
        "other.db",
        "OTHER.DB",
        "bitsguard.db-wal",
        "bitsguard.db-shm",
        "bitsguard.db-journal",
        "x.db.corrupt-20261130T065022Z",
        "x.db.corrupt-20261130T065022Z-3",
        "x.db.corrupt-20261130T065022Z-wal",
        "X.DB.CORRUPT-1",
    };
    static const char *const not_ours[] = {
        ".db",           "notes.txt",    "bitsguard.db.bak", "bitsguard.dbx", "db", "-wal",
        ".db.corrupt-1", "a.db-wal.txt", "desktop.ini",      "bitsguard",     "",
    };
    for (size_t i = 0; i < sizeof ours / sizeof ours[0]; i++)
        CHECK_STR_EQ_CTX(ours[i], store_file_is_ours(ours[i]) ? "ours" : "not", "ours");
    for (size_t i = 0; i < sizeof not_ours / sizeof not_ours[0]; i++)
        CHECK_STR_EQ_CTX(not_ours[i], store_file_is_ours(not_ours[i]) ? "ours" : "not", "not");
}

int main(void)
{
    seed_init();
    CHECK_RUN(test_fresh_settings);
    CHECK_RUN(test_migrate_from_v1);
    CHECK_RUN(test_migrate_from_v0_and_existing);
    CHECK_RUN(test_newer_schema_refused);
    CHECK_RUN(test_open_existing_missing);
    CHECK_RUN(test_time_helpers);
    CHECK_RUN(test_cidr_parse);
    CHECK_RUN(test_path_default);
    CHECK_RUN(test_file_is_ours);
    CHECK_RUN(test_view_follows_event_map);
    return CHECK_DONE();
}
