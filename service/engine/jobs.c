/* The BITS job inventory: job list life cycle, classification and flagging, table/JSON/CSV output, storing. */
#include "jobs.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "detection.h"
#include "output.h"

void jobs_list_init(jobs_list *l)
{
    memset(l, 0, sizeof *l);
}

static void job_clear(jobs_job *j)
{
    free(j->title);
    free(j->owner);
    free(j->notify_program);
    free(j->notify_parameters);
    for (size_t i = 0; i < j->file_count; i++) {
        free(j->files[i].remote_name);
        free(j->files[i].local_name);
    }
    free(j->files);
}

void jobs_list_clear(jobs_list *l)
{
    for (size_t i = 0; i < l->count; i++)
        job_clear(&l->jobs[i]);
    free(l->jobs);
    free(l->computer);
    jobs_list_init(l);
}

jobs_job *jobs_list_add(jobs_list *l)
{
    if (l->count == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        jobs_job *grown = realloc(l->jobs, cap * sizeof *grown);
        if (!grown)
            return NULL;
        l->jobs = grown;
        l->cap = cap;
    }
    jobs_job *j = &l->jobs[l->count++];
    memset(j, 0, sizeof *j);
    return j;
}

bg_error jobs_text_set(char **dst, const char *src)
{
    free(*dst);
    *dst = NULL;
    if (!src)
        return BG_ERR_OK;
    size_t n = strlen(src) + 1;
    *dst = malloc(n);
    if (!*dst)
        return BG_ERR_NOMEM;
    memcpy(*dst, src, n);
    return BG_ERR_OK;
}

bg_error jobs_job_file_add(jobs_job *j, const char *remote, const char *local)
{
    jobs_file *grown = realloc(j->files, (j->file_count + 1) * sizeof *grown);
    if (!grown)
        return BG_ERR_NOMEM;
    j->files = grown;
    jobs_file *f = &j->files[j->file_count];
    memset(f, 0, sizeof *f);
    if (jobs_text_set(&f->remote_name, remote) != BG_ERR_OK || jobs_text_set(&f->local_name, local) != BG_ERR_OK) {
        free(f->remote_name);
        return BG_ERR_NOMEM;
    }
    j->file_count++;
    return BG_ERR_OK;
}

int jobs_guid_normalize(const char *in, char out[37])
{
    size_t len = in ? strlen(in) : 0;
    if (len == 38 && in[0] == '{' && in[37] == '}') {
        in++;
        len = 36;
    }
    if (len != 36)
        return -1;
    for (size_t i = 0; i < 36; i++) {
        char c = in[i];
        int dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? c != '-' : !isxdigit((unsigned char)c))
            return -1;
        out[i] = (char)tolower((unsigned char)c);
    }
    out[36] = '\0';
    return 0;
}

void jobs_list_missing_note(jobs_list *l, const char *getter, long hr)
{
    if (strstr(l->missing, getter))
        return;
    size_t used = strlen(l->missing);
    snprintf(l->missing + used, sizeof l->missing - used, "%s%s 0x%08lx", used ? ", " : "", getter,
             (unsigned long)hr & 0xffffffffUL);
}

size_t jobs_list_classify(jobs_list *l, const allowlist *allow)
{
    size_t flagged = 0;
    for (size_t i = 0; i < l->count; i++) {
        jobs_job *j = &l->jobs[i];
        /* A finished job can no longer transfer or launch its notify program. */
        int live = j->state != JOBS_STATE_CANCELLED && j->state != JOBS_STATE_ACKNOWLEDGED;
        j->flags = 0;
        for (size_t k = 0; k < j->file_count; k++) {
            jobs_file *f = &j->files[k];
            const char *name = f->remote_name ? f->remote_name : "";
            classify_name(name, strlen(name), &f->cls);
            f->allowed = allow && allowlist_result_match(allow, &f->cls);
            f->flagged = live && f->cls.verdict == VERDICT_PUBLIC_IP && !f->allowed;
            if (f->flagged)
                j->flags |= JOBS_FLAG_DIRECT_IP;
        }
        if (live && j->notify_program && j->notify_program[0])
            j->flags |= JOBS_FLAG_NOTIFY;
        flagged += j->flags != 0;
    }
    return flagged;
}

