/* Hostile values: stored byte-exact through prepared statements, printed safely as table, CSV and JSON. */
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
#include "test_db.h"
#include "store.h"
#include "store_format.h"
#include "store_internal.h"

static char db_path[512];

static void db_remove(void)
{
    test_db_remove(db_path);
}

#define BIG_URL_LEN (100 * 1024)

static void hostile_make(detection *d)
{
    detection_init(d);
    d->event_id = 16403;
    d->record_id = 77;
    snprintf(d->time, sizeof d->time, "2023-11-06T01:45:21.0240780Z");
    d->computer = test_text_dup("\x1b[31mPC\x1b]0;pwned\x07\x1b[2J");
    snprintf(d->job_id, sizeof d->job_id, "0b2ee6b3-1d6e-4e3c-8b4b-2f7a4c1d9e10");
    d->job_title = test_text_dup("'); DROP TABLE detections;--");
    d->job_owner = test_text_dup("bad\xff\xfe\xc0\xaf utf8 \xc2\x9b"
                                 "31m C1 CSI");
    d->url = malloc(BIG_URL_LEN + 1);
    if (d->url) {
        static const char head[] = "http://203.0.113.5/";
        memcpy(d->url, head, sizeof head - 1);
        for (size_t i = sizeof head - 1; i < BIG_URL_LEN; i++)
            d->url[i] = (char)('a' + i % 26);
        d->url[BIG_URL_LEN] = '\0';
    }
    d->local_name = test_text_dup("=HYPERLINK(\"http://evil.example/\",\"click\")");
    d->process_path = test_text_dup("+cmd|' /C calc'!A0");
    d->notify_program = test_text_dup("@SUM(1+1)*cmd|' /C calc'!A0");
    d->notify_parameters = test_text_dup("-2+3+cmd|' /C calc'!A0\r\n\"quoted\", tab\there");
    snprintf(d->cls.ip, sizeof d->cls.ip, "203.0.113.5");
    d->cls.verdict = VERDICT_PUBLIC_IP;
    d->cls.kind = KIND_HTTP;
    d->events_seen = SEEN_16403 | SEEN_3 | SEEN_60;
    d->transfer_hr = -2145844844;
    d->bytes_total = 100;
    d->bytes_transferred = 50;
    d->process_id = 1234;
    d->state = JOB_STATE_CANCELLED;
}

typedef struct roundtrip {
    const detection *want;
    int rows;
    int same;
} roundtrip;

static int str_same(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

static int compare_row(void *arg, const detection *got)
{
    roundtrip *r = arg;
    const detection *w = r->want;
    r->rows++;
    r->same = str_same(got->computer, w->computer) && str_same(got->job_title, w->job_title) &&
              str_same(got->job_owner, w->job_owner) && str_same(got->url, w->url) &&
              str_same(got->local_name, w->local_name) && str_same(got->process_path, w->process_path) &&
              str_same(got->notify_program, w->notify_program) &&
              str_same(got->notify_parameters, w->notify_parameters) && strcmp(got->job_id, w->job_id) == 0 &&
              strcmp(got->time, w->time) == 0 && got->transfer_hr == w->transfer_hr &&
              got->events_seen == w->events_seen && got->state == w->state && got->process_id == w->process_id &&
              got->bytes_total == w->bytes_total && got->bytes_transferred == w->bytes_transferred &&
              got->record_id == w->record_id && got->event_id == w->event_id && strcmp(got->cls.ip, w->cls.ip) == 0 &&
              got->cls.verdict == w->cls.verdict && got->cls.kind == w->cls.kind;
    return 0;
}

static void test_roundtrip_verbatim(void)
{
    const char *tmp = getenv("TMPDIR");
#ifdef _WIN32
    if (!tmp)
        tmp = getenv("TEMP");
#endif
    snprintf(db_path, sizeof db_path, "%s/bg_test_store_format_%d.db", tmp ? tmp : "/tmp", rand());
    db_remove();
    store *s = NULL;
    char err[512];
    CHECK_INT_EQ(store_open(&s, db_path, NULL, err, sizeof err), BG_ERR_OK);
    if (!s)
        return;
    detection d;
    hostile_make(&d);
    const detection *p = &d;
    CHECK_INT_EQ(store_batch_commit(s, &p, 1, "ch'; DROP TABLE bookmarks;--", "<b a=\"'\"/>", NULL), BG_ERR_OK);
    roundtrip r = {&d, 0, 0};
    store_filter f;
    store_filter_init(&f);
    CHECK_INT_EQ(store_query_run(s, &f, compare_row, &r), BG_ERR_OK);
    CHECK_INT_EQ(r.rows, 1);
    CHECK_INT_EQ(r.same, 1);
    /* Also found by its hostile computer name (exact match through a bound parameter). */
    f.computer = d.computer;
    r.rows = 0;
    CHECK_INT_EQ(store_query_run(s, &f, compare_row, &r), BG_ERR_OK);
    CHECK_INT_EQ(r.rows, 1);
    char *bm = NULL;
    CHECK_INT_EQ(store_bookmark_get(s, "ch'; DROP TABLE bookmarks;--", &bm), BG_ERR_OK);
    CHECK_STR_EQ(bm, "<b a=\"'\"/>");
    free(bm);
    CHECK_INT_EQ(sqlite3_exec(store_db_handle(s), "SELECT 1 FROM detections, bookmarks", NULL, NULL, NULL), SQLITE_OK);
    detection_clear(&d);
    store_close(s);
    db_remove();
}

/* Renders one detection with a formatter into a heap buffer (tmpfile: portable to Windows). */
static char *render(store_format fmt, const detection *d, size_t *len)
{
    FILE *fp = tmpfile();
    if (!fp)
        return NULL;
    store_format_header(fp, fmt);
    store_format_row(fp, fmt, d);
    long n = ftell(fp);
    rewind(fp);
    char *buf = malloc((size_t)n + 1);
    if (buf) {
        *len = fread(buf, 1, (size_t)n, fp);
        buf[*len] = '\0';
    }
    fclose(fp);
    return buf;
}

/* Valid UTF-8 check (no overlongs, no surrogates). */
static int utf8_valid(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        size_t k = c < 0x80                   ? 1
                   : (c >= 0xC2 && c <= 0xDF) ? 2
                   : (c >= 0xE0 && c <= 0xEF) ? 3
                   : (c >= 0xF0 && c <= 0xF4) ? 4
                                              : 0;
        if (!k || i + k > n)
            return 0;
        for (size_t j = 1; j < k; j++)
            if ((s[i + j] & 0xC0) != 0x80)
                return 0;
        if ((c == 0xE0 && s[i + 1] < 0xA0) || (c == 0xED && s[i + 1] >= 0xA0) || (c == 0xF0 && s[i + 1] < 0x90) ||
            (c == 0xF4 && s[i + 1] >= 0x90))
            return 0;
        i += k;
    }
    return 1;
}

