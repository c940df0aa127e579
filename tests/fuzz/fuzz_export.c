/* libFuzzer target: bytes as an export; slicer invariants, and the single pass must equal per-event parsing. */
#define _POSIX_C_SOURCE 200809L
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "event.h"
#include "export.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What export_events_read hands over, as text, so that two ways of reading can be compared. */
typedef struct transcript {
    char *text;
    size_t len, cap;
} transcript;

static void transcript_put(transcript *t, const char *s, size_t n)
{
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 4096;
        while (cap < t->len + n + 1)
            cap *= 2;
        char *p = realloc(t->text, cap);
        if (p == NULL)
            abort();
        t->text = p;
        t->cap = cap;
    }
    memcpy(t->text + t->len, s, n);
    t->len += n;
    t->text[t->len] = '\0';
}

static void transcript_str(transcript *t, const char *s)
{
    transcript_put(t, s, strlen(s) + 1); /* With its NUL, so that values cannot run together. */
}

static bg_error transcript_event(void *ctx, const event *ev, const export_skip *skip)
{
    transcript *t = ctx;
    char num[128];
    if (skip != NULL) {
        snprintf(num, sizeof num, "skip %d %" PRIu64 " %" PRIu64, (int)skip->err, skip->line, skip->offset);
        transcript_str(t, num);
        transcript_str(t, skip->why);
        return BG_ERR_OK;
    }
    snprintf(num, sizeof num, "event %u %u %u %" PRIu64 " %zu", ev->event_id, ev->version, ev->level, ev->record_id,
             ev->field_count);
    transcript_str(t, num);
    const char *strs[] = {ev->time_created, ev->provider, ev->computer, ev->channel, ev->user_sid};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        transcript_str(t, strs[i]);
    for (size_t i = 0; i < ev->field_count; i++) {
        transcript_str(t, ev->fields[i].name);
        transcript_str(t, ev->fields[i].value);
    }
    return BG_ERR_OK;
}

/* Reads the file both ways (the single pass with a chunk size picked by the input) and aborts when
 * they hand over anything different. */
static void ways_compare(FILE *fp, event *ev, size_t chunk)
{
    transcript a = {0}, b = {0};
    export_events_config per_event = {1, 0}, single = {0, chunk};
    export_events_stats st;
    rewind(fp);
    bg_error ra = export_events_read(fp, "fuzz", ev, &per_event, transcript_event, &a, NULL);
    rewind(fp);
    bg_error rb = export_events_read(fp, "fuzz", ev, &single, transcript_event, &b, &st);
    if (ra != rb || a.len != b.len || (a.len > 0 && memcmp(a.text, b.text, a.len) != 0)) {
        fprintf(stderr, "single pass (chunk %zu, stopped: %s) differs from per-event parsing\n", chunk, st.why);
        abort();
    }
    free(a.text);
    free(b.text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static event ev;
    static int ready;
    if (!ready) {
        event_init(&ev);
        ready = 1;
    }
    if (size == 0)
        return 0; /* fmemopen refuses an empty buffer on some C libraries. */
    FILE *fp = fmemopen((void *)data, size, "rb");
    if (fp == NULL)
        return 0;
    export_reader *rd = export_reader_open(fp, "fuzz");
    if (rd == NULL) {
        fclose(fp);
        return 0;
    }
    const char *xml;
    size_t len;
    char err[256];
    bg_error rc;
    uint64_t last_offset = 0;
    int calls = 0;
    while ((rc = export_reader_next(rd, &xml, &len)) != BG_ERR_EOF) {
        /* Every call makes progress: there can never be more results than input bytes. */
        if (++calls > (int)size + 2)
            abort();
        if (rc == BG_ERR_IO)
            break;
        uint64_t off = export_reader_offset(rd);
        if (calls > 1 && off < last_offset)
            abort(); /* Positions only move forward. */
        last_offset = off;
        if (rc != BG_ERR_OK)
            continue;
        if (len == 0 || len > EVENT_MAX_BYTES || xml[0] != '<' || xml[len - 1] != '>')
            abort();
        (void)event_xml_parse(&ev, xml, len, err, sizeof err);
    }
    if (export_reader_peak_buffer(rd) > EVENT_MAX_BYTES + EXPORT_READ_CHUNK)
        abort();
    export_reader_close(rd);
    fclose(fp);

    /* The single pass needs a regular file: one temporary file, refilled for each input. */
    static FILE *tmp;
    static const size_t chunks[] = {0, 1, 2, 5, 64, 4096};
    if (tmp == NULL && (tmp = tmpfile()) == NULL)
        abort();
    if (ftruncate(fileno(tmp), 0) != 0)
        abort();
    rewind(tmp);
    if (fwrite(data, 1, size, tmp) != size || fflush(tmp) != 0)
        abort();
    ways_compare(tmp, &ev, chunks[data[size - 1] % (sizeof chunks / sizeof chunks[0])]);
    return 0;
}
