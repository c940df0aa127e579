/* Windows .evtx logs read with libevtx: every record (and every recovered one) through the hardened event parser. */
#ifndef BG_EVTX_H
#define BG_EVTX_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "bg_error.h"
#include "event.h"
#include "export.h"

/* The first bytes of an .evtx file ("ElfFile" and a NUL): the file header's signature. */
#define EVTX_SIGNATURE     "ElfFile"
#define EVTX_SIGNATURE_LEN 8
/* The format's fixed sizes: a 4 KiB file header, then 64 KiB chunks. */
#define EVTX_FILE_HEADER_SIZE 4096
#define EVTX_CHUNK_SIZE       65536

/* 1 when bytes (len of them, the start of a file) begin with the .evtx signature. */
int evtx_signature_match(const unsigned char *bytes, size_t len);

/* A record whose reading (libevtx and the parser, not the caller's callback) took longer than this in
 * processor time ends the reading of its file: the records after it are counted as skipped. Real
 * records take microseconds; libevtx's binary XML templates nest and repeat, so a hostile file could
 * otherwise make every record slow. The bound is checked when a record's reading returns: a single
 * record that never returns is not interrupted (SECURITY.md). */
#define EVTX_RECORD_MAX_MS 2000u

typedef struct evtx_stats {
    uint64_t records;              /* Records libevtx lists as in use. */
    uint64_t recovered;            /* Records it recovered from free space. */
    uint64_t read;                 /* Records in use rendered to XML and handed over (parsed, or malformed: a skip). */
    uint64_t skipped;              /* Records in use libevtx could not read or render, oversized ones, and those
                                    * after a record that exceeded EVTX_RECORD_MAX_MS (each handed over as a skip). */
    uint64_t recovered_read;       /* Recovered records parsed and handed over (ev->recovered = 1). */
    uint64_t recovered_unreadable; /* Recovered candidates that libevtx could not read or render or the
                                    * parser refused: fragments in free space, counted, not handed over. */
    int corrupted;                 /* libevtx flagged the file corrupted (bad checksums, a truncated chunk, ...). */
    uint64_t announced;            /* Records the chunk headers announce (read by us, before libevtx). */
    uint64_t lost;   /* announced - records when positive: records of chunks libevtx left out (in skipped). */
    unsigned chunks; /* Chunks the file header lists. */
    unsigned chunks_unreadable; /* Of them, those cut off or without a chunk header: their records are unknown. */
    char why[256];              /* The first reason a record was skipped or the file could not be opened. */
} evtx_stats;

typedef struct evtx_config {
    uint32_t record_max_ms;    /* Per-record processor-time bound; 0 for EVTX_RECORD_MAX_MS. */
    clock_t (*clock_fn)(void); /* The processor clock, NULL for clock() (tests give a fake one). */
} evtx_config;

/*
 * Reads the .evtx log open in fp (positioned anywhere; read from its start, not closed): each record in
 * use, then each recovered record (ev->recovered = 1), rendered to UTF-8 XML by libevtx and parsed by
 * event_xml_parse, handed to fn as export_events_read does: a parsed event, or a skip whose line is 0,
 * whose offset is the record's byte offset in the file and whose why names the record. Memory is bounded
 * by libevtx's chunk cache plus one rendering of at most EVENT_MAX_BYTES (larger ones are skipped).
 * Returns BG_ERR_OK after the last record (even when records were skipped: see stats), BG_ERR_IO when the
 * file cannot be opened as an .evtx log (stats->why says why), BG_ERR_NOMEM, or what fn returned.
 * cfg may be NULL; stats must not be.
 */
bg_error evtx_events_read(FILE *fp, const char *name, event *ev, const evtx_config *cfg, export_event_fn fn, void *ctx,
                          evtx_stats *stats);

#endif
