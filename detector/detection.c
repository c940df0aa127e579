/* Life cycle of a detection record: initialise, deep copy, clear. */
#include "detection.h"

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
