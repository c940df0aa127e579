/* Streaming reader that cuts a Windows event export (any shape) into single events with bounded memory. */
#ifndef BG_EXPORT_H
#define BG_EXPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bg_error.h"
#include "event.h"

/*
 * Accepts: events back to back with no root (wevtutil qe /f:xml), an <Events> root, pretty-printed
 * text, a UTF-8 BOM, CRLF line ends, XML 1.0 or 1.1 declarations, a tool's banner line before the
 * first event. Memory is bounded by EVENT_MAX_BYTES plus a read chunk, whatever the file size.
 */
typedef struct export_reader export_reader;

/* Reads from an open stream (not closed by the reader). name is used in messages ("-" for stdin). */
export_reader *export_reader_open(FILE *fp, const char *name);
void export_reader_close(export_reader *rd);

/*
 * Returns the next event element's text in *xml / *len (valid until the next call).
 * BG_ERR_EOF at the end of input. BG_ERR_TOO_LARGE or BG_ERR_XML_MALFORMED for an event that was
 * skipped (oversized, or truncated by the end of input); the caller reports it and calls again.
 * BG_ERR_IO when reading fails.
 */
bg_error export_reader_next(export_reader *rd, const char **xml, size_t *len);

/* Position of the event last returned (or skipped): 1-based line and 0-based byte offset of its '<'. */
uint64_t export_reader_line(const export_reader *rd);
uint64_t export_reader_offset(const export_reader *rd);
const char *export_reader_name(const export_reader *rd);
/* Why the last event was skipped ("event truncated by the end of the input", ...); "" after BG_ERR_OK. */
const char *export_reader_error(const export_reader *rd);

/* Bytes read from the stream per refill. The buffer never holds more than EVENT_MAX_BYTES + this. */
#define EXPORT_READ_CHUNK (64u * 1024u)

/* The largest number of bytes the reader's buffer ever held (for tests of the memory bound). */
size_t export_reader_peak_buffer(const export_reader *rd);

/* An event export_events_read could not parse: why, and where (as export_reader_line/offset). */
typedef struct export_skip {
    bg_error err; /* BG_ERR_XML_MALFORMED, BG_ERR_TOO_LARGE, BG_ERR_NOT_EVENT, ... */
    const char *why;
    uint64_t line, offset;
} export_skip;

/* Gets each event in input order: a parsed event (skip NULL) or a skipped one (ev NULL). A return
 * other than BG_ERR_OK stops the reading and is returned by export_events_read. */
typedef bg_error (*export_event_fn)(void *ctx, const event *ev, const export_skip *skip);

typedef struct export_events_config {
    int per_event_only; /* Never use the single-document pass (tests compare the two ways). */
    size_t chunk;       /* Bytes per read after the first, 0 for EXPORT_READ_CHUNK (tests vary it). */
} export_events_config;

typedef struct export_events_stats {
    uint64_t streamed;  /* Events handed over by the single-document pass. */
    uint64_t per_event; /* Events (parsed or skipped) handed over by slicing and per-event parses. */
    char why[256];      /* Why the single-document pass stopped or was not used, "" when it read all. */
} export_events_stats;

/*
 * Reads every event of an export and parses it into ev, calling fn for each. A regular file is read
 * in one streaming parse while it is a well-formed document (see event_stream_new); from the first
 * event that pass cannot take, the file is read again from where it started with the export reader,
 * the events already handed over are passed by, and each further event is sliced and parsed on its
 * own. The outcome (events, skipped events with their positions) is the same either way; pipes and
 * UTF-16 files are read the second way only. cfg and stats may be NULL.
 * Returns BG_ERR_OK at the end of input, BG_ERR_IO or BG_ERR_NOMEM, or what fn returned.
 */
bg_error export_events_read(FILE *fp, const char *name, event *ev, const export_events_config *cfg, export_event_fn fn,
                            void *ctx, export_events_stats *stats);

/* True when an input starting with these bytes is UTF-16 (a byte order mark, or '<' beside a NUL):
 * the reader converts it to UTF-8 as it goes. */
int export_encoding_is_utf16(const char *bytes, size_t len);

/* Offsets and lines of a UTF-16 input (detected by its byte order mark) count the UTF-8 text it was
 * converted to, not the bytes of the file. */

#endif