static void test_table_safe(void)
{
    detection d;
    hostile_make(&d);
    size_t len = 0;
    char *out = render(STORE_FORMAT_TABLE, &d, &len);
    CHECK(out != NULL);
    if (!out)
        return;
    CHECK(utf8_valid((const unsigned char *)out, len));
    /* No control character but the line ends reaches the console: no ESC, BEL, C1 CSI. */
    int lines = 0;
    size_t cols = 0, widest = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)out[i];
        if (c == '\n') {
            lines++;
            widest = cols > widest ? cols : widest;
            cols = 0;
            continue;
        }
        CHECK(c >= 0x20 && c != 0x7F);
        if (c == 0xC2 && i + 1 < len)
            CHECK((unsigned char)out[i + 1] >= 0xA0);
        if ((c & 0xC0) != 0x80)
            cols++;
    }
    CHECK_INT_EQ(lines, 2);
    CHECK(widest <= STORE_FORMAT_TABLE_WIDTH);
    /* The 100 KB URL is elided, the SQL text shown (harmless on a console). */
    CHECK(len < 400);
    CHECK(strstr(out, "...") != NULL);
    CHECK(strstr(out, "203.0.113.5") != NULL);
    free(out);
    detection_clear(&d);
}

/* Splits one RFC 4180 record at *p into cells (unquoted, in place); returns the count. */
static int csv_record(char **p, char **cells, int max)
{
    int n = 0;
    char *r = *p, *w = *p;
    for (;;) {
        if (n == max)
            return -1;
        cells[n++] = w;
        if (*r == '"') {
            r++;
            for (;;) {
                if (*r == '\0')
                    return -1;
                if (*r == '"' && r[1] == '"') {
                    *w++ = '"';
                    r += 2;
                } else if (*r == '"') {
                    r++;
                    break;
                } else {
                    *w++ = *r++;
                }
            }
        } else {
            while (*r && *r != ',' && *r != '\r' && *r != '\n')
                *w++ = *r++;
        }
        if (*r == ',') {
            *w++ = '\0';
            r++;
            continue;
        }
        if (r[0] != '\r' || r[1] != '\n')
            return -1; /* RFC 4180 records end with CRLF */
        *w = '\0';
        *p = r + 2;
        return n;
    }
}