const char *jobs_type_name(jobs_type t)
{
    switch (t) {
    case JOBS_TYPE_UPLOAD:
        return "upload";
    case JOBS_TYPE_UPLOAD_REPLY:
        return "upload-reply";
    case JOBS_TYPE_DOWNLOAD:
        break;
    }
    return "download";
}

const char *jobs_state_name(jobs_state s)
{
    static const char *const names[] = {"queued",          "connecting",  "transferring", "suspended", "error",
                                        "transient-error", "transferred", "acknowledged", "cancelled"};
    return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "unknown";
}

static const char *flags_text(unsigned flags)
{
    switch (flags & (JOBS_FLAG_DIRECT_IP | JOBS_FLAG_NOTIFY)) {
    case JOBS_FLAG_DIRECT_IP:
        return "direct-ip";
    case JOBS_FLAG_NOTIFY:
        return "notify";
    case JOBS_FLAG_DIRECT_IP | JOBS_FLAG_NOTIFY:
        return "direct-ip,notify";
    default:
        return "";
    }
}

static void json_field(FILE *fp, const char *key, const char *v, int first)
{
    fprintf(fp, "%s\"%s\":", first ? "" : ",", key);
    output_json_string(fp, v);
}

static const char *empty_null(const char *s)
{
    return s && s[0] ? s : NULL;
}

void jobs_job_json_write(FILE *fp, const jobs_job *j)
{
    fputc('{', fp);
    json_field(fp, "job_id", j->id, 1);
    json_field(fp, "title", j->title, 0);
    json_field(fp, "owner", j->owner, 0);
    json_field(fp, "type", jobs_type_name(j->type), 0);
    json_field(fp, "state", jobs_state_name(j->state), 0);
    json_field(fp, "created", empty_null(j->created), 0);
    json_field(fp, "modified", empty_null(j->modified), 0);
    fprintf(fp, ",\"notify_known\":%s", j->notify_known ? "true" : "false");
    json_field(fp, "notify_program", j->notify_program, 0);
    json_field(fp, "notify_parameters", j->notify_parameters, 0);
    fprintf(fp, ",\"flagged\":%s,\"flags\":[", j->flags ? "true" : "false");
    if (j->flags & JOBS_FLAG_DIRECT_IP)
        fputs("\"direct-ip\"", fp);
    if (j->flags & JOBS_FLAG_NOTIFY)
        fputs((j->flags & JOBS_FLAG_DIRECT_IP) ? ",\"notify\"" : "\"notify\"", fp);
    fputs("],\"files\":[", fp);
    for (size_t k = 0; k < j->file_count; k++) {
        const jobs_file *f = &j->files[k];
        fputs(k ? ",{" : "{", fp);
        json_field(fp, "remote_name", f->remote_name, 1);
        json_field(fp, "local_name", f->local_name, 0);
        json_field(fp, "verdict", classify_verdict_name(f->cls.verdict), 0);
        json_field(fp, "ip", empty_null(f->cls.ip), 0);
        json_field(fp, "reading", classify_reading_name(f->cls.reading), 0);
        json_field(fp, "embedded_ipv4", empty_null(f->cls.embedded_ipv4), 0);
        fprintf(fp, ",\"allowed\":%s,\"flagged\":%s}", f->allowed ? "true" : "false", f->flagged ? "true" : "false");
    }
    fputs("]}", fp);
}

