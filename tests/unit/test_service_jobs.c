/* The BITS job inventory over a scripted fake client: flagging, output formats, storing once, cancel with its audit
 * row, self-test titles. */
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "jobs_cmd.h"
#include "store.h"
#include "test_db.h"

/* ---- a scripted BITS service ------------------------------------------------------------------ */

typedef struct fake_client {
    jobs_client base;
    int cancels;           /* Calls of cancel. */
    char cancelled[37];    /* The last job id cancelled. */
    int all_users_allowed; /* What an elevated caller would get. */
    int fail_list;
} fake_client;

static bg_error job_add(jobs_list *l, const char *id, const char *title, jobs_state state, const char *notify,
                        const char *remote, const char *remote2)
{
    jobs_job *j = jobs_list_add(l);
    if (!j)
        return BG_ERR_NOMEM;
    memcpy(j->id, id, 37);
    j->state = state;
    j->notify_known = 1;
    bg_error rc = jobs_text_set(&j->title, title);
    if (rc == BG_ERR_OK)
        rc = jobs_text_set(&j->owner, "HOST\\user");
    if (rc == BG_ERR_OK && notify)
        rc = jobs_text_set(&j->notify_program, notify);
    snprintf(j->created, sizeof j->created, "2026-12-01T10:00:00Z");
    if (rc == BG_ERR_OK && remote)
        rc = jobs_job_file_add(j, remote, "C:\\Temp\\a.exe");
    if (rc == BG_ERR_OK && remote2)
        rc = jobs_job_file_add(j, remote2, "C:\\Temp\\b.exe");
    return rc;
}

static bg_error fake_list(jobs_client *c, int all_users, jobs_list *out, int *all_done, char *why, size_t n)
{
    fake_client *f = (fake_client *)c;
    if (f->fail_list) {
        snprintf(why, n, "0x80070422 the BITS service is disabled");
        return BG_ERR_PLATFORM;
    }
    *all_done = all_users && f->all_users_allowed;
    bg_error rc = jobs_text_set(&out->computer, "HOST");
    /* A public IP in hex and an IP only in the query string; a digit-leading domain. */
    if (rc == BG_ERR_OK)
        rc = job_add(out, "11111111-1111-4111-8111-111111111111", "evil", JOBS_STATE_SUSPENDED, NULL,
                     "http://0x2d.0x21.0x20.0x9c/p.exe", "https://1drv.ms/x?ip=45.33.32.156");
    if (rc == BG_ERR_OK)
        rc = job_add(out, "22222222-2222-4222-8222-222222222222", "updater", JOBS_STATE_TRANSFERRING, NULL,
                     "https://dl.example.com/u.cab", NULL);
    if (rc == BG_ERR_OK)
        rc = job_add(out, "33333333-3333-4333-8333-333333333333", "persist", JOBS_STATE_ERROR,
                     "C:\\Windows\\System32\\cmd.exe", "https://dl.example.com/v.cab", NULL);
    if (rc == BG_ERR_OK)
        rc = job_add(out, "44444444-4444-4444-8444-444444444444", "gone", JOBS_STATE_CANCELLED, "cmd.exe",
                     "http://45.33.32.156/q.exe", NULL);
    if (rc == BG_ERR_OK)
        rc = job_add(out, "55555555-5555-4555-8555-555555555555", "lab", JOBS_STATE_QUEUED, NULL,
                     "http://198.51.100.7/lab.exe", "http://93.184.215.14/ok.exe");
    return rc;
}

static bg_error fake_cancel(jobs_client *c, const char *id, char *why, size_t n)
{
    (void)why;
    (void)n;
    fake_client *f = (fake_client *)c;
    f->cancels++;
    snprintf(f->cancelled, sizeof f->cancelled, "%s", id);
    return BG_ERR_OK;
}

static void fake_who(jobs_client *c, char *buf, size_t n)
{
    (void)c;
    snprintf(buf, n, "HOST\\admin");
}

static const jobs_client_ops fake_ops = {fake_list, fake_cancel, NULL, fake_who, NULL};

static void fake_init(fake_client *f)
{
    memset(f, 0, sizeof *f);
    f->base.ops = &fake_ops;
    f->all_users_allowed = 1;
}

