/* Printing stored detections and findings for admins: a 100-column table, JSON lines or RFC 4180 CSV, safe for hostile
 * text. */
#ifndef BG_STORE_FORMAT_H
#define BG_STORE_FORMAT_H

#include <stdio.h>

#include "detection.h"
#include "finding.h"

typedef enum store_format {
    STORE_FORMAT_TABLE,
    STORE_FORMAT_JSON,
    STORE_FORMAT_CSV,
} store_format;

/* Width of the table, so it fits a 100-column console without wrapping. */
#define STORE_FORMAT_TABLE_WIDTH 99

/* The header line (table and CSV; nothing for JSON lines). */
void store_format_header(FILE *fp, store_format fmt);
/* One detection as one line. */
void store_format_row(FILE *fp, store_format fmt, const detection *d);
/* The same for findings (query --findings): the header, and one finding as one line; JSON is the object
 * scan --json writes (finding_json_write). */
void store_format_finding_header(FILE *fp, store_format fmt);
void store_format_finding_row(FILE *fp, store_format fmt, const finding *f);
/* "active", "completed" or "cancelled". */
const char *store_format_state_name(detection_state state);
/* Writes the event ids of a SEEN_* mask separated by sep ("3,4,59"); nothing for 0. */
void store_format_events_seen(FILE *fp, uint32_t events_seen, const char *sep);

#endif
