/* Tests of stored findings: one row per natural identity, new-row flags for alerts, merges, queries, status. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef _WIN32
#include <process.h>
#else
#include <unistd.h>
#endif

#include "check.h"
#include "store.h"
#include "store_internal.h"
#include "test_db.h"

static char db_path[512];

static store *db_open(const char *name)
{
    test_db_path_make(db_path, sizeof db_path, "findings", name);
    store *s = NULL;
    char err[512];
    bg_error e = store_open(&s, db_path, NULL, err, sizeof err);
    CHECK_INT_EQ(e, BG_ERR_OK);
    if (e != BG_ERR_OK)
        fprintf(stderr, "open: %s\n", err);
    return s;
}

static int64_t scalar(store *s, const char *sql)
{
    sqlite3_stmt *st = NULL;
    int64_t v = -1;
    if (sqlite3_prepare_v2(store_db_handle(s), sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* The notify command of job n (event 6 at record rid) on PC1. */
static void notify_make(finding *f, int n, uint64_t rid)
{
    finding_init(f);
    f->kind = FINDING_NOTIFY_COMMAND;
    f->event_id = 6;
    f->record_id = rid;
    f->last_record_id = rid;
    snprintf(f->time, sizeof f->time, "2024-06-01T08:%02d:00.0000000Z", (int)(rid % 60));
    memcpy(f->first_seen, f->time, sizeof f->time);
    memcpy(f->last_seen, f->time, sizeof f->time);
    f->computer = test_text_dup("PC1.corp.example");
    snprintf(f->job_id, sizeof f->job_id, "%08x-1d6e-4e3c-8b4b-2f7a4c1d9e10", (unsigned)n);
    f->job_title = test_text_dup("WinSvcUpd");
    f->program = test_text_dup("C:\\ProgramData\\u.exe");
    f->parameters = test_text_dup("/install /q");
}

/* Credentials of job n sent to url at record rid (203 accepted, 204 rejected). */
static void creds_make(finding *f, int n, uint64_t rid, const char *url, const char *ip, int accepted)
{
    finding_init(f);
    f->kind = FINDING_CREDENTIALS_DIRECT_IP;
    f->event_id = accepted ? 203 : 204;
    f->record_id = rid;
    f->last_record_id = rid;
    snprintf(f->time, sizeof f->time, "2024-06-01T09:%02d:00.0000000Z", (int)(rid % 60));
    f->computer = test_text_dup("PC1.corp.example");
    snprintf(f->job_id, sizeof f->job_id, "%08x-1d6e-4e3c-8b4b-2f7a4c1d9e10", (unsigned)n);
    f->server = test_text_dup(ip);
    f->url = test_text_dup(url);
    f->scheme = test_text_dup("NTLM");
    f->user = test_text_dup("CORP\\alice");
    f->accepted = accepted;
    f->cls.verdict = VERDICT_PUBLIC_IP;
    f->cls.kind = KIND_HTTP;
    f->cls.reading = READING_WHATWG;
    snprintf(f->cls.ip, sizeof f->cls.ip, "%s", ip);
}

static bg_error write_findings(store *s, finding *const *fs, size_t n, int *is_new)
{
    store_batch b = {.findings = (const finding *const *)fs, .finding_count = n, .finding_is_new = is_new};
    return store_batch_write(s, &b);
}

/* A new finding's row is new; the same finding again (a replay) and a later state of it are not, and
 * neither adds a row. */
