/* Fault tests of the store: long readers, a held write lock, corrupt files, a full disk, read-only files and folders.
 */
#ifndef _WIN32
#define _POSIX_C_SOURCE 200809L
#endif
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#ifndef _WIN32
#include <sys/wait.h>
#include <unistd.h>
#else
#include <process.h>
#endif

#include "check.h"
#include "test_db.h"
#include "store.h"
#include "store_internal.h"

#define CHANNEL "Microsoft-Windows-Bits-Client/Operational"

static char db_path[512];

static void db_path_make(const char *name)
{
    test_db_path_make(db_path, sizeof db_path, "faults", name);
}

static void db_remove(void)
{
    test_db_remove(db_path);
}

/* A batch of n detections numbered from first; title_len pads the title to make rows big. */
static void batch_make(detection *d, const detection **p, int first, int n, size_t title_len)
{
    for (int i = 0; i < n; i++) {
        int k = first + i;
        detection_init(&d[i]);
        d[i].event_id = 59;
        d[i].record_id = (uint64_t)k;
        snprintf(d[i].time, sizeof d[i].time, "2023-11-06T01:%02d:%02d.0000000Z", (k / 60) % 60, k % 60);
        d[i].computer = test_text_dup("PC1");
        snprintf(d[i].job_id, sizeof d[i].job_id, "%08x-0000-4000-8000-000000000000", (unsigned)k);
        d[i].url = test_text_dup("http://198.51.100.7/a.exe");
        snprintf(d[i].cls.ip, sizeof d[i].cls.ip, "198.51.100.7");
        d[i].cls.verdict = VERDICT_PUBLIC_IP;
        d[i].events_seen = SEEN_59;
        if (title_len) {
            d[i].job_title = malloc(title_len + 1);
            if (d[i].job_title) {
                memset(d[i].job_title, 'a' + k % 26, title_len);
                d[i].job_title[title_len] = '\0';
            }
        }
        p[i] = &d[i];
    }
}

