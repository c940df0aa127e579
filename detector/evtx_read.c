/* Reads an .evtx log with libevtx through a libbfio handle over our own FILE, each record's XML through
 * event_xml_parse. */
#include "evtx.h"

#include <libbfio.h>
#include <inttypes.h>
#include <libevtx.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bg_os.h"

/*
 * libevtx calls itself alpha and parses attacker-written bytes (binary XML with nested templates), so
 * what it renders is treated like any other event export: bounded in size, parsed by the hardened
 * parser, a record that fails is skipped and counted, never the whole file. The file is opened by us
 * (bg_os_file_open: UTF-8 names on Windows too) and handed to libevtx as a libbfio handle whose
 * callbacks read our FILE, so libevtx never opens paths itself.
 */

int evtx_signature_match(const unsigned char *bytes, size_t len)
{
    return len >= EVTX_SIGNATURE_LEN && memcmp(bytes, EVTX_SIGNATURE, EVTX_SIGNATURE_LEN) == 0;
}

/* The libbfio handle's state: the open stream and its size, taken once. */
typedef struct evtx_io {
    FILE *fp;
    int64_t size;
    int64_t offset;
} evtx_io;

static int io_free(intptr_t **io_handle, libbfio_error_t **error)
{
    (void)error;
    *io_handle = NULL; /* The evtx_io lives on evtx_events_read's stack. */
    return 1;
}

static int io_clone(intptr_t **dst, intptr_t *src, libbfio_error_t **error)
{
    (void)dst;
    (void)src;
    (void)error;
    return -1; /* libevtx reads through one handle; nothing clones it. */
}

static int io_open(intptr_t *io_handle, int access_flags, libbfio_error_t **error)
{
    (void)io_handle;
    (void)error;
    return (access_flags & LIBBFIO_ACCESS_FLAG_WRITE) ? -1 : 1; /* Already open, read-only. */
}

static int io_close(intptr_t *io_handle, libbfio_error_t **error)
{
    (void)io_handle;
    (void)error;
    return 0; /* The caller of evtx_events_read closes the stream. */
}

static ssize_t io_read(intptr_t *io_handle, uint8_t *buffer, size_t size, libbfio_error_t **error)
{
    evtx_io *io = (evtx_io *)io_handle;
    (void)error;
    size_t got = fread(buffer, 1, size, io->fp);
    if (got < size && ferror(io->fp))
        return -1;
    io->offset += (int64_t)got;
    return (ssize_t)got;
}

static ssize_t io_write(intptr_t *io_handle, const uint8_t *buffer, size_t size, libbfio_error_t **error)
{
    (void)io_handle;
    (void)buffer;
    (void)size;
    (void)error;
    return -1;
}

static off64_t io_seek(intptr_t *io_handle, off64_t offset, int whence, libbfio_error_t **error)
{
    evtx_io *io = (evtx_io *)io_handle;
    (void)error;
    int64_t to = whence == SEEK_SET   ? (int64_t)offset
                 : whence == SEEK_CUR ? io->offset + (int64_t)offset
                 : whence == SEEK_END ? io->size + (int64_t)offset
                                      : -1;
    if (to < 0 || bg_os_file_seek(io->fp, to) != 0)
        return -1;
    io->offset = to;
    return (off64_t)to;
}

static int io_exists(intptr_t *io_handle, libbfio_error_t **error)
{
    (void)io_handle;
    (void)error;
    return 1;
}

static int io_is_open(intptr_t *io_handle, libbfio_error_t **error)
{
    (void)io_handle;
    (void)error;
    return 1;
}

static int io_get_size(intptr_t *io_handle, size64_t *size, libbfio_error_t **error)
{
    (void)error;
    *size = (size64_t)((evtx_io *)io_handle)->size;
    return 1;
}