static void test_new_then_replay(void)
{
    store *s = db_open("replay");
    if (!s)
        return;
    finding a, b;
    notify_make(&a, 1, 10);
    creds_make(&b, 1, 11, "http://45.33.32.156:8080/upload", "45.33.32.156", 1);
    finding *both[] = {&a, &b};
    int is_new[2] = {0, 0};
    CHECK_INT_EQ(write_findings(s, both, 2, is_new), BG_ERR_OK);
    CHECK_INT_EQ(is_new[0], 1);
    CHECK_INT_EQ(is_new[1], 1);
    CHECK_INT_EQ(write_findings(s, both, 2, is_new), BG_ERR_OK);
    CHECK_INT_EQ(is_new[0], 0);
    CHECK_INT_EQ(is_new[1], 0);
    CHECK_INT_EQ(scalar(s, "SELECT count(*) FROM findings"), 2);
    /* The same job's credentials to another url are another finding. */
    finding c;
    creds_make(&c, 1, 12, "http://45.33.32.157/", "45.33.32.157", 0);
    finding *third[] = {&c};
    CHECK_INT_EQ(write_findings(s, third, 1, is_new), BG_ERR_OK);
    CHECK_INT_EQ(is_new[0], 1);
    CHECK_INT_EQ(scalar(s, "SELECT count(*) FROM findings"), 3);
    CHECK_INT_EQ(scalar(s, "SELECT count(*) FROM findings WHERE credentials = 'rejected' AND ip = '45.33.32.157'"
                           " AND length(ip_bytes) = 16 AND reading = 'whatwg' AND auth_scheme = 'NTLM'"),
                 1);
    finding_clear(&a);
    finding_clear(&b);
    finding_clear(&c);
    store_close(s);
    test_db_remove(db_path);
}

/* Later events update the row: failures only grow, the newer state's context wins, the row names the
 * oldest raising event, first/last seen widen, and seen once in a record in use it is not recovered. */
static void test_merge(void)
{
    store *s = db_open("merge");
    if (!s)
        return;
    finding a;
    notify_make(&a, 2, 20);
    a.recovered = 1;
    finding *one[] = {&a};
    int is_new = 0;
    CHECK_INT_EQ(write_findings(s, one, 1, &is_new), BG_ERR_OK);
    CHECK_INT_EQ(scalar(s, "SELECT recovered FROM findings"), 1);
    /* 63 after 6, in a later batch: one failure, the job completed. */
    finding later;
    notify_make(&later, 2, 20);
    later.notify_failures = 1;
    later.notify_error = 0x80070002;
    later.state = JOB_STATE_COMPLETED;
    later.last_record_id = 25;
    snprintf(later.last_seen, sizeof later.last_seen, "2024-06-01T08:30:00.0000000Z");
    free(later.parameters);
    later.parameters = test_text_dup("/install /q /new");
    finding *two[] = {&later};
    CHECK_INT_EQ(write_findings(s, two, 1, &is_new), BG_ERR_OK);
    CHECK_INT_EQ(is_new, 0);
    CHECK_INT_EQ(scalar(s, "SELECT notify_failures FROM findings"), 1);
    CHECK_INT_EQ(scalar(s, "SELECT notify_error FROM findings"), 0x80070002);
    CHECK_INT_EQ(scalar(s, "SELECT state FROM findings"), 1);
    CHECK_INT_EQ(scalar(s, "SELECT notify_parameters = '/install /q /new' FROM findings"), 1);
    CHECK_INT_EQ(scalar(s, "SELECT last_seen = '2024-06-01T08:30:00.0000000Z' FROM findings"), 1);
    CHECK_INT_EQ(scalar(s, "SELECT recovered FROM findings"), 0);
    /* The first state replayed (a rejected bookmark read from the oldest record): nothing goes back. */
    CHECK_INT_EQ(write_findings(s, one, 1, &is_new), BG_ERR_OK);
    CHECK_INT_EQ(is_new, 0);
    CHECK_INT_EQ(scalar(s, "SELECT notify_failures FROM findings"), 1);
    CHECK_INT_EQ(scalar(s, "SELECT state FROM findings"), 1);
    CHECK_INT_EQ(scalar(s, "SELECT notify_parameters = '/install /q /new' FROM findings"), 1);
    CHECK_INT_EQ(scalar(s, "SELECT recovered FROM findings"), 0);
    /* An older raising event (a log read newest first) becomes the row's event. */
    finding older;
    notify_make(&older, 2, 15);
    finding *three[] = {&older};
    CHECK_INT_EQ(write_findings(s, three, 1, &is_new), BG_ERR_OK);
    CHECK_INT_EQ(scalar(s, "SELECT record_id FROM findings"), 15);
    CHECK_INT_EQ(scalar(s, "SELECT count(*) FROM findings"), 1);
    finding_clear(&a);
    finding_clear(&later);
    finding_clear(&older);
    store_close(s);
    test_db_remove(db_path);
}

