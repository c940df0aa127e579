/* libFuzzer target: arbitrary bytes as the chunk of an .evtx log, read through libevtx and the event parser. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "evtx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * The input is one chunk (up to 64 KiB); the target puts a valid file header before it, pads it to a
 * whole chunk and, when it starts with a chunk header, writes its two CRC-32 checksums, so mutations
 * reach libevtx's record and binary XML parsing instead of stopping at a checksum. libevtx reads a
 * file through our libbfio handle, which needs a real file: one temporary file is rewritten per input.
 */

static uint32_t crc32_update(uint32_t crc, const uint8_t *p, size_t n)
{
    crc = ~crc;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void invariant(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "invariant broken: %s\n", what);
        abort();
    }
}

typedef struct counts {
    uint64_t events, skips;
} counts;

static bg_error count_event(void *ctx, const event *ev, const export_skip *skip)
{
    counts *c = ctx;
    invariant((ev == NULL) != (skip == NULL), "exactly one of event and skip");
    if (skip != NULL) {
        invariant(skip->err != BG_ERR_OK && skip->why != NULL, "a skip has a reason");
        c->skips++;
        return BG_ERR_OK;
    }
    invariant(ev->field_count <= EVENT_MAX_FIELDS, "field count bounded");
    invariant(ev->recovered == 0 || ev->recovered == 1, "recovered is a flag");
    c->events++;
    return BG_ERR_OK;
}

static uint8_t file[EVTX_FILE_HEADER_SIZE + EVTX_CHUNK_SIZE];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *fp;
    static event ev;
    if (fp == NULL) {
        fp = tmpfile();
        invariant(fp != NULL, "tmpfile");
        event_init(&ev);
    }
    if (size > EVTX_CHUNK_SIZE)
        size = EVTX_CHUNK_SIZE;
    memset(file, 0, sizeof file);
    uint8_t *h = file, *c = file + EVTX_FILE_HEADER_SIZE;
    memcpy(h, EVTX_SIGNATURE, EVTX_SIGNATURE_LEN);
    /* First and last chunk 0, next record identifier, header size 128, version 3.1, 4096-byte block,
     * one chunk. */
    h[24] = 0xff;
    put32(h + 32, 128);
    put16(h + 36, 1);
    put16(h + 38, 3);
    put16(h + 40, 4096);
    put16(h + 42, 1);
    put32(h + 124, crc32_update(0, h, 120));
    memcpy(c, data, size);
    if (size >= 512 && memcmp(c, "ElfChnk", 8) == 0) {
        uint32_t free_at = get32(c + 48);
        if (free_at >= 512 && free_at <= EVTX_CHUNK_SIZE)
            put32(c + 52, crc32_update(0, c + 512, free_at - 512));
        put32(c + 124, crc32_update(crc32_update(0, c, 120), c + 128, 384));
    }
    rewind(fp); /* Every input makes a file of the same size: overwriting it is enough. */
    invariant(fwrite(file, 1, sizeof file, fp) == sizeof file && fflush(fp) == 0, "write");

    counts n = {0, 0};
    evtx_stats st;
    bg_error rc = evtx_events_read(fp, "fuzz.evtx", &ev, NULL, count_event, &n, &st);
    invariant(rc == BG_ERR_OK || rc == BG_ERR_IO, "only I/O failures (the file could not be opened)");
    if (rc == BG_ERR_OK) {
        invariant(n.events <= st.read + st.recovered_read, "no more events than records read");
        invariant(st.read <= st.records && st.recovered_read <= st.recovered, "reads bounded by counts");
        invariant(n.events + n.skips >= st.recovered_read, "every recovered read is handed over");
    } else {
        invariant(n.events == 0 && st.why[0] != '\0', "an unopened file hands nothing over and says why");
    }
    return 0;
}
