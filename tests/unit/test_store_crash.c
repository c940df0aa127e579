/* Crash consistency: a child ingesting batches is SIGKILLed at random moments; every committed batch must be there
 * once. */
#ifndef _WIN32
#define _POSIX_C_SOURCE 200809L
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifndef _WIN32
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#else
#include <process.h>
#endif

#include "check.h"
#include "store.h"
#include "store_internal.h"

#define CHANNEL   "Microsoft-Windows-Bits-Client/Operational"
#define PER_BATCH 4 /* distinct detections per batch, plus the one shared by every batch */
#define TRIALS    60
/* A guard against a hang, not a pace: the trial count must not depend on how loaded the machine is
 * (under valgrind a trial costs about 0.6 s idle and several seconds on a busy machine), so the cap
 * sits far above any honest run and below ctest's 300 s (unit) and 900 s (valgrind) timeouts. */
#define MAX_SECS 240

static char url_text[] = "http://198.51.100.9/tool.exe";
static char computer_text[] = "PC-CRASH";

/* Batch n, derived from n alone so the parent knows what every committed batch held. */
static void batch_make(detection *d, const detection **p, int n)
{
    for (int i = 0; i <= PER_BATCH; i++) {
        detection_init(&d[i]);
        d[i].event_id = 59;
        d[i].record_id = (uint64_t)n;
        d[i].last_record_id = (uint64_t)n;
        snprintf(d[i].time, sizeof d[i].time, "2023-11-06T%02d:%02d:%02d.0000000Z", n / 3600 % 24, n / 60 % 60, n % 60);
        memcpy(d[i].last_seen, d[i].time, sizeof d[i].time);
        memcpy(d[i].first_seen, d[i].time, sizeof d[i].time);
        d[i].computer = computer_text;
        d[i].url = url_text;
        snprintf(d[i].cls.ip, sizeof d[i].cls.ip, "198.51.100.9");
        if (i < PER_BATCH) {
            snprintf(d[i].job_id, sizeof d[i].job_id, "%08x-%04x-4000-8000-000000000000", (unsigned)n, (unsigned)i);
            d[i].events_seen = SEEN_59;
        } else {
            /* The shared job: each batch adds one event bit and moves last_seen. */
            snprintf(d[i].job_id, sizeof d[i].job_id, "ffffffff-ffff-4fff-8fff-ffffffffffff");
            d[i].events_seen = 1u << (n % 8);
        }
        p[i] = &d[i];
    }
}

