/* `bitsguard jobs` over a jobs_client: list, flag, print and store; cancel with an audit row. */
#include "jobs_cmd.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static void say(FILE *err, const jobs_cmd_options *o, const char *fmt, ...) BG_PRINTF(3, 4);
static void say(FILE *err, const jobs_cmd_options *o, const char *fmt, ...)
{
    if (!err)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(err, "bitsguard %s: ", o->command ? o->command : "jobs");
    vfprintf(err, fmt, ap);
    fputc('\n', err);
    va_end(ap);
}

jobs_outcome jobs_cmd_list(jobs_client *c, const jobs_cmd_options *o, FILE *out, FILE *err, size_t *flagged,
                           size_t *stored)
{
    jobs_list l;
    char why[512] = "";
    int all_done = 0;
    size_t nflag = 0, nstored = 0;
    jobs_outcome res = JOBS_OUTCOME_ERROR;
    jobs_list_init(&l);

    bg_error rc = c->ops->list(c, o->all_users, &l, &all_done, why, sizeof why);
    if (rc != BG_ERR_OK) {
        say(err, o, "cannot list the BITS jobs: %s", why[0] ? why : bg_error_str(rc));
        goto cleanup;
    }
    if (o->all_users && !all_done)
        say(err, o, "listing only this user's jobs (all users' jobs need an elevated administrator)");
    if (l.missing[0])
        say(err, o, "the BITS service does not report: %s", l.missing);
    nflag = jobs_list_classify(&l, o->allow);
    if (out)
        jobs_list_write(out, o->fmt, &l);
    if (o->db) {
        rc = jobs_list_store(o->db, &l, o->now_unix, &nstored);
        if (rc != BG_ERR_OK) {
            say(err, o, "cannot store the flagged jobs: %s", bg_error_str(rc));
            goto cleanup;
        }
    }
    res = nflag ? JOBS_OUTCOME_FLAGGED : JOBS_OUTCOME_CLEAN;
cleanup:
    if (flagged)
        *flagged = nflag;
    if (stored)
        *stored = nstored;
    jobs_list_clear(&l);
    return res;
}

/* A growing text buffer for the audit row's `what`. */
typedef struct text_buf {
    char *p;
    size_t len, cap;
    int failed;
} text_buf;

static void buf_add(text_buf *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        char *grown = realloc(b->p, cap);
        if (!grown) {
            b->failed = 1;
            return;
        }
        b->p = grown;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void buf_str(text_buf *b, const char *s)
{
    buf_add(b, s, strlen(s));
}

/* "key":"value" (null when value is NULL), JSON-escaped: quote, backslash and control characters. */
static void buf_field(text_buf *b, const char *key, const char *v)
{
    if (b->len > 1)
        buf_str(b, ",");
    buf_str(b, "\"");
    buf_str(b, key);
    buf_str(b, "\":");
    if (!v) {
        buf_str(b, "null");
        return;
    }
    buf_str(b, "\"");
    for (const unsigned char *c = (const unsigned char *)v; *c; c++) {
        char esc[8];
        if (*c == '"' || *c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*c;
            buf_add(b, esc, 2);
        } else if (*c < 0x20 || *c == 0x7f) {
            snprintf(esc, sizeof esc, "\\u%04x", *c);
            buf_str(b, esc);
        } else {
            buf_add(b, (const char *)c, 1);
        }
    }
    buf_str(b, "\"");
}

/* What the job was, as a JSON object (heap string; NULL when out of memory): the audit row's `what`. */
static char *job_what(const jobs_job *j)
{
    text_buf b = {0};
    buf_str(&b, "{");
    buf_field(&b, "title", j->title);
    buf_field(&b, "owner", j->owner);
    buf_field(&b, "type", jobs_type_name(j->type));
    buf_field(&b, "state", jobs_state_name(j->state));
    buf_field(&b, "created", j->created[0] ? j->created : NULL);
    buf_field(&b, "notify_program", j->notify_program);
    buf_field(&b, "notify_parameters", j->notify_parameters);
    for (size_t k = 0; k < j->file_count; k++) {
        char key[3][48];
        snprintf(key[0], sizeof key[0], "file%zu_remote_name", k + 1);
        snprintf(key[1], sizeof key[1], "file%zu_local_name", k + 1);
        snprintf(key[2], sizeof key[2], "file%zu_verdict", k + 1);
        buf_field(&b, key[0], j->files[k].remote_name);
        buf_field(&b, key[1], j->files[k].local_name);
        buf_field(&b, key[2], classify_verdict_name(j->files[k].cls.verdict));
    }
    buf_str(&b, "}");
    if (b.failed) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

jobs_outcome jobs_cmd_cancel(jobs_client *c, const jobs_cmd_options *o, const char *job_id, FILE *out, FILE *err)
{
    jobs_list l, one;
    char id[37], why[512] = "", who[256] = "";
    char *what = NULL;
    int all_done = 0;
    jobs_outcome res = JOBS_OUTCOME_ERROR;
    jobs_list_init(&l);
    jobs_list_init(&one);

    if (jobs_guid_normalize(job_id, id) != 0) {
        say(err, o, "not a BITS job id (a GUID such as {0b2ee6b3-1d6e-4e3c-8b4b-2f7a4c1d9e10}): %s", job_id);
        goto cleanup;
    }
    if (!o->db) {
        say(err, o, "no database to record the cancellation in; nothing was cancelled");
        goto cleanup;
    }
    bg_error rc = c->ops->list(c, o->all_users, &l, &all_done, why, sizeof why);
    if (rc != BG_ERR_OK) {
        say(err, o, "cannot list the BITS jobs: %s", why[0] ? why : bg_error_str(rc));
        goto cleanup;
    }
    jobs_list_classify(&l, o->allow);
    const jobs_job *job = NULL;
    for (size_t i = 0; i < l.count && !job; i++)
        if (strcmp(l.jobs[i].id, id) == 0)
            job = &l.jobs[i];
    if (!job) {
        say(err, o, "no BITS job %s%s", id,
            all_done ? "" : " among this user's jobs (all users' need an elevated administrator)");
        goto cleanup;
    }
    what = job_what(job);
    if (!what) {
        say(err, o, "out of memory");
        goto cleanup;
    }
    if (out) {
        /* Print exactly the job as it was before it goes away. */
        one.jobs = (jobs_job *)job;
        one.count = 1;
        fputs("cancelling:\n", out);
        jobs_list_write(out, o->fmt, &one);
        one.jobs = NULL;
        one.count = 0;
    }
    rc = c->ops->cancel(c, id, why, sizeof why);
    if (rc != BG_ERR_OK) {
        say(err, o, "cannot cancel the job: %s", why[0] ? why : bg_error_str(rc));
        goto cleanup;
    }
    if (c->ops->who)
        c->ops->who(c, who, sizeof who);
    rc = store_job_action_record(o->db, o->now_unix, "cancel", id, who[0] ? who : NULL, l.computer, what);
    if (rc != BG_ERR_OK) {
        say(err, o, "the job was cancelled, but recording it in the database failed: %s", bg_error_str(rc));
        goto cleanup;
    }
    if (out)
        fprintf(out, "cancelled %s (recorded as cancelled by %s)\n", id, who[0] ? who : "an unknown user");
    res = JOBS_OUTCOME_CLEAN;
cleanup:
    free(what);
    jobs_list_clear(&l);
    return res;
}