/* Keeps libevtx's first error message as the reason (one line, its last, most specific, part). */
static void why_set(evtx_stats *stats, const char *what, libevtx_error_t **error)
{
    if (stats->why[0] == '\0') {
        char detail[512] = "";
        if (error != NULL && *error != NULL && libevtx_error_sprint(*error, detail, sizeof detail) > 0) {
            for (char *p = detail; *p; p++)
                if (*p == '\n' || *p == '\r' || (unsigned char)*p < 0x20)
                    *p = ' ';
        }
        snprintf(stats->why, sizeof stats->why, "%.100s%s%.150s", what, detail[0] ? ": " : "", detail);
    }
    if (error != NULL)
        libevtx_error_free(error);
}

static uint64_t le64(const unsigned char *b)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | b[i];
    return v;
}

/*
 * What the file says it holds, read from its headers before libevtx reads it: libevtx silently leaves
 * out the records of a chunk it cannot read (a bad checksum, a cut file), so the records the chunk
 * headers announce, less those libevtx lists, are the ones lost. Only integers are read, each checked.
 * The file header's chunk count (at 42) bounds the chunks looked at; a chunk header (512 bytes at
 * 4096 + i * 65536) holds its first and last record numbers at 8 and 16.
 */
static void chunks_census(FILE *fp, int64_t size, evtx_stats *stats)
{
    unsigned char h[512];
    if (bg_os_file_seek(fp, 0) != 0 || fread(h, 1, 44, fp) != 44)
        return;
    unsigned chunks = (unsigned)h[42] | (unsigned)h[43] << 8;
    stats->chunks = chunks;
    for (unsigned i = 0; i < chunks; i++) {
        int64_t at = EVTX_FILE_HEADER_SIZE + (int64_t)i * EVTX_CHUNK_SIZE;
        if (at + (int64_t)sizeof h > size || bg_os_file_seek(fp, at) != 0 || fread(h, 1, sizeof h, fp) != sizeof h ||
            memcmp(h, "ElfChnk", 8) != 0) {
            stats->chunks_unreadable++;
            continue;
        }
        uint64_t first = le64(h + 8), last = le64(h + 16);
        /* A record takes at least 24 bytes of a chunk's 65,024: more is not a count to believe. */
        if (last < first || last - first >= (EVTX_CHUNK_SIZE - 512) / 24) {
            stats->chunks_unreadable++;
            continue;
        }
        stats->announced += last - first + 1;
    }
}

/* The reading of one file: what the record loop needs. */
typedef struct evtx_pass {
    libevtx_file_t *file;
    event *ev;
    export_event_fn fn;
    void *ctx;
    evtx_stats *stats;
    char *xml; /* The rendering buffer, grown up to EVENT_MAX_BYTES + 1. */
    size_t xml_cap;
    clock_t (*clock_fn)(void);
    double record_max_s;
    clock_t fn_ticks; /* Processor time spent in fn, which is not the record's. */
    int timed_out;    /* A record exceeded the bound: the rest are skipped. */
} evtx_pass;

/* Hands an event or a skip to fn, keeping fn's time out of the record's. */
static bg_error pass_hand(evtx_pass *p, const event *ev, const export_skip *skip)
{
    clock_t t0 = p->clock_fn();
    bg_error rc = p->fn(p->ctx, ev, skip);
    p->fn_ticks += p->clock_fn() - t0;
    return rc;
}

/* A record in use that cannot be read is a skipped event; a recovered one is only a candidate libevtx
 * found by its signature in free space, often a fragment, so it is counted apart and not reported one
 * by one (evtxexport -m recovered drops them silently). */
static bg_error record_skip(evtx_pass *p, int recovered, bg_error err, uint64_t offset, const char *why,
                            libevtx_error_t **error)
{
    if (recovered) {
        p->stats->recovered_unreadable++;
        libevtx_error_free(error);
        return BG_ERR_OK;
    }
    why_set(p->stats, why, error);
    p->stats->skipped++;
    export_skip sk = {err, why, 0, offset};
    return pass_hand(p, NULL, &sk);
}