/* Runs fn's output into a string (a temporary file read back). */
static char *capture_list(fake_client *f, jobs_cmd_options *o, jobs_outcome *res, size_t *flagged, size_t *stored)
{
    FILE *fp = tmpfile();
    if (!fp)
        return NULL;
    *res = jobs_cmd_list(&f->base, o, fp, NULL, flagged, stored);
    long len = ftell(fp);
    char *buf = malloc((size_t)len + 1);
    rewind(fp);
    size_t got = buf ? fread(buf, 1, (size_t)len, fp) : 0;
    if (buf)
        buf[got] = '\0';
    fclose(fp);
    return buf;
}

static allowlist *allow_make(void)
{
    allowlist *al = allowlist_new();
    char why[128];
    if (al && allowlist_entry_add(al, "93.184.215.0/24", why, sizeof why) != BG_ERR_OK) {
        allowlist_free(al);
        return NULL;
    }
    return al;
}

/* ---- tests ------------------------------------------------------------------------------------- */

static void test_flags(void)
{
    fake_client f;
    fake_init(&f);
    allowlist *al = allow_make();
    CHECK(al != NULL);
    jobs_cmd_options o = {.fmt = STORE_FORMAT_JSON, .allow = al, .all_users = 1};
    jobs_outcome res;
    size_t flagged = 0, stored = 0;
    char *out = capture_list(&f, &o, &res, &flagged, &stored);
    CHECK(out != NULL);
    CHECK_INT_EQ(res, JOBS_OUTCOME_FLAGGED);
    /* evil (direct IP in hex), persist (notify), lab (198.51.100.7 is documentation: private; the
     * other file allow-listed) is not flagged, gone is cancelled, updater is a domain. */
    CHECK_INT_EQ(flagged, 2);
    CHECK_INT_EQ(stored, 0);
    char *evil = out ? strstr(out, "\"job_id\":\"11111111") : NULL;
    CHECK(evil != NULL);
    CHECK(evil && strstr(evil, "\"flags\":[\"direct-ip\"]") != NULL);
    CHECK(out && strstr(out, "\"verdict\":\"public-ip\",\"ip\":\"45.33.32.156\",\"reading\":\"whatwg\"") != NULL);
    /* The IP in a query string is not the host: a domain. */
    CHECK(out &&
          strstr(out, "\"remote_name\":\"https://1drv.ms/x?ip=45.33.32.156\",\"local_name\":\"C:\\\\Temp\\\\b.exe\","
                      "\"verdict\":\"domain\"") != NULL);
    char *persist = out ? strstr(out, "\"job_id\":\"33333333") : NULL;
    CHECK(persist && strstr(persist, "\"flags\":[\"notify\"]") != NULL);
    char *gone = out ? strstr(out, "\"job_id\":\"44444444") : NULL;
    CHECK(gone && strncmp(strstr(gone, "\"flagged\":"), "\"flagged\":false", 15) == 0);
    char *lab = out ? strstr(out, "\"job_id\":\"55555555") : NULL;
    CHECK(lab && strstr(lab, "\"allowed\":true,\"flagged\":false") != NULL);
    CHECK(lab && strncmp(strstr(lab, "\"flagged\":"), "\"flagged\":false", 15) == 0);
    free(out);
    allowlist_free(al);
}

static void test_clean_exit(void)
{
    jobs_list l;
    jobs_list_init(&l);
    CHECK_INT_EQ(job_add(&l, "22222222-2222-4222-8222-222222222222", "updater", JOBS_STATE_QUEUED, NULL,
                         "https://dl.example.com/u.cab", NULL),
                 BG_ERR_OK);
    CHECK_INT_EQ(jobs_list_classify(&l, NULL), 0);
    CHECK_INT_EQ(l.jobs[0].flags, 0);
    jobs_list_clear(&l);
}