/* One CSV row: the job's columns, then the file's (empty when f is NULL). */
static void csv_row(FILE *fp, const jobs_job *j, const jobs_file *f)
{
    const char *cells[] = {
        j->id,
        j->title,
        j->owner,
        jobs_type_name(j->type),
        jobs_state_name(j->state),
        j->created,
        j->modified,
        j->notify_program,
        j->notify_parameters,
        flags_text(j->flags),
        f ? f->remote_name : NULL,
        f ? f->local_name : NULL,
        f ? classify_verdict_name(f->cls.verdict) : NULL,
        f ? f->cls.ip : NULL,
        f ? classify_reading_name(f->cls.reading) : NULL,
        f ? (f->allowed ? "1" : "0") : NULL,
        f ? (f->flagged ? "1" : "0") : NULL,
    };
    for (size_t i = 0; i < sizeof cells / sizeof cells[0]; i++) {
        if (i)
            fputc(',', fp);
        output_csv_cell(fp, cells[i]);
    }
    fputs("\r\n", fp);
}

static void table_text(FILE *fp, const char *s, size_t width)
{
    size_t used = output_terminal_text(fp, s ? s : "-", width);
    for (; used < width; used++)
        fputc(' ', fp);
}

static void table_job(FILE *fp, const jobs_job *j)
{
    /* Fits a 100-column console like `query`: long values are elided ("..."). */
    fputs(j->flags ? "! " : "  ", fp);
    table_text(fp, j->id, 37);
    table_text(fp, jobs_state_name(j->state), 16);
    table_text(fp, jobs_type_name(j->type), 13);
    output_terminal_text(fp, j->owner ? j->owner : "-", 30);
    fputc('\n', fp);
    fputs("    title: ", fp);
    output_terminal_text(fp, j->title ? j->title : "-", 88);
    fputc('\n', fp);
    fputs("    created ", fp);
    table_text(fp, empty_null(j->created), 21);
    fputs("modified ", fp);
    table_text(fp, empty_null(j->modified) ? j->modified : "-", 21);
    if (j->flags) {
        fputs("flagged: ", fp);
        fputs(flags_text(j->flags), fp);
    }
    fputc('\n', fp);
    if (j->notify_program && j->notify_program[0]) {
        fputs("    notify: ", fp);
        output_terminal_text(fp, j->notify_program, 40);
        fputc(' ', fp);
        output_terminal_text(fp, j->notify_parameters ? j->notify_parameters : "", 47);
        fputc('\n', fp);
    } else if (!j->notify_known) {
        fputs("    notify: (the BITS service did not say)\n", fp);
    }
    for (size_t k = 0; k < j->file_count; k++) {
        const jobs_file *f = &j->files[k];
        fputs(f->flagged ? "    ! " : f->allowed ? "    A " : "      ", fp);
        table_text(fp, classify_verdict_name(f->cls.verdict), 11);
        table_text(fp, f->cls.ip[0] ? f->cls.ip : "-", 40);
        output_terminal_text(fp, f->cls.reading ? classify_reading_name(f->cls.reading) : "-", 16);
        fputc('\n', fp);
        fputs("        ", fp);
        output_terminal_text(fp, f->remote_name ? f->remote_name : "-", 91);
        fputs("\n        -> ", fp);
        output_terminal_text(fp, f->local_name ? f->local_name : "-", 88);
        fputc('\n', fp);
    }
}

void jobs_list_write(FILE *fp, store_format fmt, const jobs_list *l)
{
    if (fmt == STORE_FORMAT_CSV)
        fputs("job_id,title,owner,type,state,created,modified,notify_program,notify_parameters,flags,"
              "remote_name,local_name,verdict,ip,reading,allowed,flagged\r\n",
              fp);
    else if (fmt == STORE_FORMAT_TABLE)
        fprintf(fp, "  %-37s%-16s%-13s%s\n", "JOB", "STATE", "TYPE", "OWNER");
    for (size_t i = 0; i < l->count; i++) {
        const jobs_job *j = &l->jobs[i];
        if (fmt == STORE_FORMAT_JSON) {
            jobs_job_json_write(fp, j);
            fputc('\n', fp);
        } else if (fmt == STORE_FORMAT_CSV) {
            if (!j->file_count)
                csv_row(fp, j, NULL);
            for (size_t k = 0; k < j->file_count; k++)
                csv_row(fp, j, &j->files[k]);
        } else {
            table_job(fp, j);
        }
    }
    if (fmt == STORE_FORMAT_TABLE) {
        if (!l->count)
            fputs("(no BITS jobs)\n", fp);
        else
            fputs("!: flagged (a file from a direct IP, or a notify command line); A: allow-listed\n"
                  "(full values: --format json or csv)\n",
                  fp);
    }
}