/* Renders and parses record index (of the recovered ones when recovered) and hands it over. */
static bg_error record_handle(evtx_pass *p, int index, int recovered)
{
    libevtx_record_t *record = NULL;
    libevtx_error_t *error = NULL;
    bg_error rc = BG_ERR_OK;
    char why[300];
    const char *kind = recovered ? "recovered record" : "record";
    off64_t offset = 0;
    size_t size = 0;
    clock_t t0 = p->clock_fn(), fn0 = p->fn_ticks;

    int got = recovered ? libevtx_file_get_recovered_record_by_index(p->file, index, &record, &error)
                        : libevtx_file_get_record_by_index(p->file, index, &record, &error);
    if (got != 1) {
        snprintf(why, sizeof why, "%s %d: libevtx cannot read it", kind, index + 1);
        rc = record_skip(p, recovered, BG_ERR_XML_MALFORMED, 0, why, &error);
        goto cleanup;
    }
    if (libevtx_record_get_offset(record, &offset, &error) != 1) {
        libevtx_error_free(&error);
        offset = 0;
    }
    if (libevtx_record_get_utf8_xml_string_size(record, &size, &error) != 1 || size == 0) {
        snprintf(why, sizeof why, "%s %d: libevtx cannot render its XML", kind, index + 1);
        rc = record_skip(p, recovered, BG_ERR_XML_MALFORMED, (uint64_t)offset, why, &error);
        goto cleanup;
    }
    if (size > (size_t)EVENT_MAX_BYTES + 1) {
        snprintf(why, sizeof why, "%s %d: its XML has %zu bytes, over the %u-byte limit", kind, index + 1, size - 1,
                 EVENT_MAX_BYTES);
        rc = record_skip(p, recovered, BG_ERR_TOO_LARGE, (uint64_t)offset, why, &error);
        goto cleanup;
    }
    if (size > p->xml_cap) {
        char *grown = realloc(p->xml, size);
        if (grown == NULL) {
            rc = BG_ERR_NOMEM;
            goto cleanup;
        }
        p->xml = grown;
        p->xml_cap = size;
    }
    if (libevtx_record_get_utf8_xml_string(record, (uint8_t *)p->xml, size, &error) != 1) {
        snprintf(why, sizeof why, "%s %d: libevtx cannot render its XML", kind, index + 1);
        rc = record_skip(p, recovered, BG_ERR_XML_MALFORMED, (uint64_t)offset, why, &error);
        goto cleanup;
    }
    /* The size counts the terminating NUL; libevtx's own text is not trusted to end where it says. */
    const char *nul = memchr(p->xml, '\0', size);
    size_t len = nul != NULL ? (size_t)(nul - p->xml) : size;
    char perr[256] = "";
    bg_error err = event_xml_parse(p->ev, p->xml, len, perr, sizeof perr);
    if (err == BG_ERR_OK) {
        p->ev->recovered = recovered;
        if (recovered)
            p->stats->recovered_read++;
        else
            p->stats->read++;
        rc = pass_hand(p, p->ev, NULL);
    } else {
        /* Rendered, then refused by the parser: read, and handed over as a malformed event. */
        snprintf(why, sizeof why, "%s %d: %.200s", kind, index + 1, perr);
        if (recovered) {
            p->stats->recovered_unreadable++;
        } else {
            p->stats->read++;
            export_skip sk = {err, why, 0, (uint64_t)offset};
            rc = pass_hand(p, NULL, &sk);
        }
    }

cleanup:
    if (record != NULL)
        libevtx_record_free(&record, NULL);
    libevtx_error_free(&error);
    if ((double)(p->clock_fn() - t0 - (p->fn_ticks - fn0)) / CLOCKS_PER_SEC > p->record_max_s) {
        p->timed_out = 1;
        snprintf(why, sizeof why, "%s %d took more than %.1f s of processor time to read", kind, index + 1,
                 p->record_max_s);
        why_set(p->stats, why, NULL);
    }
    return rc;
}