static int bookmark_number(store *s)
{
    char *bm = NULL;
    int n = 0;
    if (store_bookmark_get(s, CHANNEL, &bm) != BG_ERR_OK)
        return -1;
    if (bm && sscanf(bm, "bm-%d", &n) != 1)
        n = -1;
    free(bm);
    return n;
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

static void verify(const char *path, int reported, int *committed)
{
    store *s = NULL;
    char err[512];
    CHECK_INT_EQ(store_open(&s, path, NULL, err, sizeof err), BG_ERR_OK);
    if (!s)
        return;
    /* The child may have committed one batch more than it managed to report before the kill. */
    int k = bookmark_number(s);
    CHECK(k == reported || k == reported + 1);
    sqlite3 *db = store_db_handle(s);
    CHECK_INT_EQ(scalar(db, "SELECT count(*) FROM detections"), (int64_t)PER_BATCH * k + (k > 0));
    CHECK_INT_EQ(scalar(db, "SELECT count(DISTINCT substr(job_id, 1, 8)) FROM detections"
                            " WHERE job_id NOT LIKE 'ffffffff%'"),
                 k);
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT count(*) FROM detections WHERE job_id NOT LIKE 'ffffffff%%' AND record_id BETWEEN 1 AND %d", k);
    CHECK_INT_EQ(scalar(db, sql), (int64_t)PER_BATCH * k);
    if (k > 0) {
        uint32_t bits = 0;
        for (int n = 1; n <= k && n <= 8; n++)
            bits |= 1u << (n % 8);
        CHECK_INT_EQ(scalar(db, "SELECT events_seen FROM detections WHERE job_id LIKE 'ffffffff%'"), bits);
        CHECK_INT_EQ(scalar(db, "SELECT last_record_id FROM detections WHERE job_id LIKE 'ffffffff%'"), k);
    }
    *committed = k;
    store_close(s);
}

#ifndef _WIN32
/* The child: resumes after the stored bookmark (replaying the last batch first) and reports each commit. */
static int child_run(const char *path, int fd)
{
    store *s = NULL;
    char err[512];
    if (store_open(&s, path, NULL, err, sizeof err) != BG_ERR_OK) {
        fprintf(stderr, "child: %s\n", err);
        return 10;
    }
    int k = bookmark_number(s);
    if (k < 0)
        return 11;
    /* Tell the parent the database is open, so some kills land among the commits even when
     * start-up is slow (sanitizers, a loaded machine). */
    if (write(fd, "R\n", 2) != 2)
        return 14;
    for (int n = k > 0 ? k : 1;; n++) {
        detection d[PER_BATCH + 1];
        const detection *p[PER_BATCH + 1];
        int is_new[PER_BATCH + 1];
        char bm[32];
        batch_make(d, p, n);
        snprintf(bm, sizeof bm, "bm-%d", n);
        if (store_batch_commit(s, p, PER_BATCH + 1, CHANNEL, bm, is_new) != BG_ERR_OK)
            return 12;
        /* A replay of the committed batch must not look new (it would alert twice). */
        for (int i = 0; i <= PER_BATCH; i++)
            if (is_new[i] != (n != k && (i < PER_BATCH || n == 1)))
                return 13;
        char line[32];
        int len = snprintf(line, sizeof line, "%d\n", n);
        if (write(fd, line, (size_t)len) != len)
            return 14;
    }
}

/* Reads what the child reported; returns the highest batch it said was committed, or prev. */
static int reports_read(int fd, int prev)
{
    char buf[65536];
    size_t used = 0;
    ssize_t r;
    while (used < sizeof buf - 1 && (r = read(fd, buf + used, sizeof buf - 1 - used)) > 0)
        used += (size_t)r;
    buf[used] = '\0';
    int last = prev;
    char *p = buf;
    while (*p) {
        char *nl = strchr(p, '\n');
        if (!nl)
            break; /* a partial line: the child died while writing it */
        int n = (int)strtol(p, NULL, 10);
        if (n > last)
            last = n;
        p = nl + 1;
    }
    return last;
}

static void test_sigkill_trials(const char *self)
{
    char path[512];
    const char *tmp = getenv("TMPDIR");
    snprintf(path, sizeof path, "%s/bg_test_store_crash_%d.db", tmp ? tmp : "/tmp", rand());
    remove(path);
    time_t start = time(NULL);
    int committed = 0, trials = 0, progressed = 0;
    /* At least TRIALS kills; more while too few batches got committed to make the kills meaningful. */
    for (; (trials < TRIALS || committed <= 10) && time(NULL) - start < MAX_SECS; trials++) {
        int fds[2];
        if (pipe(fds) != 0) {
            CHECK(0);
            break;
        }
        pid_t pid = fork();
        if (pid == 0) {
            char fd_text[16];
            close(fds[0]);
            snprintf(fd_text, sizeof fd_text, "%d", fds[1]);
            execl(self, self, "child", path, fd_text, (char *)NULL);
            _exit(127);
        }
        close(fds[1]);
        /* A random moment: every other trial anywhere from start-up on (exec, open, migration,
         * commits), the others within the commits, counted from the child's "open" message. */
        if (trials % 2) {
            char ready[2];
            size_t got = 0;
            ssize_t r;
            while (got < 2 && (r = read(fds[0], ready + got, 2 - got)) > 0)
                got += (size_t)r;
        }
        sqlite3_sleep(rand() % 60);
        kill(pid, SIGKILL);
        int status = 0;
        waitpid(pid, &status, 0);
        /* A child that exited by itself hit an error (codes in child_run). */
        CHECK(WIFSIGNALED(status));
        if (WIFEXITED(status))
            fprintf(stderr, "child exited with %d\n", WEXITSTATUS(status));
        int reported = reports_read(fds[0], committed);
        close(fds[0]);
        int before = committed;
        verify(path, reported, &committed);
        progressed += committed > before;
    }
    fprintf(stderr, "%d trials, %d batches committed, %d trials made progress\n", trials, committed, progressed);
    CHECK(trials >= 50);
    CHECK(committed > 10); /* the kills did land while batches were being written */
    char side[600];
    remove(path);
    snprintf(side, sizeof side, "%s-wal", path);
    remove(side);
    snprintf(side, sizeof side, "%s-shm", path);
    remove(side);
}
#endif

#ifndef _WIN32
static const char *self_path;

static void test_crash(void)
{
    test_sigkill_trials(self_path);
}
#endif

/* Portable part: batches committed, the store closed and reopened (a clean restart), the last batch
 * replayed as the service does: everything once, bookmark at the last batch. */
static void test_reopen_replay(void)
{
    char path[512];
    const char *tmp = getenv("TMPDIR");
#ifdef _WIN32
    if (!tmp)
        tmp = getenv("TEMP");
#endif
    snprintf(path, sizeof path, "%s/bg_test_store_reopen_%d.db", tmp ? tmp : "/tmp", rand());
    remove(path);
    int committed = 0;
    for (int round = 0; round < 3; round++) {
        store *s = NULL;
        char err[512];
        CHECK_INT_EQ(store_open(&s, path, NULL, err, sizeof err), BG_ERR_OK);
        if (!s)
            return;
        int k = bookmark_number(s);
        CHECK_INT_EQ(k, committed);
        for (int n = k > 0 ? k : 1; n <= k + 10; n++) {
            detection d[PER_BATCH + 1];
            const detection *p[PER_BATCH + 1];
            char bm[32];
            batch_make(d, p, n);
            snprintf(bm, sizeof bm, "bm-%d", n);
            CHECK_INT_EQ(store_batch_commit(s, p, PER_BATCH + 1, CHANNEL, bm, NULL), BG_ERR_OK);
        }
        store_close(s);
        committed = k + 10;
        verify(path, committed, &committed);
    }
    CHECK_INT_EQ(committed, 30);
    char side[600];
    remove(path);
    snprintf(side, sizeof side, "%s-wal", path);
    remove(side);
    snprintf(side, sizeof side, "%s-shm", path);
    remove(side);
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

int main(int argc, char **argv)
{
#ifndef _WIN32
    if (argc == 4 && strcmp(argv[1], "child") == 0)
        return child_run(argv[2], (int)strtol(argv[3], NULL, 10));
#endif
    seed_init();
    CHECK_RUN(test_reopen_replay);
#ifndef _WIN32
    self_path = argv[0];
    CHECK_RUN(test_crash);
#else
    (void)argc;
    (void)argv;
    fprintf(stderr, "note: the SIGKILL trials need fork and signals: POSIX only\n");
#endif
    return CHECK_DONE();
}