static void test_formats(void)
{
    fake_client f;
    fake_init(&f);
    jobs_cmd_options o = {.fmt = STORE_FORMAT_CSV, .all_users = 1};
    jobs_outcome res;
    char *csv = capture_list(&f, &o, &res, NULL, NULL);
    CHECK(csv != NULL);
    CHECK(csv && strncmp(csv, "job_id,title,owner,type,state,created,modified,notify_program,", 62) == 0);
    /* One row per file: evil has two. */
    int evil_rows = 0;
    for (const char *p = csv; p && (p = strstr(p, "11111111-1111")) != NULL; p++)
        evil_rows++;
    CHECK_INT_EQ(evil_rows, 2);
    CHECK(csv &&
          strstr(csv,
                 ",direct-ip,http://0x2d.0x21.0x20.0x9c/p.exe,C:\\Temp\\a.exe,public-ip,45.33.32.156,whatwg,0,1\r\n"));
    free(csv);
    o.fmt = STORE_FORMAT_TABLE;
    char *table = capture_list(&f, &o, &res, NULL, NULL);
    CHECK(table && strstr(table, "! 11111111-1111-4111-8111-111111111111 suspended") != NULL);
    CHECK(table && strstr(table, "  22222222-2222-4222-8222-222222222222 transferring") != NULL);
    CHECK(table && strstr(table, "notify: C:\\Windows\\System32\\cmd.exe") != NULL);
    CHECK(table && strstr(table, "flagged: notify") != NULL);
    /* Every line fits a 100-column console, as query's table does. */
    size_t longest = 0;
    for (const char *line = table; line && *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        longest = len > longest ? len : longest;
        line = end ? end + 1 : line + len;
    }
    CHECK(longest <= 99);
    free(table);
}

/* Hostile text from a job (escape sequences, quotes) never reaches the terminal or breaks JSON/CSV. */
static void test_hostile_text(void)
{
    jobs_list l;
    jobs_list_init(&l);
    CHECK_INT_EQ(job_add(&l, "66666666-6666-4666-8666-666666666666", "t\x1b[2Jx\"y", JOBS_STATE_QUEUED, NULL,
                         "=cmd|' /C calc'!A0", NULL),
                 BG_ERR_OK);
    jobs_list_classify(&l, NULL);
    FILE *fp = tmpfile();
    CHECK(fp != NULL);
    if (!fp)
        return;
    jobs_list_write(fp, STORE_FORMAT_TABLE, &l);
    jobs_list_write(fp, STORE_FORMAT_JSON, &l);
    long len = ftell(fp);
    rewind(fp);
    char buf[4096] = "";
    size_t got = fread(buf, 1, len < (long)sizeof buf - 1 ? (size_t)len : sizeof buf - 1, fp);
    buf[got] = '\0';
    fclose(fp);
    /* The table and JSON: no escape character; CSV is data for a spreadsheet: no formula. */
    CHECK(memchr(buf, 0x1b, got) == NULL);
    CHECK(strstr(buf, "\"title\":\"t\\u001b[2Jx\\\"y\"") != NULL);
    fp = tmpfile();
    CHECK(fp != NULL);
    if (!fp)
        return;
    jobs_list_write(fp, STORE_FORMAT_CSV, &l);
    len = ftell(fp);
    rewind(fp);
    got = fread(buf, 1, len < (long)sizeof buf - 1 ? (size_t)len : sizeof buf - 1, fp);
    buf[got] = '\0';
    fclose(fp);
    CHECK(strstr(buf, ",\"'=cmd|' /C calc'!A0\",") != NULL);
    jobs_list_clear(&l);
}