static detection_state state_of(jobs_state s)
{
    return s == JOBS_STATE_CANCELLED      ? JOB_STATE_CANCELLED
           : s == JOBS_STATE_ACKNOWLEDGED ? JOB_STATE_COMPLETED
                                          : JOB_STATE_ACTIVE;
}

bg_error jobs_list_store(store *s, const jobs_list *l, int64_t now_unix, size_t *stored)
{
    bg_error rc = BG_ERR_OK;
    size_t n = 0, cap = 0;
    detection *dets = NULL;
    const detection **ptrs = NULL;
    int *is_new = NULL;
    char now[32];
    store_time_format(now_unix, now, sizeof now);
    *stored = 0;
    for (size_t i = 0; i < l->count; i++)
        if (l->jobs[i].flags)
            cap += l->jobs[i].file_count;
    if (!cap)
        return BG_ERR_OK;
    dets = calloc(cap, sizeof *dets);
    ptrs = calloc(cap, sizeof *ptrs);
    is_new = calloc(cap, sizeof *is_new);
    if (!dets || !ptrs || !is_new) {
        rc = BG_ERR_NOMEM;
        goto cleanup;
    }
    for (size_t i = 0; i < l->count; i++) {
        const jobs_job *j = &l->jobs[i];
        if (!j->flags)
            continue;
        for (size_t k = 0; k < j->file_count; k++) {
            const jobs_file *f = &j->files[k];
            detection *d = &dets[n];
            detection_init(d);
            ptrs[n++] = d;
            /* Borrowed pointers: the detections live only for this commit and are never cleared. */
            d->source = DETECTION_SOURCE_INVENTORY;
            d->computer = l->computer;
            memcpy(d->job_id, j->id, sizeof d->job_id);
            d->job_title = j->title;
            d->job_owner = j->owner;
            d->url = f->remote_name ? f->remote_name : "";
            d->local_name = f->local_name;
            d->cls = f->cls;
            d->allowed = f->allowed;
            d->notify_program = j->notify_program;
            d->notify_parameters = j->notify_parameters;
            /* No event: the job's own times where the BITS service gives them, else the time it was seen. */
            snprintf(d->time, sizeof d->time, "%s", j->created[0] ? j->created : now);
            snprintf(d->first_seen, sizeof d->first_seen, "%s", d->time);
            snprintf(d->last_seen, sizeof d->last_seen, "%s", j->modified[0] ? j->modified : now);
            d->state = state_of(j->state);
        }
    }
    rc = store_batch_commit(s, ptrs, n, NULL, NULL, is_new);
    for (size_t i = 0; rc == BG_ERR_OK && i < n; i++)
        *stored += is_new[i] != 0;
cleanup:
    free(dets);
    free(ptrs);
    free(is_new);
    return rc;
}

int jobs_selftest_nonce(const char *title, char nonce[33])
{
    size_t plen = sizeof JOBS_SELFTEST_PREFIX - 1;
    if (!title || strncmp(title, JOBS_SELFTEST_PREFIX, plen) != 0 || strlen(title + plen) != 32)
        return -1;
    for (size_t i = 0; i < 32; i++) {
        char c = title[plen + i];
        if (!isxdigit((unsigned char)c))
            return -1;
        nonce[i] = (char)tolower((unsigned char)c);
    }
    nonce[32] = '\0';
    return 0;
}
