/* A finding record: life cycle (initialise, deep copy, clear) and its stable JSON form. */
#include "finding.h"

#include "output.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

void finding_init(finding *f)
{
    memset(f, 0, sizeof *f);
    f->process_id = -1;
    f->notify_error = INT64_MIN;
}

void finding_clear(finding *f)
{
    char **strings[] = {&f->computer, &f->job_title, &f->job_owner, &f->process_path, &f->program, &f->parameters,
                        &f->server,   &f->url,       &f->scheme,    &f->user,         &f->channel};
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++)
        free(*strings[i]);
    finding_init(f);
}

static int string_dup(char **dst, const char *src)
{
    *dst = NULL;
    if (!src)
        return 0;
    size_t n = strlen(src) + 1;
    *dst = malloc(n);
    if (!*dst)
        return -1;
    memcpy(*dst, src, n);
    return 0;
}

bg_error finding_copy(finding *dst, const finding *src)
{
    *dst = *src;
    /* The struct copy shares src's strings; replace each pointer by an owned copy. */
    char **d[] = {&dst->computer, &dst->job_title, &dst->job_owner, &dst->process_path, &dst->program, &dst->parameters,
                  &dst->server,   &dst->url,       &dst->scheme,    &dst->user,         &dst->channel};
    const char *s[] = {src->computer, src->job_title, src->job_owner, src->process_path, src->program, src->parameters,
                       src->server,   src->url,       src->scheme,    src->user,         src->channel};
    int failed = 0;
    for (size_t i = 0; i < sizeof d / sizeof d[0]; i++)
        *d[i] = NULL;
    for (size_t i = 0; i < sizeof d / sizeof d[0]; i++)
        failed |= string_dup(d[i], s[i]);
    if (failed) {
        finding_clear(dst);
        return BG_ERR_NOMEM;
    }
    return BG_ERR_OK;
}

const char *finding_kind_name(finding_kind k)
{
    switch (k) {
    case FINDING_NOTIFY_COMMAND:
        return "notify-command";
    case FINDING_CREDENTIALS_DIRECT_IP:
        return "credentials-direct-ip";
    case FINDING_CHANNEL_CLEARED:
        return "channel-cleared";
    case FINDING_CHANNEL_DISABLED:
        return "channel-disabled";
    }
    return "unknown";
}

finding_kind finding_kind_parse(const char *text)
{
    for (int k = 1; text && k <= FINDING_KIND_LAST; k++)
        if (strcmp(text, finding_kind_name((finding_kind)k)) == 0)
            return (finding_kind)k;
    return (finding_kind)0;
}

const char *finding_job_key(const finding *f)
{
    if (f->job_id[0])
        return f->job_id;
    return f->job_title ? f->job_title : "";
}

const char *finding_item_key(const finding *f, char buf[FINDING_ITEM_KEY_SIZE])
{
    switch (f->kind) {
    case FINDING_CREDENTIALS_DIRECT_IP:
        return f->url ? f->url : f->server ? f->server : "";
    case FINDING_CHANNEL_CLEARED:
    case FINDING_CHANNEL_DISABLED:
        /* The channel name is bounded by the event's field limits; a longer one is cut, which keeps
         * distinct clearings apart all the same (record id and time come first). */
        snprintf(buf, FINDING_ITEM_KEY_SIZE, "%" PRIu64 "|%s|%s", f->record_id, f->time, f->channel ? f->channel : "");
        return buf;
    case FINDING_NOTIFY_COMMAND:
        break;
    }
    return "";
}

static void json_text(FILE *fp, const char *key, const char *v)
{
    fprintf(fp, ",\"%s\":", key);
    output_json_string(fp, v);
}

static void json_int_or_null(FILE *fp, const char *key, int64_t v, int64_t unknown)
{
    fprintf(fp, ",\"%s\":", key);
    if (v == unknown)
        fputs("null", fp);
    else
        fprintf(fp, "%" PRId64, v);
}

static const char *empty_null(const char *s)
{
    return (s && *s) ? s : NULL;
}

void finding_json_write(FILE *fp, const finding *f)
{
    fputs("{\"alert\":", fp);
    output_json_string(fp, finding_kind_name(f->kind));
    fprintf(fp, ",\"event_id\":%u,\"record_id\":%" PRIu64, f->event_id, f->record_id);
    json_text(fp, "time", empty_null(f->time));
    json_text(fp, "computer", f->computer);
    json_text(fp, "job_id", empty_null(f->job_id));
    json_text(fp, "job_title", f->job_title);
    json_text(fp, "job_owner", f->job_owner);
    json_int_or_null(fp, "process_id", f->process_id, -1);
    json_text(fp, "process_path", f->process_path);
    json_text(fp, "notify_program", f->program);
    json_text(fp, "notify_parameters", f->parameters);
    fprintf(fp, ",\"notify_failures\":%" PRIu32, f->notify_failures);
    json_int_or_null(fp, "notify_error", f->notify_error, INT64_MIN);
    json_text(fp, "server", f->server);
    json_text(fp, "url", f->url);
    json_text(fp, "ip", empty_null(f->cls.ip));
    json_text(fp, "verdict", f->kind == FINDING_CREDENTIALS_DIRECT_IP ? classify_verdict_name(f->cls.verdict) : NULL);
    json_text(fp, "reading", f->kind == FINDING_CREDENTIALS_DIRECT_IP ? classify_reading_name(f->cls.reading) : NULL);
    json_text(fp, "auth_scheme", f->scheme);
    json_text(fp, "user", f->user);
    fputs(",\"credentials\":", fp);
    fputs(f->kind != FINDING_CREDENTIALS_DIRECT_IP ? "null" : f->accepted ? "\"accepted\"" : "\"rejected\"", fp);
    json_text(fp, "channel", f->channel);
    json_text(fp, "state", f->kind == FINDING_NOTIFY_COMMAND ? detection_state_name(f->state) : NULL);
    json_text(fp, "first_seen", empty_null(f->first_seen));
    json_text(fp, "last_seen", empty_null(f->last_seen));
    fputs(f->recovered ? ",\"recovered\":true" : ",\"recovered\":false", fp);
    fputc('}', fp);
}