static int64_t count_rows(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int64_t n = -1;
    if (sqlite3_open(path, &db) == SQLITE_OK && sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

static void test_store_once(void)
{
    char path[512], errbuf[512];
    test_db_path_make(path, sizeof path, "jobs", "once");
    store *s = NULL;
    CHECK_INT_EQ(store_open(&s, path, NULL, errbuf, sizeof errbuf), BG_ERR_OK);
    fake_client f;
    fake_init(&f);
    jobs_cmd_options o = {.fmt = STORE_FORMAT_JSON, .all_users = 1, .db = s, .now_unix = 1796000000};
    jobs_outcome res;
    size_t flagged = 0, stored = 0;
    free(capture_list(&f, &o, &res, &flagged, &stored));
    /* Without an allowlist: evil's two files, persist's one, lab's two (93.184.215.14 is public). */
    CHECK_INT_EQ(flagged, 3);
    CHECK_INT_EQ(stored, 5);
    free(capture_list(&f, &o, &res, &flagged, &stored));
    CHECK_INT_EQ(stored, 0);
    store_close(s);
    CHECK_INT_EQ(count_rows(path, "SELECT count(*) FROM detections"), 5);
    CHECK_INT_EQ(count_rows(path, "SELECT count(*) FROM detections WHERE source = 'inventory'"), 5);
    CHECK_INT_EQ(count_rows(path,
                            "SELECT count(*) FROM detections WHERE job_id = '11111111-1111-4111-8111-111111111111'"
                            " AND ip = '45.33.32.156' AND reading = 'whatwg' AND computer = 'HOST'"),
                 1);
    CHECK_INT_EQ(count_rows(path, "SELECT count(*) FROM detections WHERE notify_program LIKE '%cmd.exe'"), 1);
    test_db_remove(path);
}

static void test_cancel(void)
{
    char path[512], errbuf[512];
    test_db_path_make(path, sizeof path, "jobs", "cancel");
    store *s = NULL;
    CHECK_INT_EQ(store_open(&s, path, NULL, errbuf, sizeof errbuf), BG_ERR_OK);
    fake_client f;
    fake_init(&f);
    jobs_cmd_options o = {.fmt = STORE_FORMAT_TABLE, .all_users = 1, .db = s, .now_unix = 1796000000};
    FILE *out = tmpfile();
    FILE *err = tmpfile();
    CHECK(out && err);
    if (!out || !err)
        return;
    /* Not a job: nothing cancelled. Without a database: nothing cancelled. */
    CHECK_INT_EQ(jobs_cmd_cancel(&f.base, &o, "{99999999-9999-4999-8999-999999999999}", out, err), JOBS_OUTCOME_ERROR);
    CHECK_INT_EQ(jobs_cmd_cancel(&f.base, &o, "not-a-guid", out, err), JOBS_OUTCOME_ERROR);
    jobs_cmd_options nodb = o;
    nodb.db = NULL;
    CHECK_INT_EQ(jobs_cmd_cancel(&f.base, &nodb, "{11111111-1111-4111-8111-111111111111}", out, err),
                 JOBS_OUTCOME_ERROR);
    CHECK_INT_EQ(f.cancels, 0);
    CHECK_INT_EQ(jobs_cmd_cancel(&f.base, &o, "{11111111-1111-4111-8111-111111111111}", out, err), JOBS_OUTCOME_CLEAN);
    CHECK_INT_EQ(f.cancels, 1);
    CHECK_STR_EQ(f.cancelled, "11111111-1111-4111-8111-111111111111");
    long len = ftell(out);
    rewind(out);
    char buf[8192] = "";
    size_t got = fread(buf, 1, len < (long)sizeof buf - 1 ? (size_t)len : sizeof buf - 1, out);
    buf[got] = '\0';
    CHECK(strstr(buf, "cancelling:\n") != NULL);
    CHECK(strstr(buf, "http://0x2d.0x21.0x20.0x9c/p.exe") != NULL);
    CHECK(strstr(buf, "cancelled 11111111-1111-4111-8111-111111111111 (recorded as cancelled by HOST\\admin)") != NULL);
    fclose(out);
    fclose(err);
    store_close(s);
    CHECK_INT_EQ(
        count_rows(path,
                   "SELECT count(*) FROM job_actions WHERE action = 'cancel' AND job_id ="
                   " '11111111-1111-4111-8111-111111111111' AND who = 'HOST\\admin' AND computer = 'HOST'"
                   " AND time = '2026-11-30T00:53:20Z'"
                   " AND what LIKE '{\"title\":\"evil\",%\"file1_remote_name\":\"http://0x2d.0x21.0x20.0x9c/p.exe\"%'"),
        1);
    test_db_remove(path);
}

static void test_list_failure(void)
{
    fake_client f;
    fake_init(&f);
    f.fail_list = 1;
    jobs_cmd_options o = {.fmt = STORE_FORMAT_TABLE};
    FILE *err = tmpfile();
    CHECK_INT_EQ(jobs_cmd_list(&f.base, &o, NULL, err, NULL, NULL), JOBS_OUTCOME_ERROR);
    if (err)
        fclose(err);
}

static void test_selftest_nonce(void)
{
    char nonce[33];
    CHECK_INT_EQ(jobs_selftest_nonce("bitsguard selftest 0123456789ABCDEF0123456789abcdef", nonce), 0);
    CHECK_STR_EQ(nonce, "0123456789abcdef0123456789abcdef");
    CHECK_INT_EQ(jobs_selftest_nonce("bitsguard selftest 0123456789abcdef0123456789abcde", nonce), -1);
    CHECK_INT_EQ(jobs_selftest_nonce("bitsguard selftest 0123456789abcdef0123456789abcdefa", nonce), -1);
    CHECK_INT_EQ(jobs_selftest_nonce("bitsguard selftest 0123456789abcdef0123456789abcdeg", nonce), -1);
    CHECK_INT_EQ(jobs_selftest_nonce("evil", nonce), -1);
    CHECK_INT_EQ(jobs_selftest_nonce(NULL, nonce), -1);
    /* The self-test's remote name is what the issue asks: public-ip for the real classifier. */
    classify_result r;
    const char *url = JOBS_SELFTEST_URL "0123456789abcdef0123456789abcdef.bin";
    classify_name(url, strlen(url), &r);
    CHECK_STR_EQ(classify_verdict_name(r.verdict), "public-ip");
}

/* The service side of a self-test: only a registered, not yet alerted nonce is claimed, once. */
static void test_selftest_store(void)
{
    char path[512], errbuf[512];
    test_db_path_make(path, sizeof path, "jobs", "selftest");
    store *s = NULL;
    CHECK_INT_EQ(store_open(&s, path, NULL, errbuf, sizeof errbuf), BG_ERR_OK);
    const char *nonce = "0123456789abcdef0123456789abcdef";
    int pending = -1;
    CHECK_INT_EQ(store_selftest_claim(s, nonce, "j", 1796000000, &pending), BG_ERR_OK);
    CHECK_INT_EQ(pending, 0);
    CHECK_INT_EQ(store_selftest_begin(s, nonce, 1796000000), BG_ERR_OK);
    CHECK_INT_EQ(store_selftest_job_set(s, nonce, "11111111-1111-4111-8111-111111111111"), BG_ERR_OK);
    CHECK_INT_EQ(store_selftest_claim(s, nonce, "11111111-1111-4111-8111-111111111111", 1796000001, &pending),
                 BG_ERR_OK);
    CHECK_INT_EQ(pending, 1);
    CHECK_INT_EQ(store_selftest_alerted(s, nonce, 1796000002), BG_ERR_OK);
    CHECK_INT_EQ(store_selftest_claim(s, nonce, "11111111-1111-4111-8111-111111111111", 1796000003, &pending),
                 BG_ERR_OK);
    CHECK_INT_EQ(pending, 0);
    store_selftest st;
    CHECK_INT_EQ(store_selftest_get(s, nonce, &st), BG_ERR_OK);
    CHECK_INT_EQ(st.found, 1);
    CHECK_STR_EQ(st.stored_at, "2026-11-30T00:53:21Z");
    CHECK_STR_EQ(st.alerted_at, "2026-11-30T00:53:22Z");
    CHECK_STR_EQ(st.job_id, "11111111-1111-4111-8111-111111111111");
    store_close(s);
    test_db_remove(path);
}

int main(void)
{
    /* Database names from rand(): seeded per process, so this test and its valgrind run (in parallel under
     * ctest -j) never share a file (an unseeded rand() gave both the same name). */
    int here = 0;
    srand((unsigned)time(NULL) ^ (unsigned)(uintptr_t)&here);
    CHECK_RUN(test_flags);
    CHECK_RUN(test_clean_exit);
    CHECK_RUN(test_formats);
    CHECK_RUN(test_hostile_text);
    CHECK_RUN(test_store_once);
    CHECK_RUN(test_cancel);
    CHECK_RUN(test_list_failure);
    CHECK_RUN(test_selftest_nonce);
    CHECK_RUN(test_selftest_store);
    return CHECK_DONE();
}
