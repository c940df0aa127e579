/* libFuzzer target: arbitrary bytes as an export stream (through fmemopen), each slice parsed as an event. */
#define _POSIX_C_SOURCE 200809L
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "export.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
    return 0;
}