/* Each clearing of the channel is its own row; the same event read again is not. */
static void test_channel_cleared_identity(void)
{
    store *s = db_open("cleared");
    if (!s)
        return;
    finding a, b;
    for (int i = 0; i < 2; i++) {
        finding *f = i ? &b : &a;
        finding_init(f);
        f->kind = FINDING_CHANNEL_CLEARED;
        f->event_id = 104;
        f->record_id = (uint64_t)(500 + i);
        snprintf(f->time, sizeof f->time, "2024-06-02T10:0%d:00.0000000Z", i);
        f->computer = test_text_dup("PC1.corp.example");
        f->channel = test_text_dup("Microsoft-Windows-Bits-Client/Operational");
        f->user = test_text_dup("PC1\\dave");
    }
    finding *both[] = {&a, &b};
    int is_new[2];
    CHECK_INT_EQ(write_findings(s, both, 2, is_new), BG_ERR_OK);
    CHECK_INT_EQ(is_new[0] + is_new[1], 2);
    CHECK_INT_EQ(write_findings(s, both, 2, is_new), BG_ERR_OK);
    CHECK_INT_EQ(is_new[0] + is_new[1], 0);
    CHECK_INT_EQ(scalar(s, "SELECT count(*) FROM findings WHERE kind = 'channel-cleared' AND job_key = ''"), 2);
    finding_clear(&a);
    finding_clear(&b);
    store_close(s);
    test_db_remove(db_path);
}

/* Findings, detections and the bookmark share one transaction: a failure keeps none of them. */
static void test_same_transaction(void)
{
    store *s = db_open("txn");
    if (!s)
        return;
    finding a;
    notify_make(&a, 3, 30);
    const finding *fs[] = {&a};
    detection d;
    detection_init(&d);
    d.event_id = 59;
    d.record_id = 31;
    snprintf(d.time, sizeof d.time, "2024-06-01T08:31:00.0000000Z");
    d.computer = test_text_dup("PC1.corp.example");
    snprintf(d.job_id, sizeof d.job_id, "00000003-1d6e-4e3c-8b4b-2f7a4c1d9e10");
    d.url = test_text_dup("http://203.0.113.3/x");
    d.cls.verdict = VERDICT_PUBLIC_IP;
    const detection *ds[] = {&d};
    int det_new = 0, f_new = 0;
    /* A reader's lock taken elsewhere makes the commit fail as a whole (BUSY after the short budget). */
    sqlite3 *other = NULL;
    CHECK_INT_EQ(sqlite3_open(db_path, &other), SQLITE_OK);
    CHECK_INT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    s->busy_budget_ms = 20;
    store_batch b = {.dets = ds,
                     .n = 1,
                     .is_new = &det_new,
                     .findings = fs,
                     .finding_count = 1,
                     .finding_is_new = &f_new,
                     .channel = "Microsoft-Windows-Bits-Client/Operational",
                     .bookmark = "<BookmarkList/>"};
    CHECK_INT_EQ(store_batch_write(s, &b), BG_ERR_DB_BUSY);
    CHECK_INT_EQ(f_new, 0);
    sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(other);
    CHECK_INT_EQ(scalar(s, "SELECT count(*) FROM findings"), 0);
    CHECK_INT_EQ(scalar(s, "SELECT count(*) FROM bookmarks"), 0);
    CHECK_INT_EQ(store_batch_write(s, &b), BG_ERR_OK);
    CHECK_INT_EQ(det_new + f_new, 2);
    CHECK_INT_EQ(scalar(s, "SELECT count(*) FROM findings"), 1);
    CHECK_INT_EQ(scalar(s, "SELECT count(*) FROM bookmarks"), 1);
    finding_clear(&a);
    detection_clear(&d);
    store_close(s);
    test_db_remove(db_path);
}

