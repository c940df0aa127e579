/* A detection record: life cycle (initialise, deep copy, clear) and its stable JSON form. */
#include "detection.h"

#include "bg_text.h"
#include "output.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

void detection_init(detection *d)
{
    memset(d, 0, sizeof *d);
    d->process_id = -1;
    d->transfer_hr = INT64_MIN;
    d->bytes_total = -1;
    d->bytes_transferred = -1;
}

void detection_clear(detection *d)
{
    free(d->computer);
    free(d->job_title);
    free(d->job_owner);
    free(d->url);
    free(d->local_name);
    free(d->process_path);
    free(d->notify_program);
    free(d->notify_parameters);
    detection_init(d);
}

/* 0, or -1 when src was not NULL and could not be copied. */
static int string_dup(char **dst, const char *src)
{
    *dst = bg_text_dup(src);
    return src && !*dst ? -1 : 0;
}

bg_error detection_copy(detection *dst, const detection *src)
{
    *dst = *src;
    /* The struct copy shares src's strings; replace each pointer by an owned copy. */
    int failed = 0;
    failed |= string_dup(&dst->computer, src->computer);
    failed |= string_dup(&dst->job_title, src->job_title);
    failed |= string_dup(&dst->job_owner, src->job_owner);
    failed |= string_dup(&dst->url, src->url);
    failed |= string_dup(&dst->local_name, src->local_name);
    failed |= string_dup(&dst->process_path, src->process_path);
    failed |= string_dup(&dst->notify_program, src->notify_program);
    failed |= string_dup(&dst->notify_parameters, src->notify_parameters);
    if (failed) {
        detection_clear(dst);
        return BG_ERR_NOMEM;
    }
    return BG_ERR_OK;
}

const char *detection_source_name(detection_source s)
{
    return s == DETECTION_SOURCE_INVENTORY ? "inventory" : "events";
}

int detection_source_parse(const char *text, detection_source *out)
{
    if (text && strcmp(text, "events") == 0)
        *out = DETECTION_SOURCE_EVENTS;
    else if (text && strcmp(text, "inventory") == 0)
        *out = DETECTION_SOURCE_INVENTORY;
    else
        return -1;
    return 0;
}

const char *detection_state_name(detection_state s)
{
    switch (s) {
    case JOB_STATE_COMPLETED:
        return "completed";
    case JOB_STATE_CANCELLED:
        return "cancelled";
    case JOB_STATE_ACTIVE:
        break;
    }
    return "active";
}

static void json_key(FILE *fp, const char *key, int first)
{
    fprintf(fp, "%s\"%s\":", first ? "" : ",", key);
}

static void json_int_or_null(FILE *fp, const char *key, int64_t v, int64_t unknown)
{
    json_key(fp, key, 0);
    if (v == unknown)
        fputs("null", fp);
    else
        fprintf(fp, "%" PRId64, v);
}

static void json_text(FILE *fp, const char *key, const char *v)
{
    json_key(fp, key, 0);
    output_json_string(fp, v);
}

/* Empty fixed-size strings mean unknown, printed as null like the pointer fields. */
static const char *empty_null(const char *s)
{
    return (s && *s) ? s : NULL;
}

uint32_t detection_seen_bit(unsigned event_id)
{
    switch (event_id) {
#define DETECTION_SEEN_CASE(id, bit) \
    case id:                         \
        return SEEN_##id;
        DETECTION_EVENT_MAP(DETECTION_SEEN_CASE)
#undef DETECTION_SEEN_CASE
    default:
        return 0;
    }
}

void detection_seen_write(FILE *fp, uint32_t mask, const char *sep)
{
#define DETECTION_SEEN_ID(id, bit) id,
    static const unsigned ids[] = {DETECTION_EVENT_MAP(DETECTION_SEEN_ID)};
#undef DETECTION_SEEN_ID
    const char *before = "";
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        if (mask & detection_seen_bit(ids[i])) {
            fprintf(fp, "%s%u", before, ids[i]);
            before = sep;
        }
    }
}

void detection_json_write(FILE *fp, const detection *d)
{
    fputc('{', fp);
    json_key(fp, "event_id", 1);
    fprintf(fp, "%u", d->event_id);
    json_key(fp, "record_id", 0);
    fprintf(fp, "%" PRIu64, d->record_id);
    json_text(fp, "time", empty_null(d->time));
    json_text(fp, "computer", d->computer);
    json_text(fp, "job_id", empty_null(d->job_id));
    json_text(fp, "job_title", d->job_title);
    json_text(fp, "job_owner", d->job_owner);
    json_text(fp, "url", d->url);
    json_text(fp, "ip", empty_null(d->cls.ip));
    json_text(fp, "verdict", classify_verdict_name(d->cls.verdict));
    json_text(fp, "kind", classify_kind_name(d->cls.kind));
    json_text(fp, "range", d->cls.range);
    json_text(fp, "reading", classify_reading_name(d->cls.reading));
    json_text(fp, "embedded_ipv4", empty_null(d->cls.embedded_ipv4));
    json_text(fp, "local_name", d->local_name);
    json_int_or_null(fp, "process_id", d->process_id, -1);
    json_text(fp, "process_path", d->process_path);
    json_text(fp, "notify_program", d->notify_program);
    json_text(fp, "notify_parameters", d->notify_parameters);
    json_key(fp, "events_seen", 0);
    fputc('[', fp);
    detection_seen_write(fp, d->events_seen, ",");
    fputc(']', fp);
    json_text(fp, "first_seen", empty_null(d->first_seen));
    json_text(fp, "last_seen", empty_null(d->last_seen));
    json_int_or_null(fp, "transfer_hr", d->transfer_hr, INT64_MIN);
    json_int_or_null(fp, "bytes_total", d->bytes_total, -1);
    json_int_or_null(fp, "bytes_transferred", d->bytes_transferred, -1);
    json_text(fp, "state", detection_state_name(d->state));
    json_key(fp, "allowed", 0);
    fputs(d->allowed ? "true" : "false", fp);
    json_text(fp, "source", detection_source_name(d->source));
    json_key(fp, "recovered", 0);
    fputs(d->recovered ? "true" : "false", fp);
    fputc('}', fp);
}