static void test_csv_safe(void)
{
    detection d;
    hostile_make(&d);
    size_t len = 0;
    char *out = render(STORE_FORMAT_CSV, &d, &len);
    CHECK(out != NULL);
    if (!out)
        return;
    char *p = out;
    char *head[40], *row[40];
    int nh = csv_record(&p, head, 40);
    int nr = csv_record(&p, row, 40);
    CHECK_INT_EQ(nh, 28);
    CHECK_INT_EQ(nr, nh);
    CHECK_STR_EQ(p, "");
    for (int i = 0; i < nr && i < nh; i++) {
        /* Only numbers may start with '-' (the HRESULT); text cells never start a formula. */
        if (strcmp(head[i], "transfer_hr") == 0) {
            CHECK_STR_EQ(row[i], "-2145844844");
            continue;
        }
        CHECK_STR_EQ_CTX(head[i], strchr("=+-@\t\r", row[i][0]) && row[i][0] ? "formula" : "ok", "ok");
        if (strcmp(head[i], "job_title") == 0)
            CHECK_STR_EQ(row[i], d.job_title);
        if (strcmp(head[i], "url") == 0)
            CHECK_STR_EQ(row[i], d.url); /* CSV keeps the whole value */
        if (strcmp(head[i], "local_name") == 0)
            CHECK_STR_EQ(row[i], "'=HYPERLINK(\"http://evil.example/\",\"click\")");
        if (strcmp(head[i], "notify_parameters") == 0)
            CHECK_STR_EQ(row[i], "'-2+3+cmd|' /C calc'!A0\r\n\"quoted\", tab\there");
        if (strcmp(head[i], "events_seen") == 0)
            CHECK_STR_EQ(row[i], "3;16403;60");
        if (strcmp(head[i], "state") == 0)
            CHECK_STR_EQ(row[i], "cancelled");
    }
    free(out);
    detection_clear(&d);
}

/* A minimal strict JSON validator (RFC 8259) for one value. */
static const char *json_value(const char *p, int depth);

static const char *json_ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    return p;
}

static const char *json_string(const char *p)
{
    if (*p++ != '"')
        return NULL;
    while (*p != '"') {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20)
            return NULL;
        if (c == '\\') {
            p++;
            if (*p == 'u') {
                for (int i = 1; i <= 4; i++)
                    if (!strchr("0123456789abcdefABCDEF", p[i]) || !p[i])
                        return NULL;
                p += 5;
                continue;
            }
            if (!*p || !strchr("\"\\/bfnrt", *p))
                return NULL;
        }
        p++;
    }
    return p + 1;
}

static const char *json_value(const char *p, int depth)
{
    if (depth > 32)
        return NULL;
    p = json_ws(p);
    if (*p == '{' || *p == '[') {
        char close = *p == '{' ? '}' : ']';
        int object = *p == '{';
        p = json_ws(p + 1);
        if (*p == close)
            return p + 1;
        for (;;) {
            if (object) {
                p = json_string(json_ws(p));
                if (!p)
                    return NULL;
                p = json_ws(p);
                if (*p++ != ':')
                    return NULL;
            }
            p = json_value(p, depth + 1);
            if (!p)
                return NULL;
            p = json_ws(p);
            if (*p == ',') {
                p++;
                continue;
            }
            return *p == close ? p + 1 : NULL;
        }
    }
    if (*p == '"')
        return json_string(p);
    if (strncmp(p, "true", 4) == 0)
        return p + 4;
    if (strncmp(p, "false", 5) == 0)
        return p + 5;
    if (strncmp(p, "null", 4) == 0)
        return p + 4;
    const char *start = p;
    if (*p == '-')
        p++;
    if (*p == '0')
        p++;
    else
        while (*p >= '0' && *p <= '9')
            p++;
    return p > start && p[-1] != '-' ? p : NULL;
}

static void test_json_valid(void)
{
    detection d;
    hostile_make(&d);
    size_t len = 0;
    char *out = render(STORE_FORMAT_JSON, &d, &len);
    CHECK(out != NULL);
    if (!out)
        return;
    CHECK(utf8_valid((const unsigned char *)out, len));
    const char *end = json_value(out, 0);
    CHECK(end != NULL);
    CHECK(end && strcmp(end, "\n") == 0); /* one object, one line */
    CHECK(strstr(out, "\"events_seen\":[3,16403,60]") != NULL);
    CHECK(strstr(out, "\"job_title\":\"'); DROP TABLE detections;--\"") != NULL);
    CHECK(strstr(out, "\"transfer_hr\":-2145844844") != NULL);
    CHECK(strstr(out, "\"state\":\"cancelled\"") != NULL);
    CHECK(strstr(out, "\"allowed\":false") != NULL);
    CHECK(strstr(out, "\\u001b[31mPC") != NULL);
    free(out);
    /* An empty record: unknown values are null, nothing breaks. */
    detection_clear(&d);
    out = render(STORE_FORMAT_JSON, &d, &len);
    CHECK(out && json_value(out, 0) != NULL);
    CHECK(out && strstr(out, "\"process_id\":null") != NULL);
    CHECK(out && strstr(out, "\"events_seen\":[]") != NULL);
    free(out);
    out = render(STORE_FORMAT_TABLE, &d, &len);
    CHECK(out != NULL);
    free(out);
    out = render(STORE_FORMAT_CSV, &d, &len);
    CHECK(out != NULL);
    free(out);
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
    CHECK_RUN(test_roundtrip_verbatim);
    CHECK_RUN(test_table_safe);
    CHECK_RUN(test_csv_safe);
    CHECK_RUN(test_json_valid);
    return CHECK_DONE();
}
