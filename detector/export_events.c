/* Reads every event of an export: one streaming pass over a well-formed document, the slicer from where it stops. */
#include "export.h"

#include <stdlib.h>
#include <string.h>

#include "bg_os.h"

/*
 * Why two ways: slicing each event out of the bytes and parsing it as a document of its own works on
 * any export, broken ones included, and places every malformed event exactly; but on a clean export
 * a third of the time goes to the slicer's scan and to starting a document per event. Clean exports
 * are the common case, so they get one streaming parse, and the slicer takes over at the first event
 * that parse cannot vouch for. Rewinding needs a seekable input: only regular files take the fast way.
 */

typedef struct stream_relay {
    export_event_fn fn;
    void *ctx;
} stream_relay;

static bg_error stream_event_relay(void *ctx, const event *ev)
{
    const stream_relay *r = ctx;
    return r->fn(r->ctx, ev, NULL);
}

/*
 * The single-document pass. Returns BG_ERR_OK when it read the whole input, BG_ERR_STOPPED when it
 * stopped (*delivered events handed over), or an I/O, memory or fn error.
 */
static bg_error events_stream_pass(FILE *fp, event *ev, size_t chunk, export_event_fn fn, void *ctx,
                                   uint64_t *delivered, char *why, size_t whylen)
{
    stream_relay relay = {fn, ctx};
    bg_error rc = BG_ERR_OK;
    char *buf = malloc(EXPORT_READ_CHUNK);
    event_stream *s = event_stream_new(ev, stream_event_relay, &relay);
    if (buf == NULL || s == NULL) {
        rc = BG_ERR_NOMEM;
        goto cleanup;
    }
    /* The first read is a whole chunk whatever the chunk size, so that a byte order mark and an XML
     * declaration are seen together. */
    size_t want = EXPORT_READ_CHUNK;
    for (int first = 1;; first = 0) {
        size_t got = fread(buf, 1, want, fp);
        if (got < want && ferror(fp)) {
            rc = BG_ERR_IO;
            goto cleanup;
        }
        if (first && export_encoding_is_utf16(buf, got)) {
            /* The slicer converts UTF-16 as it reads; libxml2 would be handed bytes it cannot take. */
            snprintf(why, whylen, "UTF-16 input");
            rc = BG_ERR_STOPPED;
            goto cleanup;
        }
        int last = got < want && feof(fp);
        rc = event_stream_push(s, buf, got, last);
        if (rc != BG_ERR_OK || last)
            break;
        want = chunk;
    }

cleanup:
    *delivered = event_stream_delivered(s);
    if (rc == BG_ERR_STOPPED && why[0] == '\0')
        snprintf(why, whylen, "%s", event_stream_why(s));
    event_stream_free(s);
    free(buf);
    return rc;
}

bg_error export_events_read(FILE *fp, const char *name, event *ev, const export_events_config *cfg, export_event_fn fn,
                            void *ctx, export_events_stats *stats)
{
    export_events_stats local;
    export_reader *rd = NULL;
    bg_error rc = BG_ERR_OK;
    uint64_t skip = 0;

    if (stats == NULL)
        stats = &local;
    memset(stats, 0, sizeof *stats);
    if (fp == NULL || ev == NULL || fn == NULL)
        return BG_ERR_INVALID_ARG;
    size_t chunk = cfg != NULL && cfg->chunk > 0 && cfg->chunk <= EXPORT_READ_CHUNK ? cfg->chunk : EXPORT_READ_CHUNK;
    /* Opened first: on Windows it puts the stream in binary mode before anything is read. */
    rd = export_reader_open(fp, name);
    if (rd == NULL) {
        rc = BG_ERR_NOMEM;
        goto cleanup;
    }

    /* Only a regular file can be read twice (a pipe's or a console's position means nothing; msvcrt's
     * ftell even answers for pipes). */
    long start = -1;
    if (cfg != NULL && cfg->per_event_only)
        snprintf(stats->why, sizeof stats->why, "per-event parsing requested");
    else if (!bg_os_file_is_regular(fp) || (start = ftell(fp)) < 0)
        snprintf(stats->why, sizeof stats->why, "not a regular file: read once, event by event");
    if (start >= 0) {
        rc = events_stream_pass(fp, ev, chunk, fn, ctx, &stats->streamed, stats->why, sizeof stats->why);
        if (rc != BG_ERR_STOPPED)
            goto cleanup;
        /* Read again from the start; the events handed over are passed by below. */
        skip = stats->streamed;
        clearerr(fp);
        if (fseek(fp, start, SEEK_SET) != 0) {
            rc = BG_ERR_IO;
            goto cleanup;
        }
        rc = BG_ERR_OK;
    }

    for (;;) {
        const char *xml;
        size_t len;
        char why[256] = "";
        bg_error err = export_reader_next(rd, &xml, &len);
        if (err == BG_ERR_EOF)
            break;
        if (err == BG_ERR_IO || err == BG_ERR_NOMEM) {
            rc = err;
            goto cleanup;
        }
        if (skip > 0) {
            skip--;
            continue;
        }
        if (err == BG_ERR_OK)
            err = event_xml_parse(ev, xml, len, why, sizeof why);
        else
            snprintf(why, sizeof why, "%s", export_reader_error(rd));
        stats->per_event++;
        if (err == BG_ERR_OK) {
            rc = fn(ctx, ev, NULL);
        } else {
            export_skip sk = {err, why, export_reader_line(rd), export_reader_offset(rd)};
            rc = fn(ctx, NULL, &sk);
        }
        if (rc != BG_ERR_OK)
            goto cleanup;
    }

cleanup:
    export_reader_close(rd);
    return rc;
}