bg_error evtx_events_read(FILE *fp, const char *name, event *ev, const evtx_config *cfg, export_event_fn fn, void *ctx,
                          evtx_stats *stats)
{
    libbfio_handle_t *handle = NULL;
    libbfio_error_t *bfio_error = NULL;
    libevtx_error_t *error = NULL;
    evtx_pass p;
    bg_error rc = BG_ERR_OK;
    evtx_io io = {fp, -1, 0};
    int opened = 0;

    (void)name;
    memset(&p, 0, sizeof p);
    if (stats == NULL)
        return BG_ERR_INVALID_ARG;
    memset(stats, 0, sizeof *stats);
    if (fp == NULL || ev == NULL || fn == NULL)
        return BG_ERR_INVALID_ARG;
    uint32_t max_ms = cfg != NULL && cfg->record_max_ms > 0 ? cfg->record_max_ms : EVTX_RECORD_MAX_MS;
    p = (evtx_pass){NULL, ev, fn, ctx, stats, NULL, 0, clock, max_ms / 1000.0, 0, 0};
    if (cfg != NULL && cfg->clock_fn != NULL)
        p.clock_fn = cfg->clock_fn;

    bg_os_stream_binary(fp);
    io.size = bg_os_file_size(fp);
    if (io.size < 0 || bg_os_file_seek(fp, 0) != 0) {
        snprintf(stats->why, sizeof stats->why, "not a regular file (an .evtx log must be read from a file)");
        rc = BG_ERR_IO;
        goto cleanup;
    }
    chunks_census(fp, io.size, stats);
    if (bg_os_file_seek(fp, 0) != 0) {
        rc = BG_ERR_IO;
        goto cleanup;
    }
    if (libbfio_handle_initialize(&handle, (intptr_t *)&io, io_free, io_clone, io_open, io_close, io_read, io_write,
                                  io_seek, io_exists, io_is_open, io_get_size, LIBBFIO_FLAG_IO_HANDLE_NON_MANAGED,
                                  &bfio_error) != 1) {
        libbfio_error_free(&bfio_error);
        rc = BG_ERR_NOMEM;
        goto cleanup;
    }
    if (libevtx_file_initialize(&p.file, &error) != 1) {
        libevtx_error_free(&error);
        rc = BG_ERR_NOMEM;
        goto cleanup;
    }
    if (libevtx_file_open_file_io_handle(p.file, handle, LIBEVTX_OPEN_READ, &error) != 1) {
        why_set(stats, "libevtx cannot open it as an .evtx log", &error);
        rc = BG_ERR_IO;
        goto cleanup;
    }
    opened = 1;
    int records = 0, recovered = 0;
    if (libevtx_file_get_number_of_records(p.file, &records, &error) != 1) {
        why_set(stats, "libevtx cannot count its records", &error);
        records = 0;
    }
    if (libevtx_file_get_number_of_recovered_records(p.file, &recovered, &error) != 1) {
        why_set(stats, "libevtx cannot count its recovered records", &error);
        recovered = 0;
    }
    stats->records = records > 0 ? (uint64_t)records : 0;
    stats->recovered = recovered > 0 ? (uint64_t)recovered : 0;
    stats->corrupted = libevtx_file_is_corrupted(p.file, &error) == 1;
    libevtx_error_free(&error);
    if (stats->announced > stats->records) {
        stats->lost = stats->announced - stats->records;
        stats->skipped += stats->lost;
        char why[160];
        snprintf(why, sizeof why, "%" PRIu64 " records in chunks libevtx could not read (bad checksum or cut short)",
                 stats->lost);
        why_set(stats, why, NULL);
    }
    if (stats->chunks_unreadable > 0) {
        char why[160];
        snprintf(why, sizeof why, "%u of the %u chunks the header lists are missing or unreadable (file cut short?)",
                 stats->chunks_unreadable, stats->chunks);
        why_set(stats, why, NULL);
    }

    for (int pass = 0; pass < 2; pass++) {
        int n = pass == 0 ? records : recovered;
        for (int i = 0; i < n; i++) {
            if (p.timed_out) {
                stats->skipped += (uint64_t)(n - i);
                break;
            }
            rc = record_handle(&p, i, pass == 1);
            if (rc != BG_ERR_OK)
                goto cleanup;
        }
    }

cleanup:
    if (opened)
        libevtx_file_close(p.file, NULL);
    if (p.file != NULL)
        libevtx_file_free(&p.file, NULL);
    if (handle != NULL)
        libbfio_handle_free(&handle, NULL);
    free(p.xml);
    return rc;
}