typedef struct seen {
    int rows;
    char kinds[256];
} seen;

static int collect(void *arg, const finding *f)
{
    seen *r = arg;
    size_t used = strlen(r->kinds);
    snprintf(r->kinds + used, sizeof r->kinds - used, "%s%s", used ? "," : "", finding_kind_name(f->kind));
    r->rows++;
    return 0;
}

/* Queries: newest first, by computer, time, address and job; active notify commands for the restore;
 * status counts by kind. */
static void test_query_and_status(void)
{
    store *s = db_open("query");
    if (!s)
        return;
    finding a, b, c;
    notify_make(&a, 4, 40);
    creds_make(&b, 4, 41, "http://45.33.32.156/", "45.33.32.156", 1);
    notify_make(&c, 5, 42);
    c.state = JOB_STATE_CANCELLED;
    free(c.computer);
    c.computer = test_text_dup("PC2");
    finding *all[] = {&a, &b, &c};
    int is_new[3];
    CHECK_INT_EQ(write_findings(s, all, 3, is_new), BG_ERR_OK);
    store_filter f;
    store_filter_init(&f);
    seen r = {0, ""};
    CHECK_INT_EQ(store_finding_query_run(s, &f, collect, &r), BG_ERR_OK);
    CHECK_INT_EQ(r.rows, 3);
    CHECK_STR_EQ(r.kinds, "credentials-direct-ip,notify-command,notify-command");
    f.computer = "pc2";
    memset(&r, 0, sizeof r);
    CHECK_INT_EQ(store_finding_query_run(s, &f, collect, &r), BG_ERR_OK);
    CHECK_INT_EQ(r.rows, 1);
    store_filter_init(&f);
    f.has_ip = 1;
    CHECK_INT_EQ(store_cidr_parse("45.33.32.0/24", f.ip_lo, f.ip_hi), BG_ERR_OK);
    memset(&r, 0, sizeof r);
    CHECK_INT_EQ(store_finding_query_run(s, &f, collect, &r), BG_ERR_OK);
    CHECK_STR_EQ(r.kinds, "credentials-direct-ip");
    store_filter_init(&f);
    snprintf(f.since, sizeof f.since, "2024-06-01T09:00");
    memset(&r, 0, sizeof r);
    CHECK_INT_EQ(store_finding_query_run(s, &f, collect, &r), BG_ERR_OK);
    CHECK_INT_EQ(r.rows, 1);
    store_filter_init(&f);
    f.active_only = 1;
    memset(&r, 0, sizeof r);
    CHECK_INT_EQ(store_finding_query_run(s, &f, collect, &r), BG_ERR_OK);
    CHECK_STR_EQ(r.kinds, "notify-command"); /* job 4's; job 5 was cancelled */
    store_status st;
    CHECK_INT_EQ(store_status_get(s, (int64_t)time(NULL), &st), BG_ERR_OK);
    CHECK_INT_EQ(st.findings_total, 3);
    CHECK_INT_EQ(st.findings_by_kind[FINDING_NOTIFY_COMMAND], 2);
    CHECK_INT_EQ(st.findings_by_kind[FINDING_CREDENTIALS_DIRECT_IP], 1);
    CHECK_INT_EQ(st.findings_by_kind[FINDING_CHANNEL_CLEARED], 0);
    finding_clear(&a);
    finding_clear(&b);
    finding_clear(&c);
    store_close(s);
    test_db_remove(db_path);
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

int main(void)
{
    seed_init();
    CHECK_RUN(test_new_then_replay);
    CHECK_RUN(test_merge);
    CHECK_RUN(test_channel_cleared_identity);
    CHECK_RUN(test_same_transaction);
    CHECK_RUN(test_query_and_status);
    return CHECK_DONE();
}