static void batch_clear(detection *d, int n)
{
    for (int i = 0; i < n; i++)
        detection_clear(&d[i]);
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

static void bookmark_expect(store *s, const char *expected)
{
    char *bm = NULL;
    CHECK_INT_EQ(store_bookmark_get(s, CHANNEL, &bm), BG_ERR_OK);
    CHECK_STR_EQ(bm, expected);
    free(bm);
}

/* An admin's sqlite3 shell in a read transaction does not stop ingestion (WAL) and loses nothing. */
static void test_long_reader(void)
{
    db_path_make("reader");
    store *s = NULL;
    char err[512];
    CHECK_INT_EQ(store_open(&s, db_path, NULL, err, sizeof err), BG_ERR_OK);
    if (!s)
        return;
    sqlite3 *reader = NULL;
    CHECK_INT_EQ(sqlite3_open(db_path, &reader), SQLITE_OK);
    CHECK_INT_EQ(sqlite3_exec(reader, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
    CHECK_INT_EQ(scalar(reader, "SELECT count(*) FROM detections"), 0);
    detection d[64];
    const detection *p[64];
    for (int b = 0; b < 40; b++) {
        char bm[32];
        snprintf(bm, sizeof bm, "bm-%d", b);
        batch_make(d, p, b * 64, 64, 0);
        CHECK_INT_EQ(store_batch_commit(s, p, 64, CHANNEL, bm, NULL), BG_ERR_OK);
        batch_clear(d, 64);
    }
    /* The reader still sees its snapshot... */
    CHECK_INT_EQ(scalar(reader, "SELECT count(*) FROM detections"), 0);
    CHECK_INT_EQ(sqlite3_exec(reader, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    /* ...and everything is there once it ends. */
    CHECK_INT_EQ(scalar(reader, "SELECT count(*) FROM detections"), 40 * 64);
    sqlite3_close(reader);
    bookmark_expect(s, "bm-39");
    store_close(s);
    db_remove();
}

/* Another connection holds the write lock past the retry budget: DB_BUSY, nothing kept, bookmark stays. */
static void test_write_lock_not_released(void)
{
    db_path_make("lock");
    store *s = NULL;
    char err[512];
    store_options opt = {0, 0, 300};
    CHECK_INT_EQ(store_open(&s, db_path, &opt, err, sizeof err), BG_ERR_OK);
    if (!s)
        return;
    detection d[8];
    const detection *p[8];
    batch_make(d, p, 0, 8, 0);
    CHECK_INT_EQ(store_batch_commit(s, p, 4, CHANNEL, "bm-1", NULL), BG_ERR_OK);
    sqlite3 *holder = NULL;
    CHECK_INT_EQ(sqlite3_open(db_path, &holder), SQLITE_OK);
    CHECK_INT_EQ(sqlite3_exec(holder, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    int is_new[4] = {9, 9, 9, 9};
    time_t t0 = time(NULL);
    CHECK_INT_EQ(store_batch_commit(s, p + 4, 4, CHANNEL, "bm-2", is_new), BG_ERR_DB_BUSY);
    /* It retried for its budget (300 ms of backoff), not forever. */
    CHECK_INT_EQ(s->busy_slept_ms, 300);
    CHECK(time(NULL) - t0 < 5);
    CHECK(is_new[0] == 0 && is_new[3] == 0);
    CHECK_INT_EQ(sqlite3_exec(holder, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    bookmark_expect(s, "bm-1");
    CHECK_INT_EQ(scalar(store_db_handle(s), "SELECT count(*) FROM detections"), 4);
    /* Once released, the same batch commits. */
    CHECK_INT_EQ(store_batch_commit(s, p + 4, 4, CHANNEL, "bm-2", is_new), BG_ERR_OK);
    CHECK(is_new[0] == 1 && is_new[3] == 1);
    bookmark_expect(s, "bm-2");
    CHECK_INT_EQ(scalar(store_db_handle(s), "SELECT count(*) FROM detections"), 8);
    sqlite3_close(holder);
    batch_clear(d, 8);
    store_close(s);
    db_remove();
}

#ifndef _WIN32
/* Another process holds the write lock for 1.5 s (longer than opening takes, even under valgrind):
 * the backoff waits it out and the batch commits. */
static void test_write_lock_released_in_time(void)
{
    db_path_make("lock2");
    store *s = NULL;
    char err[512];
    CHECK_INT_EQ(store_open(&s, db_path, NULL, err, sizeof err), BG_ERR_OK);
    store_close(s);
    s = NULL;
    int fds[2];
    CHECK_INT_EQ(pipe(fds), 0);
    /* Fork while this process has no connection open: SQLite's locks must not be shared across fork. */
    pid_t pid = fork();
    if (pid == 0) {
        sqlite3 *holder = NULL;
        int ok = sqlite3_open(db_path, &holder) == SQLITE_OK &&
                 sqlite3_exec(holder, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK;
        char c = ok ? 'L' : 'E';
        if (write(fds[1], &c, 1) != 1)
            _exit(2);
        sqlite3_sleep(1500);
        sqlite3_exec(holder, "COMMIT", NULL, NULL, NULL);
        sqlite3_close(holder);
        _exit(ok ? 0 : 1);
    }
    CHECK(pid > 0);
    char c = 0;
    CHECK_INT_EQ(read(fds[0], &c, 1), 1);
    CHECK_INT_EQ(c, 'L');
    store_options opt = {0, 0, 5000};
    /* Opening reads only; it does not need the write lock. */
    CHECK_INT_EQ(store_open(&s, db_path, &opt, err, sizeof err), BG_ERR_OK);
    if (s) {
        detection d[4];
        const detection *p[4];
        batch_make(d, p, 0, 4, 0);
        CHECK_INT_EQ(store_batch_commit(s, p, 4, CHANNEL, "bm-1", NULL), BG_ERR_OK);
        CHECK(s->busy_slept_ms > 0); /* it did wait */
        CHECK(s->busy_slept_ms < 5000);
        bookmark_expect(s, "bm-1");
        batch_clear(d, 4);
        store_close(s);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(fds[0]);
    close(fds[1]);
    db_remove();
}
#endif

#ifndef _WIN32
/* The admin's shell as another process: its read transaction stays open across our 40 commits. */
static void test_long_reader_process(void)
{
    db_path_make("reader2");
    store *s = NULL;
    char err[512];
    CHECK_INT_EQ(store_open(&s, db_path, NULL, err, sizeof err), BG_ERR_OK);
    store_close(s);
    s = NULL;
    int up[2], down[2];
    CHECK_INT_EQ(pipe(up), 0);
    CHECK_INT_EQ(pipe(down), 0);
    pid_t pid = fork();
    if (pid == 0) {
        sqlite3 *reader = NULL;
        char c = 'R';
        int ok = sqlite3_open(db_path, &reader) == SQLITE_OK &&
                 sqlite3_exec(reader, "BEGIN", NULL, NULL, NULL) == SQLITE_OK &&
                 scalar(reader, "SELECT count(*) FROM detections") == 0;
        if (write(up[1], &c, 1) != 1 || read(down[0], &c, 1) != 1)
            _exit(2);
        /* Still the old snapshot after the writer's commits; all of them once it ends. */
        ok = ok && scalar(reader, "SELECT count(*) FROM detections") == 0;
        ok = ok && sqlite3_exec(reader, "COMMIT", NULL, NULL, NULL) == SQLITE_OK;
        ok = ok && scalar(reader, "SELECT count(*) FROM detections") == 40 * 16;
        sqlite3_close(reader);
        _exit(ok ? 0 : 1);
    }
    char c = 0;
    CHECK_INT_EQ(read(up[0], &c, 1), 1);
    store_options opt = {0, 0, 2000};
    CHECK_INT_EQ(store_open(&s, db_path, &opt, err, sizeof err), BG_ERR_OK);
    if (s) {
        detection d[16];
        const detection *p[16];
        for (int b = 0; b < 40; b++) {
            char bm[32];
            snprintf(bm, sizeof bm, "bm-%d", b);
            batch_make(d, p, b * 16, 16, 0);
            CHECK_INT_EQ(store_batch_commit(s, p, 16, CHANNEL, bm, NULL), BG_ERR_OK);
            batch_clear(d, 16);
        }
        /* Never waited for the reader: WAL readers do not block the writer. */
        CHECK_INT_EQ(s->busy_slept_ms, 0);
        bookmark_expect(s, "bm-39");
        store_close(s);
    }
    CHECK_INT_EQ(write(down[1], "x", 1), 1);
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(up[0]);
    close(up[1]);
    close(down[0]);
    close(down[1]);
    db_remove();
}
#endif

#ifndef _WIN32
/*
 * The switch to WAL while another process holds the reserved lock (two first uses of a new database
 * at once): the switch runs inside a read transaction, so SQLite answers SQLITE_BUSY at once, without
 * the busy handler, and store_open must wait itself rather than fail with "database is locked".
 */
static void test_wal_switch_waits_for_reader(void)
{
    db_path_make("walswitch");
    store *s = NULL;
    char err[512];
    CHECK_INT_EQ(store_open(&s, db_path, NULL, err, sizeof err), BG_ERR_OK);
    store_close(s);
    s = NULL;
    sqlite3 *raw = NULL;
    CHECK_INT_EQ(sqlite3_open(db_path, &raw), SQLITE_OK);
    CHECK_INT_EQ(sqlite3_exec(raw, "PRAGMA journal_mode = DELETE", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(raw);
    int up[2];
    CHECK_INT_EQ(pipe(up), 0);
    pid_t pid = fork();
    if (pid == 0) {
        sqlite3 *reader = NULL;
        /* Its COMMIT waits for the parent's reads (slow under valgrind) instead of failing. */
        int ok = sqlite3_open(db_path, &reader) == SQLITE_OK && sqlite3_busy_timeout(reader, 20000) == SQLITE_OK &&
                 sqlite3_exec(reader, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK &&
                 scalar(reader, "SELECT count(*) FROM detections") == 0;
        if (write(up[1], "R", 1) != 1)
            _exit(2);
        /* Holds the reserved lock a while (as the other first use does, starting its own switch),
         * then lets go. */
        struct timespec ts = {0, 300 * 1000 * 1000};
        nanosleep(&ts, NULL);
        ok = ok && sqlite3_exec(reader, "COMMIT", NULL, NULL, NULL) == SQLITE_OK;
        sqlite3_close(reader);
        _exit(ok ? 0 : 1);
    }
    char c = 0;
    CHECK_INT_EQ(read(up[0], &c, 1), 1);
    store_options opt = {0, 0, 5000};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK_INT_EQ(store_open(&s, db_path, &opt, err, sizeof err), BG_ERR_OK);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    /* It did wait for the other process (about 300 ms), rather than find no lock. */
    CHECK((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 >= 100);
    store_close(s);
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    close(up[0]);
    close(up[1]);
    CHECK_INT_EQ(sqlite3_open(db_path, &raw), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    CHECK_INT_EQ(sqlite3_prepare_v2(raw, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    CHECK_INT_EQ(sqlite3_step(st), SQLITE_ROW);
    CHECK_STR_EQ((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    sqlite3_close(raw);
    db_remove();
}
#endif

/* Writes bytes as the whole file. */
static int file_write(const char *path, const void *data, size_t n)
{
    FILE *fp = fopen(path, "wb");
    if (!fp)
        return -1;
    size_t w = fwrite(data, 1, n, fp);
    return fclose(fp) == 0 && w == n ? 0 : -1;
}

/* Reads at most cap bytes of a file; returns the count or -1. */
static long file_read(const char *path, void *buf, size_t cap)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return -1;
    size_t n = fread(buf, 1, cap, fp);
    fclose(fp);
    return (long)n;
}

/* Checks that store_open moved a bad file aside (content kept), started afresh and recorded it. */
static void corrupt_open_expect(const unsigned char *content, size_t n)
{
    store *s = NULL;
    char err[1024];
    CHECK_INT_EQ(store_open(&s, db_path, NULL, err, sizeof err), BG_ERR_OK);
    if (!s)
        return;
    CHECK(strstr(err, "moved aside") != NULL);
    const char *to = strstr(err, "moved aside to ");
    char aside[600] = "";
    if (to) {
        to += strlen("moved aside to ");
        size_t len = strcspn(to, ";");
        if (len < sizeof aside) {
            memcpy(aside, to, len);
            aside[len] = '\0';
        }
    }
    char prefix[600];
    snprintf(prefix, sizeof prefix, "%s.corrupt-", db_path);
    CHECK(strncmp(aside, prefix, strlen(prefix)) == 0);
    CHECK_INT_EQ(strlen(aside), strlen(prefix) + 16); /* YYYYMMDDTHHMMSSZ */
    static unsigned char back[1 << 20];
    CHECK_INT_EQ(file_read(aside, back, sizeof back), (long)n);
    CHECK(memcmp(back, content, n) == 0);
    sqlite3 *db = store_db_handle(s);
    CHECK_INT_EQ(scalar(db, "SELECT count(*) FROM errors WHERE code_name = 'DB_CORRUPT' AND detail LIKE"
                            " '%moved aside%'"),
                 1);
    CHECK_INT_EQ(scalar(db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
    detection d[2];
    const detection *p[2];
    batch_make(d, p, 0, 2, 0);
    CHECK_INT_EQ(store_batch_commit(s, p, 2, CHANNEL, "bm", NULL), BG_ERR_OK);
    batch_clear(d, 2);
    store_close(s);
    char side[700];
    remove(aside);
    snprintf(side, sizeof side, "%s-wal", aside);
    remove(side);
    snprintf(side, sizeof side, "%s-shm", aside);
    remove(side);
}

/* A file that is not SQLite at all is someone else's, not ours gone bad: refused with a message
 * naming it, left byte for byte as it was, and nothing moved aside or created next to it. */
static void not_a_database_expect(const unsigned char *content, size_t n)
{
    store *s = NULL;
    char err[1024];
    CHECK_INT_EQ(store_open(&s, db_path, NULL, err, sizeof err), BG_ERR_DB_CORRUPT);
    CHECK(s == NULL);
    CHECK(strstr(err, db_path) != NULL);
    CHECK(strstr(err, "not a database; refused") != NULL);
    static unsigned char back[1 << 16];
    CHECK_INT_EQ(file_read(db_path, back, sizeof back), (long)n);
    CHECK(memcmp(back, content, n) == 0);
    char side[700];
    const char *suffixes[] = {"-wal", "-shm", "-journal"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(side, sizeof side, "%s%s", db_path, suffixes[i]);
        CHECK(file_read(side, back, 1) < 0);
    }
}

static void test_not_a_database_refused(void)
{
    db_path_make("garbage");
    static unsigned char junk[8192];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (unsigned char)(rand() & 0xff);
    CHECK_INT_EQ(file_write(db_path, junk, sizeof junk), 0);
    not_a_database_expect(junk, sizeof junk);
    db_remove();
    /* Text that is not a database at all: notes.txt given to --db by mistake. */
    static const char text[] = "this is not a database, it is a note\n";
    CHECK_INT_EQ(file_write(db_path, text, sizeof text - 1), 0);
    not_a_database_expect((const unsigned char *)text, sizeof text - 1);
    db_remove();
}

static void test_corrupt_truncated(void)
{
    db_path_make("truncated");
    store *s = NULL;
    char err[512];
    CHECK_INT_EQ(store_open(&s, db_path, NULL, err, sizeof err), BG_ERR_OK);
    if (!s)
        return;
    detection d[64];
    const detection *p[64];
    for (int b = 0; b < 10; b++) {
        batch_make(d, p, b * 64, 64, 200);
        CHECK_INT_EQ(store_batch_commit(s, p, 64, CHANNEL, "bm", NULL), BG_ERR_OK);
        batch_clear(d, 64);
    }
    store_close(s); /* the last connection: checkpoints the WAL into the file */
    static unsigned char whole[1 << 20];
    long n = file_read(db_path, whole, sizeof whole);
    CHECK(n > 65536);
    if (n <= 65536)
        return;
    /* Cut it in the middle of the data pages, as a crashed copy or a full disk would. */
    CHECK_INT_EQ(file_write(db_path, whole, (size_t)n / 2), 0);
    corrupt_open_expect(whole, (size_t)n / 2);
    db_remove();
}

/* A UTF-8 path beyond ASCII (SQLite's convention) works for open, move-aside and the fresh file alike. */
static void test_corrupt_unicode_path(void)
{
    snprintf(db_path, sizeof db_path, "%s/bg_test_store_d\xc3\xa9j\xc3\xa0_\xe6\x97\xa5\xe6\x9c\xac_%d.db",
             test_tmp_dir(), rand());
    store *s = NULL;
    char err[1024];
    CHECK_INT_EQ(store_open(&s, db_path, NULL, err, sizeof err), BG_ERR_OK);
    if (!s)
        return;
    detection d[64];
    const detection *p[64];
    for (int b = 0; b < 10; b++) {
        batch_make(d, p, b * 64, 64, 200);
        CHECK_INT_EQ(store_batch_commit(s, p, 64, CHANNEL, "bm", NULL), BG_ERR_OK);
        batch_clear(d, 64);
    }
    store_close(s);
    /* Cut in half through the UTF-8 name: a damaged database of ours. */
    static unsigned char whole[1 << 20];
    FILE *fp = bg_os_file_open(db_path, "rb");
    CHECK(fp != NULL);
    if (!fp)
        return;
    size_t n = fread(whole, 1, sizeof whole, fp);
    fclose(fp);
    fp = bg_os_file_open(db_path, "wb");
    CHECK(fp != NULL);
    if (!fp)
        return;
    fwrite(whole, 1, n / 2, fp);
    fclose(fp);
    CHECK_INT_EQ(store_open(&s, db_path, NULL, err, sizeof err), BG_ERR_OK);
    CHECK(strstr(err, "moved aside") != NULL);
    store_close(s);
    CHECK_INT_EQ(store_file_exists(db_path), 1);
    const char *to = strstr(err, "moved aside to ");
    if (to) {
        char aside[700];
        snprintf(aside, sizeof aside, "%.*s", (int)strcspn(to + 15, ";"), to + 15);
        CHECK_INT_EQ(store_file_exists(aside), 1);
        CHECK_INT_EQ(bg_os_file_remove(aside), 0);
    }
    char side[700];
    snprintf(side, sizeof side, "%s-wal", db_path);
    bg_os_file_remove(side);
    snprintf(side, sizeof side, "%s-shm", db_path);
    bg_os_file_remove(side);
    CHECK_INT_EQ(bg_os_file_remove(db_path), 0);
    CHECK_INT_EQ(store_file_exists(db_path), 0);
}

/* The disk fills: the batch rolls back, the bookmark stays; with space back the same batch commits. */
static void test_disk_full(void)
{
    db_path_make("full");
    store *s = NULL;
    char err[512];
    CHECK_INT_EQ(store_open(&s, db_path, NULL, err, sizeof err), BG_ERR_OK);
    if (!s)
        return;
    sqlite3 *db = store_db_handle(s);
    detection d[64];
    const detection *p[64];
    batch_make(d, p, 0, 4, 0);
    CHECK_INT_EQ(store_batch_commit(s, p, 4, CHANNEL, "bm-1", NULL), BG_ERR_OK);
    batch_clear(d, 4);
    int64_t pages = scalar(db, "PRAGMA page_count");
    char pragma[64];
    snprintf(pragma, sizeof pragma, "PRAGMA max_page_count = %lld", (long long)pages + 2);
    CHECK_INT_EQ(sqlite3_exec(db, pragma, NULL, NULL, NULL), SQLITE_OK);
    batch_make(d, p, 100, 64, 4000);
    int is_new[64];
    CHECK_INT_EQ(store_batch_commit(s, p, 64, CHANNEL, "bm-2", is_new), BG_ERR_DB_FULL);
    CHECK_INT_EQ(is_new[0], 0);
    bookmark_expect(s, "bm-1");
    CHECK_INT_EQ(scalar(db, "SELECT count(*) FROM detections"), 4);
    /* The failure left no transaction open. */
    CHECK(sqlite3_get_autocommit(db));
    CHECK_INT_EQ(sqlite3_exec(db, "PRAGMA max_page_count = 1073741823", NULL, NULL, NULL), SQLITE_OK);
    CHECK_INT_EQ(store_batch_commit(s, p, 64, CHANNEL, "bm-2", is_new), BG_ERR_OK);
    CHECK_INT_EQ(is_new[0], 1);
    CHECK_INT_EQ(is_new[63], 1);
    bookmark_expect(s, "bm-2");
    CHECK_INT_EQ(scalar(db, "SELECT count(*) FROM detections"), 68);
    batch_clear(d, 64);
    store_close(s);
    db_remove();
}

/* A path inside a regular file (ENOTDIR): a clear error naming the path, also as root. */
static void test_folder_is_a_file(void)
{
    char file[600], path[700];
    snprintf(file, sizeof file, "%s/bg_test_store_notdir_%d", test_tmp_dir(), rand());
    CHECK_INT_EQ(file_write(file, "x", 1), 0);
    snprintf(path, sizeof path, "%s/bitsguard.db", file);
    store *s = NULL;
    char err[1024];
    bg_error e = store_open(&s, path, NULL, err, sizeof err);
    CHECK(e == BG_ERR_DB_OPEN || e == BG_ERR_DB_READONLY);
    CHECK(s == NULL);
    CHECK(strstr(err, path) != NULL);
    remove(file);
}

#ifndef _WIN32
static char ro_folder[600];

/* Runs as a user for whom permissions apply. */
static void readonly_checks(void)
{
    store *s = NULL;
    char err[1024];
    /* Read-only file. */
    CHECK_INT_EQ(store_open(&s, db_path, NULL, err, sizeof err), BG_ERR_DB_READONLY);
    CHECK(s == NULL);
    CHECK(strstr(err, db_path) != NULL);
    CHECK(strstr(err, "read-only") != NULL);
    /* An admin without write access can still query it. */
    CHECK_INT_EQ(store_open_existing(&s, db_path, err, sizeof err), BG_ERR_OK);
    if (s) {
        store_status st;
        CHECK_INT_EQ(store_status_get(s, 0, &st), BG_ERR_OK);
        CHECK_INT_EQ(st.detections_total, 2);
        store_close(s);
        s = NULL;
    }
    /* Read-only folder. */
    char path[700];
    snprintf(path, sizeof path, "%s/bitsguard.db", ro_folder);
    CHECK_INT_EQ(store_open(&s, path, NULL, err, sizeof err), BG_ERR_DB_READONLY);
    CHECK(s == NULL);
    CHECK(strstr(err, path) != NULL);
    CHECK(strstr(err, "read-only") != NULL);
}

/*
 * Read-only database file and folder. Root ignores permission bits, so as root the checks run in a
 * child that has dropped to the unprivileged "nobody" (65534), where the bits apply as in production.
 */
static void test_readonly(void)
{
    db_path_make("ro");
    store *s = NULL;
    char err[512];
    CHECK_INT_EQ(store_open(&s, db_path, NULL, err, sizeof err), BG_ERR_OK);
    if (!s)
        return;
    detection d[2];
    const detection *p[2];
    batch_make(d, p, 0, 2, 0);
    CHECK_INT_EQ(store_batch_commit(s, p, 2, CHANNEL, "bm", NULL), BG_ERR_OK);
    batch_clear(d, 2);
    store_close(s);
    CHECK_INT_EQ(chmod(db_path, 0444), 0);
    snprintf(ro_folder, sizeof ro_folder, "%s/bg_test_store_rofolder_%d", test_tmp_dir(), rand());
    CHECK_INT_EQ(mkdir(ro_folder, 0555), 0);
    if (geteuid() != 0) {
        readonly_checks();
    } else {
        pid_t pid = fork();
        if (pid == 0) {
            if (setgid(65534) != 0 || setuid(65534) != 0)
                _exit(77);
            readonly_checks();
            _exit(check_failures ? 1 : 0);
        }
        int status = 0;
        waitpid(pid, &status, 0);
        if (WIFEXITED(status) && WEXITSTATUS(status) == 77)
            fprintf(stderr, "note: cannot drop root privileges here; read-only checks not run\n");
        else
            CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    chmod(db_path, 0644);
    rmdir(ro_folder);
    db_remove();
}
#endif

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

int main(void)
{
    seed_init();
    CHECK_RUN(test_long_reader);
    CHECK_RUN(test_write_lock_not_released);
#ifndef _WIN32
    CHECK_RUN(test_write_lock_released_in_time);
    CHECK_RUN(test_long_reader_process);
#endif
#ifndef _WIN32
    CHECK_RUN(test_wal_switch_waits_for_reader);
#endif
    CHECK_RUN(test_not_a_database_refused);
    CHECK_RUN(test_corrupt_truncated);
    CHECK_RUN(test_corrupt_unicode_path);
    CHECK_RUN(test_disk_full);
    CHECK_RUN(test_folder_is_a_file);
#ifndef _WIN32
    CHECK_RUN(test_readonly);
#else
    fprintf(stderr, "note: read-only and cross-process lock tests are POSIX-only\n");
#endif
    return CHECK_DONE();
}
